#ifndef PHIGUARD_CARGON2_SHIM_H
#define PHIGUARD_CARGON2_SHIM_H
#include <argon2.h>
#endif

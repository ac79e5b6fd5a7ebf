#ifndef PHIGUARD_CSODIUM_SHIM_H
#define PHIGUARD_CSODIUM_SHIM_H
#include <sodium.h>
#endif

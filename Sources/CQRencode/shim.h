#ifndef PHIGUARD_CQRENCODE_SHIM_H
#define PHIGUARD_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif

#ifndef PHIGUARD_BENCH_CSODIUM_SHIM_H
#define PHIGUARD_BENCH_CSODIUM_SHIM_H
// libsodium for the raw-call baselines (the PHIGuard package's CSodium target is not a product).
#include <sodium.h>
#endif

// Re-exports the package's one clock (`PHIGuardClock`, `SystemClock`, `ManualClock`) so that a client
// importing only this module can name, inject and implement it. The rest of that module is `package`.
@_exported public import PHIGuardCrypto

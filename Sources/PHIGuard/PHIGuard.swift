// The umbrella module: `import PHIGuard` gives every capability.
// Keep in step with the `capabilities` table in Package.swift.
@_exported public import PHIGuardAccess
@_exported public import PHIGuardAudit
@_exported public import PHIGuardAuthentication
@_exported public import PHIGuardErrors
@_exported public import PHIGuardFieldEncryption
@_exported public import PHIGuardKeys
@_exported public import PHIGuardPasswords
@_exported public import PHIGuardRateLimit
@_exported public import PHIGuardRecords
@_exported public import PHIGuardTOTP

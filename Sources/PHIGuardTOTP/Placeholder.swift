// Placeholder until this module lands; delete when the first real file is added.
enum PHIGuardTOTPPlaceholder {}

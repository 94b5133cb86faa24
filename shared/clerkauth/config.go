package clerkauth

import "clerk-lambda/shared/settings"

// Config is what a Verifier checks tokens against: settings.ReadVerifier
// reads it from the environment; tests build it directly.
type Config = settings.Verifier

package settings

// The names of the project's environment variables. The README's
// configuration table describes each; template.yaml declares, for every
// function, the ones it reads.
const (
	SecretKeyName          = "CLERK_SECRET_KEY"
	SecretKeyParameterName = "CLERK_SECRET_KEY_PARAMETER"
	SecretKeyTTLName       = "CLERK_SECRET_KEY_TTL"
	JWTKeyName             = "CLERK_JWT_KEY"
	PublishableKeyName     = "CLERK_PUBLISHABLE_KEY"
	IssuerName             = "CLERK_ISSUER"
	IssuerCheckName        = "CLERK_ISSUER_CHECK"
	AuthorizedPartiesName  = "CLERK_AUTHORIZED_PARTIES"
	ClockSkewName          = "CLERK_CLOCK_SKEW"
	AllowPendingName       = "CLERK_ALLOW_PENDING_SESSIONS"
	APIURLName             = "CLERK_API_URL"
	AdminOrgRoleName       = "ADMIN_ORG_ROLE"
	AdminOrgIDName         = "ADMIN_ORG_ID"
	ExportBucketName       = "EXPORT_BUCKET"
	ExportPrefixName       = "EXPORT_PREFIX"
	LogLevelName           = "LOG_LEVEL"
)

// The variables Lambda, or an extension it runs, sets for a function. They
// are read here too but are never declared in template.yaml.
const (
	ExtensionPortName = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
	SessionTokenName  = "AWS_SESSION_TOKEN"
	// RuntimeAPIName is set by Lambda (and by emulators of it); its
	// presence says the function runs in an execution environment.
	RuntimeAPIName = "AWS_LAMBDA_RUNTIME_API"
)

// Platform reports whether name is one of the variables Lambda sets.
func Platform(name string) bool {
	switch name {
	case ExtensionPortName, SessionTokenName, RuntimeAPIName:
		return true
	}
	return false
}

// Names of the settings that protect Clerk's quota.
const (
	APIRateLimitName = "CLERK_API_RATE_LIMIT"
	MeCacheTTLName   = "ME_CACHE_TTL"
)

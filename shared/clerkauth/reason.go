package clerkauth

import "errors"

// Reason is why a token was rejected: a small closed set, in the spirit of
// Clerk's JavaScript SDK, so callers, logs and tests can branch on it.
type Reason string

// The reasons a token can be rejected.
const (
	TokenMissing                Reason = "token-missing"
	TokenMalformed              Reason = "token-malformed"
	TokenTooLarge               Reason = "token-too-large"
	TokenInvalidAlgorithm       Reason = "token-invalid-algorithm"
	TokenInvalidSignature       Reason = "token-invalid-signature"
	TokenExpired                Reason = "token-expired"
	TokenNotActiveYet           Reason = "token-not-active-yet"
	TokenIATInTheFuture         Reason = "token-iat-in-the-future"
	TokenInvalidIssuer          Reason = "token-invalid-issuer"
	TokenInvalidAuthorizedParty Reason = "token-invalid-authorized-party"
	SessionPending              Reason = "session-pending"
	JWKKidMismatch              Reason = "jwk-kid-mismatch"
	JWKSUnavailable             Reason = "jwks-unavailable"

	// TokenTypeNotAccepted: a token of a type the verifier was not told to
	// accept (Options.Accepts), refused before any network call.
	TokenTypeNotAccepted Reason = "token-type-not-accepted"
	// TokenInvalid: a machine token Clerk does not know.
	TokenInvalid Reason = "token-invalid"
	// TokenRevoked: a machine token Clerk says was revoked.
	TokenRevoked Reason = "token-revoked"
	// TokenInvalidAudience: an M2M token whose scopes do not name this
	// API's machine (Options.APIMachine).
	TokenInvalidAudience Reason = "token-invalid-audience"
	// ClerkUnavailable: the Backend API could not verify a machine token
	// (unreachable, failing, or refusing the secret key).
	ClerkUnavailable Reason = "clerk-unavailable"
)

// Error is a rejected token. Its message never contains the token.
type Error struct {
	Reason Reason
	// Err is the underlying cause, if any (e.g. the JWKS fetch error).
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Reason) + ": " + e.Err.Error()
	}
	return string(e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of a rejection, or "" when err is not one.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func reject(r Reason, cause error) error { return &Error{Reason: r, Err: cause} }

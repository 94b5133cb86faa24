package settings

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultSecretKeyTTL is how long a fetched secret key is kept when
	// CLERK_SECRET_KEY_TTL is unset.
	DefaultSecretKeyTTL = 5 * time.Minute
	// DefaultExtensionPort is the port the Parameters and Secrets Lambda
	// Extension listens on unless PARAMETERS_SECRETS_EXTENSION_HTTP_PORT
	// says otherwise.
	DefaultExtensionPort = "2773"
)

// SecretKey says where the Clerk secret key comes from (see
// shared/secrets). ReadSecretKey fills it from the variables named below.
type SecretKey struct {
	// Value is CLERK_SECRET_KEY. When set it wins over everything and no
	// AWS call is ever made.
	Value string
	// Parameter is CLERK_SECRET_KEY_PARAMETER: the name or ARN of the SSM
	// SecureString parameter holding the key.
	Parameter string
	// TTL is CLERK_SECRET_KEY_TTL: how long a fetched key is kept, and how
	// much longer it stands in when the fetch after it fails. Zero means
	// DefaultSecretKeyTTL.
	TTL time.Duration
	// ExtensionPort is PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: when set,
	// the parameter is read through the extension listening on this port.
	ExtensionPort string
	// ProbePort, when ExtensionPort is empty, is a port to check once, on
	// the first fetch, for a listening extension. ReadSecretKey sets it to
	// DefaultExtensionPort when running inside Lambda.
	ProbePort string
	// SessionToken is AWS_SESSION_TOKEN, which the extension requires in
	// the X-Aws-Parameters-Secrets-Token header. Without it the extension
	// is not used.
	SessionToken string
}

// ReadSecretKey reads where the secret key comes from. An error is one line
// naming the variable that is missing or malformed.
func ReadSecretKey(get Lookup) (SecretKey, error) {
	ttl, err := Duration(get, SecretKeyTTLName, DefaultSecretKeyTTL)
	if err != nil {
		return SecretKey{}, err
	}
	if ttl == 0 {
		return SecretKey{}, fmt.Errorf("%s: must be greater than zero", SecretKeyTTLName)
	}
	s := SecretKey{
		Value:         String(get, SecretKeyName, ""),
		Parameter:     String(get, SecretKeyParameterName, ""),
		TTL:           ttl,
		ExtensionPort: String(get, ExtensionPortName, ""),
		SessionToken:  String(get, SessionTokenName, ""),
	}
	if s.ExtensionPort == "" && String(get, RuntimeAPIName, "") != "" {
		s.ProbePort = DefaultExtensionPort
	}
	if err := s.Check(); err != nil {
		return SecretKey{}, err
	}
	return s, nil
}

// Check says what is wrong with s, naming the variable. The parameter is
// checked even when Value wins, so a malformed setting is caught wherever
// it is.
func (s SecretKey) Check() error {
	if s.Value == "" && s.Parameter == "" {
		return fmt.Errorf("%s or %s must be set", SecretKeyName, SecretKeyParameterName)
	}
	if s.Parameter != "" {
		if err := checkParameterName(s.Parameter); err != nil {
			return fmt.Errorf("%s: %w", SecretKeyParameterName, err)
		}
	}
	if s.TTL < 0 {
		return fmt.Errorf("%s: must not be negative", SecretKeyTTLName)
	}
	if s.ExtensionPort != "" && !validPort(s.ExtensionPort) {
		return fmt.Errorf("%s: not a port number (1-65535)", ExtensionPortName)
	}
	if s.ProbePort != "" && !validPort(s.ProbePort) {
		return errors.New("extension probe port: not a port number (1-65535)")
	}
	return nil
}

// parameterName matches what GetParameter accepts: a plain name, a path of
// such names below "/", or a parameter ARN; each optionally followed by a
// ":version" or ":label" selector.
var parameterName = regexp.MustCompile(
	`^(?:[\w.-]+|(?:/[\w.-]+)+|arn:aws[\w-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[\w.-]+(?:/[\w.-]+)*)(?::[\w.-]{1,100})?$`)

// maxParameterName is SSM's limit on a parameter name, ARN included.
const maxParameterName = 2048

// checkParameterName rejects names SSM would refuse, and a secret key put in
// the parameter's place by mistake (which would otherwise reach logs and
// errors as a "name"). The error never repeats the name.
func checkParameterName(name string) error {
	if strings.HasPrefix(name, "sk_live_") || strings.HasPrefix(name, "sk_test_") {
		return fmt.Errorf("holds a secret key, not a parameter name (put the key in %s or in SSM)", SecretKeyName)
	}
	if len(name) > maxParameterName || !parameterName.MatchString(name) {
		return errors.New("not a valid SSM parameter name (use a name such as /clerk/secret-key, or a parameter ARN)")
	}
	return nil
}

func validPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n > 0
}

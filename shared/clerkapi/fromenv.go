package clerkapi

import (
	"fmt"
	"math"

	"golang.org/x/time/rate"

	"clerk-lambda/shared/secrets"
	"clerk-lambda/shared/settings"
)

// Settings are what a client needs from the environment: the Backend API's
// URL and where the secret key comes from. LoadSettings reads them; tests
// adjust them (shorter backoffs, an SSM client of their own) before Connect.
type Settings struct {
	// Client configures the Client; Connect sets its SecretKey and
	// KeyRefused.
	Client Config
	// Secrets says where the secret key comes from.
	Secrets secrets.Config
}

// LoadSettings reads CLERK_API_URL, CLERK_API_RATE_LIMIT (defaultRate
// requests per second when unset; 0 is unpaced) and the secret key's
// settings. An error is one line naming the variable.
func LoadSettings(get settings.Lookup, defaultRate float64) (Settings, error) {
	url, err := settings.APIURL(get)
	if err != nil {
		return Settings{}, err
	}
	perSecond, err := settings.APIRateLimit(get, defaultRate)
	if err != nil {
		return Settings{}, err
	}
	key, err := settings.ReadSecretKey(get)
	if err != nil {
		return Settings{}, err
	}
	cfg := Config{URL: url, RateLimit: rate.Limit(perSecond), Burst: max(1, int(math.Ceil(perSecond)))}
	return Settings{Client: cfg, Secrets: secrets.Config{SecretKey: key}}, nil
}

// Connect builds a client whose secret key comes from a secrets.Provider
// made from s, and which drops that key when Clerk refuses it (401), so a
// rotated key is read again at once. It makes no network call: the key is
// read on the first call that needs it. The provider is returned for logs
// (Source) and for tests.
func Connect(s Settings) (*Client, *secrets.Provider, error) {
	keys, err := secrets.New(s.Secrets)
	if err != nil {
		return nil, nil, err
	}
	cfg := s.Client
	cfg.SecretKey, cfg.KeyRefused = keys.SecretKey, keys.Invalidate
	c, err := New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", settings.APIURLName, err)
	}
	return c, keys, nil
}

// FromEnv is LoadSettings then Connect for a batch job (the export, the
// CLI): paced at settings.DefaultBatchRateLimit unless CLERK_API_RATE_LIMIT
// says otherwise. Routes get theirs from clerkroute, unpaced.
func FromEnv(get settings.Lookup) (*Client, *secrets.Provider, error) {
	s, err := LoadSettings(get, settings.DefaultBatchRateLimit)
	if err != nil {
		return nil, nil, err
	}
	return Connect(s)
}

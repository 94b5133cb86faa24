// Package clerkfake is a stand-in for Clerk's Backend API that runs on
// loopback: tests, the local development API and the export job point the real
// clerk-sdk-go clients at it instead of api.clerk.com.
//
// It serves the endpoints this project reads, shaped as in Clerk's Backend API
// specification (version 2025-04-10), each guarded by the secret key the way
// Clerk guards it:
//
//   - users and keys: GET /v1/jwks, GET /v1/users, GET /v1/users/count and
//     GET /v1/users/{user_id};
//   - machines: POST /v1/machines, GET /v1/machines/{machine_id} and
//     GET /v1/machines/{machine_id}/secret_key;
//   - M2M tokens: POST /v1/m2m_tokens (with a machine's secret key; opaque or
//     JWT), POST /v1/m2m_tokens/verify and
//     POST /v1/m2m_tokens/{m2m_token_id}/revoke (with the instance's key or a
//     machine's);
//   - API keys: POST /v1/api_keys, POST /v1/api_keys/verify and
//     POST /v1/api_keys/{apiKeyID}/revoke;
//   - OAuth access tokens: POST /v1/oauth_applications/access_tokens/verify.
//
// It signs session tokens with its own RSA key (MintToken), rotates that key
// on request (RotateKey), holds users in memory (AddUser, SeedUsers,
// DeleteUser), creates machines (AddMachine) and OAuth access tokens
// (IssueOAuthToken, since they come from an OAuth flow Clerk's Backend API
// has no endpoint for), and injects latency, rate limiting and server errors
// on request (Fail). A revoked or expired M2M token, API key or OAuth access
// token still verifies, with "revoked" or "expired" true, as the
// specification's answers carry them: the caller decides what they mean.
// Everything is safe for concurrent use.
package clerkfake

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config sets up a Server. The zero value is ready to use.
type Config struct {
	// SecretKey is the key requests must carry as "Authorization: Bearer <key>".
	// Empty means "sk_test_" followed by random characters.
	SecretKey string
	// Issuer is the iss claim of minted tokens. Empty means
	// "https://standin-<random>.clerk.accounts.dev", shaped like a Clerk
	// development instance so clerk-sdk-go's issuer check accepts it.
	Issuer string
	// Now is the clock for minted tokens (iat, nbf, exp), users' and
	// machines' timestamps, and the expiry of M2M tokens, API keys and OAuth
	// access tokens. Nil means time.Now.
	Now func() time.Time
	// RateLimit, when set, enforces Clerk's own kind of limit: at most
	// RateLimit.Requests in any RateLimit.Window (Clerk allows 100 per 10 s
	// on development instances); past it, 429 with Retry-After, counted by
	// RateLimited.
	RateLimit RateLimit
}

// RateLimit is a limit on requests per window of time.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// Server is the stand-in. Create it with New; serve it with Start or mount
// Handler in a server of your own.
type Server struct {
	now        func() time.Time
	secret     string
	issuer     string
	instanceID string

	mu    sync.RWMutex // guards keys and the user store
	keys  []*signingKey
	store store

	faultMu  sync.Mutex // guards fault, requests and the rate limit's state
	fault    Failure
	limit    RateLimit
	recent   []time.Time // the times of the requests admitted in the last window
	limited  int         // 429s answered for the rate limit
	requests map[string]int

	authMu   sync.Mutex // guards machines and what the vaults hold
	machines map[string]*Machine
	m2m      vault // opaque M2M tokens
	apiKeys  vault
	oauth    vault // OAuth access tokens

	lifeMu sync.Mutex // guards srv, ln and url
	srv    *http.Server
	ln     net.Listener
	url    string
}

// New creates a Server with a fresh 2048-bit RSA signing key and no users.
// It does not listen until Start is called.
func New(cfg Config) (*Server, error) {
	s := &Server{
		now:        cfg.Now,
		limit:      cfg.RateLimit,
		secret:     cfg.SecretKey,
		issuer:     cfg.Issuer,
		requests:   map[string]int{},
		store:      newStore(),
		instanceID: newID("ins_"),
		machines:   map[string]*Machine{},
		m2m:        newVault(),
		apiKeys:    newVault(),
		oauth:      newVault(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.secret == "" {
		s.secret = "sk_test_" + randomString(40)
	}
	if s.issuer == "" {
		s.issuer = "https://standin-" + strings.ToLower(randomString(10)) + ".clerk.accounts.dev"
	}
	if !strings.HasPrefix(s.issuer, "https://") && !strings.HasPrefix(s.issuer, "http://") {
		return nil, fmt.Errorf("clerkfake: issuer must be an http(s) URL")
	}
	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	s.keys = []*signingKey{key}
	return s, nil
}

// Start listens on addr (such as "127.0.0.1:0") and serves Handler in the
// background until Close. A Server starts at most once.
func (s *Server) Start(addr string) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.srv != nil {
		return errors.New("clerkfake: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("clerkfake: listen: %w", err)
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.ln = ln
	s.url = "http://" + ln.Addr().String() + "/v1"
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// URL is the Backend API base URL once started, such as
// "http://127.0.0.1:PORT/v1": the value for CLERK_API_URL. It is empty
// before Start.
func (s *Server) URL() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.url
}

// Close stops listening and drops open connections, so later requests fail
// with "connection refused", as in a Clerk outage. Closing a Server that was
// never started does nothing.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	// The listener is closed here too: Serve may not have begun tracking it yet.
	if lerr := s.ln.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	return err
}

// SecretKey is the key requests must present.
func (s *Server) SecretKey() string { return s.secret }

// Issuer is the iss claim of minted tokens.
func (s *Server) Issuer() string { return s.issuer }

// PublishableKey encodes the issuer's host the way Clerk does:
// "pk_test_" + base64(host + "$"). Decoding it gives back the Frontend API
// host, from which the expected issuer is derived.
func (s *Server) PublishableKey() string {
	host := strings.TrimPrefix(strings.TrimPrefix(s.issuer, "https://"), "http://")
	return "pk_test_" + base64.StdEncoding.EncodeToString([]byte(host+"$"))
}

// Fail sets the faults to inject from now on, replacing any set before;
// Fail(Failure{}) clears them.
func (s *Server) Fail(f Failure) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f.Paths = append([]string(nil), f.Paths...)
	s.fault = f
}

// Requests reports how many requests have reached path (such as "/v1/users"
// or "/v1/jwks"), whatever their outcome, including failed and unauthorized
// ones.
func (s *Server) Requests(path string) int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.requests[path]
}

// idAlphabet is the alphabet of Clerk's object ids (base62).
const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n random base62 characters.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// newID returns a Clerk-shaped object id such as "user_2d3v6qUerRVCQi42MBRn8RBBC64".
func newID(prefix string) string { return prefix + randomString(27) }

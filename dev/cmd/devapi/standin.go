package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/identity"
)

// Stand-in users, with fixed ids so that make token USER=... is easy to type.
const (
	userID     = "user_alice"
	adminID    = "user_ada"
	adminOrgID = "org_dev"
	adminOrg   = "dev"
	adminRole  = "org:admin"
	// devMachine names the stand-in's machine, whose M2M tokens make token
	// TYPE=m2m prints; its id (random for each run, like every machine id)
	// is standIn.machine.ID, the value for a list of admin machines.
	devMachine = "dev-worker"
	// devAPIMachine names the machine that stands for the local API.
	devAPIMachine = "dev-api"
	// devOAuthClient is the client id of the OAuth application the stand-in's
	// OAuth access tokens are issued to.
	devOAuthClient = "client_dev"
	standInFile    = "standin.json"
	// CLIEnvFile, in the cache folder, holds what cmd/clerk-users needs to
	// reach the running stand-in: its URL and its secret key.
	CLIEnvFile = "clerk.env"
	// tokenTTL is how long printed and minted tokens live. Clerk's own
	// session tokens live 60 s, which is too short to copy a curl line.
	tokenTTL = time.Hour
	// siteTokenTTL is how long the example site's tokens live: as long as
	// Clerk's, since the page asks for a fresh one for every call.
	siteTokenTTL = time.Minute
)

// standIn is the embedded Clerk stand-in, its users, and the loopback-only
// endpoints through which `devapi token`, a separate process, and the
// example site's page mint tokens with the stand-in's signing key, which
// never leaves this process.
type standIn struct {
	fake      *clerkfake.Server
	user      clerkfake.User
	admin     clerkfake.User
	machine   clerkfake.Machine // devMachine
	api       clerkfake.Machine // devAPIMachine, the machine the API is
	control   *http.Server
	controlAt string // host:port of the control endpoints
	stateFile string
	cliFile   string
	key       string
	// siteOrigins are the only origins the dev-token endpoint answers.
	siteOrigins []string
}

// standInState is what the dev server leaves in the cache folder for
// `devapi token`: where to ask, and the per-run key to ask with.
type standInState struct {
	TokenURL string `json:"tokenUrl"`
	Key      string `json:"key"`
}

// tokenRequest asks the dev server for a token; the answer is tokenAnswer.
type tokenRequest struct {
	Type  string `json:"type"` // one of tokenTypes; "" = session
	User  string `json:"user"`
	Admin bool   `json:"admin"`
	TTL   string `json:"ttl"`
}

// The kinds of token make token prints: a session token, or one of Clerk's
// machine authentication tokens.
const (
	sessionToken = "session"
	m2mToken     = "m2m"
	apiKeyToken  = "api_key"
	oauthToken   = "oauth"
)

var tokenTypes = []string{sessionToken, m2mToken, apiKeyToken, oauthToken}

// devOAuthScopes are the scopes of the stand-in's OAuth access tokens.
var devOAuthScopes = []string{"profile", "email"}

type tokenAnswer struct {
	Token   string    `json:"token,omitempty"`
	User    string    `json:"user,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// startStandIn starts the stand-in on loopback, seeds its users and opens
// the token endpoints, the site's for siteOrigins only.
func startStandIn(cacheDir string, siteOrigins []string) (*standIn, error) {
	fake, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		return nil, fmt.Errorf("start the Clerk stand-in: %w", err)
	}
	if err := fake.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the Clerk stand-in: %w", err)
	}
	s := &standIn{fake: fake, stateFile: filepath.Join(cacheDir, standInFile), cliFile: filepath.Join(cacheDir, CLIEnvFile), siteOrigins: siteOrigins}
	s.user = fake.AddUser(clerkfake.User{
		ID: userID, FirstName: "Alice", LastName: "Example", Username: "alice",
		EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "alice@example.com"}},
	})
	s.admin = fake.AddUser(clerkfake.User{
		ID: adminID, FirstName: "Ada", LastName: "Admin", Username: "ada",
		EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "ada@example.com"}},
		PublicMetadata: map[string]any{"role": "admin"},
	})
	fake.SeedUsers(8)
	// The API is a machine of its own, which dev-worker may call: its M2M
	// tokens name the API in their scopes, as CLERK_API_MACHINE wants.
	if s.api, err = fake.AddMachine(devAPIMachine); err == nil {
		s.machine, err = fake.AddMachine(devMachine, s.api.ID)
	}
	if err != nil {
		fake.Close()
		return nil, fmt.Errorf("start the Clerk stand-in: %w", err)
	}
	if err := s.openControl(); err != nil {
		fake.Close()
		return nil, err
	}
	if err := s.writeCLIEnv(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// writeCLIEnv leaves the stand-in's URL and secret key for the CLI, in the
// KEY=value lines that env(1) and .env files take, readable by this user
// only. The key is the stand-in's own, random for each run, and the file
// goes when make dev stops.
func (s *standIn) writeCLIEnv() error {
	lines := fmt.Sprintf("CLERK_API_URL=%s\nCLERK_SECRET_KEY=%s\n", s.fake.URL(), s.fake.SecretKey())
	return writePrivate(s.cliFile, []byte(lines))
}

// writePrivate writes a file only this user can read: a new file, so that
// neither a file left by an earlier run with another mode nor a link put in
// its place is written through.
func writePrivate(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// env is what the functions get in stand-in mode: the stand-in's Backend
// API, secret key and issuer, in place of a real instance's. Each value
// replaces the template's where a function declares the name (CLERK_API_URL
// goes to every function); see functionEnv.
func (s *standIn) env() map[string]string {
	return map[string]string{
		"CLERK_API_URL":         s.fake.URL(),
		"CLERK_SECRET_KEY":      s.fake.SecretKey(),
		"CLERK_ISSUER":          s.fake.Issuer(),
		"CLERK_PUBLISHABLE_KEY": s.fake.PublishableKey(),
		// Verify through the stand-in's JWKS, as against a real instance.
		"CLERK_JWT_KEY": "",
		// The stand-in's admin is an admin of this organization.
		"ADMIN_ORG_ID": adminOrgID,
		// Every token make token prints is verified, and the dev machine's
		// M2M tokens are an admin's: POST /admin/exports takes them.
		"CLERK_ACCEPTED_TOKENS": identity.TokenTypeList(),
		"ADMIN_MACHINES":        s.machine.ID,
		"CLERK_API_MACHINE":     s.api.ID,
	}
}

// mint signs a session token for a stand-in user, with the Vite dev
// server's origin as its azp; admin adds the active organization with the
// admin role.
func (s *standIn) mint(user string, admin bool, ttl time.Duration) (string, time.Time, error) {
	return s.mintFor(devOrigin, user, admin, ttl)
}

// mintFor is mint for a page of the given origin, the token's azp.
func (s *standIn) mintFor(origin, user string, admin bool, ttl time.Duration) (string, time.Time, error) {
	if err := s.check(user); err != nil {
		return "", time.Time{}, err
	}
	p := clerkfake.TokenParams{UserID: user, AuthorizedParty: origin, TTL: ttl}
	if admin {
		p.OrgID, p.OrgSlug, p.OrgRole = adminOrgID, adminOrg, adminRole
	}
	token, err := s.fake.MintToken(p)
	return token, time.Now().Add(ttl), err
}

// check says which users there are when the stand-in has none with id.
func (s *standIn) check(id string) error {
	for _, u := range s.fake.Users() {
		if u.ID == id {
			return nil
		}
	}
	return fmt.Errorf("the stand-in has no user %s (its users: %s, %s and the seeded ones)", id, userID, adminID)
}

// openControl serves POST /token and GET /dev-token on a loopback port of
// its own (never on the API's port, where they could shadow a route) and
// records the address of POST /token and a fresh key for it in the cache
// folder, readable by this user only.
func (s *standIn) openControl() error {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	s.key = hex.EncodeToString(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("token endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.serveToken)
	mux.HandleFunc("GET /dev-token", s.serveDevToken)
	s.control = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.controlAt = ln.Addr().String()
	go func() { _ = s.control.Serve(ln) }()
	state, _ := json.Marshal(standInState{TokenURL: "http://" + s.controlAt + "/token", Key: s.key})
	if err := os.MkdirAll(filepath.Dir(s.stateFile), 0o755); err != nil {
		return err
	}
	return writePrivate(s.stateFile, state)
}

func (s *standIn) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	answer := func(status int, a tokenAnswer) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(a)
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.key)) != 1 {
		answer(http.StatusUnauthorized, tokenAnswer{Error: "wrong key: is this the make dev that wrote " + standInFile + "?"})
		return
	}
	var req tokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		answer(http.StatusBadRequest, tokenAnswer{Error: "the request is not JSON"})
		return
	}
	ttl := tokenTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			answer(http.StatusBadRequest, tokenAnswer{Error: "ttl must be a duration from 1m to 24h"})
			return
		}
		ttl = d
	}
	if req.Admin && req.Type != "" && req.Type != sessionToken {
		answer(http.StatusBadRequest, tokenAnswer{Error: "admin makes an admin's session token; it does not go with type " + req.Type})
		return
	}
	user := req.User
	if user == "" {
		user = defaultSubject(req.Type, req.Admin)
	}
	var a tokenAnswer
	var err error
	switch req.Type {
	case "", sessionToken:
		a.Token, a.Expires, err = s.mint(user, req.Admin, ttl)
	case m2mToken:
		user = s.machine.ID
		a.Token, a.Expires, err = s.m2m(r.Context(), ttl)
	case apiKeyToken:
		a.Token, a.Expires, err = s.apiKey(r.Context(), user, ttl)
	case oauthToken:
		a.Token, a.Expires, err = s.oauth(user, ttl)
	default:
		answer(http.StatusBadRequest, tokenAnswer{Error: "type must be one of " + strings.Join(tokenTypes, ", ")})
		return
	}
	if err != nil {
		answer(http.StatusNotFound, tokenAnswer{Error: err.Error()})
		return
	}
	a.User = user
	answer(http.StatusOK, a)
}

// defaultSubject is whose token make token prints without -user: Alice's
// session or OAuth access token, Ada's as an admin, Ada's API key (an admin's,
// as scripts that manage the API would hold).
func defaultSubject(typ string, admin bool) string {
	if admin || typ == apiKeyToken {
		return adminID
	}
	return userID
}

// m2m creates an opaque M2M token of the dev machine through the
// stand-in's Backend API, with the machine's secret key, as a worker would.
func (s *standIn) m2m(ctx context.Context, ttl time.Duration) (string, time.Time, error) {
	body, _ := json.Marshal(map[string]any{"seconds_until_expiration": ttl.Seconds()})
	c, err := s.create(ctx, "/m2m_tokens", s.machine.SecretKey, body, http.StatusCreated)
	return c.Token, time.UnixMilli(c.Expiration), err
}

// apiKey creates an API key of the user through the stand-in's Backend API.
func (s *standIn) apiKey(ctx context.Context, user string, ttl time.Duration) (string, time.Time, error) {
	if err := s.check(user); err != nil {
		return "", time.Time{}, err
	}
	body, _ := json.Marshal(map[string]any{"name": "make token", "subject": user, "seconds_until_expiration": ttl.Seconds()})
	c, err := s.create(ctx, "/api_keys", s.fake.SecretKey(), body, http.StatusOK)
	return c.Secret, time.UnixMilli(c.Expiration), err
}

// created is what the stand-in answers a creation of an M2M token (token)
// or an API key (secret) with.
type created struct {
	Token      string `json:"token"`
	Secret     string `json:"secret"`
	Expiration int64  `json:"expiration"` // milliseconds
}

// create posts body to a creation endpoint of the stand-in, with key, and
// decodes the answer, which must have the status want.
func (s *standIn) create(ctx context.Context, path, key string, body []byte, want int) (created, error) {
	var c created
	status, err := postJSON(ctx, s.fake.URL()+path, "Bearer "+key, body, &c)
	if err == nil && status != want {
		err = fmt.Errorf("the stand-in answered POST %s with status %d", path, status)
	}
	return c, err
}

// oauth issues an OAuth access token to the user, as the end of an OAuth
// flow with the stand-in's OAuth application would.
func (s *standIn) oauth(user string, ttl time.Duration) (string, time.Time, error) {
	if err := s.check(user); err != nil {
		return "", time.Time{}, err
	}
	token, err := s.fake.IssueOAuthToken(user, devOAuthClient, devOAuthScopes, ttl)
	return token, time.Now().Add(ttl), err
}

// devTokenURL is where the example site's page asks for tokens.
func (s *standIn) devTokenURL() string { return "http://" + s.controlAt + "/dev-token" }

// serveDevToken answers GET /dev-token?as=user|admin with {"token": ...}
// for Alice or for Ada the admin. It needs no key, since the page cannot
// keep one, so it answers only a browser's request from the example site's
// own origin, and only that origin may read the answer (CORS): another page
// cannot forge the Origin header its browser sends. Any program on this
// machine can mint the same tokens through make token, and they are good
// only against this local API.
func (s *standIn) serveDevToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Origin")
	answer := func(status int, a tokenAnswer) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(a)
	}
	origin := r.Header.Get("Origin")
	if !contains(s.siteOrigins, origin) {
		answer(http.StatusForbidden, tokenAnswer{Error: "only the example site's page may ask for a dev token; use make token elsewhere"})
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	var user string
	switch r.URL.Query().Get("as") {
	case "user":
		user = userID
	case "admin":
		user = adminID
	default:
		answer(http.StatusBadRequest, tokenAnswer{Error: "as must be user or admin"})
		return
	}
	token, expires, err := s.mintFor(origin, user, user == adminID, siteTokenTTL)
	if err != nil {
		answer(http.StatusInternalServerError, tokenAnswer{Error: err.Error()})
		return
	}
	answer(http.StatusOK, tokenAnswer{Token: token, User: user, Expires: expires})
}

// Close stops the stand-in and its token endpoint and removes the state
// file, so a later `devapi token` says that no dev server runs.
func (s *standIn) Close() {
	if s.control != nil {
		_ = s.control.Close()
	}
	_ = s.fake.Close()
	_ = os.Remove(s.stateFile)
	if s.cliFile != "" {
		_ = os.Remove(s.cliFile)
	}
}

// Package clerkapi is the project's client for Clerk's Backend API: one user,
// a page of users, a count, and every user in creation order. It runs on
// clerk-sdk-go's backend and resource clients, configured per call (never
// through the SDK's package-level key), and adds what a Lambda needs around
// them: the secret key fetched per request so it can rotate, retries of 5xx
// and network errors with jittered exponential backoff, waits that honour
// Retry-After on 429, and typed errors that carry Clerk's error code and trace
// id and never the secret key nor a URL's query string (a search is an
// e-mail address). It never follows a redirect and never reads more than
// MaxResponseBody of an answer (Guard).
package clerkapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"
	"golang.org/x/time/rate"

	"clerk-lambda/shared/settings"
)

// DefaultURL is the Backend API's base URL.
const DefaultURL = settings.DefaultAPIURL

// Config sets up a Client.
type Config struct {
	// SecretKey returns the Clerk secret key. It is called before every
	// attempt, so a rotated key is picked up by the next request. An error
	// from it ends the call at once, marked ErrSecretKey. Required.
	SecretKey func(ctx context.Context) (string, error)
	// KeyRefused, when set, is called when Clerk answers 401: the key
	// SecretKey returned was refused, so a kept copy should be dropped
	// (secrets.Provider.Invalidate). FromEnv sets it.
	KeyRefused func()
	// URL is the Backend API base URL (CLERK_API_URL); "" = DefaultURL. It
	// must pass settings.CheckAPIURL: https, or http to a local stand-in, so
	// the key never crosses a network in clear text.
	URL string
	// HTTPClient sends the requests; nil = a client with a 10-second timeout.
	// Whatever the client, redirects are refused and a response body is
	// read up to MaxResponseBody (see Guard).
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one call that fails with a 5xx or a
	// network error; 0 = 4.
	MaxAttempts int
	// MaxRateLimitWaits bounds how many 429 answers one call waits out
	// before giving up; 0 = 10. Each wait lasts what Retry-After says.
	MaxRateLimitWaits int
	// BackoffBase is the longest wait before the first retry of a 5xx or
	// network error; each later retry doubles it, up to BackoffMax. The
	// actual wait is drawn uniformly below that bound ("full jitter").
	// 0 = 500ms. Tests shrink it to keep suites fast.
	BackoffBase time.Duration
	// BackoffMax caps the backoff bound; 0 = 10s.
	BackoffMax time.Duration
	// MaxRetryAfter, when set, is the longest Retry-After a 429 may ask
	// for and still be waited out: a longer one, or a 429 without the
	// header, ends the call at once with a *RateLimitedError. Interactive
	// routes set it to a second, so a rate-limited Clerk is answered 503
	// fast instead of holding the caller and the Lambda; the export leaves
	// it 0 and waits patiently.
	MaxRetryAfter time.Duration
	// RateLimit paces the client's own requests, so that a batch job stays
	// below Clerk's limit (100 requests per 10 s on development instances,
	// 1,000 on production) and leaves room for the live API; 0 = unpaced.
	// Burst is how many requests may go at once; 0 = 1.
	RateLimit rate.Limit
	Burst     int
}

// Client calls the Backend API. It is safe for concurrent use.
type Client struct {
	secretKey    func(context.Context) (string, error)
	keyRefused   func()
	url          string
	http         *http.Client
	maxAttempts  int
	maxRateWaits int
	backoffBase  time.Duration
	backoffMax   time.Duration
	maxRetryWait time.Duration // 0: every Retry-After is waited out
	limiter      *rate.Limiter // nil: unpaced
	// wait sleeps between attempts; tests replace it to observe waits
	// without spending them.
	wait func(ctx context.Context, d time.Duration) error
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.SecretKey == nil {
		return nil, errors.New("clerkapi: Config.SecretKey is required")
	}
	base, err := checkURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.MaxAttempts < 0 || cfg.MaxRateLimitWaits < 0 || cfg.BackoffBase < 0 || cfg.BackoffMax < 0 || cfg.MaxRetryAfter < 0 || cfg.RateLimit < 0 || cfg.Burst < 0 {
		return nil, errors.New("clerkapi: Config's attempts, waits, backoffs and rate limit must not be negative")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	c := &Client{
		secretKey:    cfg.SecretKey,
		keyRefused:   cfg.KeyRefused,
		url:          base,
		http:         observed(Guard(hc, MaxResponseBody)),
		maxAttempts:  orDefault(cfg.MaxAttempts, 4),
		maxRateWaits: orDefault(cfg.MaxRateLimitWaits, 10),
		backoffBase:  orDefault(cfg.BackoffBase, 500*time.Millisecond),
		backoffMax:   orDefault(cfg.BackoffMax, 10*time.Second),
		maxRetryWait: cfg.MaxRetryAfter,
		wait:         sleep,
	}
	if cfg.RateLimit > 0 {
		c.limiter = rate.NewLimiter(cfg.RateLimit, orDefault(cfg.Burst, 1))
	}
	return c, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// checkURL validates the base URL and returns it without a trailing slash.
func checkURL(raw string) (string, error) {
	if raw == "" {
		return DefaultURL, nil
	}
	if err := settings.CheckAPIURL(raw); err != nil {
		return "", fmt.Errorf("clerkapi: URL %w", err)
	}
	return strings.TrimRight(raw, "/"), nil
}

// MaxResponseBody is the most of one response body a Client reads: a page
// of 500 users, each with the 8 KB of metadata Clerk allows and room to
// spare, is about 5 MB; past the cap the call fails with
// ErrResponseTooLarge instead of holding an endless body in memory.
const MaxResponseBody = 8 << 20

// Guard returns a copy of hc fit to carry the secret key: it refuses every
// redirect (the Authorization header would follow Location, to any host and
// over plain http too), failing with ErrRedirect, and reads at most maxBody
// bytes of a response body, failing with ErrResponseTooLarge past that,
// before the body is read when Content-Length already says so. nil hc is a
// client with a 10-second timeout. This package's clients and the
// authorizer's JWKS fetch use it (make token, in the development module,
// has the same rules in a client of its own).
func Guard(hc *http.Client, maxBody int64) *http.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp := *hc
	cp.Transport = capBodies{next: next, max: maxBody}
	cp.CheckRedirect = refuseRedirect
	return &cp
}

// refuseRedirect is an http.Client's CheckRedirect that follows nothing.
// The client then returns a *url.Error naming the Location, which
// withoutQuery trims before it reaches a log; the error says which host
// redirected.
func refuseRedirect(req *http.Request, via []*http.Request) error {
	status, from := 0, ""
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	if len(via) > 0 {
		from = " from " + via[len(via)-1].URL.Host
	}
	return fmt.Errorf("%w (HTTP %d%s)", ErrRedirect, status, from)
}

// capBodies is a RoundTripper whose response bodies end in an error past max
// bytes.
type capBodies struct {
	next http.RoundTripper
	max  int64
}

func (c capBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: c.max, max: c.max, tooLarge: resp.ContentLength > c.max}
	return resp, nil
}

// cappedBody reads up to max bytes of a body, then fails with
// ErrResponseTooLarge if there is more.
type cappedBody struct {
	io.ReadCloser
	left, max int64
	tooLarge  bool
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.tooLarge {
		return 0, b.err()
	}
	if b.left <= 0 {
		// The cap is reached: one more byte says whether the body ends here.
		var one [1]byte
		n, err := io.ReadFull(b.ReadCloser, one[:])
		if n > 0 {
			b.tooLarge = true
			return 0, b.err()
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) err() error {
	return fmt.Errorf("%w: more than %s", ErrResponseTooLarge, byteSize(b.max))
}

// byteSize writes n in MiB or KiB when it is a whole number of them.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// backend builds the SDK backend for one attempt, with the key of the moment.
func (c *Client) backend(key string) clerk.BackendConfig {
	return clerk.BackendConfig{Key: clerk.String(key), URL: clerk.String(c.url), HTTPClient: c.http}
}

// userIDPattern is what a Clerk object id can look like; anything else could
// change the request path (for example "../jwks"), so it is never sent.
var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// User returns the user with id. A user that does not exist, and an id that
// cannot be a Clerk id, give an error for which errors.Is(err, ErrNotFound)
// holds.
func (c *Client) User(ctx context.Context, id string) (*clerk.User, error) {
	if !userIDPattern.MatchString(id) {
		return nil, fmt.Errorf("clerkapi: get user: %w: the id is not a Clerk user id", ErrNotFound)
	}
	var u *clerk.User
	err := c.call(ctx, "get user", func(ctx context.Context, b clerk.BackendConfig) error {
		var err error
		u, err = user.NewClient(&clerk.ClientConfig{BackendConfig: b}).Get(ctx, id)
		return withoutQuery(err)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ListParams selects a page of users. Zero values are left out of the
// request, so Clerk's defaults apply: 10 users, offset 0, newest first.
type ListParams struct {
	Limit   int    // 1..500
	Offset  int    // >= 0
	Query   string // case-insensitive match on email, phone, username, names and id
	OrderBy string // such as "-created_at" (the default) or "+created_at"
}

// ListUsers returns one page of users in one request. Unlike clerk-sdk-go's
// user.List, it does not also ask /users/count for the total.
func (c *Client) ListUsers(ctx context.Context, p ListParams) ([]*clerk.User, error) {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset != 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if p.Query != "" {
		q.Set("query", p.Query)
	}
	if p.OrderBy != "" {
		q.Set("order_by", p.OrderBy)
	}
	return c.listPage(ctx, q)
}

// CountUsers returns how many users match query ("" = all users).
func (c *Client) CountUsers(ctx context.Context, query string) (int64, error) {
	params := &user.ListParams{}
	if query != "" {
		params.Query = clerk.String(query)
	}
	var n int64
	err := c.call(ctx, "count users", func(ctx context.Context, b clerk.BackendConfig) error {
		total, err := user.NewClient(&clerk.ClientConfig{BackendConfig: b}).Count(ctx, params)
		if err == nil {
			n = total.TotalCount
		}
		return withoutQuery(err)
	})
	return n, err
}

// listPage sends GET /users with q and decodes each user of the page.
func (c *Client) listPage(ctx context.Context, q url.Values) ([]*clerk.User, error) {
	raw, err := c.listRawPage(ctx, q)
	if err != nil {
		return nil, err
	}
	page := make([]*clerk.User, 0, len(raw))
	for _, r := range raw {
		var u *clerk.User
		if err := json.Unmarshal(r, &u); err != nil {
			return nil, fmt.Errorf("clerkapi: list users: decode user: %w", err)
		}
		if u != nil {
			page = append(page, u)
		}
	}
	return page, nil
}

// listRawPage sends GET /users with q through the SDK backend and returns
// the users of the plain JSON array Clerk answers with, undecoded.
func (c *Client) listRawPage(ctx context.Context, q url.Values) ([]json.RawMessage, error) {
	var page rawPage
	err := c.call(ctx, "list users", func(ctx context.Context, b clerk.BackendConfig) error {
		page = nil
		req := clerk.NewAPIRequest(http.MethodGet, "/users")
		req.SetParams(queryParams(q))
		return withoutQuery(clerk.NewBackend(&b).Call(ctx, req, &page))
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// rawPage is the body of GET /users, a JSON array of users.
type rawPage []json.RawMessage

// Read satisfies clerk.ResponseReader; a page keeps no response metadata.
func (*rawPage) Read(*clerk.APIResponse) {}

// queryParams hands ready query values to the SDK, which sends them as the
// query string of a GET.
type queryParams url.Values

func (q queryParams) ToQuery() url.Values                { return url.Values(q) }
func (queryParams) ToMultipart() ([]byte, string, error) { return nil, "", nil }

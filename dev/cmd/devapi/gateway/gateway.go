// Package gateway is a local API Gateway HTTP API: it routes requests as
// the template's routes say, calls the Lambda authorizer, builds payload
// format 2.0 events, maps the functions' answers back to HTTP, applies the
// API's CORS configuration, and answers errors with API Gateway's own
// messages. Functions are reached through an Invoker, so the gateway does not
// care how they run.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/dev/apispec"
)

// Invoker calls a function with a JSON payload and returns its JSON answer.
// Any error (the function failed, crashed or ran past its timeout) is
// answered 500; an Invoker returns ctx.Err() when ctx ends first.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Defaults of HTTP APIs.
const (
	// IntegrationTimeout is HTTP API's maximum integration timeout.
	IntegrationTimeout = 30 * time.Second
	// maxBody is HTTP API's payload size limit.
	maxBody = 10 << 20
)

// Config configures a Gateway.
type Config struct {
	API     *apispec.API
	Invoker Invoker
	// IntegrationTimeout bounds each route integration; 0 means 30 s.
	IntegrationTimeout time.Duration
	// Log receives one line per request; nil discards them.
	Log func(Entry)
	// Warn receives a line about a function's mistake that AWS would
	// silently forgive, once per function and mistake; nil discards them.
	Warn func(string)
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Entry describes one handled request, for the request log. It never holds
// a token or any other header value.
type Entry struct {
	Method, Path string
	Status       int
	Duration     time.Duration
	Function     string
	// Auth is the authorizer's part: "", "none" (missing identity),
	// "allow", "deny", "allow (cached)", "deny (cached)" or "error".
	Auth string
	// Err says why a request failed inside the gateway, if it did.
	Err error
}

// String renders the entry as one readable line. What came with the request
// (the method, the path) is printed as it is when it is plain text, and
// quoted with Go's escapes otherwise: any web page can send a request to
// 127.0.0.1, and an ESC sequence in its path must not reach the developer's
// terminal, nor a space or a newline forge the fields after it.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s %d %s", printable(e.Method), printable(e.Path), e.Status, e.Duration.Round(100*time.Microsecond))
	if e.Function != "" {
		fmt.Fprintf(&b, " fn=%s", printable(e.Function))
	}
	if e.Auth != "" {
		fmt.Fprintf(&b, " auth=%s", printable(strings.ReplaceAll(e.Auth, " ", "")))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " error=%q", e.Err.Error())
	}
	return b.String()
}

// printable is s when every character of it prints as itself and none is a
// space, a quote or a backslash, and s quoted (strconv.Quote) otherwise, so
// a quoted field is never mistaken for a plain one.
func printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r == ' ' || r == '"' || r == '\\' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Gateway is an http.Handler serving one API.
type Gateway struct {
	cfg    Config
	router *Router
	cors   *cors
	cache  *authCache
	// warned holds the functions already warned about multiValueHeaders.
	warned sync.Map
}

// New returns a Gateway for cfg.API.
func New(cfg Config) *Gateway {
	if cfg.IntegrationTimeout <= 0 {
		cfg.IntegrationTimeout = IntegrationTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = func(Entry) {}
	}
	if cfg.Warn == nil {
		cfg.Warn = func(string) {}
	}
	return &Gateway{
		cfg:    cfg,
		router: NewRouter(cfg.API.Routes),
		cors:   newCORS(cfg.API.CORS),
		cache:  newAuthCache(),
	}
}

// ForgetAuthorizations empties the authorizer cache, for when the
// authorizer's code changed.
func (g *Gateway) ForgetAuthorizations() { g.cache.clear() }

// ServeHTTP handles one request as API Gateway would.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.cfg.Now()
	entry := Entry{Method: r.Method, Path: r.URL.Path}
	resp := g.handle(r, start, &entry)
	h := w.Header()
	for name, values := range resp.Header {
		h[name] = values
	}
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
	entry.Status = resp.Status
	entry.Duration = g.cfg.Now().Sub(start)
	g.cfg.Log(entry)
}

// handle answers r: a preflight request that no route takes from the CORS
// configuration alone, anything else through its route, with the API's CORS
// headers.
func (g *Gateway) handle(r *http.Request, now time.Time, entry *Entry) Response {
	requestID := newRequestID()
	var resp Response
	if g.answersPreflight(r) {
		entry.Function = "(preflight)"
		resp = g.cors.preflight(r)
	} else {
		resp = g.route(r, now, requestID, entry)
		if g.cors != nil {
			g.cors.decorate(r, resp.Header)
		}
	}
	resp.Header.Set("Apigw-Requestid", requestID)
	return resp
}

func (g *Gateway) route(r *http.Request, now time.Time, requestID string, entry *Entry) Response {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		entry.Err = fmt.Errorf("read request body: %w", err)
		return errorResponse(http.StatusBadRequest)
	}
	if len(body) > maxBody {
		return errorResponse(http.StatusRequestEntityTooLarge)
	}
	m, ok := g.router.Match(r.Method, r.URL.EscapedPath())
	if !ok {
		return errorResponse(http.StatusNotFound)
	}
	entry.Function = m.Route.Function
	ev := NewHTTPEvent(r, body, m, requestID, now)
	if a := m.Route.Authorizer; a != nil {
		d, resp, ok := g.authorize(r.Context(), a, &ev, now, entry)
		if !ok {
			return resp
		}
		ev.RequestContext.Authorizer = authorizerContext(d.context)
	}
	return g.integrate(r.Context(), m.Route.Function, ev, entry)
}

// answersPreflight reports whether the gateway answers r itself: a CORS
// preflight request when the API has a CORS configuration and no route
// matches OPTIONS on its path. A route that does (OPTIONS, ANY or $default)
// gets the request, authorizer included, as in AWS, where $default "catches
// requests for all methods and routes that you haven't explicitly defined,
// including OPTIONS requests".
func (g *Gateway) answersPreflight(r *http.Request) bool {
	if g.cors == nil || !isPreflight(r) {
		return false
	}
	_, routed := g.router.Match(http.MethodOptions, r.URL.EscapedPath())
	return !routed
}

// authorize runs the route's authorizer, or reuses its cached decision.
// When ok is false, resp is the answer to send instead of calling the route.
func (g *Gateway) authorize(ctx context.Context, a *apispec.Authorizer, ev *events.APIGatewayV2HTTPRequest, now time.Time, entry *Entry) (d decision, resp Response, ok bool) {
	identity, present := identityValues(a, ev)
	if !present {
		entry.Auth = "none"
		return d, errorResponse(http.StatusUnauthorized), false
	}
	cacheable := a.TTL > 0 && len(a.IdentitySources) > 0
	key := cacheKey(a, identity)
	cached := false
	if cacheable {
		d, cached = g.cache.get(key, now)
	}
	if !cached {
		var err error
		d, err = g.callAuthorizer(ctx, a, *ev, identity)
		if err != nil {
			entry.Auth = "error"
			entry.Err = fmt.Errorf("authorizer %s: %w", a.Function, err)
			return d, errorResponse(http.StatusInternalServerError), false
		}
		if cacheable {
			g.cache.put(key, d, now, a.TTL)
		}
	}
	entry.Auth = "deny"
	if d.allow {
		entry.Auth = "allow"
	}
	if cached {
		entry.Auth += " (cached)"
	}
	if !d.allow {
		return d, errorResponse(http.StatusForbidden), false
	}
	return d, Response{}, true
}

func (g *Gateway) callAuthorizer(ctx context.Context, a *apispec.Authorizer, ev events.APIGatewayV2HTTPRequest, identity []string) (decision, error) {
	authEvent := NewAuthorizerEvent(ev, identity)
	payload, err := json.Marshal(authEvent)
	if err != nil {
		return decision{}, err
	}
	answer, err := g.cfg.Invoker.Invoke(ctx, a.Function, payload)
	if err != nil {
		return decision{}, err
	}
	return parseDecision(answer, a.SimpleResponses, authEvent.RouteArn)
}

// integrate calls the route's function within the integration timeout.
func (g *Gateway) integrate(ctx context.Context, function string, ev events.APIGatewayV2HTTPRequest, entry *Entry) Response {
	payload, err := json.Marshal(ev)
	if err != nil {
		entry.Err = err
		return errorResponse(http.StatusInternalServerError)
	}
	ictx, cancel := context.WithTimeout(ctx, g.cfg.IntegrationTimeout)
	defer cancel()
	answer, err := g.cfg.Invoker.Invoke(ictx, function, payload)
	switch {
	case err != nil && errors.Is(ictx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		entry.Err = fmt.Errorf("no answer within the %s integration timeout", g.cfg.IntegrationTimeout)
		return errorResponse(http.StatusServiceUnavailable)
	case err != nil:
		entry.Err = err
		return errorResponse(http.StatusInternalServerError)
	}
	resp, ignoredMulti, err := ParseResponse(answer)
	if err != nil {
		entry.Err = err
		return errorResponse(http.StatusInternalServerError)
	}
	if ignoredMulti {
		g.warnMultiValueHeaders(function)
	}
	return resp
}

// warnMultiValueHeaders says, once per function, that the function's
// multiValueHeaders were ignored.
func (g *Gateway) warnMultiValueHeaders(function string) {
	if _, seen := g.warned.LoadOrStore(function, true); seen {
		return
	}
	g.cfg.Warn(function + " answered multiValueHeaders, which payload format 2.0 does not have: API Gateway ignores them, " +
		"and so does the local API (use headers, with repeated values joined by commas, and cookies for Set-Cookie)")
}

// newRequestID makes an id shaped like API Gateway's (for example
// "JZ3bDi2xIAMEJ5w=").
func newRequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

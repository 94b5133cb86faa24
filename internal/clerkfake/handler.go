package clerkfake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Failure describes faults to inject. The zero value injects none.
type Failure struct {
	// Latency is added to every request, fault or not.
	Latency time.Duration
	// RateLimited is how many of the next requests answer 429 Too Many
	// Requests, with a Retry-After header of RetryAfter seconds (0 = 1) and
	// Clerk's error body.
	RateLimited int
	RetryAfter  int
	// ServerErrors is how many of the next requests answer 500 with Clerk's
	// error body; they are served after the rate-limited ones.
	ServerErrors int
	// Paths restricts RateLimited and ServerErrors to requests whose path
	// starts with one of these (such as "/v1/users"); empty means every path.
	Paths []string
}

// Handler serves the Backend API under /v1. Every request is counted
// (Requests), delayed and failed as Fail says, then routed and authenticated
// with the kind of secret key its endpoint takes; anything not served answers
// 404 with Clerk's error body (after the instance's key is checked, as for
// every endpoint Clerk guards with it).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	instance := func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, s.guard(instanceKey, h)) }
	instance("GET /v1/jwks", s.serveJWKS)
	instance("GET /v1/users", s.serveUsers)
	instance("GET /v1/users/count", s.serveCount)
	instance("GET /v1/users/{user_id}", s.serveUser)
	instance("POST /v1/machines", s.serveCreateMachine)
	instance("GET /v1/machines/{machine_id}", s.serveMachine)
	instance("GET /v1/machines/{machine_id}/secret_key", s.serveMachineSecretKey)
	mux.HandleFunc("POST /v1/m2m_tokens", s.guard(machineKey, s.serveCreateM2MToken))
	mux.HandleFunc("POST /v1/m2m_tokens/verify", s.guard(instanceKey|machineKey, s.serveVerifyM2MToken))
	mux.HandleFunc("POST /v1/m2m_tokens/{m2m_token_id}/revoke", s.guard(instanceKey|machineKey, s.serveRevokeM2MToken))
	instance("POST /v1/api_keys", s.serveCreateAPIKey)
	instance("POST /v1/api_keys/verify", s.serveVerifyAPIKey)
	instance("POST /v1/api_keys/{apiKeyID}/revoke", s.serveRevokeAPIKey)
	instance("POST /v1/oauth_applications/access_tokens/verify", s.serveVerifyOAuthToken)
	instance("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found",
			"The requested resource was not found: "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		latency, fault := s.admit(r.URL.Path)
		if !wait(r.Context(), latency) {
			return
		}
		if fault != nil {
			fault(w)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// admit counts a request to path and takes the fault it should suffer, if any.
func (s *Server) admit(path string) (time.Duration, func(http.ResponseWriter)) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.requests[path]++
	if over := s.overLimit(); over != nil {
		return s.fault.Latency, over
	}
	f := &s.fault
	if len(f.Paths) > 0 && !hasAnyPrefix(path, f.Paths) {
		return f.Latency, nil
	}
	switch {
	case f.RateLimited > 0:
		f.RateLimited--
		retryAfter := f.RetryAfter
		if retryAfter <= 0 {
			retryAfter = 1
		}
		return f.Latency, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			writeError(w, http.StatusTooManyRequests, "too_many_requests", "Too many requests",
				"Too many requests, please retry later.")
		}
	case f.ServerErrors > 0:
		f.ServerErrors--
		return f.Latency, func(w http.ResponseWriter) {
			writeError(w, http.StatusInternalServerError, "internal_clerk_error", "Oops, an unexpected error occurred",
				"There was an internal error on our servers. We've been notified and are working on fixing it.")
		}
	}
	return f.Latency, nil
}

// overLimit applies Config.RateLimit: it admits the request into the
// window, or answers 429 with the whole seconds until a slot frees.
func (s *Server) overLimit() func(http.ResponseWriter) {
	if s.limit.Requests <= 0 {
		return nil
	}
	now := time.Now()
	keep := s.recent[:0]
	for _, t := range s.recent {
		if now.Sub(t) < s.limit.Window {
			keep = append(keep, t)
		}
	}
	s.recent = keep
	if len(s.recent) < s.limit.Requests {
		s.recent = append(s.recent, now)
		return nil
	}
	s.limited++
	wait := max(1, int(math.Ceil(s.limit.Window.Seconds()-now.Sub(s.recent[0]).Seconds())))
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeError(w, http.StatusTooManyRequests, "too_many_requests", "Too many requests",
			"Too many requests, please retry later.")
	}
}

// RateLimited is how many requests Config.RateLimit refused so far.
func (s *Server) RateLimited() int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.limited
}

func hasAnyPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// wait sleeps for d unless ctx ends first, and reports whether it slept.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// keyKind is a kind of secret key an endpoint accepts as its bearer token.
type keyKind int

const (
	instanceKey keyKind = 1 << iota // the instance's secret key (SecretKey)
	machineKey                      // a machine's secret key (Machine.SecretKey)
)

// guard serves h only to requests whose bearer key is of one of the kinds.
func (s *Server) guard(kinds keyKind, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.authenticate(w, r, kinds) {
			h(w, r)
		}
	}
}

// authenticate checks the bearer key, answering 401 when it is missing or
// not of the kinds the endpoint takes. Like Clerk, it tells the cases apart
// by code: "authentication_invalid" when no bearer key was sent (or, for an
// endpoint that takes only a machine's key, when the instance's was sent),
// "clerk_key_invalid" when the key is not one it takes. The key itself never
// appears in a response.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, kinds keyKind) bool {
	key, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "authentication_invalid", "Invalid authentication",
			"Unable to authenticate the request, you need to supply an active secret key in the Authorization header as a bearer token.")
		return false
	}
	isInstance := subtle.ConstantTimeCompare([]byte(key), []byte(s.secret)) == 1
	switch {
	case isInstance && kinds&instanceKey != 0:
		return true
	case isInstance:
		writeError(w, http.StatusUnauthorized, "authentication_invalid", "Invalid authentication",
			"This endpoint must be authenticated with a machine secret key in the Authorization header as a bearer token.")
		return false
	case kinds&machineKey != 0 && s.machineByKey(key) != nil:
		return true
	}
	writeError(w, http.StatusUnauthorized, "clerk_key_invalid", "The provided Clerk Secret Key is invalid.",
		"The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.")
	return false
}

// bearer is the key of an "Authorization: Bearer <key>" header.
func bearer(r *http.Request) (string, bool) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	key = strings.TrimSpace(key)
	return key, ok && strings.EqualFold(scheme, "Bearer") && key != ""
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.jwks())
}

func (s *Server) serveUsers(w http.ResponseWriter, r *http.Request) {
	l, perr := parseList(r.URL.Query())
	if perr != nil {
		writeParamError(w, perr)
		return
	}
	users, perr := s.list(l)
	if perr != nil {
		writeParamError(w, perr)
		return
	}
	// The users' JSON was encoded when they were stored; a page joins it.
	body := append([]byte{'['}, bytes.Join(users, []byte{','})...)
	writeRaw(w, http.StatusOK, append(body, ']'))
}

func (s *Server) serveCount(w http.ResponseWriter, r *http.Request) {
	f, perr := parseFilter(r.URL.Query())
	if perr != nil {
		writeParamError(w, perr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "total_count", "total_count": s.count(f)})
}

func (s *Server) serveUser(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.user(r.PathValue("user_id"))
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found",
			"No user was found with id "+strconv.Quote(r.PathValue("user_id")))
		return
	}
	writeRaw(w, http.StatusOK, raw)
}

// clerkError is one entry of Clerk's error body.
type clerkError struct {
	Message     string         `json:"message"`
	LongMessage string         `json:"long_message"`
	Code        string         `json:"code"`
	Meta        map[string]any `json:"meta,omitempty"`
}

func writeParamError(w http.ResponseWriter, p *paramError) {
	writeParamErrorStatus(w, http.StatusUnprocessableEntity, p)
}

// writeParamErrorStatus is writeParamError with another status: the
// specification gives 400, not 422, for the machine authentication
// endpoints' bad bodies.
func writeParamErrorStatus(w http.ResponseWriter, status int, p *paramError) {
	writeErrors(w, status, clerkError{
		Message: "is invalid", LongMessage: p.long, Code: p.code, Meta: map[string]any{"param_name": p.param},
	})
}

func writeError(w http.ResponseWriter, status int, code, message, long string) {
	writeErrors(w, status, clerkError{Message: message, LongMessage: long, Code: code})
}

// writeErrors writes Clerk's error body, {"errors": [...], "clerk_trace_id"},
// with the trace id also in the Clerk-Trace-Id header, where clerk-sdk-go
// reads it.
func writeErrors(w http.ResponseWriter, status int, errs ...clerkError) {
	trace := randomString(32)
	w.Header().Set("Clerk-Trace-Id", trace)
	writeJSON(w, status, map[string]any{"errors": errs, "clerk_trace_id": trace})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	raw, err := json.Marshal(body)
	if err != nil { // only plain maps, slices and structs of them are written
		panic(err)
	}
	writeRaw(w, status, raw)
}

// maxBody caps a request body: the largest the specification allows (150
// scoped machines, claims) is a few KiB.
const maxBody = 1 << 20

// decodeBody decodes the request's JSON object into v, refusing properties
// v does not declare (the specification's request bodies allow none); an
// empty body is an empty object. It answers 400 and returns false when the
// body is not such an object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed_request", "malformed request", "The request body could not be read: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed_request", "malformed request", "The request body is not the JSON object this endpoint takes: "+err.Error())
		return false
	}
	return true
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

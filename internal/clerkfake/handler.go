package clerkfake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
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
// (Requests), delayed and failed as Fail says, then authenticated, then
// routed; anything not served answers 404 with Clerk's error body.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jwks", s.serveJWKS)
	mux.HandleFunc("GET /v1/users", s.serveUsers)
	mux.HandleFunc("GET /v1/users/count", s.serveCount)
	mux.HandleFunc("GET /v1/users/{user_id}", s.serveUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
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
		if !s.authenticate(w, r) {
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

// authenticate checks the secret key, answering 401 when it is missing or
// wrong. Like Clerk, it tells the two apart by code: "authentication_invalid"
// when no bearer key was sent, "clerk_key_invalid" when the key is not this
// instance's. The key itself never appears in a response.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "":
		writeError(w, http.StatusUnauthorized, "authentication_invalid", "Invalid authentication",
			"Unable to authenticate the request, you need to supply an active secret key in the Authorization header as a bearer token.")
		return false
	case subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.secret)) != 1:
		writeError(w, http.StatusUnauthorized, "clerk_key_invalid", "The provided Clerk Secret Key is invalid.",
			"The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.")
		return false
	}
	return true
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
	writeErrors(w, http.StatusUnprocessableEntity, clerkError{
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
	if err != nil { // only plain maps and slices are written
		panic(err)
	}
	writeRaw(w, status, raw)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

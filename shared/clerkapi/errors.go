package clerkapi

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// ErrNotFound is matched (errors.Is) by the error of a call for something
// Clerk does not have: a 404 answer, or a user id that cannot exist.
var ErrNotFound = errors.New("not found")

// ErrSecretKey is matched (errors.Is) by the error of a call that failed
// because Config.SecretKey returned an error: the caller could not load its
// own credentials, so no request was sent, and the fault is the caller's
// (say, an unreadable SSM parameter) rather than Clerk's. The error also
// wraps what SecretKey returned.
var ErrSecretKey = errors.New("secret key")

// ErrNoTimeToRetry is matched (errors.Is) by the error of a call that did
// not retry because the wait before the retry (a backoff, or what a 429's
// Retry-After asked for) would outlast its context's deadline. The call
// returns at once instead of sleeping until the deadline only to fail
// there. Such an error also matches context.DeadlineExceeded, and wraps the
// error of the last attempt.
var ErrNoTimeToRetry = errors.New("no time left to retry before the context's deadline")

// ErrRedirect is matched (errors.Is) by the error of a request that Clerk,
// or whatever answered in its place, redirected: a client made by Guard
// follows no redirect, since the secret key would go along.
var ErrRedirect = errors.New("refused to follow a redirect")

// ErrResponseTooLarge is matched (errors.Is) by the error of a response
// whose body passed the cap of a client made by Guard.
var ErrResponseTooLarge = errors.New("response body too large")

// APIError is an error answer from the Backend API: its HTTP status and the
// first of Clerk's errors. Calls return it wrapped with what was being done;
// use errors.As to branch on Status or Code.
type APIError struct {
	Status      int    // HTTP status, such as 404 or 429
	Code        string // Clerk's errors[].code, such as "resource_not_found"; "" when the body was not Clerk's
	Message     string // errors[].message
	LongMessage string // errors[].long_message
	TraceID     string // clerk_trace_id, to quote to Clerk's support
}

// Error is one line for a log: status, code, message and trace id. The
// code shows only when it looks like one (LoggableCode), the trace id only
// when it looks like an id, and the message is cut at maxMessage bytes:
// the body may come from anything that answered in Clerk's place.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + LoggableCode(e.Code, ""))
	}
	msg := e.LongMessage
	if msg == "" {
		msg = e.Message
	}
	if msg != "" {
		b.WriteString(": " + clip(msg, maxMessage))
	}
	if e.TraceID != "" && traceIDPattern.MatchString(e.TraceID) {
		b.WriteString(" (clerk_trace_id " + e.TraceID + ")")
	}
	return b.String()
}

// maxMessage bounds the message an APIError's text carries.
const maxMessage = 300

// clip cuts s to at most n bytes, marking the cut; a character the cut
// splits is dropped.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// codePattern is what one of Clerk's error codes looks like, such as
// "resource_not_found"; traceIDPattern, one of its trace ids.
var (
	codePattern    = regexp.MustCompile(`^[a-z_]{1,64}$`)
	traceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

// WithheldCode stands in, in logs, for an error code that is not logged.
const WithheldCode = "(code withheld)"

// LoggableCode returns code when it looks like one of Clerk's error codes
// (^[a-z_]+$, at most 64 characters) and holds no secret key, nor a part
// of key long enough to matter, and WithheldCode otherwise. An error body
// can come from a proxy, or from an endpoint that echoes the request and
// with it "Bearer sk_...": only what looks like a code goes to a log.
func LoggableCode(code, key string) string {
	if !codePattern.MatchString(code) || strings.Contains(code, "sk_") ||
		(key != "" && (strings.Contains(code, key) || (len(code) >= 12 && strings.Contains(key, code)))) {
		return WithheldCode
	}
	return code
}

// withoutQuery returns err with the query string and fragment cut from the
// URL that net/http's *url.Error names (the request's, or a refused
// redirect's Location), so that a search for users, an e-mail address, never
// reaches a log. The error keeps its type, or at least what it wraps.
func withoutQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	short := &url.Error{Op: ue.Op, URL: cutQuery(ue.URL), Err: ue.Err}
	switch {
	case short.URL == ue.URL:
		return err
	case err == error(ue):
		return short
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), ue.Error(), short.Error()), err: err}
}

// cutQuery is raw without its query string and fragment.
func cutQuery(raw string) string {
	raw, _, _ = strings.Cut(raw, "?")
	raw, _, _ = strings.Cut(raw, "#")
	return raw
}

// Is makes errors.Is(err, ErrNotFound) hold for a 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == 404
}

// oneLine collapses whitespace, so text from a response body cannot break
// a log line, and removes the secret key should the text contain it.
func oneLine(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[secret key]")
	}
	return strings.Join(strings.Fields(s), " ")
}

// redactedError is an error whose text contained the secret key: the text is
// replaced, the error it wraps is kept for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err, or a copy whose text does not contain key.
func redact(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &redactedError{msg: oneLine(err.Error(), key), err: err}
}

// ErrRateLimited is matched (errors.Is) by a *RateLimitedError.
var ErrRateLimited = errors.New("rate limited by Clerk")

// RateLimitedError is a call that Clerk rate-limited for longer than the
// client waits (Config.MaxRetryAfter): the caller should answer 503 and
// pass RetryAfter on.
type RateLimitedError struct {
	op string
	// RetryAfter is what Clerk's last Retry-After asked for; negative when
	// it sent none.
	RetryAfter time.Duration
	last       error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("clerkapi: %s: %s: %s", e.op, ErrRateLimited, e.last)
}

func (e *RateLimitedError) Unwrap() []error { return []error{ErrRateLimited, e.last} }

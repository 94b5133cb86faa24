package clerkapi

import (
	"errors"
	"fmt"
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

// Error is one line: status, code, message and trace id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	msg := e.LongMessage
	if msg == "" {
		msg = e.Message
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	if e.TraceID != "" {
		b.WriteString(" (clerk_trace_id " + e.TraceID + ")")
	}
	return b.String()
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

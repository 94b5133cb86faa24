package clerkapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// outcome is what one attempt's error means for the call.
type outcome int

const (
	final       outcome = iota // success, or an error retrying cannot fix
	backoff                    // a 5xx or network error: retry after a jittered backoff
	rateLimited                // a 429: retry after Retry-After
)

// call runs op (named for error messages, such as "get user") with retries.
// do makes one attempt with the backend configuration it is given.
func (c *Client) call(ctx context.Context, op string, do func(context.Context, clerk.BackendConfig) error) error {
	failures, rateWaits := 0, 0
	for {
		kind, retryAfter, err := c.attempt(ctx, do)
		if err == nil {
			return nil
		}
		var d time.Duration
		switch kind {
		case final:
			return fmt.Errorf("clerkapi: %s: %w", op, err)
		case backoff:
			failures++
			if failures >= c.maxAttempts {
				return fmt.Errorf("clerkapi: %s: gave up after %d attempts: %w", op, failures, err)
			}
			d = c.backoffFor(failures)
		case rateLimited:
			rateWaits++
			if c.maxRetryWait > 0 && (retryAfter < 0 || retryAfter > c.maxRetryWait || rateWaits > 1) {
				return &RateLimitedError{op: op, RetryAfter: retryAfter, last: err}
			}
			if rateWaits > c.maxRateWaits {
				return fmt.Errorf("clerkapi: %s: still rate limited after waiting %d times: %w", op, c.maxRateWaits, err)
			}
			d = c.rateLimitWait(retryAfter, rateWaits)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			return &noTimeError{op: op, wait: d, last: err}
		}
		if werr := c.wait(ctx, d); werr != nil {
			return fmt.Errorf("clerkapi: %s: %w while waiting %s to retry after: %w", op, werr, d.Round(time.Millisecond), err)
		}
	}
}

// attempt makes one attempt and classifies its error. For a 429 it also
// returns the Retry-After wait, or -1 when the header is missing or garbage.
func (c *Client) attempt(ctx context.Context, do func(context.Context, clerk.BackendConfig) error) (outcome, time.Duration, error) {
	key, err := c.secretKey(ctx)
	if err != nil {
		return final, 0, fmt.Errorf("%w: %w", ErrSecretKey, err)
	}
	if strings.TrimSpace(key) == "" {
		return final, 0, errors.New("secret key is empty")
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return final, 0, fmt.Errorf("%w: waiting for the client's own rate limit: %w", ErrNoTimeToRetry, err)
		}
	}
	ex := &exchange{}
	err = do(withExchange(ctx, ex), c.backend(key))
	switch {
	case err == nil:
		return final, 0, nil
	case ctx.Err() != nil:
		return final, 0, context.Cause(ctx)
	}
	var apiErr *clerk.APIErrorResponse
	if errors.As(err, &apiErr) || ex.status >= 400 {
		e := apiError(apiErr, ex, key)
		switch {
		case e.Status == http.StatusUnauthorized && c.keyRefused != nil:
			// The key kept in memory was refused: after a rotation the old
			// key is revoked while SSM already holds the new one, so the
			// next call reads it again rather than failing until its TTL
			// runs out.
			c.keyRefused()
		case e.Status == http.StatusTooManyRequests:
			return rateLimited, retryAfter(ex.header, time.Now()), e
		case e.Status >= 500:
			return backoff, 0, e
		}
		return final, 0, e
	}
	if errors.Is(err, ErrRedirect) || errors.Is(err, ErrResponseTooLarge) {
		// Not a passing failure: asking again gets the same answer.
		return final, 0, redact(err, key)
	}
	if ex.status == 0 { // no answer: the request failed on the network
		return backoff, 0, redact(err, key)
	}
	if cutOff(err) { // an answer whose body stopped short: as much a network failure
		return backoff, 0, fmt.Errorf("read response: %w", redact(err, key))
	}
	return final, 0, fmt.Errorf("decode response: %w", redact(err, key))
}

// cutOff reports whether err is a failure to read a response body to its
// end (the connection closed early, reset or timed out), which another
// attempt may not meet, as opposed to a body that was whole but not JSON.
func cutOff(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &netErr)
}

// apiError builds the typed error from Clerk's error body when there was one,
// and from the status alone otherwise (say, a proxy's HTML error page).
func apiError(apiErr *clerk.APIErrorResponse, ex *exchange, key string) *APIError {
	e := &APIError{Status: ex.status, TraceID: ex.header.Get("Clerk-Trace-Id")}
	if apiErr == nil {
		e.Message = http.StatusText(ex.status)
		return e
	}
	if apiErr.HTTPStatusCode != 0 {
		e.Status = apiErr.HTTPStatusCode
	}
	if apiErr.TraceID != "" {
		e.TraceID = apiErr.TraceID
	}
	if len(apiErr.Errors) > 0 {
		first := apiErr.Errors[0]
		e.Code = oneLine(first.Code, key)
		e.Message = oneLine(first.Message, key)
		e.LongMessage = oneLine(first.LongMessage, key)
	}
	e.TraceID = oneLine(e.TraceID, key)
	return e
}

// maxRetryAfter caps the wait a 429 can ask for. A longer wait would hold a
// Lambda invocation (and its caller) for minutes; past the cap the call
// retries, and gives up after MaxRateLimitWaits 429s.
const maxRetryAfter = 60 * time.Second

// rateLimitWait is the wait after the nth 429 of a call. It is what
// Retry-After asked for, clamped to [backoffBase, maxRetryAfter]: the floor
// keeps "Retry-After: 0" (or a date in the past) from sending requests back
// to back, the cap keeps a server from parking the call. A missing or
// unreadable header (retryAfter < 0) gets the jittered backoff instead.
func (c *Client) rateLimitWait(retryAfter time.Duration, n int) time.Duration {
	if retryAfter < 0 {
		return c.backoffFor(n)
	}
	return min(max(retryAfter, c.backoffBase), maxRetryAfter)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date. It
// returns -1 when the header is missing or cannot be read (a sign, a
// fraction, anything but digits or a date), and never more than
// maxRetryAfter, however large the number or distant the date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return -1
	}
	if d, ok := delaySeconds(v); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return -1
}

// delaySeconds reads a run of decimal digits as seconds, capped at
// maxRetryAfter. Accumulation stops once the cap is passed, so no number of
// digits can overflow, and the cap applies before converting to a Duration.
func delaySeconds(v string) (time.Duration, bool) {
	const capSecs = int64(maxRetryAfter / time.Second)
	var secs int64
	for _, r := range v {
		if r < '0' || r > '9' {
			return 0, false
		}
		if secs <= capSecs {
			secs = secs*10 + int64(r-'0')
		}
	}
	return time.Duration(min(secs, capSecs)) * time.Second, true
}

// backoffFor is the wait before retry n (1-based): uniform in
// [0, min(BackoffMax, BackoffBase * 2^(n-1))).
func (c *Client) backoffFor(n int) time.Duration {
	bound := c.backoffBase
	for i := 1; i < n && bound < c.backoffMax; i++ {
		bound *= 2
	}
	bound = min(bound, c.backoffMax)
	if bound <= 0 {
		return 0
	}
	return rand.N(bound)
}

// noTimeError is the error of a call that declined to wait d before a retry
// because its context's deadline would come first.
type noTimeError struct {
	op   string
	wait time.Duration
	last error
}

func (e *noTimeError) Error() string {
	return fmt.Sprintf("clerkapi: %s: %s (a retry was due in %s): %s", e.op, ErrNoTimeToRetry, e.wait.Round(time.Millisecond), e.last)
}

func (e *noTimeError) Unwrap() []error {
	return []error{ErrNoTimeToRetry, context.DeadlineExceeded, e.last}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// exchange records the status and headers of the response to one attempt.
// clerk-sdk-go returns Clerk's error bodies typed, but for any other body
// (an HTML page from a proxy, an empty 503) only the body text, without
// the status; the transport records what the SDK does not pass on.
type exchange struct {
	status int
	header http.Header
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// observer is a RoundTripper that notes each response in the request's
// exchange, if it has one.
type observer struct{ next http.RoundTripper }

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if ex, ok := req.Context().Value(exchangeKey{}).(*exchange); ok && err == nil {
		ex.status, ex.header = resp.StatusCode, resp.Header
	}
	return resp, err
}

// observed returns a copy of hc whose transport records exchanges.
func observed(hc *http.Client) *http.Client {
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp := *hc
	cp.Transport = observer{next: next}
	return &cp
}

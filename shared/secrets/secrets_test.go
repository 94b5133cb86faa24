package secrets

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clerk-lambda/shared/settings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

const (
	paramName = "/clerk/secret-key"
	keyV1     = "sk_test_first0000000000000000000000000000000"
	keyV2     = "sk_test_second000000000000000000000000000000"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustProvider builds a Provider reading paramName from e with one attempt
// per call, unless cfg says otherwise.
func mustProvider(t *testing.T, e *ssmEndpoint, cfg Config) *Provider {
	t.Helper()
	if cfg.Parameter == "" {
		cfg.Parameter = paramName
	}
	if cfg.SSMClient == nil {
		cfg.SSMClient = e.client(1)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestNewRejectsWhatReadSecretKeyRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []settings.SecretKey{{}, {Parameter: "bad name"}, {Value: keyV1, TTL: -time.Second}, {Parameter: paramName, ProbePort: "x"}} {
		if _, err := New(Config{SecretKey: cfg}); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestSSMThroughDefaultConfig proves the production client: built by
// config.LoadDefaultConfig from the environment, reaching the endpoint named
// by AWS_ENDPOINT_URL_SSM, signing with the environment's credentials.
func TestSSMThroughDefaultConfig(t *testing.T) {
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	dir := t.TempDir()
	for name, value := range map[string]string{
		"AWS_ENDPOINT_URL_SSM":                e.url,
		"AWS_REGION":                          "us-east-1",
		"AWS_ACCESS_KEY_ID":                   "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":               "test-secret-access-key",
		"AWS_SESSION_TOKEN":                   "",
		"AWS_PROFILE":                         "",
		"AWS_CONFIG_FILE":                     filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":         filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL":                    "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
		"AWS_EC2_METADATA_DISABLED":           "true",
	} {
		t.Setenv(name, value)
	}
	key, err := settings.ReadSecretKey(settings.Map(map[string]string{settings.SecretKeyParameterName: paramName}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.SecretKey(testContext(t))
	if err != nil || got != keyV1 {
		t.Fatalf("SecretKey = %q, %v; want the stored key", got, err)
	}
	if d := e.decryptions(); len(d) != 1 || !d[0] {
		t.Fatalf("WithDecryption per request = %v, want [true]", d)
	}
	if got := p.Source(); got != "ssm:/clerk/secret-key" {
		t.Fatalf("Source = %q", got)
	}
}

func TestSSMFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(e *ssmEndpoint)
		wantMsg   string
		wantCalls int32 // with up to 3 attempts per call
		check     func(t *testing.T, err error)
	}{
		{
			name:      "not found",
			setup:     func(e *ssmEndpoint) { e.put("/some/other", keyV1) },
			wantMsg:   `read secret key from SSM parameter "/clerk/secret-key": parameter not found: `,
			wantCalls: 1,
			check: func(t *testing.T, err error) {
				var notFound *types.ParameterNotFound
				if !errors.As(err, &notFound) {
					t.Errorf("errors.As(*types.ParameterNotFound) failed on %v", err)
				}
			},
		},
		{
			name:      "access denied",
			setup:     func(e *ssmEndpoint) { e.put(paramName, keyV1); e.fail("AccessDeniedException") },
			wantMsg:   `read secret key from SSM parameter "/clerk/secret-key": access denied: `,
			wantCalls: 1,
			check:     wantAPIError("AccessDeniedException"),
		},
		{
			name:      "throttled, after the SDK's own retries",
			setup:     func(e *ssmEndpoint) { e.put(paramName, keyV1); e.fail("ThrottlingException") },
			wantMsg:   `read secret key from SSM parameter "/clerk/secret-key": throttled: `,
			wantCalls: 3,
			check: func(t *testing.T, err error) {
				wantAPIError("ThrottlingException")(t, err)
				var maxAttempts *retry.MaxAttemptsError
				if !errors.As(err, &maxAttempts) || maxAttempts.Attempt != 3 {
					t.Errorf("want a retry.MaxAttemptsError after 3 attempts, got %v", err)
				}
			},
		},
		{
			name:      "stored as a plain String",
			setup:     func(e *ssmEndpoint) { e.putTyped(paramName, "String", keyV1) },
			wantMsg:   `read secret key from SSM parameter "/clerk/secret-key": parameter type is "String", want SecureString`,
			wantCalls: 1,
		},
		{
			name:      "blank value",
			setup:     func(e *ssmEndpoint) { e.put(paramName, " \n") },
			wantMsg:   `read secret key from SSM parameter "/clerk/secret-key": parameter is empty`,
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSSMEndpoint(t)
			tt.setup(e)
			p := mustProvider(t, e, Config{SSMClient: e.client(3)})
			got, err := p.SecretKey(testContext(t))
			if err == nil {
				t.Fatalf("SecretKey = %q, want an error", got)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.wantMsg) || strings.Contains(msg, keyV1) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q\nwant one line starting %q, without the key", msg, tt.wantMsg)
			}
			if n := e.calls.Load(); n != tt.wantCalls {
				t.Errorf("GetParameter requests = %d, want %d", n, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func wantAPIError(code string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
			t.Errorf("want a smithy.APIError with code %s, got %v", code, err)
		}
	}
}

func TestSlowEndpointBoundedByContext(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	release := e.holdRequests()
	p := mustProvider(t, e, Config{})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := p.SecretKey(ctx)
		result <- err
	}()
	select {
	case err := <-result:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `SSM parameter "/clerk/secret-key"`) {
			t.Fatalf("err = %v, want a deadline error naming the parameter", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SecretKey did not return after its context's deadline")
	}

	// The fetch the caller gave up on completes for the next caller.
	release()
	got, err := p.SecretKey(testContext(t))
	if err != nil || got != keyV1 {
		t.Fatalf("SecretKey after release = %q, %v", got, err)
	}
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("GetParameter requests = %d, want 1 (the abandoned fetch is reused)", n)
	}
}

func TestRotationAfterTTL(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	clock := newFakeClock()
	p := mustProvider(t, e, Config{SecretKey: settings.SecretKey{TTL: time.Minute}, Now: clock.Now})
	ctx := testContext(t)

	steps := []struct {
		advance   time.Duration
		want      string
		wantCalls int32
	}{
		{advance: 0, want: keyV1, wantCalls: 1},
		{advance: time.Minute - time.Nanosecond, want: keyV1, wantCalls: 1}, // rotated in SSM, still kept
		{advance: time.Nanosecond, want: keyV2, wantCalls: 2},               // TTL over: fetched again
		{advance: time.Second, want: keyV2, wantCalls: 2},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		got, err := p.SecretKey(ctx)
		if err != nil || got != s.want {
			t.Fatalf("step %d: SecretKey = %q, %v; want %q", i, got, err, s.want)
		}
		if n := e.calls.Load(); n != s.wantCalls {
			t.Fatalf("step %d: GetParameter requests = %d, want %d", i, n, s.wantCalls)
		}
		if i == 0 {
			e.put(paramName, keyV2)
		}
	}
}

func TestConcurrentFirstCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	release := e.holdRequests()
	p := mustProvider(t, e, Config{})
	ctx := testContext(t)

	const callers = 50
	var started, finished sync.WaitGroup
	started.Add(callers)
	errs := make(chan error, callers)
	for range callers {
		finished.Go(func() {
			started.Done()
			got, err := p.SecretKey(ctx)
			if err == nil && got != keyV1 {
				err = errors.New("wrong key")
			}
			errs <- err
		})
	}
	started.Wait()
	release()
	finished.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("GetParameter requests = %d, want 1", n)
	}
}

// step is one call of SecretKey in a scripted test: the clock moves by
// advance (and before moves the test's endpoint), then the call answers want
// (or an error when want is ""), with wantCalls GetParameter requests so far.
type step struct {
	advance   time.Duration
	before    func()
	want      string
	wantCalls int32
}

func runSteps(t *testing.T, p *Provider, e *ssmEndpoint, clock *fakeClock, steps []step) {
	t.Helper()
	ctx := testContext(t)
	for i, s := range steps {
		clock.Advance(s.advance)
		if s.before != nil {
			s.before()
		}
		got, err := p.SecretKey(ctx)
		switch {
		case s.want == "" && err == nil:
			t.Fatalf("step %d: SecretKey = %q, want an error", i, got)
		case s.want == "" && !strings.HasPrefix(err.Error(), `read secret key from SSM parameter "/clerk/secret-key": `):
			t.Fatalf("step %d: err = %v, want the fetch's failure", i, err)
		case s.want != "" && (err != nil || got != s.want):
			t.Fatalf("step %d: SecretKey = %q, %v; want %q", i, got, err, s.want)
		}
		if n := e.calls.Load(); n != s.wantCalls {
			t.Fatalf("step %d: GetParameter requests = %d, want %d", i, n, s.wantCalls)
		}
	}
}

// TestFailedFetchBacksOff checks that calls in the backoff after a failed
// fetch get its failure without another request, and that the first call
// after the backoff fetches again.
func TestFailedFetchBacksOff(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	e.fail("AccessDeniedException")
	clock := newFakeClock()
	p := mustProvider(t, e, Config{Now: clock.Now})

	steps := []step{{want: "", wantCalls: 1}}
	for range 9 { // ten calls within the backoff, the last at 4.5s
		steps = append(steps, step{advance: failedFetchBackoff / 10, want: "", wantCalls: 1})
	}
	steps = append(steps,
		step{advance: failedFetchBackoff/10 - time.Nanosecond, before: func() { e.fail("") }, want: "", wantCalls: 1},
		step{advance: time.Nanosecond, want: keyV1, wantCalls: 2},
	)
	runSteps(t, p, e, clock, steps)
}

// TestStaleKeyWithinGrace checks that a key whose TTL has passed stands in
// for failed fetches until one more TTL has passed, and no longer.
func TestStaleKeyWithinGrace(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	clock := newFakeClock()
	p := mustProvider(t, e, Config{SecretKey: settings.SecretKey{TTL: time.Minute}, Now: clock.Now})
	failing := func() { e.fail("InternalServerError") }

	runSteps(t, p, e, clock, []step{
		{want: keyV1, wantCalls: 1},
		{advance: time.Minute, before: failing, want: keyV1, wantCalls: 2},                       // TTL over, fetch fails: stale key
		{advance: failedFetchBackoff - time.Nanosecond, want: keyV1, wantCalls: 2},               // backoff: no fetch
		{advance: time.Nanosecond, want: keyV1, wantCalls: 3},                                    // fetch fails again
		{advance: time.Minute - failedFetchBackoff - time.Nanosecond, want: keyV1, wantCalls: 4}, // last moment of grace
		{advance: time.Nanosecond, want: "", wantCalls: 4},                                       // grace over, during a backoff
		{advance: failedFetchBackoff, want: "", wantCalls: 5},                                    // grace over: fails closed
		{advance: failedFetchBackoff, before: func() { e.fail(""); e.put(paramName, keyV2) }, want: keyV2, wantCalls: 6},
		{advance: time.Minute - time.Nanosecond, want: keyV2, wantCalls: 6},
	})
}

// TestInvalidate checks that Invalidate makes the next call fetch again, that
// a dropped key is not used as a stale stand-in, that the failure backoff
// still applies, and that a just-fetched key survives it.
func TestInvalidate(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	clock := newFakeClock()
	p := mustProvider(t, e, Config{SecretKey: settings.SecretKey{TTL: time.Minute}, Now: clock.Now})

	runSteps(t, p, e, clock, []step{
		{want: keyV1, wantCalls: 1},
		{before: func() { e.put(paramName, keyV2); p.Invalidate() }, want: keyV1, wantCalls: 1}, // too fresh to drop
		{advance: freshKeyAge, before: p.Invalidate, want: keyV2, wantCalls: 2},
		{advance: freshKeyAge, before: func() { e.fail("AccessDeniedException"); p.Invalidate() }, want: "", wantCalls: 3},
		{before: p.Invalidate, want: "", wantCalls: 3}, // backoff
		{advance: failedFetchBackoff, before: func() { e.fail("") }, want: keyV2, wantCalls: 4},
	})
}

func TestSSMClientBuiltLazilyAndRetriedAfterFailure(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV1)
	var builds int
	clock := newFakeClock()
	p := mustProvider(t, e, Config{Now: clock.Now, SSMClient: func(ctx context.Context) (*ssm.Client, error) {
		builds++
		if builds == 1 {
			return nil, errors.New("no credentials")
		}
		return e.client(1)(ctx)
	}})
	if builds != 0 {
		t.Fatal("New built the SSM client")
	}
	ctx := testContext(t)
	if _, err := p.SecretKey(ctx); err == nil || !strings.Contains(err.Error(), "load AWS configuration: no credentials") {
		t.Fatalf("first SecretKey err = %v", err)
	}
	clock.Advance(failedFetchBackoff)
	if got, err := p.SecretKey(ctx); err != nil || got != keyV1 {
		t.Fatalf("second SecretKey = %q, %v", got, err)
	}
	if builds != 2 {
		t.Fatalf("client built %d times, want 2", builds)
	}
}

func TestEnvironmentValueWins(t *testing.T) {
	t.Parallel()
	e := newSSMEndpoint(t)
	e.put(paramName, keyV2)
	key, err := settings.ReadSecretKey(settings.Map(map[string]string{
		settings.SecretKeyName: keyV1, settings.SecretKeyParameterName: paramName,
		settings.ExtensionPortName: "2773", settings.SessionTokenName: "tok",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{SecretKey: key}
	cfg.SSMClient = func(context.Context) (*ssm.Client, error) {
		t.Error("SSM client built although CLERK_SECRET_KEY is set")
		return nil, errors.New("unexpected")
	}
	p := mustProvider(t, e, cfg)
	got, err := p.SecretKey(testContext(t))
	if err != nil || got != keyV1 {
		t.Fatalf("SecretKey = %q, %v; want the environment's key", got, err)
	}
	p.Invalidate()
	if got, err := p.SecretKey(testContext(t)); err != nil || got != keyV1 {
		t.Fatalf("SecretKey after Invalidate = %q, %v; want the environment's key", got, err)
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("GetParameter requests = %d, want 0", n)
	}
	if got := p.Source(); got != "environment" {
		t.Fatalf("Source = %q", got)
	}
}

func TestExtension(t *testing.T) {
	t.Parallel()
	const token = "session-token-from-lambda"
	closedPort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return port
	}
	tests := []struct {
		name         string
		config       func(t *testing.T, x *extension) Config
		extStatus    int
		ssmHas       bool
		want         string
		wantErr      string
		wantExtCalls int32
		wantSSMCalls int32
	}{
		{
			name: "configured port",
			config: func(_ *testing.T, x *extension) Config {
				return Config{SecretKey: settings.SecretKey{ExtensionPort: x.port, SessionToken: token}}
			},
			want:         keyV1,
			wantExtCalls: 1,
		},
		{
			name: "probed port that answers",
			config: func(_ *testing.T, x *extension) Config {
				return Config{SecretKey: settings.SecretKey{ProbePort: x.port, SessionToken: token}}
			},
			want:         keyV1,
			wantExtCalls: 1,
		},
		{
			name: "probed port with nothing listening",
			config: func(t *testing.T, _ *extension) Config {
				return Config{SecretKey: settings.SecretKey{ProbePort: closedPort(t), SessionToken: token}}
			},
			ssmHas:       true,
			want:         keyV2,
			wantSSMCalls: 1,
		},
		{
			name: "no session token",
			config: func(_ *testing.T, x *extension) Config {
				return Config{SecretKey: settings.SecretKey{ExtensionPort: x.port}}
			},
			ssmHas:       true,
			want:         keyV2,
			wantSSMCalls: 1,
		},
		{
			name: "extension error falls back to SSM",
			config: func(_ *testing.T, x *extension) Config {
				return Config{SecretKey: settings.SecretKey{ExtensionPort: x.port, SessionToken: token}}
			},
			extStatus:    http.StatusInternalServerError,
			ssmHas:       true,
			want:         keyV2,
			wantExtCalls: 1,
			wantSSMCalls: 1,
		},
		{
			name: "both fail",
			config: func(_ *testing.T, x *extension) Config {
				return Config{SecretKey: settings.SecretKey{ExtensionPort: x.port, SessionToken: token}}
			},
			extStatus:    http.StatusBadRequest,
			wantErr:      `read secret key from SSM parameter "/clerk/secret-key": parameter not found: `,
			wantExtCalls: 1,
			wantSSMCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newExtension(t, token, map[string]string{paramName: keyV1})
			if tt.extStatus != 0 {
				x.status.Store(int32(tt.extStatus))
			}
			e := newSSMEndpoint(t)
			if tt.ssmHas {
				e.put(paramName, keyV2)
			}
			p := mustProvider(t, e, tt.config(t, x))
			got, err := p.SecretKey(testContext(t))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "through the extension: HTTP 400") {
					t.Errorf("err = %v, want %q… naming the extension's failure", err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("SecretKey = %q, %v; want %q", got, err, tt.want)
			}
			if n := x.calls.Load(); n != tt.wantExtCalls {
				t.Errorf("extension requests = %d, want %d", n, tt.wantExtCalls)
			}
			if n := e.calls.Load(); n != tt.wantSSMCalls {
				t.Errorf("GetParameter requests = %d, want %d", n, tt.wantSSMCalls)
			}
		})
	}
}

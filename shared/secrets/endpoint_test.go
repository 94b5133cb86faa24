package secrets

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ssmEndpoint is a small SSM Parameter Store speaking AWS JSON 1.1, enough
// for GetParameter: it checks what the real service checks on the wire and
// answers with the documented output and error shapes.
type ssmEndpoint struct {
	t     *testing.T
	url   string
	calls atomic.Int32 // GetParameter requests received

	mu        sync.Mutex
	params    map[string]storedParam
	failWith  string        // when set, every request fails with this error code
	hold      chan struct{} // when set, requests wait for it to close
	decrypted []bool        // WithDecryption of each request
}

type storedParam struct {
	typ     string
	value   string
	version int
}

func newSSMEndpoint(t *testing.T) *ssmEndpoint {
	t.Helper()
	e := &ssmEndpoint{t: t, params: map[string]storedParam{}}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// put stores a SecureString, as `aws ssm put-parameter --overwrite` would.
func (e *ssmEndpoint) put(name, value string) { e.putTyped(name, "SecureString", value) }

func (e *ssmEndpoint) putTyped(name, typ, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.params[name] = storedParam{typ: typ, value: value, version: e.params[name].version + 1}
}

func (e *ssmEndpoint) fail(code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failWith = code
}

// holdRequests makes requests wait until the returned function is called
// (at the latest when the test ends).
func (e *ssmEndpoint) holdRequests() (release func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	hold := make(chan struct{})
	e.hold = hold
	release = sync.OnceFunc(func() { close(hold) })
	e.t.Cleanup(release)
	return release
}

func (e *ssmEndpoint) decryptions() []bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]bool(nil), e.decrypted...)
}

func (e *ssmEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	if problem := checkJSON11Request(r, "AmazonSSM.GetParameter"); problem != "" {
		e.t.Errorf("SSM endpoint: %s", problem)
		writeAWSError(w, http.StatusBadRequest, "ValidationException", problem)
		return
	}
	var in struct {
		Name           *string
		WithDecryption *bool
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == nil {
		e.t.Errorf("SSM endpoint: request body is not a GetParameter input: %v", err)
		writeAWSError(w, http.StatusBadRequest, "ValidationException", "bad input")
		return
	}

	e.mu.Lock()
	e.decrypted = append(e.decrypted, in.WithDecryption != nil && *in.WithDecryption)
	hold, failWith := e.hold, e.failWith
	p, found := e.params[*in.Name]
	e.mu.Unlock()

	if hold != nil {
		<-hold
	}
	switch {
	case failWith == "AccessDeniedException":
		writeAWSError(w, http.StatusBadRequest, failWith, "User is not authorized to perform: ssm:GetParameter on resource")
	case failWith == "ThrottlingException":
		writeAWSError(w, http.StatusBadRequest, failWith, "Rate exceeded")
	case failWith != "":
		writeAWSError(w, http.StatusBadRequest, failWith, "failure chosen by the test")
	case !found:
		writeAWSError(w, http.StatusBadRequest, "ParameterNotFound", "")
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
			"ARN":              "arn:aws:ssm:us-east-1:123456789012:parameter" + *in.Name,
			"DataType":         "text",
			"LastModifiedDate": 1.7532e9,
			"Name":             *in.Name,
			"Type":             p.typ,
			"Value":            p.value,
			"Version":          p.version,
		}})
	}
}

// checkJSON11Request returns what is wrong with r as a SigV4-signed AWS JSON
// 1.1 call of target, or "".
func checkJSON11Request(r *http.Request, target string) string {
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return "want POST /, got " + r.Method + " " + r.URL.Path
	case r.Header.Get("X-Amz-Target") != target:
		return "X-Amz-Target is " + strconv.Quote(r.Header.Get("X-Amz-Target")) + ", want " + target
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		return "Content-Type is " + strconv.Quote(r.Header.Get("Content-Type"))
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") ||
		!strings.Contains(r.Header.Get("Authorization"), "/ssm/aws4_request"):
		return "request is not SigV4-signed for ssm"
	case r.Header.Get("X-Amz-Date") == "":
		return "request has no X-Amz-Date"
	}
	return ""
}

// writeAWSError answers in the AWS JSON 1.1 error shape.
func writeAWSError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "test-request-id")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// client returns a Config.SSMClient pointing a real SDK client at the
// endpoint, with up to attempts attempts per call and no delay between them.
func (e *ssmEndpoint) client(attempts int) func(context.Context) (*ssm.Client, error) {
	return func(context.Context) (*ssm.Client, error) {
		return ssm.New(ssm.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(e.url),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "test-secret-access-key", ""),
			Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			}),
		}), nil
	}
}

// extension stands in for the Parameters and Secrets Lambda Extension.
type extension struct {
	t      *testing.T
	port   string
	calls  atomic.Int32
	status atomic.Int32 // the status to answer with; 200 answers the value
	token  string
	params map[string]string // SecureString values by name
}

func newExtension(t *testing.T, token string, params map[string]string) *extension {
	t.Helper()
	x := &extension{t: t, token: token, params: params}
	x.status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(x.serve))
	t.Cleanup(srv.Close)
	x.port = strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	return x
}

func (x *extension) serve(w http.ResponseWriter, r *http.Request) {
	x.calls.Add(1)
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet || r.URL.Path != "/systemsmanager/parameters/get":
		x.t.Errorf("extension: got %s %s", r.Method, r.URL.Path)
	case r.Header.Get(tokenHeader) != x.token:
		x.t.Errorf("extension: %s header does not hold the session token", tokenHeader)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case q.Get("withDecryption") != "true":
		x.t.Errorf("extension: withDecryption = %q, want true", q.Get("withDecryption"))
	case strings.Contains(r.URL.RawQuery, "name=/"):
		x.t.Errorf("extension: name is not URL-escaped in %q", r.URL.RawQuery)
	}
	if status := int(x.status.Load()); status != http.StatusOK {
		http.Error(w, "failure chosen by the test", status)
		return
	}
	value, ok := x.params[q.Get("name")]
	if !ok {
		http.Error(w, "parameter not found", http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
		"Name": q.Get("name"), "Type": "SecureString", "Value": value, "Version": 1, "DataType": "text",
	}})
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 4, 10, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

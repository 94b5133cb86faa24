// Package exporttest is what the export's tests share: a real S3 server on
// loopback, a seeded Clerk stand-in with a Backend API client for it, and a
// check of an export's content.
//
// The S3 server is Versity's S3 gateway, pinned in tools/go.mod and built by
// `make tools` (which `make test` runs first) to the path in VERSITYGW_BIN.
// One server serves a whole test binary; each test makes buckets of its own,
// so tests stay independent. StartWith runs one outside tests too, in a
// folder that outlives it, with credentials of the caller's choosing: make
// dev's local S3.
//
//	var s3srv *exporttest.Server
//
//	func TestMain(m *testing.M) { os.Exit(exporttest.Main(m, &s3srv)) }
//
//	func TestUpload(t *testing.T) {
//		srv := exporttest.Need(t, s3srv)
//		bucket := srv.Bucket(t)
//		...
//	}
package exporttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/internal/lockedio"
)

// EnvBin names the variable holding the path of the versitygw executable.
const EnvBin = "VERSITYGW_BIN"

// SkipReason is why a test that needs the server skips without it.
const SkipReason = "run make test (it builds the S3 server)"

// Fixed credentials of the test server's root account, and its region.
const (
	AccessKey = "exporttest-access-key"
	SecretKey = "exporttest-secret-key"
	Region    = "us-east-1"
)

// startTimeout bounds how long the server may take to answer.
const startTimeout = 30 * time.Second

// Server is a running S3 server.
type Server struct {
	// URL is the server's endpoint, such as "http://127.0.0.1:PORT".
	URL string

	accessKey, secretKey string
	cmd                  *exec.Cmd
	dir                  string
	removeDir            bool // the directory is Start's own
	exited               chan struct{}
	output               *lockedio.Buffer
}

// Main starts a server, stores it in *srv for the tests of m, runs them,
// stops the server and returns m's exit code. Without VERSITYGW_BIN *srv
// stays nil and tests that Need it skip; a server that cannot start fails
// the whole binary.
func Main(m *testing.M, srv **Server) int {
	s, err := Start()
	switch {
	case errors.Is(err, errNotBuilt):
	case err != nil:
		fmt.Fprintln(os.Stderr, "exporttest:", err)
		return 1
	default:
		*srv = s
		defer s.Close()
	}
	return m.Run()
}

// Need returns srv, or skips t when there is no server.
func Need(t testing.TB, srv *Server) *Server {
	t.Helper()
	if srv == nil {
		t.Skip(SkipReason)
	}
	return srv
}

var errNotBuilt = errors.New(EnvBin + " is not set")

// Start runs versitygw from VERSITYGW_BIN on a free loopback port, storing
// objects in a new temporary directory, with the fixed root credentials
// AccessKey and SecretKey, and waits until it answers.
func Start() (*Server, error) {
	bin := os.Getenv(EnvBin)
	if bin == "" {
		return nil, errNotBuilt
	}
	dir, err := os.MkdirTemp("", "exporttest-s3-")
	if err != nil {
		return nil, err
	}
	s, err := StartWith(Options{Bin: bin, Dir: dir, AccessKey: AccessKey, SecretKey: SecretKey})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.removeDir = true
	return s, nil
}

// Options say how StartWith runs the server.
type Options struct {
	// Bin is the versitygw executable.
	Bin string
	// Dir holds the objects, one folder per bucket (Versity's posix
	// backend); it must exist, and it is kept when the server stops.
	Dir string
	// AccessKey and SecretKey are the root account's credentials.
	AccessKey, SecretKey string
}

// StartWith runs versitygw as o says on a free loopback port and waits
// until it answers. Programs other than tests use it too: the server dies
// with the process that started it, on Linux even when that process is
// killed.
func StartWith(o Options) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, accessKey: o.AccessKey, secretKey: o.SecretKey, dir: o.Dir,
		exited: make(chan struct{}), output: &lockedio.Buffer{}}
	s.cmd = exec.Command(o.Bin, "--port", addr, "--quiet", "posix", o.Dir)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+o.AccessKey, "ROOT_SECRET_KEY="+o.SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.SysProcAttr = dieWithParent()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// freeAddr finds a loopback port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls the server until it answers HTTP, it exits, or
// startTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.URL)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited at start: %s", strings.TrimSpace(s.output.String()))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s within %s", s.URL, startTimeout)
		}
	}
}

// Close stops the server, and removes its objects when Start made their
// directory.
func (s *Server) Close() {
	_ = s.cmd.Process.Kill()
	<-s.exited
	if s.removeDir {
		os.RemoveAll(s.dir)
	}
}

// Client returns an S3 client for the server: its root credentials, path-style
// addressing, and opts applied last.
func (s *Server) Client(opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.accessKey, s.secretKey, ""),
	}, opts...)
}

// Env is what a program using the default AWS configuration needs to reach
// the server: endpoint, credentials and region, as environment variables,
// and no shared AWS files, so a developer's own profiles cannot interfere.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_S3":         s.URL,
		"AWS_ACCESS_KEY_ID":           s.accessKey,
		"AWS_SECRET_ACCESS_KEY":       s.secretKey,
		"AWS_REGION":                  Region,
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// Bucket creates a bucket with a fresh name for t.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test-" + hex.EncodeToString(b[:])
	if _, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

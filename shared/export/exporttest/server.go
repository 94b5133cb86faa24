// Package exporttest is what the export's tests share: a real S3 server on
// loopback, a seeded Clerk stand-in with a Backend API client for it, and a
// check of an export's content.
//
// The S3 server is Versity's S3 gateway (internal/versity), pinned in
// tools/go.mod and built by `make tools` (which `make test` runs first) to
// the path in VERSITYGW_BIN. One server serves a whole test binary; each
// test makes buckets of its own, so tests stay independent.
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
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/internal/versity"
)

// EnvBin names the variable holding the path of the versitygw executable.
const EnvBin = "VERSITYGW_BIN"

// SkipReason is why a test that needs the server skips without it.
const SkipReason = "run make test (it builds the S3 server)"

// Fixed credentials of the test server's root account, and its region.
const (
	AccessKey = "exporttest-access-key"
	SecretKey = "exporttest-secret-key"
	Region    = versity.Region
)

// Server is a running S3 server whose objects are in a temporary folder.
type Server struct {
	*versity.Server
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
	s, err := versity.StartWith(versity.Options{Bin: bin, Dir: dir, AccessKey: AccessKey, SecretKey: SecretKey})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Server{s}, nil
}

// Close stops the server and removes its objects.
func (s *Server) Close() {
	s.Server.Close()
	os.RemoveAll(s.Dir)
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

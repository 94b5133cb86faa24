// Package versity runs Versity's S3 gateway (versitygw) on loopback, with
// its posix backend in a folder and root credentials of the caller's
// choosing: the local S3 of the export's tests (shared/export/exporttest)
// and of make dev. It links no testing code, so programs use it too.
package versity

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/internal/lockedio"
)

// Region is the region clients of the server use.
const Region = "us-east-1"

// startTimeout bounds how long the server may take to answer.
const startTimeout = 30 * time.Second

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

// Server is a running S3 server.
type Server struct {
	// URL is the server's endpoint, such as "http://127.0.0.1:PORT".
	URL string
	// Dir is the folder of its objects.
	Dir string

	accessKey, secretKey string
	cmd                  *exec.Cmd
	exited               chan struct{}
	output               *lockedio.Buffer
}

// StartWith runs versitygw as o says on a free loopback port and waits
// until it answers. The server dies with the process that started it, on
// Linux even when that process is killed.
func StartWith(o Options) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, Dir: o.Dir, accessKey: o.AccessKey, secretKey: o.SecretKey,
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

// Close stops the server and waits for it to exit; its objects stay.
func (s *Server) Close() {
	_ = s.cmd.Process.Kill()
	<-s.exited
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

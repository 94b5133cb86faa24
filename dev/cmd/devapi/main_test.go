package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFunctionEnvPrecedence(t *testing.T) {
	t.Parallel()
	dotenv := map[string]string{"B": "dotenv", "D": "dotenv", "CLERK_SECRET_KEY": "sk_test_from_dotenv"}
	process := map[string]string{"C": "process", "D": "process", "HOME": "/home/dev"}
	getenv := func(k string) (string, bool) { v, ok := process[k]; return v, ok }
	standIn := map[string]string{"A": "stand-in", "CLERK_SECRET_KEY": "sk_test_stand_in", "CLERK_API_URL": "http://127.0.0.1:1/v1"}
	tests := []struct {
		name              string
		template, standIn map[string]string
		want              map[string]string
	}{
		{
			"declares the secret key",
			map[string]string{"A": "template", "B": "template", "C": "template", "CLERK_SECRET_KEY": ""}, nil,
			map[string]string{"A": "template", "B": "dotenv", "C": "process", "CLERK_SECRET_KEY": "sk_test_from_dotenv"},
		},
		{
			"declares no secret key",
			map[string]string{"A": "template", "B": "template"}, nil,
			map[string]string{"A": "template", "B": "dotenv"},
		},
		{
			"stand-in, declares the secret key",
			map[string]string{"A": "template", "CLERK_SECRET_KEY": ""}, standIn,
			map[string]string{"A": "stand-in", "CLERK_SECRET_KEY": "sk_test_stand_in", "CLERK_API_URL": "http://127.0.0.1:1/v1"},
		},
		{
			"stand-in, declares nothing",
			map[string]string{}, standIn,
			map[string]string{"CLERK_API_URL": "http://127.0.0.1:1/v1"},
		},
	}
	for _, tc := range tests {
		got := functionEnv(tc.template, dotenv, tc.standIn, getenv)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: functionEnv = %v, want %v (.env, the process environment and the stand-in only set names the template declares, CLERK_API_URL aside)",
				tc.name, got, tc.want)
		}
	}
}

func TestAffected(t *testing.T) {
	t.Parallel()
	dirs := map[string]string{"PublicFunction": "functions/public", "MeFunction": "functions/me", "AuthorizerFunction": "functions/authorizer"}
	tests := []struct {
		changed []string
		want    []string
	}{
		{[]string{"functions/me/main.go"}, []string{"MeFunction"}},
		{[]string{"functions/me/main.go", "functions/public/x.go"}, []string{"MeFunction", "PublicFunction"}},
		{[]string{"shared/identity/reader.go"}, []string{"AuthorizerFunction", "MeFunction", "PublicFunction"}},
		{[]string{"go.mod"}, []string{"AuthorizerFunction", "MeFunction", "PublicFunction"}},
		{[]string{"functions/export-users/main.go"}, []string{}},
	}
	for _, tc := range tests {
		got := affected(tc.changed, dirs)
		sort.Strings(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("affected(%v) = %v, want %v", tc.changed, got, tc.want)
		}
	}
}

func TestScanSeesChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "functions", "me", "main.go")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := scan(root)
	if err := os.WriteFile(file, []byte("package main // changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := changes(before, scan(root)); !reflect.DeepEqual(got, []string{"functions/me/main.go"}) {
		t.Errorf("changes = %v, want the edited file", got)
	}
}

func TestExamplePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/admin/users/{id}": "/admin/users/" + userID,
		"/files/{proxy+}":   "/files/any/path",
		"$default":          "/",
		"/public":           "/public",
	} {
		if got := examplePath(in); got != want {
			t.Errorf("examplePath(%q) = %q, want %q", in, got, want)
		}
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// devapiBinary builds this command once per test run.
func devapiBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "devapi-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "devapi")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildFailure{string(out)}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildFailure struct{ output string }

func (b *buildFailure) Error() string { return "go build: " + b.output }

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// runDevapi runs the command to its end and returns its exit status and
// stderr.
// runDevapiWith runs the command with env added to the process environment
// and returns its exit status and standard error.
func runDevapiWith(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(devapiBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	cmd.Env = append(append(os.Environ(), "CLERK_SECRET_KEY="), env...)
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

func TestStartupFailures(t *testing.T) {
	rie := rieBin(t)
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	badTemplate := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(badTemplate, []byte("Resources: [unclosed"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A real Clerk instance's settings, as .env would give them.
	real := []string{"CLERK_SECRET_KEY=sk_test_notreal", "CLERK_ISSUER=https://clerk.example.com"}
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		// Each function's own start-up check runs before make dev says it
		// is ready, so a bad setting stops it with that function's line.
		{"clock skew not a duration", []string{"-template", "../../../template.yaml"}, []string{"CLERK_CLOCK_SKEW=abc"},
			"Function will not start: CLERK_CLOCK_SKEW: not a duration"},
		{"space-separated parties", []string{"-template", "../../../template.yaml"},
			[]string{"CLERK_AUTHORIZED_PARTIES=http://a.example http://b.example"}, "will not start: CLERK_AUTHORIZED_PARTIES: "},
		{"api url over http", []string{"-template", "../../../template.yaml"}, append(real, "CLERK_API_URL=http://api.example.com/v1"),
			"will not start: CLERK_API_URL: must use https"},
		{"malformed jwt key", []string{"-template", "../../../template.yaml"}, append(real, "CLERK_JWT_KEY=not-a-key"),
			"AuthorizerFunction will not start: CLERK_JWT_KEY: "},
		{"bad log level", []string{"-template", "../../../template.yaml"}, []string{"LOG_LEVEL=loud"},
			"will not start: LOG_LEVEL: must be debug, info, warn or error"},
		{"port in use", []string{"-addr", busy.Addr().String(), "-template", "testdata/serve.yaml"}, nil, "is already in use"},
		{"site port in use", []string{"-site-addr", busy.Addr().String(), "-template", "testdata/serve.yaml"}, nil, "for the example site with -site-addr"},
		{"site off loopback", []string{"-site-addr", "0.0.0.0:0", "-template", "testdata/serve.yaml"}, nil, "is not on loopback"},
		{"template does not parse", []string{"-template", badTemplate}, nil, "not a valid template"},
		{"function does not build", []string{"-template", "testdata/broken.yaml"}, nil, "BrokenFunction: dev/cmd/devapi/testdata/brokenfn does not build"},
		{"no emulator", []string{"-template", "testdata/serve.yaml", "-rie", "/nonexistent/aws-lambda-rie"}, nil, "Runtime Interface Emulator is not at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"-addr", "127.0.0.1:0", "-rie", rie, "-cache", t.TempDir(), "-env-file", "/nonexistent/.env", "-poll", "0"}, tc.args...)
			code, stderr := runDevapiWith(t, tc.env, args...)
			if code != 1 || !strings.Contains(stderr, tc.want) || !strings.HasPrefix(stderr, "devapi: ") || (tc.env != nil && strings.Count(stderr, "\n") != 1) ||
				strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and one message containing %q", code, stderr, tc.want)
			}
		})
	}
}

// rieBin is the emulator, from the environment that make test sets up.
func rieBin(t *testing.T) string {
	t.Helper()
	rie := os.Getenv("RIE_BIN")
	if _, err := os.Stat(rie); rie == "" || err != nil {
		t.Skip("RIE_BIN is not set: run make test (it builds the Lambda Runtime Interface Emulator)")
	}
	return rie
}

// startDevapi starts the command as a subprocess on a free port and returns
// it with its base URL, read from its banner.
func startDevapi(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(devapiBinary(t), append([]string{"-addr", "127.0.0.1:0", "-rie", rieBin(t), "-cache", t.TempDir(),
		"-env-file", "/nonexistent/.env", "-poll", "0"}, args...)...)
	cmd.Env = append(os.Environ(), "CLERK_SECRET_KEY=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "local API on "); ok {
				urls <- strings.TrimSuffix(strings.Fields(rest)[0], ":")
			}
		}
	}()
	select {
	case url := <-urls:
		return cmd, url
	case <-time.After(60 * time.Second):
		t.Fatal("devapi did not print its address within a minute")
	}
	return nil, ""
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"clerk-lambda/dev/apispec"
)

// TestCLIReachesTheStandIn follows docs/batch.md: while make dev runs its
// stand-in, clerk-users reads the stand-in's URL and key from the cache
// folder and lists its users; the file is the user's alone and goes when
// make dev stops.
func TestCLIReachesTheStandIn(t *testing.T) {
	cache := t.TempDir()
	cmd, _ := startDevapi(t, "-template", "testdata/serve.yaml", "-cache", cache)
	file := filepath.Join(cache, CLIEnvFile)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no %s while make dev runs: %v", CLIEnvFile, err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600: it holds a secret key", CLIEnvFile, info.Mode().Perm())
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	list := exec.Command("go", "run", "./cmd/clerk-users", "list", "--limit", "50")
	list.Dir = root
	list.Env = append(os.Environ(), "CLERK_SECRET_KEY=", "CLERK_SECRET_KEY_PARAMETER=")
	list.Env = append(list.Env, strings.Fields(string(raw))...)
	out, err := list.CombinedOutput()
	if err != nil || !strings.Contains(string(out), userID) || !strings.Contains(string(out), adminID) {
		t.Fatalf("clerk-users list with %s: %v\n%s", CLIEnvFile, err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("devapi did not stop on SIGINT")
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("%s is left behind after make dev stopped: %v", CLIEnvFile, err)
	}
}

// TestCurlLinesExpandTheTokenVariable: the lines printed for a real Clerk
// instance use $TOKEN, which a shell expands only inside double quotes.
func TestCurlLinesExpandTheTokenVariable(t *testing.T) {
	t.Parallel()
	s := &devServer{url: "http://127.0.0.1:3000"}
	got := s.curl(apispec.Route{Method: "GET", Path: "/private"}, "$TOKEN")
	want := `curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/private`
	if got != want {
		t.Errorf("curl line = %s, want %s", got, want)
	}
}

func TestReplacedByStandIn(t *testing.T) {
	t.Parallel()
	standInEnv := map[string]string{"CLERK_API_URL": "http://127.0.0.1:9/v1", "CLERK_JWT_KEY": "", "CLERK_ISSUER": "https://stand.in"}
	dotenv := map[string]string{"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----..."}
	env := map[string]string{"CLERK_API_URL": "https://api.clerk.com/v1", "CLERK_ISSUER": "https://stand.in"}
	got := replacedByStandIn(standInEnv, dotenv, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if strings.Join(got, ",") != "CLERK_API_URL,CLERK_JWT_KEY" {
		t.Errorf("replaced = %v, want the two values the stand-in changes", got)
	}
}

// TestTokenURLMustBeLoopback: a damaged or planted standin.json cannot send
// the per-run key anywhere but the stand-in on 127.0.0.1.
func TestTokenURLMustBeLoopback(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"http://127.0.0.1:4000/token":              true,
		"http://127.0.0.1:1@evil.example/token":    false,
		"http://user:pw@127.0.0.1:4000/token":      false,
		"https://127.0.0.1:4000/token":             false,
		"http://127.0.0.1.evil.example:4000/token": false,
		"http://127.0.0.1/token":                   false,
		"http://localhost:4000/token":              false,
	} {
		if got := loopbackURL(raw); got != want {
			t.Errorf("loopbackURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

// TestPrivateFilesAreNew: the stand-in's files are created afresh, mode
// 0600, never written through a link or an old file's mode.
func TestPrivateFilesAreNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, target := filepath.Join(dir, CLIEnvFile), filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(path, []byte("CLERK_SECRET_KEY=sk_test_x\n")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("the link's target was written: %q", data)
	}
	info, err := os.Lstat(path)
	if err != nil || info.Mode().Type() != 0 || info.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want a regular file with mode 0600", path, info.Mode(), err)
	}
}

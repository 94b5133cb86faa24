package main

import (
	"io"
	"strings"
	"testing"
)

// TestAPIAddressStaysOnLoopback: the local API is for this machine unless
// the developer says otherwise, with -allow-remote or DEV_API_ALLOW_REMOTE=1.
func TestAPIAddressStaysOnLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		refused bool
	}{
		{"default", nil, nil, false},
		{"loopback", []string{"-addr", "127.0.0.1:8080"}, nil, false},
		{"another loopback address", []string{"-addr", "127.0.0.2:8080"}, nil, false},
		{"IPv6 loopback", []string{"-addr", "[::1]:8080"}, nil, false},
		{"localhost", []string{"-addr", "localhost:8080"}, nil, false},
		{"every interface", []string{"-addr", "0.0.0.0:3000"}, nil, true},
		{"every interface, no host", []string{"-addr", ":3000"}, nil, true},
		{"every IPv6 interface", []string{"-addr", "[::]:3000"}, nil, true},
		{"a LAN address", []string{"-addr", "192.168.1.20:3000"}, nil, true},
		{"a host name", []string{"-addr", "devbox.example.com:3000"}, nil, true},
		{"from the environment", nil, map[string]string{"DEV_API_ADDR": "0.0.0.0:3000"}, true},
		{"allowed by the flag", []string{"-addr", "0.0.0.0:3000", "-allow-remote"}, nil, false},
		{"allowed by the environment", nil, map[string]string{"DEV_API_ADDR": "0.0.0.0:3000", "DEV_API_ALLOW_REMOTE": "1"}, false},
		{"the environment says no", nil, map[string]string{"DEV_API_ADDR": "0.0.0.0:3000", "DEV_API_ALLOW_REMOTE": "0"}, true},
		{"the flag overrides the environment", []string{"-allow-remote=false"}, map[string]string{"DEV_API_ADDR": "0.0.0.0:3000", "DEV_API_ALLOW_REMOTE": "1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(name string) (string, bool) { v, ok := tc.env[name]; return v, ok }
			_, err := parseServeFlags(tc.args, io.Discard, getenv)
			switch {
			case tc.refused && err == nil:
				t.Fatal("the address was accepted")
			case tc.refused && (!strings.Contains(err.Error(), "is not on loopback") || !strings.Contains(err.Error(), "-allow-remote") || strings.Contains(err.Error(), "\n")):
				t.Fatalf("error %q, want one line saying the address is off loopback and how to allow it", err)
			case !tc.refused && err != nil:
				t.Fatal(err)
			}
		})
	}
}

func TestAPIAddressNotHostPort(t *testing.T) {
	t.Parallel()
	_, err := parseServeFlags([]string{"-addr", "3000"}, io.Discard, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "not host:port") {
		t.Fatalf("err = %v", err)
	}
}

// TestRemoteAddressRefusedByTheCommand: the refusal is devapi's one line on
// stderr and exit status 1, before anything is built or started.
func TestRemoteAddressRefusedByTheCommand(t *testing.T) {
	t.Parallel()
	code, stderr := runDevapiWith(t, []string{"DEV_API_ADDR=0.0.0.0:0", "DEV_API_ALLOW_REMOTE="}, "-cache", t.TempDir(), "-env-file", "/nonexistent/.env")
	if code != 1 || !strings.HasPrefix(stderr, "devapi: API address 0.0.0.0:0 is not on loopback") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and one line", code, stderr)
	}
}

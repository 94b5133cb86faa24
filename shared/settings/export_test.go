package settings

import (
	"strings"
	"testing"
)

func TestCleanPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "exports/users", want: "exports/users"},
		{in: "users/", want: "users"},
		{in: "a/b-c_d.e/(f)!*'", want: "a/b-c_d.e/(f)!*'"},
		{in: "", err: "must not be empty"},
		{in: "/", err: "must not be empty"},
		{in: "/users", err: "must not start with a slash"},
		{in: "a//b", err: "must be segments of"},
		{in: "a/../b", err: "must be segments of"},
		{in: "./a", err: "must be segments of"},
		{in: "users?x=1", err: "must be segments of"},
		{in: "us ers", err: "must be segments of"},
		{in: "users\n", err: "must be segments of"},
		{in: strings.Repeat("a", 513), err: "must be at most 512 characters"},
	} {
		got, err := CleanPrefix(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("CleanPrefix(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("CleanPrefix(%q) = %q, %v; want an error starting %q", tc.in, got, err, tc.err)
		}
	}
}

func TestCheckBucket(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"exports": true, "my-exports.2026": true, "abc": true,
		"": false, "ab": false, "Exports": false, "ex_ports": false, "-exports": false, "exports-": false,
		"ex..ports": false, "192.168.1.1": false, strings.Repeat("a", 64): false, "s3://exports": false,
	} {
		if err := CheckBucket(name); (err == nil) != ok {
			t.Errorf("CheckBucket(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

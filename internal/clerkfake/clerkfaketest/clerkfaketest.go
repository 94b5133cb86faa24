// Package clerkfaketest starts the Clerk stand-in for tests. It is imported
// by tests only, so the programs that run the stand-in (the local API, the
// benchmarks) do not carry the testing package.
package clerkfaketest

import (
	"testing"

	"clerk-lambda/internal/clerkfake"
)

// Start starts a stand-in configured by cfg on a free loopback port and
// closes it when t ends. A stand-in that cannot start fails t.
func Start(t testing.TB, cfg clerkfake.Config) *clerkfake.Server {
	t.Helper()
	s, err := clerkfake.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

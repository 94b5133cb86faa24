package clerkfaketest_test

import (
	"net/http"
	"strings"
	"testing"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

// TestStart checks that the stand-in answers on loopback with cfg applied,
// and that it is closed once the test that started it has ended.
func TestStart(t *testing.T) {
	t.Parallel()
	const issuer = "https://clerk.start.example"
	var url string
	t.Run("started", func(t *testing.T) {
		s := clerkfaketest.Start(t, clerkfake.Config{Issuer: issuer})
		url = s.URL()
		if !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Errorf("URL() = %s, want one on 127.0.0.1", url)
		}
		if s.Issuer() != issuer {
			t.Errorf("Issuer() = %s, want %s", s.Issuer(), issuer)
		}
		resp, err := http.Get(url + "/jwks")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /jwks without a key: %d, want %d", resp.StatusCode, http.StatusUnauthorized)
		}
	})
	if resp, err := http.Get(url + "/jwks"); err == nil {
		resp.Body.Close()
		t.Errorf("the stand-in still answers at %s after its test ended", url)
	}
}

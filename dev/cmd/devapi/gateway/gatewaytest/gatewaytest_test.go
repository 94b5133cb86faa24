package gatewaytest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
)

// TestCall checks that Call sends the method and every header, and returns
// the status, the header and the whole body.
func TestCall(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Method+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Origin"))
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("the whole body"))
	}))
	t.Cleanup(srv.Close)

	resp, body := gatewaytest.Call(t, "DELETE", srv.URL, map[string]string{"Authorization": "Bearer x", "Origin": "https://a.example"})
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusTeapot)
	}
	if got, want := resp.Header.Get("X-Seen"), "DELETE Bearer x https://a.example"; got != want {
		t.Errorf("the server saw %q, want %q", got, want)
	}
	if body != "the whole body" {
		t.Errorf("body = %q, want %q", body, "the whole body")
	}
}

package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"clerk-lambda/shared/clerkroute/clerkroutetest"
)

// search is an admin's search for a user by e-mail address.
const search = "alice@example.com"

// wantNoSearch fails when the log holds the search, in any encoding.
func wantNoSearch(t *testing.T, log string) {
	t.Helper()
	for _, s := range []string{"alice", "example.com", "%40", "query="} {
		if strings.Contains(log, s) {
			t.Fatalf("the log holds %q: %s", s, log)
		}
	}
}

// TestSearchNeverReachesTheLog: when Clerk cannot be reached, net/http's
// error names the request's URL, query string and all; the route's log line
// carries the error, never the e-mail address searched for.
func TestSearchNeverReachesTheLog(t *testing.T) {
	t.Parallel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/v1"
	dead.Close()
	key := "sk_test_" + strings.Repeat("d", 40)
	h, logs := testHandler(t, map[string]string{"CLERK_SECRET_KEY": key, "CLERK_API_URL": deadURL})
	res := clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, "", map[string]string{"query": search}))
	clerkroutetest.WantError(t, res, http.StatusBadGateway, "clerk_unavailable")
	line := clerkroutetest.LogLine(t, logs, http.StatusBadGateway, key)
	if msg, _ := line["error"].(string); !strings.Contains(msg, "connection refused") || !strings.Contains(msg, deadURL+"/users") {
		t.Errorf("the log line does not say what failed: %v", line)
	}
	wantNoSearch(t, logs.String())
}

// TestSearchNeverReachesTheLogThroughARedirect: a redirect is not followed,
// and its Location, which repeats the query, is logged without it.
func TestSearchNeverReachesTheLogThroughARedirect(t *testing.T) {
	t.Parallel()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1"+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	key := "sk_test_" + strings.Repeat("d", 40)
	h, logs := testHandler(t, map[string]string{"CLERK_SECRET_KEY": key, "CLERK_API_URL": redirector.URL + "/v1"})
	res := clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, "", map[string]string{"query": search}))
	clerkroutetest.WantError(t, res, http.StatusBadGateway, "clerk_unavailable")
	line := clerkroutetest.LogLine(t, logs, http.StatusBadGateway, key)
	if msg, _ := line["error"].(string); !strings.Contains(msg, "refused to follow a redirect") {
		t.Errorf("the log line does not say what failed: %v", line)
	}
	wantNoSearch(t, logs.String())
}

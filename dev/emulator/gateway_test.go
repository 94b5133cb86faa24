package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/dev/cmd/devapi/gateway"
	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
)

// newGateway serves the fixture behind a gateway: GET /fixture without
// authorization and GET /guarded behind the fixture acting as authorizer.
func newGateway(t *testing.T, integration time.Duration) *httptest.Server {
	t.Helper()
	r := newRunner(t, time.Second, nil, nil)
	auth := &apispec.Authorizer{Name: "A", Function: "Fixture", IdentitySources: []string{"$request.header.Authorization"}, SimpleResponses: true}
	gw := gateway.New(gateway.Config{
		API: &apispec.API{Routes: []apispec.Route{
			{Method: "GET", Path: "/fixture", Function: "Fixture"},
			{Method: "GET", Path: "/guarded", Function: "Fixture", Authorizer: auth},
		}},
		Invoker:            r,
		IntegrationTimeout: integration,
	})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

func TestGatewayOverEmulator(t *testing.T) {
	t.Parallel()
	srv := newGateway(t, 500*time.Millisecond)
	const ise = `{"message":"Internal Server Error"}`
	tests := []struct {
		name, query string
		auth        string
		status      int
		body        string
	}{
		{"function error", "mode=error", "", 500, ise},
		{"crash", "mode=exit", "", 500, ise},
		{"panic", "mode=panic", "", 500, ise},
		{"bare JSON", "mode=env&name=AWS_LAMBDA_FUNCTION_NAME", "", 200, `{"value":"Fixture"}`},
		{"integration limit", "mode=sleep&ms=900", "", 503, `{"message":"Service Unavailable"}`},
		{"authorized", "mode=echo", "Bearer good", 200, `"lambda":{"userId":"user_fixture"}`},
		{"denied", "mode=echo", "Bearer bad", 403, `{"message":"Forbidden"}`},
	}
	for _, tc := range tests {
		path := "/fixture?"
		if tc.auth != "" {
			path = "/guarded?"
		}
		resp, body := gatewaytest.Call(t, "GET", srv.URL+path+tc.query, map[string]string{"Authorization": tc.auth})
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %s, want %d with %s", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func TestGatewayFunctionTimeout(t *testing.T) {
	t.Parallel()
	srv := newGateway(t, 5*time.Second)
	resp, body := gatewaytest.Call(t, "GET", srv.URL+"/fixture?mode=sleep&ms=2500", nil)
	if resp.StatusCode != 500 || body != `{"message":"Internal Server Error"}` {
		t.Errorf("past the function's 1 s timeout: %d %s, want 500", resp.StatusCode, body)
	}
}

func TestGatewayBinaryAndCookies(t *testing.T) {
	t.Parallel()
	srv := newGateway(t, 5*time.Second)
	resp, body := gatewaytest.Call(t, "GET", srv.URL+"/fixture?mode=binary", nil)
	if resp.StatusCode != 201 || body != "\x00\x01\x02\xff" ||
		strings.Join(resp.Header.Values("Set-Cookie"), "|") != "a=1; Path=/|b=2" ||
		resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

func TestGatewayConcurrency(t *testing.T) {
	t.Parallel()
	srv := newGateway(t, 10*time.Second)
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	pids := map[int]bool{}
	errs := make(chan error, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 50}}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s/fixture?mode=pid&id=%d", srv.URL, i))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var got struct {
				PID int
				ID  string
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || got.ID != fmt.Sprint(i) {
				errs <- fmt.Errorf("request %d: %d %+v %v", i, resp.StatusCode, got, err)
				return
			}
			mu.Lock()
			pids[got.PID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(pids) < 1 || len(pids) > 4 {
		t.Errorf("%d function processes served, want 1 to 4 (the per-function limit)", len(pids))
	}
}

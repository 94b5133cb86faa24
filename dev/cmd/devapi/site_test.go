package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
)

func TestSiteAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		api      string
		site     string
		siteNote string
	}{
		{"defaults", nil, nil, defaultAddr, defaultSiteAddr, "5173, as Vite"},
		{"a free API port frees the site's", []string{"-addr", "127.0.0.1:0"}, nil, "127.0.0.1:0", "127.0.0.1:0", "no fixed port"},
		{"the same from the environment", nil, map[string]string{"DEV_API_ADDR": "127.0.0.1:0"}, "127.0.0.1:0", "127.0.0.1:0", "no fixed port"},
		{"a fixed API port keeps the default", []string{"-addr", "127.0.0.1:8080"}, nil, "127.0.0.1:8080", defaultSiteAddr, "the default"},
		{"flag", []string{"-addr", "127.0.0.1:0", "-site-addr", "127.0.0.1:6000"}, nil, "127.0.0.1:0", "127.0.0.1:6000", "the flag"},
		{"environment", []string{"-addr", "127.0.0.1:0"}, map[string]string{"DEV_SITE_ADDR": "localhost:7000"}, "127.0.0.1:0", "localhost:7000", "DEV_SITE_ADDR"},
		{"flag over environment", []string{"-site-addr", "127.0.0.1:6000"}, map[string]string{"DEV_SITE_ADDR": "127.0.0.1:7000"}, defaultAddr, "127.0.0.1:6000", "the flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(name string) (string, bool) { v, ok := tc.env[name]; return v, ok }
			cfg, err := parseServeFlags(tc.args, io.Discard, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != tc.api || cfg.SiteAddr != tc.site {
				t.Errorf("API on %s, site on %s; want %s and %s (%s)", cfg.Addr, cfg.SiteAddr, tc.api, tc.site, tc.siteNote)
			}
		})
	}
}

func TestListenSite(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	for _, tc := range []struct{ addr, want string }{
		{"0.0.0.0:0", "not on loopback"},
		{"192.0.2.1:5173", "not on loopback"},
		{"example.com:5173", "not on loopback"},
		{"5173", "not host:port"},
		{busy.Addr().String(), "already in use"},
	} {
		ln, err := listenSite(tc.addr)
		if err == nil {
			ln.Close()
			t.Errorf("listenSite(%q) listened, want an error with %q", tc.addr, tc.want)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("listenSite(%q) = %v, want an error with %q", tc.addr, err, tc.want)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := listenSite(addr)
		if err != nil {
			t.Errorf("listenSite(%q): %v", addr, err)
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		want := []string{"http://localhost:" + strconv.Itoa(port), "http://127.0.0.1:" + strconv.Itoa(port)}
		if got := siteOrigins(ln.Addr()); !reflect.DeepEqual(got, want) {
			t.Errorf("siteOrigins for %s = %v, want %v", ln.Addr(), got, want)
		}
		ln.Close()
	}
}

func TestSiteHandler(t *testing.T) {
	t.Parallel()
	if _, err := siteHandler("testdata/no-such-site", siteConfig{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing site folder: %v, want an error naming it", err)
	}
	h, err := siteHandler("../../../web", siteConfig{APIURL: "http://127.0.0.1:3000", DevTokenURL: "http://127.0.0.1:4000/dev-token"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, body := gatewaytest.Call(t, "GET", srv.URL+"/config.json", nil)
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.Header.Get("Cache-Control") != "no-store" ||
		!reflect.DeepEqual(got, map[string]any{"apiUrl": "http://127.0.0.1:3000", "devTokenUrl": "http://127.0.0.1:4000/dev-token"}) {
		t.Errorf("config.json = %d %s %v, want the generated settings, never cached", resp.StatusCode, body, resp.Header)
	}
	for path, want := range map[string]string{"/": `<script type="module" src="app.js">`, "/app.js": "devTokenUrl"} {
		resp, body := gatewaytest.Call(t, "GET", srv.URL+path, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, want) || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d %v, want web/'s file, revalidated on every load", path, resp.StatusCode, resp.Header)
		}
	}
}

func TestDevToken(t *testing.T) {
	t.Parallel()
	const site = "http://localhost:5999"
	s, err := startStandIn(t.TempDir(), []string{site, "http://127.0.0.1:5999"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.devTokenURL(), "http://127.0.0.1:") {
		t.Fatalf("dev-token endpoint %s, want one on loopback", s.devTokenURL())
	}
	tests := []struct {
		name, method, origin, as string
		status                   int
		sub, org                 string
	}{
		{"user", "GET", site, "user", 200, userID, ""},
		{"admin", "GET", site, "admin", 200, adminID, adminOrgID},
		{"the site at its IP address", "GET", "http://127.0.0.1:5999", "user", 200, userID, ""},
		{"unknown role", "GET", site, "root", 400, "", ""},
		{"no role", "GET", site, "", 400, "", ""},
		{"another origin", "GET", "http://localhost:6000", "user", 403, "", ""},
		{"no origin, as from curl", "GET", "", "user", 403, "", ""},
		{"null origin", "GET", "null", "user", 403, "", ""},
		{"not a GET", "POST", site, "user", 405, "", ""},
	}
	for _, tc := range tests {
		header := map[string]string{}
		if tc.origin != "" {
			header["Origin"] = tc.origin
		}
		resp, body := gatewaytest.Call(t, tc.method, s.devTokenURL()+"?as="+tc.as, header)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
			continue
		}
		allowed := resp.Header.Get("Access-Control-Allow-Origin")
		if tc.status == 403 && allowed != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q on a refusal, want none", tc.name, allowed)
		}
		if tc.status != 200 {
			continue
		}
		if allowed != tc.origin {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", tc.name, allowed, tc.origin)
		}
		var answer tokenAnswer
		if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.Token == "" {
			t.Fatalf("%s: %s, want a token", tc.name, body)
		}
		claims := tokenClaims(t, answer.Token)
		if claims.Sub != tc.sub || claims.Azp != tc.origin || claims.Org.ID != tc.org || claims.Exp-claims.Iat != int64(siteTokenTTL.Seconds()) {
			t.Errorf("%s: claims %+v, want sub %s, azp %s, org %q, living %s", tc.name, claims, tc.sub, tc.origin, tc.org, siteTokenTTL)
		}
	}
}

// claims are the parts of a session token the tests check.
type claims struct {
	Sub string `json:"sub"`
	Azp string `json:"azp"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Org struct {
		ID string `json:"id"`
	} `json:"o"`
}

// tokenClaims decodes a token's claims without verifying it: the end-to-end
// tests check that the authorizer accepts it.
func tokenClaims(t *testing.T, token string) claims {
	t.Helper()
	parts := strings.Split(token, ".")
	var c claims
	if len(parts) != 3 {
		t.Fatalf("%.20s... is not a JWT", token)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	if err != nil {
		t.Fatalf("token claims: %v", err)
	}
	return c
}

// TestLocalOrigins starts the local API in both Clerk modes and checks
// what the site is told and which origins the API accepts.
func TestLocalOrigins(t *testing.T) {
	rieBin(t)
	t.Parallel()
	const pk = "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"
	tests := []struct {
		name      string
		env       map[string]string
		standIn   bool
		devOrigin bool
	}{
		{"stand-in", nil, true, true},
		{"real Clerk", map[string]string{"CLERK_SECRET_KEY": "sk_test_local", "CLERK_PUBLISHABLE_KEY": pk}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := startLocal(t, "testdata/serve.yaml", tc.env)
			if (s.standIn != nil) != tc.standIn {
				t.Fatalf("stand-in running: %v, want %v", s.standIn != nil, tc.standIn)
			}
			want := siteConfig{APIURL: "/api", PublishableKey: pk}
			if tc.standIn {
				want = siteConfig{APIURL: "/api", DevTokenURL: s.standIn.devTokenURL()}
			}
			_, body := gatewaytest.Call(t, "GET", s.siteOrigins[0]+"/config.json", nil)
			var got siteConfig
			if err := json.Unmarshal([]byte(body), &got); err != nil || got != want {
				t.Errorf("config.json = %s, want %+v", body, want)
			}

			parties := []string{"https://app.example.com"}
			if tc.devOrigin {
				parties = append(parties, devOrigin)
			}
			parties = append(parties, s.siteOrigins...)
			_, body = gatewaytest.Call(t, "GET", s.URL()+"/open?mode=env&name=CLERK_AUTHORIZED_PARTIES", nil)
			if want := `{"value":"` + strings.Join(parties, ",") + `"}`; body != want {
				t.Errorf("CLERK_AUTHORIZED_PARTIES: %s, want %s", body, want)
			}
			for _, origin := range append(parties, "http://localhost:1", "https://evil.example") {
				allowed := contains(parties, origin)
				resp, _ := gatewaytest.Call(t, "OPTIONS", s.URL()+"/guarded/1", map[string]string{
					"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
				if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == origin) != allowed {
					t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want it allowed: %v", origin, got, allowed)
				}
			}
		})
	}
}

// TestSiteAPIPrefix: the site's origin hands /api and /api/... to the API
// with the prefix stripped, the query string and Authorization kept, as
// CloudFront's /api/* behavior does; other paths stay the site's; every
// answer carries the security headers.
func TestSiteAPIPrefix(t *testing.T) {
	t.Parallel()
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "site %s", r.URL.Path) })
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "api %s ?%s %s %s", r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.RequestURI)
	})
	srv := httptest.NewServer(withHeaders(withAPI(site, api), map[string]string{"X-Frame-Options": "DENY"}))
	t.Cleanup(srv.Close)
	for path, want := range map[string]string{
		"/api/private?x=1":   "api /private ?x=1 Bearer t /private?x=1",
		"/api":               "api / ? Bearer t /",
		"/api/":              "api / ? Bearer t /",
		"/api/admin/users/1": "api /admin/users/1 ? Bearer t /admin/users/1",
		"/apiary":            "site /apiary",
		"/app.js":            "site /app.js",
	} {
		resp, body := gatewaytest.Call(t, "GET", srv.URL+path, map[string]string{"Authorization": "Bearer t"})
		if body != want || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s = %q %v, want %q with the security headers", path, body, resp.Header, want)
		}
	}
}

// TestSiteSecurityHeaders: the site sends the template's security headers,
// its CSP naming the stand-in's endpoint and the local API over plain HTTP;
// a template without a policy gives none.
func TestSiteSecurityHeaders(t *testing.T) {
	rieBin(t)
	t.Parallel()
	s, _ := startProject(t)
	resp, _ := gatewaytest.Call(t, "GET", s.siteOrigins[0]+"/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self' http://" + s.standIn.controlAt + ";",
		"connect-src 'self' http://" + s.standIn.controlAt + " " + s.URL() + ";", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") || resp.Header.Get("Referrer-Policy") == "" {
		t.Errorf("headers %v, want the template's security headers", resp.Header)
	}
	resp, body := gatewaytest.Call(t, "GET", s.siteOrigins[0]+"/api/public", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != csp {
		t.Errorf("GET /api/public on the site = %d %s %v, want the API's answer with the same headers", resp.StatusCode, body, resp.Header)
	}

	plain, _ := startLocal(t, "testdata/serve.yaml", nil)
	resp, _ = gatewaytest.Call(t, "GET", plain.siteOrigins[0]+"/", nil)
	if h := resp.Header.Get("Content-Security-Policy"); h != "" || len(plain.siteHeaders) != 0 {
		t.Errorf("a template without a policy: CSP %q, headers %v; want none", h, plain.siteHeaders)
	}
}

func TestFrontendAPIHost(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"pk_test_Y2xlcmsuZXhhbXBsZS5jb20k": "clerk.example.com",
		"pk_live_Y2xlcmsuZXhhbXBsZS5jb20k": "clerk.example.com",
		"pk_test_REPLACE_ME":               "",
		"":                                 "",
	} {
		if got := frontendAPIHost(key); got != want {
			t.Errorf("frontendAPIHost(%q) = %q, want %q", key, got, want)
		}
	}
}

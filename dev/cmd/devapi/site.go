package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"clerk-lambda/dev/apispec"
)

// siteConfig is the example site's config.json, as web/app.js reads it:
// the API to call, and either a publishable key (sign in with Clerk) or
// the stand-in's dev-token endpoint.
type siteConfig struct {
	APIURL         string `json:"apiUrl"`
	PublishableKey string `json:"publishableKey,omitempty"`
	DevTokenURL    string `json:"devTokenUrl,omitempty"`
}

// listenSite opens the example site's listener. The site is for this
// machine only: the page it serves asks a loopback endpoint for tokens.
func listenSite(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("site address %q is not host:port, such as %s", addr, defaultSiteAddr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("site address %s is not on loopback: serve the example site on 127.0.0.1 (-site-addr or DEV_SITE_ADDR)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is already in use (another make dev, or a Vite dev server?): stop it, or pick another address for the example site with -site-addr or DEV_SITE_ADDR", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// siteOrigins are the origins a browser sees for pages served on a
// loopback listener: http://localhost:PORT, the address printed and the one
// Vite uses, then the same port on the listener's own IP address.
func siteOrigins(addr net.Addr) []string {
	tcp := addr.(*net.TCPAddr)
	port := strconv.Itoa(tcp.Port)
	return []string{
		"http://localhost:" + port,
		"http://" + net.JoinHostPort(tcp.IP.String(), port),
	}
}

// siteHandler serves the files of dir, read on every request so that an
// edit shows on reload, and config at /config.json.
func siteHandler(dir string, config siteConfig) (http.Handler, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("the example site's folder %s does not exist", dir)
	}
	body, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return nil, err
	}
	files := http.FileServer(http.Dir(dir))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	return mux, nil
}

// startSite prepares the example site on ln, configured for this local API:
// the files of the site folder, config.json, the API under /api on the same
// origin (as CloudFront's /api/* behavior), and the security headers of the
// template's response headers policy. serveSite starts it, once the gateway
// it hands /api/* to exists.
func (s *devServer) startSite(ln net.Listener, settings map[string]string) error {
	config := siteConfig{APIURL: sameOriginAPI}
	if s.cfg.SiteCrossOrigin {
		config.APIURL = s.url
	}
	clerkHost := ""
	if s.standIn != nil {
		config.DevTokenURL = s.standIn.devTokenURL()
		clerkHost = s.standIn.controlAt
	} else {
		config.PublishableKey = setting("CLERK_PUBLISHABLE_KEY", settings, s.cfg.Getenv)
		clerkHost = frontendAPIHost(config.PublishableKey)
	}
	handler, err := siteHandler(s.cfg.SiteDir, config)
	if err != nil {
		return err
	}
	headers, err := s.resolveSiteHeaders(clerkHost)
	if err != nil {
		return err
	}
	s.siteConfig = config
	s.siteHeaders = headers
	s.siteLn = ln
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.gw.ServeHTTP(w, r) })
	s.site = &http.Server{Handler: withHeaders(withAPI(handler, api), headers), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// serveSite starts serving what startSite prepared.
func (s *devServer) serveSite() {
	go func() { _ = s.site.Serve(s.siteLn) }()
}

// sameOriginAPI is config.json's apiUrl by default: the API on the site's
// own origin, as CloudFront serves it in production.
const sameOriginAPI = "/api"

// The template's CSP names the API by its execute-api host and the Clerk
// Frontend API over https. Locally both are plain-HTTP loopback origins, so
// the API's host is resolved to a marker that resolveSiteHeaders then replaces with
// the local API's origin, and https:// before the Clerk host becomes http://
// when that host is the stand-in's loopback endpoint.
const (
	apiMarkerID     = "local-api"
	apiMarkerRegion = "local"
	apiMarkerSuffix = "invalid"
	apiMarkerOrigin = "https://" + apiMarkerID + ".execute-api." + apiMarkerRegion + "." + apiMarkerSuffix
)

// resolveSiteHeaders gives the security headers of the template's response headers
// policy, resolved for this machine: the Clerk host is clerkHost (in
// stand-in mode the stand-in's dev-token endpoint, which plays the Frontend
// API's part for the page; otherwise the host in CLERK_PUBLISHABLE_KEY, or
// the parameter's default when there is no key), and the API's origin is
// the local API's. A template without a policy gives none.
func (s *devServer) resolveSiteHeaders(clerkHost string) (map[string]string, error) {
	vars := map[string]string{"Api": apiMarkerID, "AWS::Region": apiMarkerRegion, "AWS::URLSuffix": apiMarkerSuffix}
	if clerkHost != "" {
		vars["ClerkFrontendApiHost"] = clerkHost
	}
	headers, err := apispec.SecurityHeaders(s.cfg.Template, vars)
	if err != nil {
		return nil, err
	}
	if csp, ok := headers["Content-Security-Policy"]; ok {
		pairs := []string{apiMarkerOrigin, s.url}
		if s.standIn != nil {
			pairs = append(pairs, "https://"+clerkHost, "http://"+clerkHost)
		}
		headers["Content-Security-Policy"] = strings.NewReplacer(pairs...).Replace(csp)
	}
	return headers, nil
}

// frontendAPIHost is the Frontend API host in a publishable key ("pk_test_"
// or "pk_live_", then the base64 of the host and "$"), or "" when key is
// not one.
func frontendAPIHost(key string) string {
	parts := strings.SplitN(key, "_", 3)
	if len(parts) != 3 || parts[0] != "pk" {
		return ""
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil || !strings.HasSuffix(string(raw), "$") {
		return ""
	}
	return strings.TrimSuffix(string(raw), "$")
}

// withAPI hands /api and /api/... to api with the prefix stripped ("/api"
// alone becomes "/"), as the CloudFront Function of the /api/* behavior
// does; the query string and every header, Authorization among them, pass
// through. Everything else goes to site.
func withAPI(site, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, sameOriginAPI)
		if !ok || (rest != "" && rest[0] != '/') {
			site.ServeHTTP(w, r)
			return
		}
		if rest == "" {
			rest = "/"
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		if r.URL.RawPath != "" {
			raw := strings.TrimPrefix(r.URL.RawPath, sameOriginAPI)
			if raw == "" {
				raw = "/"
			}
			r2.URL.RawPath = raw
		}
		r2.RequestURI = r2.URL.RequestURI()
		api.ServeHTTP(w, r2)
	})
}

// withHeaders sets headers on every response, the API's included, as a
// response headers policy with Override does.
func withHeaders(h http.Handler, headers map[string]string) http.Handler {
	if len(headers) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, v := range headers {
			w.Header().Set(name, v)
		}
		h.ServeHTTP(w, r)
	})
}

// siteLine tells where the example site is and how it gets its tokens.
func (s *devServer) siteLine() string {
	how := "pick Alice, Ada the admin or nobody, and call each route with tokens from the stand-in"
	switch {
	case s.standIn != nil:
	case s.siteConfig.PublishableKey != "":
		how = "it signs in with your Clerk instance (CLERK_PUBLISHABLE_KEY)"
	default:
		how = "set CLERK_PUBLISHABLE_KEY in .env to sign in there; until then only /public works"
	}
	where := "the API on its own origin under /api, as from CloudFront"
	if s.cfg.SiteCrossOrigin {
		where = "the API from another origin, with CORS"
	}
	return fmt.Sprintf("example site on %s (web/, %s): %s", s.siteOrigins[0], where, how)
}

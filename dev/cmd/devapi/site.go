package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
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

// startSite serves the example site on ln, configured for this local API.
func (s *devServer) startSite(ln net.Listener, settings map[string]string) error {
	config := siteConfig{APIURL: s.url}
	if s.standIn != nil {
		config.DevTokenURL = s.standIn.devTokenURL()
	} else {
		config.PublishableKey = setting("CLERK_PUBLISHABLE_KEY", settings, s.cfg.Getenv)
	}
	handler, err := siteHandler(s.cfg.SiteDir, config)
	if err != nil {
		return err
	}
	s.siteConfig = config
	s.site = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.site.Serve(ln) }()
	return nil
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
	return fmt.Sprintf("example site on %s (web/, another origin, as from CloudFront): %s", s.siteOrigins[0], how)
}

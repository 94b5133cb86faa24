package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"clerk-lambda/dev/apispec"
)

// cors applies an HTTP API's CorsConfiguration the way API Gateway does:
// it answers preflight requests that no route takes itself, before
// authorization, and puts its own CORS headers on every other response to an
// allowed origin, replacing any that a function set.
type cors struct {
	cfg apispec.CORS
}

func newCORS(cfg *apispec.CORS) *cors {
	if cfg == nil {
		return nil
	}
	return &cors{cfg: *cfg}
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a preflight request: 204, with the configured
// Access-Control-Allow-* headers when the origin is allowed and none when it
// is not (the browser then refuses the real request).
func (c *cors) preflight(r *http.Request) Response {
	resp := Response{Status: http.StatusNoContent, Header: http.Header{}}
	varyByOrigin(resp.Header)
	allowed, ok := c.allowOrigin(r.Header.Get("Origin"))
	if !ok {
		return resp
	}
	h := resp.Header
	h.Set("Access-Control-Allow-Origin", allowed)
	if len(c.cfg.AllowMethods) > 0 {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.cfg.AllowMethods, ","))
	}
	if len(c.cfg.AllowHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.ToLower(strings.Join(c.cfg.AllowHeaders, ",")))
	}
	if c.cfg.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if c.cfg.MaxAge >= 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.cfg.MaxAge))
	}
	return resp
}

// decorate replaces the CORS headers of a response to r with the API's own.
func (c *cors) decorate(r *http.Request, h http.Header) {
	for name := range h {
		if isCORSHeader(name) {
			h.Del(name)
		}
	}
	varyByOrigin(h)
	allowed, ok := c.allowOrigin(r.Header.Get("Origin"))
	if !ok {
		return
	}
	h.Set("Access-Control-Allow-Origin", allowed)
	if len(c.cfg.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.ToLower(strings.Join(c.cfg.ExposeHeaders, ",")))
	}
	if c.cfg.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// varyByOrigin adds Origin to the Vary header, unless it is there. Every
// answer of an API with CORS gets it, whatever the request's origin: the
// CORS headers differ by Origin, so a cache between the browser and the API
// must not give one origin's answer to another (an answer without
// Access-Control-Allow-Origin to the allowed origin, for one).
func varyByOrigin(h http.Header) {
	for _, v := range h.Values("Vary") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name == "*" || strings.EqualFold(name, "Origin") {
				return
			}
		}
	}
	h.Add("Vary", "Origin")
}

// allowOrigin returns the Access-Control-Allow-Origin value for origin: "*"
// when every origin is allowed, else the origin itself when it is listed
// (exactly, or by a pattern such as https://*.example.com).
func (c *cors) allowOrigin(origin string) (string, bool) {
	if origin == "" {
		return "", false
	}
	for _, allowed := range c.cfg.AllowOrigins {
		switch {
		case allowed == "*":
			return "*", true
		case strings.EqualFold(allowed, origin):
			return origin, true
		case matchOriginPattern(strings.ToLower(allowed), strings.ToLower(origin)):
			return origin, true
		}
	}
	return "", false
}

// matchOriginPattern matches one "*" wildcard in an allowed origin such as
// https://*.example.com; the wildcard covers one or more characters.
func matchOriginPattern(pattern, origin string) bool {
	prefix, suffix, ok := strings.Cut(pattern, "*")
	if !ok || strings.Contains(suffix, "*") {
		return false
	}
	return len(origin) > len(prefix)+len(suffix) && strings.HasPrefix(origin, prefix) && strings.HasSuffix(origin, suffix)
}

package gateway

import (
	"net/url"
	"strings"

	"clerk-lambda/dev/apispec"
)

// Router selects the route of a request as HTTP API does: a route whose
// path matches without a greedy variable beats one that needs {proxy+}; among
// those, the route whose earliest segments are literal wins over one with a
// variable there; a longer literal prefix before a greedy variable wins; a
// route for the request's method wins over ANY on the same path; $default
// takes what nothing else matches. AWS documents the first and last rules
// ("full match", "greedy path variable", "$default") but not how two routes
// with variables in different places compare; the left-to-right literal rule
// is what API Gateway does in practice.
type Router struct {
	routes []compiledRoute
	def    *apispec.Route
}

// Match is a selected route with its decoded path parameters.
type Match struct {
	Route  apispec.Route
	Params map[string]string
}

type compiledRoute struct {
	route    apispec.Route
	segments []segment
	greedy   string // name of the final {name+} variable, if any
}

type segment struct {
	literal string
	param   string // set when the segment is {param}
}

// NewRouter compiles the API's routes.
func NewRouter(routes []apispec.Route) *Router {
	r := &Router{}
	for _, route := range routes {
		if route.Path == apispec.DefaultRoute {
			route := route
			r.def = &route
			continue
		}
		c := compiledRoute{route: route}
		for _, s := range splitPath(route.Path) {
			switch {
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
				c.greedy = s[1 : len(s)-2]
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				c.segments = append(c.segments, segment{param: s[1 : len(s)-1]})
			default:
				c.segments = append(c.segments, segment{literal: s})
			}
		}
		r.routes = append(r.routes, c)
	}
	return r
}

// Match finds the route for method and the request's escaped path.
func (r *Router) Match(method, escapedPath string) (Match, bool) {
	parts := splitPath(escapedPath)
	var best *compiledRoute
	var bestParams map[string]string
	for i := range r.routes {
		c := &r.routes[i]
		if c.route.Method != method && c.route.Method != "ANY" {
			continue
		}
		params, ok := c.match(parts)
		if !ok {
			continue
		}
		if best == nil || c.moreSpecificThan(best) {
			best, bestParams = c, params
		}
	}
	if best != nil {
		return Match{Route: best.route, Params: bestParams}, true
	}
	if r.def != nil {
		return Match{Route: *r.def}, true
	}
	return Match{}, false
}

func (c *compiledRoute) match(parts []string) (map[string]string, bool) {
	if len(parts) < len(c.segments) || (c.greedy == "" && len(parts) != len(c.segments)) {
		return nil, false
	}
	if c.greedy != "" && len(parts) == len(c.segments) {
		return nil, false
	}
	params := map[string]string{}
	for i, s := range c.segments {
		value, err := url.PathUnescape(parts[i])
		if err != nil {
			return nil, false
		}
		if s.param == "" {
			if value != s.literal {
				return nil, false
			}
			continue
		}
		if value == "" {
			return nil, false
		}
		params[s.param] = value
	}
	if c.greedy != "" {
		rest, err := url.PathUnescape(strings.Join(parts[len(c.segments):], "/"))
		if err != nil || rest == "" {
			return nil, false
		}
		params[c.greedy] = rest
	}
	if len(params) == 0 {
		params = nil
	}
	return params, true
}

func (c *compiledRoute) moreSpecificThan(o *compiledRoute) bool {
	if (c.greedy == "") != (o.greedy == "") {
		return c.greedy == ""
	}
	for i := 0; i < len(c.segments) && i < len(o.segments); i++ {
		cl, ol := c.segments[i].param == "", o.segments[i].param == ""
		if cl != ol {
			return cl
		}
	}
	if len(c.segments) != len(o.segments) {
		return len(c.segments) > len(o.segments)
	}
	return c.route.Method != "ANY" && o.route.Method == "ANY"
}

// splitPath splits "/a/b" into ["a", "b"]; "/" is no segment at all, and a
// trailing slash is a final empty segment, so /public/ is not /public.
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

package gateway

import (
	"reflect"
	"testing"

	"clerk-lambda/dev/apispec"
)

func TestRouterPrecedence(t *testing.T) {
	t.Parallel()
	var routes []apispec.Route
	for _, key := range [][2]string{
		{"GET", "/pets/dog/1"},
		{"GET", "/pets/dog/{id}"},
		{"GET", "/pets/{proxy+}"},
		{"ANY", "/{proxy+}"},
		{"GET", "/public"},
		{"ANY", "/public"},
		{"GET", "/admin/users"},
		{"GET", "/admin/users/{id}"},
		{"GET", "/{kind}/users/{id}"},
		{"", apispec.DefaultRoute},
	} {
		r := apispec.Route{Method: key[0], Path: key[1]}
		r.Function = r.Key()
		routes = append(routes, r)
	}
	r := NewRouter(routes)
	tests := []struct {
		method, path, want string
		params             map[string]string
	}{
		{"GET", "/pets/dog/1", "GET /pets/dog/1", nil},
		{"GET", "/pets/dog/2", "GET /pets/dog/{id}", map[string]string{"id": "2"}},
		{"GET", "/pets/cat/1", "GET /pets/{proxy+}", map[string]string{"proxy": "cat/1"}},
		{"POST", "/pets/dog/1", "ANY /{proxy+}", map[string]string{"proxy": "pets/dog/1"}},
		{"GET", "/public", "GET /public", nil},
		{"DELETE", "/public", "ANY /public", nil},
		{"GET", "/admin/users", "GET /admin/users", nil},
		{"GET", "/admin/users/user_2a%2Fb", "GET /admin/users/{id}", map[string]string{"id": "user_2a/b"}},
		{"GET", "/staff/users/7", "GET /{kind}/users/{id}", map[string]string{"kind": "staff", "id": "7"}},
		{"POST", "/", "$default", nil},
	}
	for _, tc := range tests {
		m, ok := r.Match(tc.method, tc.path)
		if !ok || m.Route.Function != tc.want || !reflect.DeepEqual(m.Params, tc.params) {
			t.Errorf("%s %s = %q %v (found %v), want %q %v", tc.method, tc.path, m.Route.Function, m.Params, ok, tc.want, tc.params)
		}
	}
}

func TestRouterNotFound(t *testing.T) {
	t.Parallel()
	r := NewRouter([]apispec.Route{
		{Method: "GET", Path: "/public"},
		{Method: "GET", Path: "/admin/users/{id}"},
		{Method: "GET", Path: "/files/{proxy+}"},
	})
	for _, c := range [][2]string{
		{"POST", "/public"},         // no route for the method, and no ANY
		{"GET", "/public/"},         // a trailing slash is another path
		{"GET", "/admin/users/"},    // a path variable needs a value
		{"GET", "/files"},           // a greedy variable needs at least one segment
		{"GET", "/admin/users/1/x"}, // one segment too many
	} {
		if m, ok := r.Match(c[0], c[1]); ok {
			t.Errorf("%s %s matched %s, want no route", c[0], c[1], m.Route.Key())
		}
	}
}

package gateway

import (
	"bytes"
	"encoding/base64"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"clerk-lambda/dev/apispec"
)

func TestNewHTTPEvent(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "http://localhost:3000/admin/users/user_1?limit=10&q=a%20b&q=c&flag", bytes.NewReader([]byte(`{"a":1}`)))
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer x")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	r.Header.Set("User-Agent", "curl/8")
	r.Header.Add("Cookie", "a=1; b=2")
	now := time.Date(2026, 3, 12, 19, 3, 58, 390e6, time.UTC)
	m := Match{Route: apispec.Route{Method: "POST", Path: "/admin/users/{id}"}, Params: map[string]string{"id": "user_1"}}

	ev := NewHTTPEvent(r, []byte(`{"a":1}`), m, "req-1", now)

	checks := map[string][2]any{
		"version":        {ev.Version, "2.0"},
		"routeKey":       {ev.RouteKey, "POST /admin/users/{id}"},
		"rawPath":        {ev.RawPath, "/admin/users/user_1"},
		"rawQueryString": {ev.RawQueryString, "limit=10&q=a%20b&q=c&flag"},
		"query":          {ev.QueryStringParameters, map[string]string{"limit": "10", "q": "a b,c", "flag": ""}},
		"path params":    {ev.PathParameters, map[string]string{"id": "user_1"}},
		"cookies":        {ev.Cookies, []string{"a=1", "b=2"}},
		"authorization":  {ev.Headers["authorization"], "Bearer x"},
		"repeated":       {ev.Headers["x-multi"], "one,two"},
		"host":           {ev.Headers["host"], "localhost:3000"},
		"forwarded":      {ev.Headers["x-forwarded-for"], "127.0.0.1"},
		"body":           {ev.Body, `{"a":1}`},
		"base64":         {ev.IsBase64Encoded, false},
		"ctx routeKey":   {ev.RequestContext.RouteKey, "POST /admin/users/{id}"},
		"stage":          {ev.RequestContext.Stage, "$default"},
		"requestId":      {ev.RequestContext.RequestID, "req-1"},
		"domainName":     {ev.RequestContext.DomainName, "localhost"},
		"method":         {ev.RequestContext.HTTP.Method, "POST"},
		"http.path":      {ev.RequestContext.HTTP.Path, "/admin/users/user_1"},
		"protocol":       {ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		"sourceIp":       {ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		"userAgent":      {ev.RequestContext.HTTP.UserAgent, "curl/8"},
		"time":           {ev.RequestContext.Time, "12/Mar/2026:19:03:58 +0000"},
		"timeEpoch":      {ev.RequestContext.TimeEpoch, now.UnixMilli()},
		"accountId":      {ev.RequestContext.AccountID, AccountID},
		"apiId":          {ev.RequestContext.APIID, APIID},
	}
	for name, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%s = %#v, want %#v", name, c[0], c[1])
		}
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Error("the Cookie header must move to cookies, as in format 2.0")
	}
	if _, ok := ev.Headers["Authorization"]; ok {
		t.Error("header names must be lower case")
	}

	auth := NewAuthorizerEvent(ev, []string{"Bearer x"})
	if auth.Type != "REQUEST" || auth.Version != "2.0" || auth.RouteKey != ev.RouteKey ||
		auth.RouteArn != "arn:aws:execute-api:us-east-1:123456789012:devapi/$default/POST/admin/users/user_1" ||
		!reflect.DeepEqual(auth.IdentitySource, []string{"Bearer x"}) || auth.Headers["authorization"] != "Bearer x" {
		t.Errorf("authorizer event = %+v", auth)
	}
}

func TestBinaryBodyIsBase64(t *testing.T) {
	t.Parallel()
	body := []byte{0xff, 0x00, 0x10}
	for _, ct := range []string{"application/octet-stream", "image/png", ""} {
		r := httptest.NewRequest("PUT", "/x", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		ev := NewHTTPEvent(r, body, Match{Route: apispec.Route{Path: apispec.DefaultRoute}}, "id", time.Now())
		if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(body) {
			t.Errorf("content type %q: body %q base64=%v, want base64", ct, ev.Body, ev.IsBase64Encoded)
		}
	}
	// Text that is not UTF-8 cannot travel as a JSON string either.
	r := httptest.NewRequest("PUT", "/x", nil)
	r.Header.Set("Content-Type", "text/plain")
	if ev := NewHTTPEvent(r, body, Match{}, "id", time.Now()); !ev.IsBase64Encoded {
		t.Error("invalid UTF-8 text must be base64-encoded")
	}
}

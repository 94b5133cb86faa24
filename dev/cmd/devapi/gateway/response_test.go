package gateway

import (
	"net/http"
	"reflect"
	"testing"
)

func TestParseResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		status  int
		header  http.Header
		body    string
	}{
		{"structured", `{"statusCode":201,"headers":{"content-type":"application/json","x-a":"1"},"body":"{\"ok\":true}"}`,
			201, http.Header{"Content-Type": {"application/json"}, "X-A": {"1"}}, `{"ok":true}`},
		{"bare object", `{"message":"hello"}`, 200, http.Header{"Content-Type": {"application/json"}}, `{"message":"hello"}`},
		{"bare object with a body field is still bare", `{"body":"x"}`, 200, http.Header{"Content-Type": {"application/json"}}, `{"body":"x"}`},
		{"bare string", `"Hello from Lambda!"`, 200, http.Header{"Content-Type": {"application/json"}}, `Hello from Lambda!`},
		{"bare array", `[1,2]`, 200, http.Header{"Content-Type": {"application/json"}}, `[1,2]`},
		{"base64", `{"statusCode":200,"isBase64Encoded":true,"headers":{"Content-Type":"image/png"},"body":"iVBORw=="}`,
			200, http.Header{"Content-Type": {"image/png"}}, "\x89PNG"},
		{"cookies", `{"statusCode":200,"cookies":["a=1; Path=/","b=2"],"headers":{"X-M":"1,2"}}`,
			200, http.Header{"Set-Cookie": {"a=1; Path=/", "b=2"}, "X-M": {"1,2"}}, ""},
		{"text without content type", `{"statusCode":404,"body":"nope","headers":{"Content-Length":"99","Connection":"close"}}`,
			404, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, ignoredMulti, err := ParseResponse([]byte(tc.payload))
			if err != nil || ignoredMulti {
				t.Fatalf("ParseResponse: ignored multiValueHeaders %v, error %v", ignoredMulti, err)
			}
			if resp.Status != tc.status || string(resp.Body) != tc.body || !reflect.DeepEqual(resp.Header, tc.header) {
				t.Errorf("got %d %v %q, want %d %v %q", resp.Status, resp.Header, resp.Body, tc.status, tc.header, tc.body)
			}
		})
	}
}

func TestParseResponseMalformed(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{
		`not json`,
		`{"statusCode":"200"}`,
		`{"statusCode":700}`,
		`{"statusCode":200,"isBase64Encoded":true,"body":"***"}`,
		`{"statusCode":200,"headers":{"a":1}}`,
	} {
		if resp, _, err := ParseResponse([]byte(payload)); err == nil {
			t.Errorf("ParseResponse(%s) = %+v, want an error (API Gateway answers 500)", payload, resp)
		}
	}
}

// TestParseResponseIgnoresMultiValueHeaders checks that multiValueHeaders,
// which only payload format 1.0 has, set no header, as in AWS, and are
// reported unless empty (aws-lambda-go always sends the field).
func TestParseResponseIgnoresMultiValueHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload  string
		reported bool
	}{
		{`{"statusCode":200,"headers":{"X-A":"1"},"multiValueHeaders":{"X-M":["1","2"],"X-A":["3"]}}`, true},
		{`{"statusCode":200,"headers":{"X-A":"1"},"multiValueHeaders":null}`, false},
		{`{"statusCode":200,"headers":{"X-A":"1"},"multiValueHeaders":{}}`, false},
	}
	for _, tc := range tests {
		resp, reported, err := ParseResponse([]byte(tc.payload))
		if err != nil {
			t.Fatal(err)
		}
		want := http.Header{"X-A": {"1"}}
		if !reflect.DeepEqual(resp.Header, want) || reported != tc.reported {
			t.Errorf("%s: header %v, reported %v; want %v, reported %v", tc.payload, resp.Header, reported, want, tc.reported)
		}
	}
}

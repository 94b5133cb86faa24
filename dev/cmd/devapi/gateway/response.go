package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Response is what the gateway sends back for a function's answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// hopHeaders are managed by the HTTP server, never taken from a function.
var hopHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Keep-Alive": true,
	"Transfer-Encoding": true, "Upgrade": true, "Trailer": true,
}

// ParseResponse maps a function's payload format 2.0 answer to an HTTP
// response. An answer that is JSON without a statusCode is the body itself:
// 200, application/json. An error means the answer is malformed, which API
// Gateway reports as 500.
//
// Format 2.0 has no multiValueHeaders (format 1.0 does): API Gateway
// ignores them, and so does ParseResponse, reporting it with ignoredMulti
// so that the mistake can be pointed out. aws-lambda-go's
// APIGatewayV2HTTPResponse always sends the field, so null or {} is not
// reported.
func ParseResponse(payload []byte) (resp Response, ignoredMulti bool, err error) {
	payload = bytes.TrimSpace(payload)
	if !json.Valid(payload) {
		return Response{}, false, errors.New("the function's answer is not JSON")
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
		return bareResponse(payload), false, nil
	}
	var out struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
		Cookies           []string            `json:"cookies"`
	}
	if err := json.Unmarshal(payload, &out); err != nil {
		return Response{}, false, fmt.Errorf("the function's answer is malformed: %w", err)
	}
	if out.StatusCode < 100 || out.StatusCode > 599 {
		return Response{}, false, fmt.Errorf("the function's answer has statusCode %d", out.StatusCode)
	}
	resp = Response{Status: out.StatusCode, Header: http.Header{}}
	for name, value := range out.Headers {
		resp.Header.Add(name, value)
	}
	for name := range resp.Header {
		if hopHeaders[name] {
			resp.Header.Del(name)
		}
	}
	for _, c := range out.Cookies {
		resp.Header.Add("Set-Cookie", c)
	}
	if out.Body != nil {
		if out.IsBase64Encoded {
			body, err := base64.StdEncoding.DecodeString(*out.Body)
			if err != nil {
				return Response{}, false, errors.New("the function's answer has isBase64Encoded but its body is not base64")
			}
			resp.Body = body
		} else {
			resp.Body = []byte(*out.Body)
		}
	}
	// AWS does not document the content type of an answer that names none;
	// API Gateway sends text/plain then.
	if resp.Header.Get("Content-Type") == "" && len(resp.Body) > 0 {
		resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return resp, len(out.MultiValueHeaders) > 0, nil
}

// bareResponse is the inferred response for JSON without a statusCode. A
// JSON string is sent as its text, as AWS's example shows ("Hello from
// Lambda!" becomes the body Hello from Lambda!); anything else as the JSON.
func bareResponse(payload []byte) Response {
	body := payload
	var s string
	if json.Unmarshal(payload, &s) == nil {
		body = []byte(s)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return Response{Status: http.StatusOK, Header: h, Body: body}
}

// errorResponse is one of API Gateway's own answers, such as
// 401 {"message":"Unauthorized"}.
func errorResponse(status int) Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	msg := http.StatusText(status)
	if status == http.StatusRequestEntityTooLarge {
		msg = "Request Entity Too Large"
	}
	body, _ := json.Marshal(map[string]string{"message": msg})
	return Response{Status: status, Header: h, Body: body}
}

// isCORSHeader reports whether a header is one that API Gateway replaces
// with its own when the API has a CORS configuration.
func isCORSHeader(name string) bool {
	return strings.HasPrefix(http.CanonicalHeaderKey(name), "Access-Control-")
}

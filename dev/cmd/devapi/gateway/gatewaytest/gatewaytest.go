// Package gatewaytest calls the local API's gateway, and the site beside
// it, from tests as a browser would: one request, the whole answer read.
package gatewaytest

import (
	"io"
	"net/http"
	"testing"
)

// Call sends a request with no body and the given header to url and
// returns the response, its body already read and closed, and the body as
// text. A request that cannot be sent fails the test.
func Call(t testing.TB, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

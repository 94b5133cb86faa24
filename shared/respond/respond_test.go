package respond

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"clerk-lambda/shared/identity"
)

func TestJSON(t *testing.T) {
	t.Parallel()
	res := JSON(http.StatusOK, map[string]string{"hello": "world"})
	if res.StatusCode != 200 || res.Body != `{"hello":"world"}` {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
	if ct := res.Headers["Content-Type"]; ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestJSONUnencodable(t *testing.T) {
	t.Parallel()
	res := JSON(http.StatusOK, math.Inf(1))
	var body ErrorBody
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 500 || body.Error.Code != "internal" {
		t.Fatalf("got %d %+v", res.StatusCode, body)
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	res := Error(http.StatusForbidden, "forbidden", `admins only, "quoted"`)
	var body ErrorBody
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 403 || body.Error.Code != "forbidden" || body.Error.Message != `admins only, "quoted"` {
		t.Fatalf("got %d %+v", res.StatusCode, body)
	}
}

func TestIdentityRefused(t *testing.T) {
	t.Parallel()
	refused := IdentityRefused(fmt.Errorf("%w: a machine", identity.ErrTokenTypeNotAccepted))
	if refused.StatusCode != http.StatusForbidden || !strings.Contains(refused.Body, `"code":"token_type_not_accepted"`) {
		t.Errorf("not accepted: %d %s", refused.StatusCode, refused.Body)
	}
	if res := IdentityRefused(identity.ErrUnauthenticated); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, `"unauthenticated"`) {
		t.Errorf("unauthenticated: %d %s", res.StatusCode, res.Body)
	}
}

package clerkroutetest

import (
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/internal/lambdaevents"
)

// TestEventMatchesAWSSample checks testdata/http-api-event.json fills the
// same fields as aws-lambda-go's own sample of an HTTP API event with a
// Lambda authorizer.
func TestEventMatchesAWSSample(t *testing.T) {
	t.Parallel()
	lambdaevents.SameFields[events.APIGatewayV2HTTPRequest](t, httpAPIEvent, "apigw-v2-request-lambda-authorizer.json")
}

func TestEvent(t *testing.T) {
	t.Parallel()
	auth := map[string]any{"userId": "user_1", "exp": int64(1767232860)}
	req := Event(t, "GET /me", "/me", nil, auth)
	if req.RouteKey != "GET /me" || req.RequestContext.RouteKey != "GET /me" || req.RawPath != "/me" || req.RequestContext.HTTP.Path != "/me" || req.PathParameters != nil {
		t.Errorf("route of the event = %q %q %q %q %v, want GET /me at /me without path parameters",
			req.RouteKey, req.RequestContext.RouteKey, req.RawPath, req.RequestContext.HTTP.Path, req.PathParameters)
	}
	// Delivered: through JSON, so exp is a float64, and auth alone.
	if want := map[string]any{"userId": "user_1", "exp": float64(1767232860)}; !reflect.DeepEqual(req.RequestContext.Authorizer.Lambda, want) {
		t.Errorf("authorizer context = %#v, want %#v", req.RequestContext.Authorizer.Lambda, want)
	}
	if req.Version != "2.0" || req.RequestContext.HTTP.Method != "GET" || len(req.Cookies) == 0 || req.Body == "" || req.RequestContext.Authentication.ClientCert.ClientCertPem == "" {
		t.Errorf("the rest of the full event is missing: %+v", req)
	}
	if unauth := Event(t, "GET /me", "/me", nil, nil); unauth.RequestContext.Authorizer != nil {
		t.Errorf("no auth: authorizer %+v, want none", unauth.RequestContext.Authorizer)
	}
}

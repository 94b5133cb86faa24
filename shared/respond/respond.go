// Package respond builds the JSON responses every route function returns.
//
// Errors have one shape for clients, {"error":{"code":"...","message":"..."}},
// so a front end can branch on the code and show the message. Nothing here
// ever includes a stack trace, a token or a secret: callers pass a message
// written for the client.
package respond

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/shared/identity"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code and a human-readable message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// JSON answers status with body encoded as JSON. A body that cannot be encoded
// answers 500 instead, so a handler bug never sends a half-written response.
func JSON(status int, body any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(body)
	if err != nil {
		return Error(http.StatusInternalServerError, "internal", "the response could not be encoded")
	}
	return encoded(status, b)
}

// Error answers status with the error body {"error":{"code","message"}}.
func Error(status int, code, message string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: code, Message: message}}) // two strings always encode
	return encoded(status, b)
}

// encoded is the response for a JSON body. Answers carry caller-specific
// data, so no cache may keep them.
func encoded(status int, body []byte) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":  "application/json; charset=utf-8",
			"Cache-Control": "no-store",
		},
		Body: string(body),
	}
}

// Unauthenticated is the 401 a route answers when its request carries no
// usable identity, e.g. a cached authorization that outlived its token.
func Unauthenticated() events.APIGatewayV2HTTPResponse {
	return Error(http.StatusUnauthorized, "unauthenticated", "sign in again: the session token is missing or expired")
}

// IdentityRefused answers an identity.Reader's error: 403
// token_type_not_accepted when the route does not take the caller's kind of
// token (a machine on a session-only route), otherwise the 401 of
// Unauthenticated.
func IdentityRefused(err error) events.APIGatewayV2HTTPResponse {
	if errors.Is(err, identity.ErrTokenTypeNotAccepted) {
		return Error(http.StatusForbidden, "token_type_not_accepted", "this route does not accept this kind of token")
	}
	return Unauthenticated()
}

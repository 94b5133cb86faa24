package main

import (
	"context"
	"errors"
	"strings"

	"clerk-lambda/shared/clerkauth"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/metrics"
)

// unclassified is the reason logged and counted for a denial whose error
// carries no clerkauth reason.
const unclassified clerkauth.Reason = "unclassified"

// decide verifies the request's token and logs the decision: one line, with
// the reason or the user, never the token, that is also the Allowed or
// Denied metric (shared/metrics).
func (a *authorizer) decide(ctx context.Context, headers map[string]string, cookies []string, route string) (*identity.Identity, error) {
	token, err := clerkauth.TokenFromRequest(headers, cookies)
	if err == nil {
		var id *identity.Identity
		if id, err = a.verifier.Verify(ctx, token); err == nil {
			attrs := []any{"allowed", true, "userId", id.UserID, "route", route}
			if id.TokenType != "" { // a machine token: who it speaks for, by ids that are not secrets
				attrs = append(attrs, "tokenType", id.TokenType, "subject", id.Subject, "tokenId", id.TokenID)
			}
			a.log.InfoContext(ctx, "authorized", append(attrs, metrics.Count(metrics.Allowed)...)...)
			return id, nil
		}
	}
	reason := clerkauth.ReasonOf(err)
	if reason == "" {
		// An error the verifier does not classify is still a denial, and a
		// metric dimension may not be empty.
		reason = unclassified
	}
	// The decision line is also the Denied metric, by reason: a closed set.
	count := metrics.Count(metrics.Denied, "Reason", string(reason))
	switch reason {
	case clerkauth.JWKSUnavailable:
		a.log.ErrorContext(ctx, "denied: Clerk's keys are unavailable", append([]any{"allowed", false, "reason", reason, "route", route, "error", err.Error()}, count...)...)
	case clerkauth.ClerkUnavailable:
		a.log.ErrorContext(ctx, "denied: Clerk could not verify a machine token", append([]any{"allowed", false, "reason", reason, "route", route, "error", err.Error()}, count...)...)
	default:
		a.log.InfoContext(ctx, "denied", append([]any{"allowed", false, "reason", reason, "route", route}, count...)...)
	}
	return nil, err
}

// stageWildcard turns a method ARN
// (arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/METHOD/PATH) into the ARN of
// every method and path of that API and stage, so that API Gateway's cached
// policy for a token is valid on every route, not just the first one called.
func stageWildcard(methodArn string) (string, error) {
	parts := strings.SplitN(methodArn, "/", 3)
	arnFields := strings.Split(parts[0], ":")
	if len(parts) < 2 || len(arnFields) != 6 || arnFields[0] != "arn" || arnFields[2] != "execute-api" || arnFields[5] == "" || parts[1] == "" {
		return "", errors.New("methodArn is not an execute-api method ARN")
	}
	return parts[0] + "/" + parts[1] + "/*/*", nil
}

package clerkauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
)

// backendJWKS fetches the JWKS from the Backend API (GET {apiURL}/jwks) with
// the secret key. The key is read on every fetch, so a rotated secret is used
// as soon as the secret provider has it. A backend is built per fetch, because
// clerk-sdk-go's backends keep the key they were made with.
func backendJWKS(apiURL string, secretKey func(context.Context) (string, error), client *http.Client) FetchJWKS {
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	return func(ctx context.Context) (*clerk.JSONWebKeySet, error) {
		key, err := secretKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		c := jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
			Key:        &key,
			URL:        &apiURL,
			HTTPClient: client,
		}})
		set, err := c.Get(ctx, &jwks.GetParams{})
		if err != nil {
			return nil, describeFetchError(err)
		}
		return set, nil
	}
}

// describeFetchError keeps what is safe to log of a failed JWKS fetch. For
// a response that is not Clerk's error format, the SDK's error is the raw
// response body, which a proxy or a misrouted URL could fill with anything,
// the request's own Authorization header included: it is never passed on.
func describeFetchError(err error) error {
	var apiErr *clerk.APIErrorResponse
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &apiErr):
		codes := make([]string, 0, len(apiErr.Errors))
		for _, e := range apiErr.Errors {
			codes = append(codes, e.Code)
		}
		return fmt.Errorf("answered HTTP %d %v", apiErr.HTTPStatusCode, codes)
	case errors.As(err, &urlErr):
		return fmt.Errorf("request failed: %w", urlErr.Err)
	}
	return errors.New("unexpected response from the JWKS endpoint")
}

package clerkauth

import (
	"context"
	"fmt"
	"net/http"

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
		return c.Get(ctx, &jwks.GetParams{})
	}
}

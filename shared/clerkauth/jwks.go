package clerkauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/shared/clerkapi"
)

// maxJWKSBody caps the JWKS response read. Clerk's is a few keys, about
// 1 KiB each; without a cap a misrouted URL or a hostile endpoint could
// stream gigabytes into the authorizer's memory.
const maxJWKSBody = 1 << 20

// maxLoggedCodes bounds how many of Clerk's error codes a fetch error names.
const maxLoggedCodes = 3

// backendJWKS fetches the JWKS from the Backend API (GET {apiURL}/jwks) with
// the secret key. The key is read on every fetch, so a rotated secret is used
// as soon as the secret provider has it. A backend is built per fetch, because
// clerk-sdk-go's backends keep the key they were made with. The client
// (clerkapi.Guard) follows no redirect, since the key would go along, and
// reads at most maxJWKSBody.
//
// Each key of the set is decoded on its own: one that cannot be decoded (a
// key type go-jose does not know, a damaged modulus) becomes an unusable
// entry that the cache skips and reports, instead of failing the whole set
// and with it every request.
func backendJWKS(apiURL string, secretKey func(context.Context) (string, error), client *http.Client) FetchJWKS {
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	client = clerkapi.Guard(client, maxJWKSBody)
	return func(ctx context.Context) (*clerk.JSONWebKeySet, error) {
		key, err := secretKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		backend := clerk.NewBackend(&clerk.BackendConfig{Key: &key, URL: &apiURL, HTTPClient: client})
		var raw rawJWKS
		if err := backend.Call(ctx, clerk.NewAPIRequest(http.MethodGet, "/jwks"), &raw); err != nil {
			return nil, describeFetchError(err, key)
		}
		set := &clerk.JSONWebKeySet{Keys: make([]*clerk.JSONWebKey, 0, len(raw.Keys))}
		for _, k := range raw.Keys {
			set.Keys = append(set.Keys, decodeKey(k))
		}
		return set, nil
	}
}

// rawJWKS is the JWKS response with its keys undecoded.
type rawJWKS struct {
	Keys []json.RawMessage `json:"keys"`
}

// Read satisfies clerk.ResponseReader; the set keeps no response metadata.
func (*rawJWKS) Read(*clerk.APIResponse) {}

// undecodable is the Key of a JWKS entry that could not be decoded; why
// says what was wrong, for the cache's report.
type undecodable struct{ why string }

// decodeKey decodes one key of a JWKS, or returns an entry with its kid, if
// it has one, and an undecodable Key.
func decodeKey(raw json.RawMessage) *clerk.JSONWebKey {
	k := &clerk.JSONWebKey{}
	if err := json.Unmarshal(raw, k); err == nil {
		return k
	}
	var named struct {
		KeyID string `json:"kid"`
		Type  string `json:"kty"`
	}
	_ = json.Unmarshal(raw, &named)
	why := "not a key go-jose can decode"
	if named.Type != "" && named.Type != "RSA" {
		why = "key type " + quoteShort(named.Type) + ", not RSA"
	}
	return &clerk.JSONWebKey{KeyID: named.KeyID, Key: undecodable{why: why}}
}

// describeFetchError keeps what is safe to log of a failed JWKS fetch. For
// a response that is not Clerk's error format, the SDK's error is the raw
// response body, which a proxy or a misrouted URL could fill with anything,
// the request's own Authorization header included: it is never passed on.
// Of Clerk's format, only the status and the codes that look like codes
// (clerkapi.LoggableCode) are kept; and the key is cut from whatever is
// left, should anything still hold it.
func describeFetchError(err error, key string) error {
	var apiErr *clerk.APIErrorResponse
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, clerkapi.ErrResponseTooLarge):
		return fmt.Errorf("read response: %w", err)
	case errors.As(err, &apiErr):
		codes := make([]string, 0, min(len(apiErr.Errors), maxLoggedCodes+1))
		for i, e := range apiErr.Errors {
			if i == maxLoggedCodes {
				codes = append(codes, fmt.Sprintf("and %d more", len(apiErr.Errors)-i))
				break
			}
			codes = append(codes, clerkapi.LoggableCode(e.Code, key))
		}
		return fmt.Errorf("answered HTTP %d %v", apiErr.HTTPStatusCode, codes)
	case errors.As(err, &urlErr):
		// The URL is left out: it is CLERK_API_URL, or a redirect's
		// Location, which the server chose.
		return &keylessError{msg: "request failed: " + redactKey(urlErr.Err.Error(), key), err: urlErr.Err}
	}
	return errors.New("unexpected response from the JWKS endpoint")
}

// keylessError is an error whose text was cleared of the secret key; it
// wraps the original for errors.Is.
type keylessError struct {
	msg string
	err error
}

func (e *keylessError) Error() string { return e.msg }
func (e *keylessError) Unwrap() error { return e.err }

// redactKey removes the secret key from s.
func redactKey(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[secret key]")
}

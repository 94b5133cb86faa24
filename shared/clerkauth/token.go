package clerkauth

import (
	"errors"
	"net/http"
	"strings"
)

// SessionCookie is the cookie Clerk's front end sets with the session token on
// the application's own domain.
const SessionCookie = "__session"

// TokenFromRequest extracts the session token the way Clerk's SDKs do: from
// "Authorization: Bearer <token>" (scheme case-insensitive, spaces trimmed),
// else from the __session cookie. headers may use any letter case; cookies are
// Cookie header values or HTTP API's "name=value" cookie list.
//
// An Authorization header that is present but not a bearer token is
// token-malformed: it is never silently ignored in favour of the cookie.
func TokenFromRequest(headers map[string]string, cookies []string) (string, error) {
	if auth, ok := header(headers, "authorization"); ok {
		return bearer(auth)
	}
	if c, ok := header(headers, "cookie"); ok {
		cookies = append(cookies[:len(cookies):len(cookies)], c)
	}
	for _, line := range cookies {
		parsed, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range parsed {
			if c.Name == SessionCookie && c.Value != "" {
				return c.Value, nil
			}
		}
	}
	return "", reject(TokenMissing, nil)
}

func header(headers map[string]string, lowerName string) (string, bool) {
	if v, ok := headers[lowerName]; ok {
		return v, true
	}
	for k, v := range headers {
		if strings.EqualFold(k, lowerName) {
			return v, true
		}
	}
	return "", false
}

func bearer(auth string) (string, error) {
	auth = strings.TrimSpace(auth)
	if auth == "" || strings.EqualFold(auth, "bearer") {
		return "", reject(TokenMissing, nil)
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", reject(TokenMalformed, errors.New("authorization header is not a bearer token"))
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", reject(TokenMissing, nil)
	}
	if strings.ContainsAny(token, " \t") {
		return "", reject(TokenMalformed, errors.New("bearer token contains spaces"))
	}
	return token, nil
}

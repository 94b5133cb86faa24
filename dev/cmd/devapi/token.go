package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	clerksettings "clerk-lambda/shared/settings"
)

// tokenCommand mints a session token: from the running dev server's Clerk
// stand-in, or, with a real CLERK_SECRET_KEY, from the real instance through
// its Backend API (create a session for the user, then a token for it).
// With -type it prints a machine authentication token of the stand-in
// instead: an opaque M2M token of its machine dev-worker, an API key (Ada's
// by default) or an OAuth access token (Alice's by default).
// The token alone goes to stdout, so TOKEN=$(make -s token) works.
func tokenCommand(args []string, stdout, stderr io.Writer) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("devapi token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", sessionToken, "the kind of token: "+strings.Join(tokenTypes, ", ")+" (all but session from the stand-in only)")
	user := fs.String("user", "", "user id (default: "+userID+", or "+adminID+" with -admin or -type "+apiKeyToken+"; not for -type "+m2mToken+")")
	admin := fs.Bool("admin", false, "make the token an admin's: role "+adminRole+" in organization "+adminOrg+" (stand-in only)")
	ttl := fs.Duration("ttl", tokenTTL, "how long the token lives")
	envFile := fs.String("env-file", filepath.Join(root, ".env"), "settings, if the file exists")
	cacheDir := fs.String("cache", filepath.Join(root, ".cache", "devapi"), "the dev server's cache folder")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if err := checkTokenFlags(*typ, *user, *admin); err != nil {
		return err
	}
	settings, err := dotenv(*envFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var token string
	if secret := setting("CLERK_SECRET_KEY", settings, os.LookupEnv); secret != "" {
		if *typ != sessionToken {
			return errors.New(realInstanceHint[*typ])
		}
		if *admin {
			return errors.New("-admin needs the stand-in; with a real Clerk instance, make the user an admin in the Clerk dashboard (organization role or public metadata role admin), then mint a token for that user")
		}
		if *user == "" {
			return errors.New("with a real Clerk instance, say whose token, as in make token USER=user_123")
		}
		apiURL := setting("CLERK_API_URL", settings, os.LookupEnv)
		if apiURL == "" {
			apiURL = clerksettings.DefaultAPIURL
		}
		if err := clerksettings.CheckAPIURL(apiURL); err != nil {
			return fmt.Errorf("%s: %w", clerksettings.APIURLName, err)
		}
		token, err = clerkSessionToken(ctx, apiURL, secret, *user, *ttl)
	} else {
		var answer tokenAnswer
		answer, err = standInToken(ctx, filepath.Join(*cacheDir, standInFile), tokenRequest{Type: *typ, User: *user, Admin: *admin, TTL: ttl.String()})
		token = answer.Token
		if err == nil && *typ == m2mToken {
			// The machine's id is new each run: say it, for settings that name machines.
			fmt.Fprintf(stderr, "an M2M token of the stand-in's machine %s, %s\n", devMachine, answer.User)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

// checkTokenFlags refuses flags that do not go together.
func checkTokenFlags(typ, user string, admin bool) error {
	switch {
	case !slices.Contains(tokenTypes, typ):
		return fmt.Errorf("-type must be one of %s, not %q", strings.Join(tokenTypes, ", "), typ)
	case admin && typ != sessionToken:
		return fmt.Errorf("-admin makes an admin's session token; it does not go with -type %s", typ)
	case user != "" && typ == m2mToken:
		return fmt.Errorf("an M2M token is a machine's (%s), not a user's: drop -user", devMachine)
	}
	return nil
}

// realInstanceHint says, for each machine authentication token, where a
// real Clerk instance's comes from: make token creates them only in the
// stand-in, which needs no machine secret or OAuth flow.
var realInstanceHint = map[string]string{
	m2mToken:    "-type m2m needs the stand-in; with a real Clerk instance, create a machine in the Clerk dashboard and its token with the machine's secret key (POST /v1/m2m_tokens)",
	apiKeyToken: "-type api_key needs the stand-in; with a real Clerk instance, create the API key in the Clerk dashboard (or with POST /v1/api_keys)",
	oauthToken:  "-type oauth needs the stand-in; with a real Clerk instance, an OAuth access token comes from an OAuth flow with an OAuth application made in the Clerk dashboard",
}

// standInToken asks the running dev server for a token.
func standInToken(ctx context.Context, stateFile string, req tokenRequest) (tokenAnswer, error) {
	data, err := os.ReadFile(stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return tokenAnswer{}, errors.New("no dev server with the Clerk stand-in is running: start make dev first (or set CLERK_SECRET_KEY for a real instance)")
	}
	if err != nil {
		return tokenAnswer{}, err
	}
	var state standInState
	if err := json.Unmarshal(data, &state); err != nil || !loopbackURL(state.TokenURL) {
		return tokenAnswer{}, fmt.Errorf("%s is damaged: restart make dev", stateFile)
	}
	body, _ := json.Marshal(req)
	var answer tokenAnswer
	status, err := postJSON(ctx, state.TokenURL, "Bearer "+state.Key, body, &answer)
	if err != nil {
		return tokenAnswer{}, fmt.Errorf("the dev server did not answer (is make dev still running?): %w", err)
	}
	if status != http.StatusOK {
		return tokenAnswer{}, errors.New(answer.Error)
	}
	return answer, nil
}

// clerkSessionToken creates a session for the user on a real Clerk
// instance (available on development instances) and a token for it.
func clerkSessionToken(ctx context.Context, apiURL, secret, user string, ttl time.Duration) (string, error) {
	base := strings.TrimRight(apiURL, "/")
	var session struct {
		ID string `json:"id"`
	}
	body, _ := json.Marshal(map[string]string{"user_id": user})
	status, err := postJSON(ctx, base+"/sessions", "Bearer "+secret, body, &session)
	if err != nil {
		return "", fmt.Errorf("call the Clerk Backend API: %w", err)
	}
	if status != http.StatusOK || session.ID == "" {
		return "", fmt.Errorf("the Clerk Backend API refused to create a session for %s (status %d): sessions can be created on development instances only, for an existing user", user, status)
	}
	var token struct {
		JWT string `json:"jwt"`
	}
	body, _ = json.Marshal(map[string]int{"expires_in_seconds": int(ttl.Seconds())})
	status, err = postJSON(ctx, base+"/sessions/"+session.ID+"/tokens", "Bearer "+secret, body, &token)
	if err != nil {
		return "", fmt.Errorf("call the Clerk Backend API: %w", err)
	}
	if status != http.StatusOK || token.JWT == "" {
		return "", fmt.Errorf("the Clerk Backend API refused to create a token for session %s (status %d)", session.ID, status)
	}
	return token.JWT, nil
}

// maxAnswer caps what make token reads of an answer: a session or a token
// is a few KiB.
const maxAnswer = 1 << 20

// errRedirect is the error of an answer that redirects.
var errRedirect = errors.New("the answer is a redirect, which make token does not follow: check CLERK_API_URL")

// tokenClient carries the secret key, or the stand-in's: it follows no
// redirect, since the Authorization header would go along to wherever the
// redirect points, over plain http too.
var tokenClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
}

// postJSON posts body and decodes the JSON answer into out, whatever the
// status, which it returns. A redirect, or an answer larger than
// maxAnswer, is an error.
func postJSON(ctx context.Context, url, authorization string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Content-Type", "application/json")
	resp, err := tokenClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return 0, err
	}
	if len(answer) > maxAnswer {
		return 0, fmt.Errorf("the answer is larger than %d MiB, more than a session or a token can be: check CLERK_API_URL", maxAnswer>>20)
	}
	_ = json.Unmarshal(answer, out)
	return resp.StatusCode, nil
}

// loopbackURL reports whether raw is a plain http URL to 127.0.0.1 with a
// port, without credentials: the only place the per-run key may be sent.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && u.User == nil && u.Hostname() == "127.0.0.1" && u.Port() != ""
}

package clerkfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"strings"
	"time"
)

// signingKey is one RSA key with its key id.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("clerkfake: generate signing key: %w", err)
	}
	// Clerk's key ids are instance ids, such as "ins_2cgmfxtaRzlfJXa4gmWRP20qo7D".
	return &signingKey{kid: newID("ins_"), priv: priv}, nil
}

// jwk is one entry of the JWKS, as Clerk serves it.
type jwk struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (k *signingKey) jwk() jwk {
	pub := k.priv.PublicKey
	return jwk{
		Use: "sig",
		Kty: "RSA",
		Kid: k.kid,
		Alg: "RS256",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// current is the key new tokens are signed with. Callers hold s.mu.
func (s *Server) current() *signingKey { return s.keys[len(s.keys)-1] }

// KeyID is the kid of the current signing key.
func (s *Server) KeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current().kid
}

// PublicKeyPEM is the current signing key's public half as a PEM
// "PUBLIC KEY" block: the value for CLERK_JWT_KEY.
func (s *Server) PublicKeyPEM() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	der, err := x509.MarshalPKIXPublicKey(&s.current().priv.PublicKey)
	if err != nil { // cannot happen for an RSA key
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// RotateKey makes a new signing key current and returns its kid. Like Clerk
// during a rotation, the JWKS then serves the new key and the one before it,
// so tokens signed before the rotation still verify; a second rotation drops
// the oldest key.
func (s *Server) RotateKey() (string, error) {
	key, err := newSigningKey()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = []*signingKey{s.current(), key}
	return key.kid, nil
}

// jwks is the body of GET /v1/jwks: the current key first.
func (s *Server) jwks() map[string][]jwk {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]jwk, 0, len(s.keys))
	for i := len(s.keys) - 1; i >= 0; i-- {
		keys = append(keys, s.keys[i].jwk())
	}
	return map[string][]jwk{"keys": keys}
}

// TokenParams describes a session token to mint. Only UserID is needed for
// an ordinary signed-in user.
type TokenParams struct {
	UserID          string // sub
	SessionID       string // sid; "" = "sess_" + random
	AuthorizedParty string // azp, the origin of the page that asked for the token; "" = no azp claim

	// The active organization, written as Clerk's version 2 "o" claim
	// {id, slg, rol, per, fpm} with "fea"; empty OrgID = no organization.
	OrgID   string
	OrgSlug string
	OrgRole string // "admin" or "org:admin"; stored without the "org:" prefix
	// OrgPermissions such as "org:invoices:read"; each must have the form
	// "org:<feature>:<permission>" to be encodable in the version 2 claims.
	OrgPermissions []string

	// Custom claims are set last, at the top level, so they can add claims
	// (e.g. {"metadata": {"role": "admin"}}) or replace standard ones to build
	// a deliberately wrong token (e.g. {"iss": "https://evil.example"}).
	Custom map[string]any

	Status   string        // sts; "" = "active"
	TTL      time.Duration // exp - iat; 0 = 60s, like Clerk's session tokens
	IssuedAt time.Time     // iat; zero = Config.Now()
}

// MintToken returns an RS256 session token signed with the current key, its
// header carrying the key's kid, with the claims of a Clerk version 2 session
// token: iss, sub, sid, iat, nbf (iat - 10s, as Clerk sets it), exp, jti, v, fva,
// sts, and azp and o when given.
func (s *Server) MintToken(p TokenParams) (string, error) {
	claims, err := s.claims(p)
	if err != nil {
		return "", err
	}
	s.mu.RLock()
	key := s.current()
	s.mu.RUnlock()
	return sign(key, claims, nil)
}

func (s *Server) claims(p TokenParams) (map[string]any, error) {
	iat := p.IssuedAt
	if iat.IsZero() {
		iat = s.now()
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = 60 * time.Second
	}
	sid := p.SessionID
	if sid == "" {
		sid = newID("sess_")
	}
	status := p.Status
	if status == "" {
		status = "active"
	}
	c := map[string]any{
		"iss": s.issuer,
		"sub": p.UserID,
		"sid": sid,
		"iat": iat.Unix(),
		"nbf": iat.Add(-10 * time.Second).Unix(),
		"exp": iat.Add(ttl).Unix(),
		"jti": randomString(20),
		"v":   2,
		"fva": []int{0, -1},
		"sts": status,
	}
	if p.AuthorizedParty != "" {
		c["azp"] = p.AuthorizedParty
	}
	if p.OrgID != "" {
		org, features, err := orgClaim(p)
		if err != nil {
			return nil, err
		}
		c["o"] = org
		if features != "" {
			c["fea"] = features
		}
	}
	for k, v := range p.Custom {
		c[k] = v
	}
	return c, nil
}

// orgClaim builds the version 2 "o" claim and the "fea" claim. Permissions
// are split into features and permission names: "per" lists the distinct
// names, and for each feature in "fea" ("o:<feature>"), "fpm" holds a bit
// mask whose bit j says the feature has the j-th name of "per".
func orgClaim(p TokenParams) (map[string]any, string, error) {
	org := map[string]any{
		"id":  p.OrgID,
		"rol": strings.TrimPrefix(p.OrgRole, "org:"),
	}
	if p.OrgSlug != "" {
		org["slg"] = p.OrgSlug
	}
	var features, names []string
	masks := map[string]int{}
	for _, perm := range p.OrgPermissions {
		parts := strings.Split(perm, ":")
		if len(parts) != 3 || parts[0] != "org" || parts[1] == "" || parts[2] == "" {
			return nil, "", fmt.Errorf("clerkfake: organization permission %q is not of the form org:<feature>:<permission>", perm)
		}
		feature, name := parts[1], parts[2]
		j := indexOf(names, name)
		if j < 0 {
			names = append(names, name)
			j = len(names) - 1
		}
		if _, ok := masks[feature]; !ok {
			features = append(features, feature)
		}
		masks[feature] |= 1 << j
	}
	if len(features) == 0 {
		return org, "", nil
	}
	fea := make([]string, len(features))
	fpm := make([]string, len(features))
	for i, f := range features {
		fea[i] = "o:" + f
		fpm[i] = fmt.Sprint(masks[f])
	}
	org["per"] = strings.Join(names, ",")
	org["fpm"] = strings.Join(fpm, ",")
	return org, strings.Join(fea, ","), nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// sign encodes claims as a compact JWS signed with RS256, its header
// carrying the key's kid and the extra parameters (such as an M2M token's
// "cat").
func sign(key *signingKey, claims map[string]any, extra map[string]string) (string, error) {
	fields := map[string]string{"alg": "RS256", "kid": key.kid, "typ": "JWT"}
	maps.Copy(fields, extra)
	header, err := json.Marshal(fields)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("clerkfake: encode claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("clerkfake: sign token: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

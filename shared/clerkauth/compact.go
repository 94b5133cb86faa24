package clerkauth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// compactJWS is a token split into its segments, each decoded once.
type compactJWS struct {
	signingInput []byte // header "." payload, exactly as sent: what the signature covers
	header       []byte
	payload      []byte
	signature    []byte
}

// strictBase64 decodes base64url without padding: it refuses '=', the
// standard alphabet's '+' and '/' and non-zero trailing bits, but skips line
// breaks, which splitCompact refuses first. That leaves one string per token:
// otherwise 16 spellings verify as the same token, each its own memo and API
// Gateway cache entry.
var strictBase64 = base64.RawURLEncoding.Strict()

// splitCompact splits a compact JWS and decodes its three segments, refusing
// any that is not the canonical unpadded base64url encoding of its bytes.
func splitCompact(token string) (compactJWS, error) {
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first < 0 || first == last || strings.Count(token[first+1:last], ".") != 0 {
		return compactJWS{}, reject(TokenMalformed, errors.New("not a compact JWT"))
	}
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return compactJWS{}, reject(TokenMalformed, errors.New("token has a line break"))
	}
	raw := []byte(token)
	segs := [3][]byte{raw[:first], raw[first+1 : last], raw[last+1:]}
	// One buffer for all three, so a token costs one allocation here.
	buf := make([]byte, 0, strictBase64.DecodedLen(len(token)))
	var dec [3][]byte
	for i, seg := range segs {
		n, err := strictBase64.Decode(buf[len(buf):cap(buf)], seg)
		if err != nil {
			return compactJWS{}, reject(TokenMalformed, fmt.Errorf("%s is not canonical base64url", segmentNames[i]))
		}
		dec[i] = buf[len(buf) : len(buf)+n : len(buf)+n]
		buf = buf[:len(buf)+n]
	}
	return compactJWS{signingInput: raw[:last], header: dec[0], payload: dec[1], signature: dec[2]}, nil
}

var segmentNames = [3]string{"header", "payload", "signature"}

// joseHeader is the part of the JOSE header read before any key is touched.
type joseHeader struct {
	Alg string
	Kid string
	// Typ is "at+jwt" on an OAuth access token (RFC 9068).
	Typ string
	// Cat is Clerk's category of the token (see m2mCategory), absent on
	// tokens minted before Clerk added it.
	Cat string
}

// joseNames are the header parameters JOSE registers (RFC 7515, 7516, 7518,
// 7797) and go-jose reads. Members are matched exactly, as JOSE requires: a
// member whose name differs from one of these only in case is refused, so
// {"alg":"HS256","ALG":"RS256"} cannot pass the pin whatever decoder reads
// the header after this one.
var joseNames = newNameSet("alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
	"b64", "enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c", "nonce", "url")

// parseHeader reads the JOSE header: alg, kid, typ and Clerk's cat, each a
// string if present;
// no critical extensions (this verifier implements none, and RFC 7515 says a
// token that needs one must then be refused).
func parseHeader(decoded []byte) (joseHeader, error) {
	var hdr joseHeader
	err := readObject(decoded, func(name, value string) error {
		var dst *string
		switch name {
		case "alg":
			dst = &hdr.Alg
		case "kid":
			dst = &hdr.Kid
		case "typ":
			dst = &hdr.Typ
		case "cat":
			dst = &hdr.Cat
		case "crit":
			return errors.New(`header has a "crit" member`)
		default:
			if joseNames.folds(name) {
				return fmt.Errorf("header member %q differs from a JOSE name only in case", name)
			}
			return nil
		}
		s, err := jsonString(value)
		if err != nil {
			return fmt.Errorf("header member %q is not a string", name)
		}
		*dst = s
		return nil
	})
	if err != nil {
		return joseHeader{}, reject(TokenMalformed, fmt.Errorf("header: %w", err))
	}
	return hdr, nil
}

package localpush

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// maxVAPIDLifetime is how far ahead a VAPID JWT's exp may be (RFC 8292
// section 2).
const maxVAPIDLifetime = 24 * time.Hour

// vapidError is a refused VAPID authorization and the status that says so:
// 401 for a missing or invalid JWT, 403 for a valid JWT signed by a key that
// is not the one the subscription was made with (RFC 8292 section 4.2).
type vapidError struct {
	status int
	msg    string
}

func (e *vapidError) Error() string { return e.msg }

func unauthorized(format string, a ...any) *vapidError {
	return &vapidError{status: http.StatusUnauthorized, msg: fmt.Sprintf(format, a...)}
}

// decodeB64URL decodes base64url with or without padding: Firefox pads the
// application server key, webpush-go does not.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// parseP256 decodes a base64url uncompressed P-256 point.
func parseP256(s string) ([]byte, *ecdsa.PublicKey, error) {
	raw, err := decodeB64URL(s)
	if err != nil {
		return nil, nil, fmt.Errorf("not base64url: %w", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, nil, fmt.Errorf("not an uncompressed P-256 point (%d bytes)", len(raw))
	}
	return raw, pub, nil
}

// parseVAPIDHeader splits "vapid t=<jwt>, k=<key>" into its two parameters.
func parseVAPIDHeader(h string) (token, key string, err *vapidError) {
	if h == "" {
		return "", "", unauthorized("missing Authorization header (VAPID required)")
	}
	scheme, params, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "vapid") {
		return "", "", unauthorized("Authorization scheme %q is not vapid (RFC 8292)", scheme)
	}
	for p := range strings.SplitSeq(params, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "t":
			token = strings.TrimSpace(value)
		case "k":
			// The key may itself end in "=" padding; Cut split at the first "=".
			key = strings.TrimSpace(value)
		}
	}
	if token == "" || key == "" {
		return "", "", unauthorized("vapid Authorization needs both t= and k=")
	}
	return token, key, nil
}

// checkVAPID verifies a push request's Authorization header: an ES256 JWT
// signed by k, k equal to the subscription's key (when the subscription has
// one), aud equal to the endpoint's origin, exp in the future and at most 24
// hours ahead, sub (when present) a mailto: or https: URI.
func checkVAPID(header string, subKey []byte, aud string, now time.Time) *vapidError {
	token, k, verr := parseVAPIDHeader(header)
	if verr != nil {
		return verr
	}
	rawKey, pub, err := parseP256(k)
	if err != nil {
		return unauthorized("vapid k: %v", err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return unauthorized("vapid t is not a JWT")
	}
	var head struct {
		Alg string `json:"alg"`
	}
	if err := decodeJWTPart(parts[0], &head); err != nil {
		return unauthorized("JWT header: %v", err)
	}
	if head.Alg != "ES256" {
		return unauthorized("JWT alg %q is not ES256", head.Alg)
	}
	sig, err := decodeB64URL(parts[2])
	if err != nil || len(sig) != 64 {
		return unauthorized("JWT signature is not 64 bytes of base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return unauthorized("JWT signature does not verify with the key in k")
	}
	if subKey != nil && !bytes.Equal(rawKey, subKey) {
		return &vapidError{status: http.StatusForbidden,
			msg: "vapid k is not the applicationServerKey the subscription was made with"}
	}
	var claims struct {
		Aud any         `json:"aud"`
		Exp json.Number `json:"exp"`
		Sub *string     `json:"sub"`
	}
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return unauthorized("JWT claims: %v", err)
	}
	if a, ok := claims.Aud.(string); !ok || a != aud {
		return unauthorized("JWT aud %v is not the endpoint's origin %s", claims.Aud, aud)
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		return unauthorized("JWT exp missing or not an integer")
	}
	switch {
	case exp <= now.Unix():
		return unauthorized("JWT expired (exp %d is not after now %d)", exp, now.Unix())
	case exp > now.Add(maxVAPIDLifetime).Unix():
		return unauthorized("JWT exp is more than 24 h ahead")
	}
	if claims.Sub != nil {
		sub := *claims.Sub
		switch {
		case strings.HasPrefix(sub, "mailto:mailto:"):
			return unauthorized("JWT sub %q has mailto: twice", sub)
		case !strings.HasPrefix(sub, "mailto:") && !strings.HasPrefix(sub, "https:"):
			return unauthorized("JWT sub is neither a mailto: nor an https: URI")
		}
	}
	return nil
}

func decodeJWTPart(s string, v any) error {
	raw, err := decodeB64URL(s)
	if err != nil {
		return fmt.Errorf("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("not a JSON object")
	}
	return nil
}

package ecetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// Claims are the claims of a VAPID JWT that a push service acts on.
type Claims struct {
	Audience string    // "aud": the origin of the push resource
	Subject  string    // "sub": the application server's contact URI
	Expires  time.Time // "exp", in whole seconds
}

// maxExpiry is how far ahead RFC 8292 section 2 lets "exp" be.
const maxExpiry = 24 * time.Hour

// CheckVAPID verifies an Authorization header as a push service would
// (RFC 8292): the "vapid" scheme with t (an ES256 JWT) and k (the
// application server's public key); k, decoded from base64url with or
// without padding, equal to wantPublicKey; a valid signature by k; aud the
// origin of endpoint; exp after now and at most 24 hours after it; sub
// exactly wantSubject. It returns the claims when all hold.
func CheckVAPID(authorization, endpoint, wantSubject string, wantPublicKey []byte, now time.Time) (Claims, error) {
	token, k, err := parseVAPIDHeader(authorization)
	if err != nil {
		return Claims{}, err
	}
	keyBytes, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil {
		return Claims{}, fmt.Errorf("ecetest: k is not base64url: %w", err)
	}
	if !bytes.Equal(keyBytes, wantPublicKey) {
		return Claims{}, errors.New("ecetest: k is not the expected VAPID public key")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), keyBytes)
	if err != nil {
		return Claims{}, fmt.Errorf("ecetest: k is not a P-256 public key: %w", err)
	}

	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("ecetest: JWT has %d parts, want 3", len(parts))
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return Claims{}, fmt.Errorf("ecetest: JWT header: %w", err)
	}
	if header.Alg != "ES256" {
		return Claims{}, fmt.Errorf("ecetest: JWT alg is %q, want ES256", header.Alg)
	}
	if header.Typ != "" && !strings.EqualFold(header.Typ, "JWT") {
		return Claims{}, fmt.Errorf("ecetest: JWT typ is %q", header.Typ)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Claims{}, fmt.Errorf("ecetest: JWT signature is not base64url: %w", err)
	}
	if len(sig) != 64 {
		return Claims{}, fmt.Errorf("ecetest: ES256 signature is %d bytes, want 64 (r||s)", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return Claims{}, errors.New("ecetest: JWT signature does not verify with k")
	}

	var raw struct {
		Aud *string      `json:"aud"`
		Sub *string      `json:"sub"`
		Exp *json.Number `json:"exp"`
	}
	if err := decodeSegment(parts[1], &raw); err != nil {
		return Claims{}, fmt.Errorf("ecetest: JWT claims: %w", err)
	}
	if raw.Aud == nil || raw.Sub == nil || raw.Exp == nil {
		return Claims{}, errors.New("ecetest: JWT lacks one of aud, sub, exp")
	}
	exp, err := raw.Exp.Int64()
	if err != nil {
		return Claims{}, fmt.Errorf("ecetest: exp %q is not whole seconds", raw.Exp.String())
	}
	claims := Claims{Audience: *raw.Aud, Subject: *raw.Sub, Expires: time.Unix(exp, 0)}

	origin, err := originOf(endpoint)
	if err != nil {
		return claims, err
	}
	if claims.Audience != origin {
		return claims, fmt.Errorf("ecetest: aud %q is not the endpoint's origin %q", claims.Audience, origin)
	}
	if exp <= now.Unix() {
		return claims, fmt.Errorf("ecetest: JWT expired at %s", claims.Expires.UTC().Format(time.RFC3339))
	}
	if exp > now.Add(maxExpiry).Unix() {
		return claims, fmt.Errorf("ecetest: exp %s is more than 24 hours ahead", claims.Expires.UTC().Format(time.RFC3339))
	}
	if claims.Subject != wantSubject {
		return claims, fmt.Errorf("ecetest: sub is %q, want %q", claims.Subject, wantSubject)
	}
	return claims, nil
}

// parseVAPIDHeader splits `vapid t=<jwt>, k=<key>` into its two parameters,
// in either order, tolerating quoted values and spaces after commas.
func parseVAPIDHeader(h string) (t, k string, err error) {
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return "", "", fmt.Errorf("ecetest: Authorization scheme is not vapid: %q", scheme)
	}
	seen := map[string]string{}
	for p := range strings.SplitSeq(params, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return "", "", fmt.Errorf("ecetest: Authorization parameter %q has no value", p)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if _, dup := seen[name]; dup {
			return "", "", fmt.Errorf("ecetest: Authorization repeats %q", name)
		}
		seen[name] = value
	}
	t, k = seen["t"], seen["k"]
	if t == "" || k == "" {
		return "", "", errors.New("ecetest: Authorization needs both t and k")
	}
	return t, k, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// originOf returns the ASCII origin (scheme://host[:port]) of an absolute
// URL, the value RFC 8292 puts in "aud".
func originOf(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("ecetest: endpoint is not an absolute URL")
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

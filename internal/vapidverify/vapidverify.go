// Package vapidverify checks the Authorization header of a push request as a
// push service must (RFC 8292, VAPID). The local push service refuses pushes
// with it, and tests check with it what the kit's sender puts on the wire.
//
// It is written from the RFCs with the standard library alone, not with the
// JWT library the sender signs with, so that a header it accepts is one a
// push service would accept, not merely one that library agrees with.
package vapidverify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"pushstart/push"
)

// maxLifetime is how far ahead of now RFC 8292 section 2 lets exp be.
const maxLifetime = 24 * time.Hour

// Check names one of the checks Verify makes. An Error carries the one that
// failed, so that a push service can answer 403 for CheckKeyMatch and 401 for
// the others, as the local push service does.
type Check string

// The checks, in the order Verify makes them.
const (
	// CheckHeader fails for a missing Authorization header, another scheme
	// than vapid, or parameters without both t and k.
	CheckHeader Check = "header"
	// CheckKey fails when k is not a P-256 public key in base64url.
	CheckKey Check = "key"
	// CheckToken fails when t is not a JWT (three base64url parts, a JSON
	// header and claims) or its header does not say ES256.
	CheckToken Check = "token"
	// CheckSignature fails when the JWT's signature is not 64 bytes or does
	// not verify with the key in k.
	CheckSignature Check = "signature"
	// CheckKeyMatch fails for a JWT validly signed by k when k is not the
	// expected key: the application server signs with another key pair than
	// the one the subscription was made with.
	CheckKeyMatch Check = "key match"
	// CheckAudience fails when aud is not the push endpoint's origin.
	CheckAudience Check = "aud"
	// CheckExpiry fails when exp is missing, not after now, or more than 24
	// hours after it.
	CheckExpiry Check = "exp"
	// CheckSubject fails when sub is not a mailto: or https: URI, or not the
	// expected one.
	CheckSubject Check = "sub"
)

// Error is why Verify refused a header: the check that failed, and a message
// for whoever runs the application server, saying what to change.
type Error struct {
	Check   Check
	Message string
}

// Error returns the message alone: callers add their own context.
func (e *Error) Error() string { return e.Message }

func fail(c Check, format string, a ...any) *Error {
	return &Error{Check: c, Message: fmt.Sprintf(format, a...)}
}

// Expect is what the push service knows of the push being authorized, and so
// what the header must match.
type Expect struct {
	// Endpoint is the push resource's absolute URL, as the subscription
	// gave it; aud must be its origin.
	Endpoint string
	// Key is the raw (65-byte) applicationServerKey the subscription was
	// made with; k must decode to it. Nil accepts any key, as for a
	// subscription made without one.
	Key []byte
	// Subject, when not empty, is the sub the JWT must carry exactly.
	// Without it sub may be absent, as RFC 8292 allows.
	Subject string
	// Now is the time exp is checked against; the zero time means
	// time.Now(). The local push service gives its own clock, which its
	// tests replace with a fake one.
	Now time.Time
}

// Claims are the claims of an accepted JWT that a push service acts on.
type Claims struct {
	Audience string    // aud: the origin of the push endpoint
	Subject  string    // sub: the application server's contact URI; "" when absent
	Expires  time.Time // exp, in whole seconds
}

// Verify checks authorization, the value of a push request's Authorization
// header: the vapid scheme with t (an ES256 JWT) and k (the application
// server's public key); k a P-256 public key, equal to want.Key when given;
// a signature that verifies with k; aud the origin of want.Endpoint; exp
// after now and at most 24 hours after it; sub, when present, a mailto: or
// https: URI, and want.Subject when given. It returns the claims when all
// hold, and otherwise an *Error naming the first check that failed.
func Verify(authorization string, want Expect) (Claims, error) {
	token, k, err := parseHeader(authorization)
	if err != nil {
		return Claims{}, err
	}
	rawKey, pub, kerr := parseKey(k)
	if kerr != nil {
		return Claims{}, fail(CheckKey, "k is %v: it must be the VAPID public key, 65 bytes in base64url", kerr)
	}

	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fail(CheckToken, "t is not a JWT: %d dot-separated parts, want 3 (header.claims.signature)", len(parts))
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return Claims{}, fail(CheckToken, "JWT header is %v", err)
	}
	if header.Alg != "ES256" {
		return Claims{}, fail(CheckToken, "JWT alg %q is not ES256: VAPID tokens are signed with ECDSA on P-256 and SHA-256", header.Alg)
	}
	if header.Typ != "" && !strings.EqualFold(header.Typ, "JWT") {
		return Claims{}, fail(CheckToken, "JWT typ %q is not JWT", header.Typ)
	}

	if !push.IsBase64URL(parts[2]) {
		return Claims{}, fail(CheckSignature, "JWT signature is not base64url without padding")
	}
	sig, err := push.DecodeBase64URL(parts[2])
	if err != nil {
		return Claims{}, fail(CheckSignature, "JWT signature is not base64url")
	}
	if len(sig) != 64 {
		return Claims{}, fail(CheckSignature, "JWT signature is %d bytes, want 64 (r||s): a JWS carries an ES256 signature so, not in DER", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		// A 403 is kept for a JWT that k did sign; here k may not even
		// be the sender's key, and saying so points at the right fix.
		if want.Key != nil && !bytes.Equal(rawKey, want.Key) {
			return Claims{}, fail(CheckSignature, "JWT signature does not verify with the key in k, which is not the expected public key either: send the public key of the key pair that signs")
		}
		return Claims{}, fail(CheckSignature, "JWT signature does not verify with the key in k: sign with the private key of the pair whose public key is sent as k")
	}
	if want.Key != nil && !bytes.Equal(rawKey, want.Key) {
		return Claims{}, fail(CheckKeyMatch, "k is not the applicationServerKey the subscription was made with: the VAPID keys changed since the browser subscribed; send with the old keys or have the browser subscribe again")
	}

	var raw struct {
		Aud any `json:"aud"`
		Exp any `json:"exp"`
		Sub any `json:"sub"`
	}
	if err := decodeSegment(parts[1], &raw); err != nil {
		return Claims{}, fail(CheckToken, "JWT claims are %v", err)
	}
	var claims Claims

	origin, err := originOf(want.Endpoint)
	if err != nil {
		return Claims{}, err
	}
	switch aud, ok := raw.Aud.(string); {
	case raw.Aud == nil:
		return Claims{}, fail(CheckAudience, "JWT has no aud claim: it must be %s, the push endpoint's origin", origin)
	case !ok:
		return Claims{}, fail(CheckAudience, "JWT aud is not a string: it must be %s, the push endpoint's origin", origin)
	case aud != origin:
		return Claims{}, fail(CheckAudience, "JWT aud %q is not %s, the push endpoint's origin (scheme://host[:port], no path)", aud, origin)
	default:
		claims.Audience = aud
	}

	now := want.Now
	if now.IsZero() {
		now = time.Now()
	}
	if raw.Exp == nil {
		return Claims{}, fail(CheckExpiry, "JWT has no exp claim: it must say when the token expires, at most 24 h ahead")
	}
	expNumber, ok := raw.Exp.(json.Number)
	exp, err := expNumber.Int64()
	if !ok || err != nil {
		b, _ := json.Marshal(raw.Exp)
		return Claims{}, fail(CheckExpiry, "JWT exp %s is not a number of whole seconds since 1970", b)
	}
	claims.Expires = time.Unix(exp, 0)
	switch {
	case exp <= now.Unix():
		return Claims{}, fail(CheckExpiry, "JWT expired at %s (now %s): sign a new token, and check the sender's clock",
			stamp(claims.Expires), stamp(now))
	case exp > now.Add(maxLifetime).Unix():
		return Claims{}, fail(CheckExpiry, "JWT exp %s is more than 24 h after now (%s): RFC 8292 allows at most 24 h; 12 h leaves room for clock skew",
			stamp(claims.Expires), stamp(now))
	}

	if raw.Sub != nil {
		sub, ok := raw.Sub.(string)
		switch {
		case !ok:
			return Claims{}, fail(CheckSubject, "JWT sub is not a string: it must be a mailto: or https: URI")
		case strings.HasPrefix(sub, "mailto:mailto:"):
			return Claims{}, fail(CheckSubject, "JWT sub %q has mailto: twice: webpush-go adds mailto: itself, so give it the bare address", sub)
		case !strings.HasPrefix(sub, "mailto:") && !strings.HasPrefix(sub, "https:"):
			return Claims{}, fail(CheckSubject, "JWT sub %q is neither a mailto: nor an https: URI", sub)
		}
		claims.Subject = sub
	}
	switch {
	case want.Subject == "":
	case raw.Sub == nil:
		return Claims{}, fail(CheckSubject, "JWT has no sub claim, want %q", want.Subject)
	case claims.Subject != want.Subject:
		return Claims{}, fail(CheckSubject, "JWT sub is %q, want %q", claims.Subject, want.Subject)
	}
	return claims, nil
}

// ParsePublicKey decodes an application server's VAPID public key (an
// applicationServerKey, a Chromium registration's sender, the k of a vapid
// header): an uncompressed P-256 point in base64url, with or without padding
// (Firefox pads, webpush-go does not). It returns the 65 raw bytes, the form
// Expect.Key takes. Its error says what s is not, to follow the name of
// whatever s was ("invalid key: not base64url ...").
func ParsePublicKey(s string) ([]byte, error) {
	raw, _, err := parseKey(s)
	return raw, err
}

func parseKey(s string) ([]byte, *ecdsa.PublicKey, error) {
	raw, err := push.DecodeBase64URL(s)
	if err != nil {
		return nil, nil, fmt.Errorf("not base64url: %w", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, nil, fmt.Errorf("not an uncompressed P-256 point (%d bytes)", len(raw))
	}
	return raw, pub, nil
}

// parseHeader splits "vapid t=<jwt>, k=<key>" into its two parameters, in
// either order, with or without quotes around the values.
func parseHeader(h string) (t, k string, err error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", "", fail(CheckHeader, "missing Authorization header: a push must carry `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292)")
	}
	scheme, params, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "WebPush"):
		return "", "", fail(CheckHeader, "Authorization scheme WebPush is not vapid: WebPush with a Crypto-Key header is a draft that RFC 8292 replaced; send `vapid t=<JWT>, k=<public key>`")
	case !strings.EqualFold(scheme, "vapid"):
		return "", "", fail(CheckHeader, "Authorization scheme %s is not vapid (RFC 8292)", quoteScheme(scheme))
	}
	seen := map[string]string{}
	for p := range strings.SplitSeq(params, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			// HTTP list syntax allows empty elements (RFC 9110 section 5.6.1).
			continue
		}
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return "", "", fail(CheckHeader, "vapid Authorization parameter %q has no value: send `vapid t=<JWT>, k=<public key>`", p)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		// Cut split at the first "=", so a padded k keeps its padding.
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		if _, dup := seen[name]; dup {
			return "", "", fail(CheckHeader, "vapid Authorization repeats %s=", name)
		}
		seen[name] = value
	}
	t, k = seen["t"], seen["k"]
	if t == "" || k == "" {
		return "", "", fail(CheckHeader, "vapid Authorization needs both t= (the JWT) and k= (the public key)")
	}
	return t, k, nil
}

// quoteScheme quotes a scheme for a message, unless it is so long or so odd
// that it is more likely a credential sent without a scheme, which must not
// reach a log.
func quoteScheme(s string) string {
	if len(s) > 20 || !push.IsBase64URL(s) {
		return "(not a scheme name)"
	}
	return fmt.Sprintf("%q", s)
}

// decodeSegment decodes one JWT segment: base64url without padding (RFC 7515
// section 2), holding a JSON object.
func decodeSegment(seg string, v any) error {
	if !push.IsBase64URL(seg) {
		return errors.New("not base64url without padding")
	}
	b, err := push.DecodeBase64URL(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// originOf is the ASCII origin (scheme://host[:port]) of an absolute URL, the
// value RFC 8292 puts in aud. Its error never quotes the endpoint, a secret
// capability URL.
func originOf(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fail(CheckAudience, "the push endpoint is not an absolute URL, so it has no origin for aud to match")
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

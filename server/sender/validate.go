package sender

import (
	"crypto/ecdh"
	"encoding/base64"
	"net/url"
	"strings"

	"pushstart/payload"
	"pushstart/server/store"
)

// validateSubscription refuses what webpush-go would accept but no push
// service or browser can use: an endpoint that is not an absolute http(s)
// URL, a p256dh that is not an uncompressed P-256 point, an auth secret that
// is not 16 bytes. Field names follow PushSubscription.toJSON().
func validateSubscription(sub store.Subscription) error {
	u, err := url.Parse(sub.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &payload.FieldError{Field: "endpoint", Message: "must be an absolute http or https URL"}
	}
	return CheckKeys(sub.P256dh, sub.Auth)
}

// CheckKeys reports, as a *payload.FieldError naming keys.p256dh or
// keys.auth, why a subscription's keys cannot be encrypted to: p256dh must
// be a 65-byte uncompressed point on P-256 and auth a 16-byte secret, both
// base64url with or without padding.
func CheckKeys(p256dh, auth string) error {
	key, err := decodeKey(p256dh)
	if err != nil || len(key) != 65 || key[0] != 0x04 {
		return &payload.FieldError{Field: "keys.p256dh", Message: "must be a 65-byte uncompressed P-256 public key in base64url"}
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return &payload.FieldError{Field: "keys.p256dh", Message: "is not a point on the P-256 curve"}
	}
	secret, err := decodeKey(auth)
	if err != nil || len(secret) != 16 {
		return &payload.FieldError{Field: "keys.auth", Message: "must be a 16-byte secret in base64url"}
	}
	return nil
}

// decodeKey decodes base64url, with or without padding.
func decodeKey(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

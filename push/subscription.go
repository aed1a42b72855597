package push

import "crypto/ecdh"

// CheckKeys reports, as a *FieldError naming keys.p256dh or keys.auth (the
// names of PushSubscription.toJSON()), why a subscription's keys cannot be
// encrypted to: p256dh must be a 65-byte uncompressed point on P-256 and auth
// a 16-byte secret, both base64url with or without padding.
func CheckKeys(p256dh, auth string) error {
	key, err := DecodeBase64URL(p256dh)
	if err != nil || len(key) != 65 || key[0] != 0x04 {
		return &FieldError{Field: "keys.p256dh", Message: "must be a 65-byte uncompressed P-256 public key in base64url"}
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return &FieldError{Field: "keys.p256dh", Message: "is not a point on the P-256 curve"}
	}
	secret, err := DecodeBase64URL(auth)
	if err != nil || len(secret) != 16 {
		return &FieldError{Field: "keys.auth", Message: "must be a 16-byte secret in base64url"}
	}
	return nil
}

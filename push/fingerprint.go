package push

import (
	"crypto/sha256"
	"encoding/hex"
)

// Fingerprint names a secret in logs and in the delivery log without
// revealing it: the first 12 hex characters of its SHA-256. A push endpoint
// is a secret capability URL (anyone who knows it can push to that browser),
// and so is a token that completes one; log Fingerprint(endpoint), never the
// endpoint.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:6])
}

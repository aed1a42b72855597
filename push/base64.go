package push

import (
	"encoding/base64"
	"strings"
)

// Web Push writes every key, secret and token in base64url without padding
// (RFC 8291, RFC 8292); browsers and libraries differ on padding when they
// read (Firefox pads, webpush-go does not).

// EncodeBase64URL encodes b as base64url without padding.
func EncodeBase64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodeBase64URL decodes base64url with or without padding.
func DecodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// IsBase64URL reports whether every character of s is of the base64url
// alphabet (A-Z a-z 0-9 - _); "" is.
func IsBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !isBase64URLByte(c) {
			return false
		}
	}
	return true
}

func isBase64URLByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

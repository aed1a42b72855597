//go:build !wasm

package server

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// maxEndpoint bounds the endpoint URL; real ones are under 600 bytes.
const maxEndpoint = 2048

// hostRule is one allowed push service host.
type hostRule struct {
	host      string // lower-case host, or host:port for extra hosts
	suffix    bool   // host is a domain suffix such as ".push.apple.com"
	allowHTTP bool   // plain http accepted (self-hosted or local push services)
}

// defaultPushHosts are the push services browsers use: Google FCM (Chrome,
// Chromium, Edge on Android), Mozilla autopush (Firefox), Apple (Safari) and
// Microsoft WNS (Edge on Windows). Only https on the default port.
var defaultPushHosts = []hostRule{
	{host: "fcm.googleapis.com"},
	{host: "android.googleapis.com"},
	{host: "jmt17.google.com"},
	{host: "updates.push.services.mozilla.com"},
	{host: "push.services.mozilla.com"},
	{host: ".push.apple.com", suffix: true},
	{host: ".notify.windows.com", suffix: true},
}

// hostAllowlist decides which push subscription endpoints the server accepts,
// so that the sender never posts to an address an attacker chose (SSRF).
type hostAllowlist struct {
	rules []hostRule
}

func newHostAllowlist(extra []string) *hostAllowlist {
	rules := append([]hostRule(nil), defaultPushHosts...)
	for _, h := range extra {
		rules = append(rules, hostRule{host: strings.ToLower(h), allowHTTP: true})
	}
	return &hostAllowlist{rules: rules}
}

// check returns a message saying why endpoint is refused, or "".
func (a *hostAllowlist) check(endpoint string) string {
	if endpoint == "" {
		return "is required"
	}
	if len(endpoint) > maxEndpoint {
		return fmt.Sprintf("is longer than %d bytes", maxEndpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "must be an absolute URL"
	}
	if u.User != nil || u.Fragment != "" {
		return "must not carry credentials or a fragment"
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "must be an https URL"
	}
	host := strings.ToLower(u.Host)
	hostname := strings.ToLower(u.Hostname())
	for _, r := range a.rules {
		var match bool
		switch {
		case r.suffix:
			match = u.Port() == "" && strings.HasSuffix(hostname, r.host)
		case strings.Contains(r.host, ":"):
			match = host == r.host
		case r.allowHTTP:
			match = hostname == r.host
		default:
			match = host == r.host
		}
		if !match {
			continue
		}
		if u.Scheme == "http" && !r.allowHTTP {
			return "must be an https URL"
		}
		return ""
	}
	return fmt.Sprintf("host %q is not an allowed push service (add it to PUSH_ALLOWED_HOSTS for a self-hosted one)", u.Hostname())
}

// decodeKey decodes a browser key: base64url, padded or not.
func decodeKey(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkP256dh returns why p256dh is not a valid uncompressed P-256 point, or "".
func checkP256dh(s string) string {
	if s == "" {
		return "is required"
	}
	b, err := decodeKey(s)
	if err != nil {
		return "is not base64url"
	}
	if len(b) != 65 || b[0] != 4 {
		return "must be a 65-byte uncompressed P-256 point"
	}
	if _, err := ecdh.P256().NewPublicKey(b); err != nil {
		return "is not a point on the P-256 curve"
	}
	return ""
}

// checkAuth returns why auth is not a 16-byte secret, or "".
func checkAuth(s string) string {
	if s == "" {
		return "is required"
	}
	b, err := decodeKey(s)
	if err != nil {
		return "is not base64url"
	}
	if len(b) != 16 {
		return fmt.Sprintf("must be 16 bytes, got %d", len(b))
	}
	return ""
}

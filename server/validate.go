//go:build !wasm

package server

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"

	"pushstart/api"
	"pushstart/push"
)

// DefaultMaxEndpointBytes bounds an endpoint URL unless MAX_ENDPOINT_BYTES
// says otherwise: the push services' own endpoints are under 600 bytes.
const DefaultMaxEndpointBytes = 1024

// maxLocalToken bounds the token of a local push service endpoint; the
// service hands out far shorter ones.
const maxLocalToken = 128

// hostRule is one allowed push service host.
type hostRule struct {
	host      string // lower-case host, or host:port for extra hosts
	suffix    bool   // host is a domain suffix such as ".push.apple.com"
	allowHTTP bool   // plain http accepted (self-hosted or local push services)
	service   string // the api.Service* key the console counts it under
}

// defaultPushHosts are the push services browsers use: Google FCM (Chrome,
// Chromium, Edge on Android), Mozilla autopush (Firefox), Apple (Safari) and
// Microsoft WNS (Edge on Windows). Only https on the default port.
var defaultPushHosts = []hostRule{
	{host: "fcm.googleapis.com", service: api.ServiceFCM},
	{host: "android.googleapis.com", service: api.ServiceFCM}, // GCM's legacy host
	{host: "jmt17.google.com", service: api.ServiceFCM},       // Debian's Chromium
	{host: "updates.push.services.mozilla.com", service: api.ServiceMozilla},
	{host: "push.services.mozilla.com", service: api.ServiceMozilla},
	{host: ".push.apple.com", suffix: true, service: api.ServiceApple},
	{host: ".notify.windows.com", suffix: true, service: api.ServiceMicrosoft},
}

// Allowlist decides which push subscription endpoints the server accepts
// and the sender posts to, so that neither ever reaches an address an
// attacker chose (SSRF): it is asked when a subscription is saved and again
// before every send.
type Allowlist struct {
	rules    []hostRule
	local    []string // the local push service's endpoint prefixes, in local mode
	maxBytes int
}

// NewAllowlist allows the push services browsers use, the extra hosts of
// PUSH_ALLOWED_HOSTS, and, in local mode, exactly the endpoints the local
// push service hands out (localPrefixes, each followed by a token). Endpoints
// longer than maxBytes are refused.
func NewAllowlist(extra, localPrefixes []string, maxBytes int) *Allowlist {
	rules := append([]hostRule(nil), defaultPushHosts...)
	for _, h := range extra {
		rules = append(rules, hostRule{host: strings.ToLower(h), allowHTTP: true})
	}
	return &Allowlist{rules: rules, local: localPrefixes, maxBytes: cmp.Or(maxBytes, DefaultMaxEndpointBytes)}
}

// Check returns a *push.FieldError for field "endpoint" saying why endpoint
// is refused, or nil.
func (a *Allowlist) Check(endpoint string) error {
	if msg := a.check(endpoint); msg != "" {
		return &push.FieldError{Field: "endpoint", Message: msg}
	}
	return nil
}

func (a *Allowlist) check(endpoint string) string {
	if endpoint == "" {
		return "is required"
	}
	if len(endpoint) > a.maxBytes {
		return fmt.Sprintf("is longer than %d bytes (MAX_ENDPOINT_BYTES)", a.maxBytes)
	}
	// A space or control character is no part of a URL a push service hands
	// out; accepting one would store " https://..." beside "https://...".
	if i := strings.IndexFunc(endpoint, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return "must not contain spaces or control characters"
	}
	for _, prefix := range a.local {
		if token, ok := strings.CutPrefix(endpoint, prefix); ok {
			if token == "" || len(token) > maxLocalToken || !push.IsBase64URL(token) {
				return "is not an endpoint the local push service hands out"
			}
			return ""
		}
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
	// A rule without a port allows only the scheme's default one, written
	// or not: "push.example.com" must not open push.example.com:6379.
	port := u.Port()
	defaultPort := port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80")
	for _, r := range a.rules {
		var match bool
		switch {
		case r.suffix:
			// An IPv6 literal's zone can end in anything, and net/http
			// connects to the address before it:
			// https://[::1%25.push.apple.com]/ reaches [::1]:443.
			match = defaultPort && !strings.HasPrefix(host, "[") && strings.HasSuffix(hostname, r.host)
		case strings.Contains(r.host, ":"):
			match = host == r.host
		default:
			match = defaultPort && hostname == r.host
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

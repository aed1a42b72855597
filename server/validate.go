//go:build !wasm

package server

import (
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
	// A rule without a port allows only the scheme's default one, written
	// or not: "push.example.com" must not open push.example.com:6379.
	port := u.Port()
	defaultPort := port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80")
	for _, r := range a.rules {
		var match bool
		switch {
		case r.suffix:
			match = defaultPort && strings.HasSuffix(hostname, r.host)
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

//go:build !wasm

package server

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"pushstart/push"
)

// The allowlist of the fuzz target: the default push services, two extra
// hosts (one with a port, one without) and a local push service.
var (
	fuzzExtraHosts  = []string{"push.example:8443", "push.internal"}
	fuzzLocalPrefix = "http://127.0.0.1:8089/wpush/"
)

// FuzzEndpointAllowlist checks the allowlist against what the sender would
// do with an endpoint it accepts: net/http connects to the URL's host name
// and port (the scheme's default when none is written). That address must be
// one of the push services, on https and the default port, under its own
// DNS name (an IP literal is no push service's host), or exactly an extra
// host; and a local push service endpoint is its prefix and a token.
func FuzzEndpointAllowlist(f *testing.F) {
	for _, s := range []string{
		"https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bH",
		"https://android.googleapis.com/gcm/send/x",
		"https://jmt17.google.com/fcm/send/x",
		"https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
		"https://web.push.apple.com/QGx0",
		"https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
		"https://FCM.googleapis.com:443/x",
		"http://push.example:8443/push/1",
		"https://push.example:8443/push/1",
		"http://push.internal/p",
		"http://127.0.0.1:8089/wpush/dGVzdA",
		"http://127.0.0.1:8089/wpush/../faults",
		"http://fcm.googleapis.com/fcm/send/x",
		"https://fcm.googleapis.com:8443/x",
		"https://10.0.0.1/internal",
		"https://[2001:db8::1]/push",
		"https://[fe80::1%25eth0]/push",
		"https://fcm.googleapis.com.evil.example/x",
		"https://u:p@fcm.googleapis.com/x",
		"https://fcm.googleapis.com/x#frag",
		"ftp://fcm.googleapis.com/x",
		"/push/1",
		" https://fcm.googleapis.com/x",
		"https://push.apple.com/x",
		"https://%C3%A9.push.apple.com/x",
	} {
		f.Add(s)
	}
	a := NewAllowlist(fuzzExtraHosts, []string{fuzzLocalPrefix}, 0)
	f.Fuzz(func(t *testing.T, endpoint string) {
		err := a.Check(endpoint)
		if err != nil {
			var fe *push.FieldError
			if !errors.As(err, &fe) || fe.Field != "endpoint" || fe.Message == "" {
				t.Fatalf("Check(%q) = %#v: want a *push.FieldError naming endpoint", endpoint, err)
			}
			return
		}
		if len(endpoint) > DefaultMaxEndpointBytes {
			t.Fatalf("accepted a %d-byte endpoint", len(endpoint))
		}
		if token, ok := strings.CutPrefix(endpoint, fuzzLocalPrefix); ok {
			if token == "" || !push.IsBase64URL(token) {
				t.Fatalf("accepted %q: not a token after the local push service's prefix", endpoint)
			}
			return
		}
		u, perr := url.Parse(endpoint)
		if perr != nil {
			t.Fatalf("accepted %q, which net/url cannot parse: %v", endpoint, perr)
		}
		if u.User != nil || u.Fragment != "" {
			t.Fatalf("accepted %q with credentials or a fragment", endpoint)
		}
		host, port := strings.ToLower(u.Hostname()), u.Port()
		switch {
		case port != "":
		case u.Scheme == "https":
			port = "443"
		case u.Scheme == "http":
			port = "80"
		default:
			t.Fatalf("accepted %q with scheme %q", endpoint, u.Scheme)
		}
		if allowedDial(u.Scheme, host, port) {
			return
		}
		t.Fatalf("accepted %q, but the sender would connect to %s over %s", endpoint, net.JoinHostPort(host, port), u.Scheme)
	})
}

// allowedDial reports whether the sender may connect to host:port with
// scheme, as the fuzz target's allowlist means it.
func allowedDial(scheme, host, port string) bool {
	for _, h := range fuzzExtraHosts {
		hh, hp, err := net.SplitHostPort(h)
		if err != nil {
			hh, hp = h, map[string]string{"http": "80", "https": "443"}[scheme]
		}
		if host == hh && port == hp {
			return true
		}
	}
	if scheme != "https" || port != "443" || !isDNSName(host) {
		return false
	}
	known := []string{"fcm.googleapis.com", "android.googleapis.com", "jmt17.google.com",
		"updates.push.services.mozilla.com", "push.services.mozilla.com"}
	return slices.Contains(known, host) ||
		strings.HasSuffix(host, ".push.apple.com") || strings.HasSuffix(host, ".notify.windows.com")
}

// isDNSName reports whether host is a name the resolver looks up, rather
// than an IP literal (with or without an IPv6 zone) that net/http would
// connect to as it is.
func isDNSName(host string) bool {
	return host != "" && !strings.ContainsAny(host, ":%[]") && net.ParseIP(host) == nil
}

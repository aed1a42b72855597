package vapid

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// AppleSubjectError says why Apple's push service (web.push.apple.com:
// Safari 16 and later on macOS, Home Screen web apps on iOS and iPadOS 16.4
// and later) would refuse a VAPID subject, and what to set instead.
type AppleSubjectError struct {
	// Subject is the subject as configured, the operator's contact: for
	// the one start-up warning, never in Error, which is logged and stored
	// with every push to Apple.
	Subject string
	// Refuses is what Apple refuses, without the subject itself, such as
	// "a contact at localhost".
	Refuses string
}

// AppleFix is what to set VAPID_SUBJECT to for Apple's push service to
// accept it: the one wording of that advice, wherever the kit gives it.
const AppleFix = "set VAPID_SUBJECT to mailto:you@your-domain.com or https://your-domain.com"

// Error is Advice: the subject stays out of it (see Subject).
func (e *AppleSubjectError) Error() string {
	return e.Advice()
}

// Advice is what Apple refuses and what to set, without the subject, so
// it may reach whoever asked for the push.
func (e *AppleSubjectError) Advice() string {
	return "Apple's push service refuses " + e.Refuses + " (403 BadJwtToken); " + AppleFix
}

// CheckApple reports whether Apple's push service would accept subject (a
// VAPID_SUBJECT as configured) as the sub claim of the VAPID JWT: nil when
// it would, an *AppleSubjectError when it would not, and Subject's error
// when subject is no mailto: or https: URI at all.
//
// Apple's "Sending web push notifications in web apps and browsers"
// (https://developer.apple.com/documentation/usernotifications/sending-web-push-notifications-in-web-apps-and-browsers)
// lists, among the causes of 403 BadJwtToken, "The JWT subject claim isn't
// a URL or mailto:". In practice Apple also refuses a mailto: at localhost
// (reported with web-push-libs/web-push#947), which is the kit's default.
// Apple publishes no list of the domains it refuses; the kit refuses, at
// localhost or not, every name that can be nobody's contact: names reserved
// for loopback, local networks, tests and examples (RFC 2606, RFC 6761,
// RFC 6762, and .internal, which ICANN set aside for private use in 2024),
// names without a dot, and IP addresses.
func CheckApple(subject string) error {
	if _, err := Subject(subject); err != nil {
		return err
	}
	s := strings.TrimSpace(subject)
	scheme, rest, _ := strings.Cut(s, ":")
	var host string
	if strings.EqualFold(scheme, "mailto") {
		host = rest[strings.LastIndexByte(rest, '@')+1:]
	} else {
		u, _ := url.Parse(s) // Subject parsed it
		host = u.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	if refuses := appleRefuses(host); refuses != "" {
		return &AppleSubjectError{Subject: s, Refuses: refuses}
	}
	return nil
}

// reservedSuffixes are the top-level names no contact can be at: for local
// networks (.local, RFC 6762; .localdomain, .internal), tests (.test),
// names meant to fail (.invalid) and examples (.example), RFC 2606 and 6761.
var reservedSuffixes = []string{".local", ".localdomain", ".internal", ".test", ".invalid", ".example"}

// exampleDomains are the second-level names RFC 2606 reserves for
// examples.
var exampleDomains = []string{"example.com", "example.net", "example.org"}

// appleRefuses says what Apple refuses about a subject at host (the domain
// of a mailto: address, the host of an https: URL), "" when nothing.
func appleRefuses(host string) string {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1] // an IP literal: a@[192.0.2.1], https://[::1]/
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "a contact at an IP address rather than a domain"
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	switch {
	case h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "localhost.localdomain":
		return "a contact at localhost"
	case !strings.Contains(h, "."):
		return "a contact at a domain without a dot"
	}
	for _, d := range exampleDomains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return fmt.Sprintf("a contact at %s, a domain reserved for examples", d)
		}
	}
	for _, suffix := range reservedSuffixes {
		if strings.HasSuffix(h, suffix) {
			return fmt.Sprintf("a contact at a %s domain, reserved for local networks, tests and examples", suffix)
		}
	}
	return ""
}

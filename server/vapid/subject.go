package vapid

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// Subject validates a VAPID subject (mailto:addr or https://...) and returns the string to hand
// to webpush-go's Options.Subscriber (the bare address for mailto:, which webpush-go prefixes itself).
//
// webpush-go v1.4.0 prepends "mailto:" to any Subscriber not starting with
// "https:", so passing "mailto:a@b" through would put "mailto:mailto:a@b" in
// the JWT, which Apple's push service rejects. The scheme is matched without
// regard to case; an https subject comes back with the scheme in lower case
// for the same reason, otherwise unchanged.
func Subject(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("vapid: VAPID_SUBJECT %s: want mailto:you@your-domain.com or an https:// URL, got %q", why, s)
	}
	if s == "" {
		return bad("is empty")
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("has no mailto: or https: scheme")
	}
	switch strings.ToLower(scheme) {
	case "mailto":
		if strings.HasPrefix(strings.ToLower(rest), "mailto:") {
			return bad(`repeats "mailto:"`)
		}
		a, err := mail.ParseAddress(rest)
		if err != nil || a.Name != "" || a.Address != rest || strings.ContainsAny(rest, "?#/") {
			return bad("is not mailto: followed by a bare e-mail address")
		}
		return rest, nil
	case "https":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return bad("is not an https:// URL with a host")
		}
		return "https:" + rest, nil
	default:
		return bad("has a scheme other than mailto: or https:")
	}
}

package push

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// maxOrigin bounds an origin: a scheme, a DNS name of at most 253 bytes and
// a port.
const maxOrigin = 300

// Origin is where users open the kit's page, such as
// https://push.example.com: the base that makes a notification's paths the
// absolute URLs a Declarative Web Push message needs. The zero Origin is
// none; ParseOrigin makes one.
type Origin struct{ s string }

// ParseOrigin reads raw, an http or https URL of a host and an optional port
// with no path but "/", query, fragment or user name, and returns it in the
// form a browser writes an origin: lower case, no default port, no "/". Its
// error says what is wrong, for the caller to name the setting it came
// from.
func ParseOrigin(raw string) (Origin, error) {
	const want = "want http:// or https://, a host and an optional port, such as https://push.example.com"
	if raw == "" {
		return Origin{}, errors.New("is empty: " + want)
	}
	if len(raw) > maxOrigin {
		return Origin{}, errors.New("is too long: " + want)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return Origin{}, errors.New("holds a space, a control or a non-ASCII character (write an international name in its xn-- form): " + want)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return Origin{}, errors.New("is not a URL: " + want)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return Origin{}, errors.New("is not an http or https URL: " + want)
	case u.User != nil:
		return Origin{}, errors.New("holds a user name: " + want)
	case u.Path != "" && u.Path != "/":
		return Origin{}, errors.New("has a path: the kit's pages are at the root of their origin; " + want)
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#"):
		return Origin{}, errors.New("has a query or a fragment: " + want)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return Origin{}, errors.New("names no host: " + want)
	}
	if strings.Contains(host, ":") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return Origin{}, errors.New("has a host that is not an IPv6 address: " + want)
		}
		host = "[" + ip.String() + "]"
	} else if strings.ContainsFunc(host, func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_')
	}) {
		return Origin{}, errors.New("has a host with a character other than letters, digits, '-', '.' and '_': " + want)
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Origin{}, errors.New("has a port outside 1 to 65535: " + want)
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = "" // a browser leaves the default port out of an origin
		} else {
			port = ":" + strconv.FormatUint(n, 10)
		}
	}
	return Origin{s: scheme + "://" + host + port}, nil
}

// String is the origin as a browser writes it, such as
// https://push.example.com; "" for the zero Origin.
func (o Origin) String() string { return o.s }

// IsZero reports whether o is no origin.
func (o Origin) IsZero() bool { return o.s == "" }

// absolute makes ref, a URL reference from a notification, absolute against
// o: a path is appended to the origin as written, and an absolute URL is
// kept. It returns ref unchanged when net/url cannot read it.
func (o Origin) absolute(ref string) string {
	if ref == "" {
		return ""
	}
	if strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//") {
		return o.s + ref
	}
	u, err := url.Parse(ref)
	if err != nil || u.IsAbs() {
		return ref
	}
	base, err := url.Parse(o.s + "/")
	if err != nil {
		return ref
	}
	return base.ResolveReference(u).String()
}

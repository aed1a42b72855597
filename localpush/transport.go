package localpush

import (
	"fmt"
	"net/http"
	"strings"
)

// Transport returns a RoundTripper that sends requests for Chromium's
// endpoint hosts (fcm.googleapis.com, jmt17.google.com) to this service over
// plain http, keeping their Host header so that the push resource checks the
// VAPID aud against the endpoint's real origin. Every other request goes to
// base (http.DefaultTransport when nil) unchanged. Use it only in local
// mode: it takes FCM away from real Chromium subscriptions.
func (s *Service) Transport(base http.RoundTripper) http.RoundTripper {
	return rerouteTo(s.url, base)
}

// rerouteTo is the Transport of the service at serviceURL
// ("http://host:port"), in-process or reached by a Client.
func rerouteTo(serviceURL string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &fcmTransport{base: base, host: strings.TrimPrefix(serviceURL, "http://")}
}

// fcmTransport reroutes FCM requests to the local service.
type fcmTransport struct {
	base http.RoundTripper
	host string // the local service's host:port
}

// RoundTrip sends req, rerouted when it is for an FCM endpoint. Only the
// endpoint paths Chromium uses are rerouted: any other path on those hosts
// (the service's own /v1/faults, /v1/events) must not be reachable as a "push".
func (t *fcmTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Reroutes(req.URL.Hostname()) {
		return t.base.RoundTrip(req)
	}
	if !strings.HasPrefix(req.URL.Path, "/fcm/send/") && !strings.HasPrefix(req.URL.Path, "/wp/") {
		return nil, fmt.Errorf("local push service: %s is not an FCM endpoint path (/fcm/send/<token> or /wp/<token>)", req.URL.Path)
	}
	r := req.Clone(req.Context())
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.URL.Scheme = "http"
	r.URL.Host = t.host
	return t.base.RoundTrip(r)
}

package localpush

import "net/http"

// Transport returns a RoundTripper that sends requests for Chromium's
// endpoint hosts (fcm.googleapis.com, jmt17.google.com) to this service over
// plain http, keeping their Host header so that the push resource checks the
// VAPID aud against the endpoint's real origin. Every other request goes to
// base (http.DefaultTransport when nil) unchanged. Use it only in local
// mode: it takes FCM away from real Chromium subscriptions.
func (s *Service) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &fcmTransport{base: base, host: s.url[len("http://"):]}
}

// fcmTransport reroutes FCM requests to the local service.
type fcmTransport struct {
	base http.RoundTripper
	host string // the local service's host:port
}

// RoundTrip sends req, rerouted when it is for an FCM host.
func (t *fcmTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isFCMHost(req.URL.Hostname()) {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.URL.Scheme = "http"
	r.URL.Host = t.host
	return t.base.RoundTrip(r)
}

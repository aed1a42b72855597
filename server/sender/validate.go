package sender

import (
	"net/url"

	"pushstart/push"
	"pushstart/server/store"
)

// validateSubscription refuses what webpush-go would accept but no push
// service or browser can use: an endpoint that is not an absolute http(s)
// URL, a p256dh that is not an uncompressed P-256 point, an auth secret that
// is not 16 bytes. Field names follow PushSubscription.toJSON().
func validateSubscription(sub store.Subscription) error {
	u, err := url.Parse(sub.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &push.FieldError{Field: "endpoint", Message: "must be an absolute http or https URL"}
	}
	return push.CheckKeys(sub.P256dh, sub.Auth)
}

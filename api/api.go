// Package api is the JSON of the kit server's HTTP API under /api/, written
// once for both of its ends: the server decodes requests and encodes answers
// with these types, and the page (built to WebAssembly) does the reverse.
//
// Every error answer is an Error with a 4xx or 5xx status.
package api

import "pushstart/push"

// The API's routes, and the health check beside them.
const (
	PathHealth        = "/healthz"
	PathVAPIDKey      = "/api/vapid-public-key"
	PathSubscriptions = "/api/subscriptions"
	PathTestSend      = "/api/subscriptions/test"
	PathNotifications = "/api/notifications"
	PathLocalPush     = "/api/local-push"
)

// Error is the body of every error answer. Field names the JSON field of the
// request at fault, for bad input.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Health answers GET /healthz: "ok", or why not.
type Health struct {
	Status string `json:"status"`
}

// VAPIDKey answers GET /api/vapid-public-key: the key every subscription
// must be made with (applicationServerKey), base64url.
type VAPIDKey struct {
	PublicKey string `json:"publicKey"`
}

// Subscription is the body of POST /api/subscriptions: the browser's
// PushSubscription.toJSON(), plus the endpoint it replaces when the service
// worker subscribed again on pushsubscriptionchange.
type Subscription struct {
	Endpoint       string `json:"endpoint"`
	ExpirationTime *int64 `json:"expirationTime"` // ms since the epoch; null when none
	Keys           Keys   `json:"keys"`
	OldEndpoint    string `json:"oldEndpoint,omitempty"`
}

// Keys are a subscription's keys for encrypting to it, base64url.
type Keys struct {
	P256dh string `json:"p256dh"` // the browser's P-256 public key
	Auth   string `json:"auth"`   // the 16-byte authentication secret
}

// Saved answers POST /api/subscriptions: 201 with Created for a new
// endpoint, 200 for a known one.
type Saved struct {
	Endpoint string `json:"endpoint"`
	Created  bool   `json:"created"`
}

// Unsubscribe is the body of DELETE /api/subscriptions; 204 answers it.
type Unsubscribe struct {
	Endpoint string `json:"endpoint"`
}

// TestSend is the body of POST /api/subscriptions/test: a notification for
// one subscribed endpoint.
type TestSend struct {
	Endpoint     string             `json:"endpoint"`
	Notification *push.Notification `json:"notification"`
}

// Result answers POST /api/subscriptions/test: what became of the push. The
// status is 200 when Outcome is push.Sent, 410 for push.Gone, 502 otherwise.
type Result struct {
	Outcome  push.Outcome `json:"outcome"`
	Status   int          `json:"status,omitempty"` // the push service's last HTTP status
	Attempts int          `json:"attempts"`
	Pruned   bool         `json:"pruned"` // the server deleted the subscription
	Error    string       `json:"error,omitempty"`
}

// Broadcast is the body of POST /api/notifications (admin): a notification
// for every subscription, with the headers it is sent with.
type Broadcast struct {
	Notification *push.Notification `json:"notification"`
	TTL          *int               `json:"ttl"` // seconds; one day when absent
	Urgency      string             `json:"urgency"`
	Topic        string             `json:"topic"`
}

// BroadcastSummary answers POST /api/notifications. Total = Sent + Failed +
// Pruned.
type BroadcastSummary struct {
	Total  int `json:"total"`
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
	Pruned int `json:"pruned"`
}

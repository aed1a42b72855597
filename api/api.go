// Package api is the JSON of the kit server's HTTP API under /api/, written
// once for both of its ends: the server decodes requests and encodes answers
// with these types, and the page (built to WebAssembly) does the reverse.
//
// Every error answer is an Error with a 4xx or 5xx status.
package api

import (
	"time"

	"pushstart/push"
)

// The API's routes, and the health check beside them.
const (
	PathHealth        = "/healthz"
	PathVAPIDKey      = "/api/vapid-public-key"
	PathSubscriptions = "/api/subscriptions"
	PathTestSend      = "/api/subscriptions/test"
	PathNotifications = "/api/notifications"
	// PathNotification is one broadcast; {id} is its ID. Its events
	// (Server-Sent Events of BroadcastStatus) are at PathNotification +
	// "/events".
	PathNotification = "/api/notifications/{id}"
	PathLocalPush    = "/api/local-push"
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
// must be made with (applicationServerKey), base64url, and the origin the
// server's notifications link to.
type VAPIDKey struct {
	PublicKey string `json:"publicKey"`
	// PublicURL is the origin every notification's navigate starts with
	// (PUBLIC_URL, or the one the server derived from ADDR), such as
	// https://push.example.com: the pages check a payload's size with the
	// links the server writes. Absent from a server that has none.
	PublicURL string `json:"publicUrl,omitempty"`
}

// Subscription is the body of POST /api/subscriptions: the browser's
// PushSubscription.toJSON(), plus the endpoint it replaces when the service
// worker subscribed again on pushsubscriptionchange.
type Subscription struct {
	Endpoint       string `json:"endpoint"`
	ExpirationTime *int64 `json:"expirationTime"` // ms since the epoch; null when none
	Keys           Keys   `json:"keys"`
	OldEndpoint    string `json:"oldEndpoint,omitempty"`
	// Tags are the topics the user picked on the page (such as "news" or
	// "reminders"); a broadcast may go to the subscriptions with any of
	// them, checked by push.CheckTags.
	// Absent keeps the tags a known endpoint has; [] clears them.
	Tags *[]string `json:"tags,omitempty"`
}

// Keys are a subscription's keys for encrypting to it, base64url.
type Keys struct {
	P256dh string `json:"p256dh"` // the browser's P-256 public key
	Auth   string `json:"auth"`   // the 16-byte authentication secret
}

// Saved answers POST /api/subscriptions: 201 with Created for a new
// endpoint, 200 for a known one.
type Saved struct {
	Endpoint string   `json:"endpoint"`
	Created  bool     `json:"created"`
	Tags     []string `json:"tags"` // the subscription's topics as stored, sorted; [] for none
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
	// TTL is the push's TTL header in seconds; nil for the default, 300.
	// The Flow panel's offline switch sends one with 0, which a push
	// service drops when the browser is away.
	TTL *int `json:"ttl,omitempty"`
	// Topic is the push's Topic header, "" for none: a newer push with the
	// same Topic replaces one still waiting at the push service.
	Topic string `json:"topic,omitempty"`
	// SlowMotion spaces the server's steps out (a pause before the request
	// and, in local mode, before the push service hands the message to the
	// browser) so that a class can follow them in the Flow panel.
	SlowMotion bool `json:"slowMotion,omitempty"`
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

// Broadcast is the body of POST /api/notifications (admin): a notification,
// the headers it is sent with, who gets it and when.
type Broadcast struct {
	Notification *push.Notification `json:"notification"`
	TTL          *int               `json:"ttl"` // seconds; one day when absent
	Urgency      string             `json:"urgency"`
	Topic        string             `json:"topic"`
	// To chooses the subscriptions; absent means every one.
	To *Audience `json:"to,omitempty"`
	// SendAt schedules the broadcast (RFC 3339); absent or past means now.
	SendAt *time.Time `json:"sendAt,omitempty"`
}

// Audience chooses the subscriptions a broadcast goes to: those with any of
// Tags, those of any of Users, or the listed Endpoints. One of the three is
// given; an empty Audience is refused (omit "to" to reach everyone).
type Audience struct {
	Tags      []string `json:"tags,omitempty"`
	Users     []string `json:"users,omitempty"`
	Endpoints []string `json:"endpoints,omitempty"`
}

// Broadcast statuses, in the order a broadcast goes through them. Canceled
// may follow any but Done.
const (
	StatusScheduled = "scheduled" // waiting for its SendAt
	StatusQueued    = "queued"    // accepted, no push sent yet
	StatusSending   = "sending"
	StatusDone      = "done"
	StatusCanceled  = "canceled"
)

// BroadcastStatus answers POST /api/notifications (202 Accepted, with
// Location: /api/notifications/{id}), GET and DELETE
// /api/notifications/{id}, and is each event of
// /api/notifications/{id}/events.
//
// Total is the number of subscriptions the broadcast is for: counted when
// it was accepted, and counted again when it starts (a scheduled one
// reaches those who subscribed in between). Sent, Failed and Pruned count
// the outcomes recorded so far: each subscription's once. Skipped counts
// those that unsubscribed before their turn came. When Status is done,
// Total = Sent + Failed + Pruned + Skipped.
type BroadcastStatus struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Title      string     `json:"title"`
	Audience   string     `json:"audience"` // "everyone", "tags: news, reminders", "2 users", "3 endpoints"
	Total      int        `json:"total"`
	Sent       int        `json:"sent"`
	Failed     int        `json:"failed"`
	Pruned     int        `json:"pruned"`
	Skipped    int        `json:"skipped"`
	CreatedAt  time.Time  `json:"createdAt"`
	SendAt     *time.Time `json:"sendAt,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// BroadcastList answers GET /api/notifications?limit=N&before=ID: the
// broadcasts newest first. Next, when set, is the before= of the next page.
type BroadcastList struct {
	Broadcasts []BroadcastStatus `json:"broadcasts"`
	Next       string            `json:"next,omitempty"`
}

// Package store keeps the kit's push subscriptions and a bounded log of
// delivery attempts.
//
// The Store interface is what the rest of the server codes against; SQLite
// (pure Go, no cgo) is the implementation that ships. The SQL is kept to what
// SQLite and PostgreSQL both accept (INSERT ... ON CONFLICT, integer
// millisecond timestamps, no SQLite-only functions) so that a PostgreSQL
// Store can reuse the statements with "$1" placeholders.
//
// A push endpoint is a secret capability URL: anyone who knows it can push to
// that browser. Log push.Fingerprint(endpoint), never the endpoint itself.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get when no subscription has the endpoint.
var ErrNotFound = errors.New("subscription not found")

// Subscription is one browser's push subscription, as the page sent it from
// PushSubscription.toJSON().
type Subscription struct {
	Endpoint       string
	P256dh         string // base64url without padding, as validated by the server
	Auth           string // base64url without padding
	ExpirationTime *int64 // ms since epoch; nil when the browser said null
	UserAgent      string
	// CreatedAt and UpdatedAt are set by the Store (UTC); values passed
	// to Upsert or Replace are ignored.
	CreatedAt, UpdatedAt time.Time
}

// Delivery is one entry of the delivery log: the final result of sending one
// message to one subscription, after any retries.
type Delivery struct {
	ID           int64
	EndpointHash string // push.Fingerprint of the endpoint
	Outcome      string // push.Outcome values: "sent", "gone", "failed", "rejected", "unauthorized"
	Status       int    // last HTTP status; 0 when there was none (network error)
	Attempts     int
	Error        string
	At           time.Time // set to the current time by RecordDelivery when zero
}

// Store is where subscriptions and the delivery log live. All methods are
// safe for concurrent use.
//
// An implementation for another database must keep these semantics:
// Upsert reports created only for an endpoint it did not have and keeps the
// original CreatedAt of a known one; Replace is atomic; Delete and Replace of
// an absent endpoint are not errors; Deliveries is newest first; times come
// back in UTC with millisecond precision; the delivery log is bounded.
type Store interface {
	// Upsert adds s, or updates the keys, expiration time and user agent of
	// the subscription with the same endpoint. created is true when the
	// endpoint was new.
	Upsert(ctx context.Context, s Subscription) (created bool, err error)
	// Replace removes oldEndpoint (if present) and upserts s, in one transaction.
	Replace(ctx context.Context, oldEndpoint string, s Subscription) (created bool, err error)
	// Get returns the subscription with endpoint, or ErrNotFound.
	Get(ctx context.Context, endpoint string) (Subscription, error)
	// Delete removes the subscription with endpoint; deleted is false when
	// there was none.
	Delete(ctx context.Context, endpoint string) (deleted bool, err error)
	// List returns every subscription, oldest first.
	List(ctx context.Context) ([]Subscription, error)
	// Count returns the number of subscriptions.
	Count(ctx context.Context) (int, error)
	// RecordDelivery appends d to the delivery log (d.ID is ignored).
	RecordDelivery(ctx context.Context, d Delivery) error
	// Deliveries returns at most limit entries of the delivery log, newest
	// first; limit <= 0 returns all that are kept.
	Deliveries(ctx context.Context, limit int) ([]Delivery, error)
	// Close releases the database.
	Close() error
}

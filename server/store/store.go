// Package store keeps the kit's push subscriptions, its broadcasts and the
// delivery log: the outcome of every push it sent.
//
// The Store interface is what the rest of the server codes against. *DB
// implements it on SQLite (one file, pure Go, no cgo: the default) and on
// PostgreSQL (pgx v5, for several kit processes sharing the work), with one
// set of statements: the SQL is kept to what both accept.
//
// A broadcast is stored before it is sent and cut into chunks of
// subscriptions by id range; each (broadcast, subscription) outcome is
// recorded once, and a chunk resumed after a crash skips the subscriptions
// that already have one. The delivery engine (package delivery) drives
// broadcasts through these methods from its queue's jobs.
//
// A push endpoint is a secret capability URL: anyone who knows it can push to
// that browser. Log push.Fingerprint(endpoint), never the endpoint itself.
package store

import (
	"context"
	"errors"
	"time"

	"pushstart/push"
)

// ErrNotFound is returned by Get when no subscription has the endpoint.
var ErrNotFound = errors.New("subscription not found")

// ErrBroadcastNotFound is returned when no broadcast has the ID.
var ErrBroadcastNotFound = errors.New("broadcast not found")

// ErrSessionNotFound is returned by SessionExpiry when no admin session has
// the hash, or it has expired.
var ErrSessionNotFound = errors.New("admin session not found")

// Subscription is one browser's push subscription, as the page sent it from
// PushSubscription.toJSON(), with what the server knows of its user.
type Subscription struct {
	// ID is set by the Store: a positive integer, increasing in the order
	// endpoints were first stored, never reused. Broadcasts are cut into
	// chunks by ID range.
	ID             int64
	Endpoint       string
	P256dh         string // base64url without padding, as validated by the server
	Auth           string // base64url without padding
	ExpirationTime *int64 // ms since epoch; nil when the browser said null
	UserAgent      string
	// UserID is the user the server's identity function named for the
	// request that saved it; "" for none. Upsert with "" keeps the user a
	// known endpoint has.
	UserID string
	// Tags are the topics its user picked, sorted. Upsert with nil keeps a
	// known endpoint's tags; non-nil (even empty) replaces them.
	Tags []string
	// Host is set by the Store: EndpointHost(Endpoint), the push service
	// it belongs to. A value passed to Upsert or Replace is ignored.
	Host string
	// CreatedAt and UpdatedAt are set by the Store (UTC); values passed
	// to Upsert or Replace are ignored.
	CreatedAt, UpdatedAt time.Time
}

// Delivery is one entry of the delivery log: the final result of sending one
// message to one subscription, after any retries.
type Delivery struct {
	ID             int64
	BroadcastID    string // "" for a push that was not part of a broadcast (a test send)
	SubscriptionID int64  // 0 when unknown
	EndpointHash   string // push.Fingerprint of the endpoint
	Host           string // the push service's host (safe to show: the secret is the path)
	Outcome        string // push.Outcome values: "sent", "gone", "failed", "rejected", "unauthorized"
	Status         int    // last HTTP status; 0 when there was none (network error)
	Attempts       int
	Error          string
	At             time.Time // set to the current time when zero
}

// KeyCount is one line of a breakdown: a value (a host, a user agent, a tag)
// and how many subscriptions have it.
type KeyCount struct {
	Key   string
	Count int
}

// SubscriptionCounts is how many subscriptions there are, broken down three
// ways. Each breakdown is sorted by count, largest first, then by key (byte
// order). Naming the push service of a host and the browser of a user agent
// is the caller's business.
type SubscriptionCounts struct {
	Total       int
	ByHost      []KeyCount
	ByUserAgent []KeyCount
	ByTag       []KeyCount // a subscription counts once for each of its tags
}

// SubscriptionRow is a subscription as the admin's page of them shows it:
// with when a push last reached it and last failed to.
type SubscriptionRow struct {
	Subscription
	LastSuccess *time.Time // the newest delivery with outcome sent; nil for none
	LastFailure *time.Time // the newest with any other outcome; nil for none
}

// MaxPage is the most rows SubscriptionPage and FindDeliveries return at
// once: a larger limit is taken as MaxPage.
const MaxPage = 1000

// maxFilterHosts bounds the hosts and suffixes of a DeliveryFilter, all lists
// together: each is a term of the query.
const maxFilterHosts = 64

// DeliveryFilter chooses entries of the delivery log for FindDeliveries. Every
// field set narrows the choice; the zero value chooses everything.
type DeliveryFilter struct {
	BroadcastID string // "" for any
	Outcome     string // a push.Outcome; "" for any
	// Hosts and HostSuffixes keep the entries whose host is one of Hosts or
	// ends with one of HostSuffixes (such as ".push.apple.com"); both empty
	// keeps every host. Hosts are compared as EndpointHost writes them:
	// lower case.
	Hosts, HostSuffixes []string
	// ExcludeHosts and ExcludeSuffixes then drop the entries whose host is
	// one of ExcludeHosts or ends with one of ExcludeSuffixes: what is left
	// of the known push services is the "other" one.
	ExcludeHosts, ExcludeSuffixes []string
	Before                        int64 // only entries with a smaller ID; 0 for the newest
	Limit                         int   // 1 to MaxPage; anything else is MaxPage
}

// Audience chooses a broadcast's subscriptions: any of Tags, any of Users,
// or the listed Endpoints. At most one of the three is set; none means
// every subscription.
type Audience struct {
	Tags      []string `json:"tags,omitempty"`
	Users     []string `json:"users,omitempty"`
	Endpoints []string `json:"endpoints,omitempty"`
}

// Everyone reports whether a reaches every subscription.
func (a Audience) Everyone() bool {
	return len(a.Tags) == 0 && len(a.Users) == 0 && len(a.Endpoints) == 0
}

// Broadcast statuses (the same words as the API's).
const (
	StatusScheduled = "scheduled"
	StatusQueued    = "queued"
	StatusSending   = "sending"
	StatusDone      = "done"
	StatusCanceled  = "canceled"
)

// Broadcast is one message for an audience, and how far its sending got.
type Broadcast struct {
	ID       string // set by the caller of CreateBroadcast; at most 64 bytes
	Status   string
	Title    string // the notification's title, for lists
	Message  push.Message
	Audience Audience
	SendAt   *time.Time // nil: as soon as possible
	// Total is the number of subscriptions in the audience: counted by
	// CreateBroadcast, and again by PlanBroadcast.
	Total, Sent, Failed, Pruned, Skipped int
	Chunks                               int // set by PlanBroadcast
	CreatedAt                            time.Time
	StartedAt, FinishedAt                *time.Time
}

// Finished reports whether b will send nothing more.
func (b Broadcast) Finished() bool { return b.Status == StatusDone || b.Status == StatusCanceled }

// Chunk is a part of a planned broadcast: its audience's subscriptions with
// FirstID <= ID <= LastID, as they were when it was planned.
type Chunk struct {
	BroadcastID     string `json:"broadcastId"`
	Seq             int    `json:"seq"`
	FirstID, LastID int64
}

// Outcome is the result of one broadcast's push to one subscription.
type Outcome struct {
	Delivery      // BroadcastID and SubscriptionID are required
	Pruned   bool // the subscription was gone and is deleted; counts as pruned
}

// Tx is a write transaction that a queue joins, so that its jobs are
// inserted in the same commit as the rows they act on. Native is the
// driver's own transaction: *sql.Tx on SQLite, pgx.Tx on PostgreSQL.
type Tx interface {
	Native() any
}

// Store is where subscriptions, broadcasts and the delivery log live. All
// methods are safe for concurrent use, from several processes when the
// database is PostgreSQL.
//
// Semantics every implementation keeps: Upsert reports created only for an
// endpoint it did not have and keeps the original ID and CreatedAt of a known
// one; Replace is atomic; Delete and Replace of an absent endpoint are not
// errors; Deliveries and ListBroadcasts are newest first; times come back in
// UTC with millisecond precision; the delivery log of test sends is bounded,
// and a broadcast's outcomes are kept until 30 days after it finished.
type Store interface {
	// Upsert adds s, or updates the keys, expiration time, user agent, and
	// (see Subscription) user and tags of the subscription with the same
	// endpoint. created is true when the endpoint was new.
	Upsert(ctx context.Context, s Subscription) (created bool, err error)
	// Replace removes oldEndpoint (if present) and upserts s, in one
	// transaction; s takes over oldEndpoint's user and tags where s has none.
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

	// The admin console's view of subscriptions and of the delivery log.

	// SubscriptionStats counts the subscriptions by host, by user agent and
	// by tag, as of one moment.
	SubscriptionStats(ctx context.Context) (SubscriptionCounts, error)
	// SubscriptionPage returns at most limit subscriptions (see MaxPage)
	// with an ID below before (0 for the newest), newest first, each with
	// its tags and its last success and failure.
	SubscriptionPage(ctx context.Context, before int64, limit int) ([]SubscriptionRow, error)
	// DeleteSubscription removes the subscription with id, and its tags;
	// deleted is false when there was none.
	DeleteSubscription(ctx context.Context, id int64) (deleted bool, err error)
	// FindDeliveries returns the entries of the delivery log that f
	// chooses, newest (highest ID) first. It refuses a filter of more than
	// 64 hosts and suffixes.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)

	// CreateBroadcast stores b (b.ID set by the caller, unique) with
	// CreatedAt now, Status scheduled when b.SendAt is in the future and
	// queued otherwise, and Total counted from its audience; then calls
	// enqueue in the same transaction, which commits only if enqueue
	// returns nil. It returns the stored broadcast.
	CreateBroadcast(ctx context.Context, b Broadcast, enqueue func(context.Context, Tx) error) (Broadcast, error)
	// GetBroadcast returns the broadcast with id, or ErrBroadcastNotFound.
	GetBroadcast(ctx context.Context, id string) (Broadcast, error)
	// ListBroadcasts returns at most limit broadcasts created before the one
	// with ID before ("" for the newest), newest first.
	ListBroadcasts(ctx context.Context, before string, limit int) ([]Broadcast, error)
	// CancelBroadcast marks a broadcast that is not finished canceled, with
	// FinishedAt now, and returns it (unchanged when already finished), or
	// ErrBroadcastNotFound. Chunks still to run send nothing more.
	CancelBroadcast(ctx context.Context, id string) (Broadcast, error)
	// PlanBroadcast cuts a scheduled or queued broadcast that has no chunks
	// yet into chunks of at most chunkSize subscriptions of its audience by
	// ID range, up to the highest ID stored now; stores them, sets Total to
	// the audience's count now and the status to queued (done, finished,
	// when the audience is empty); and calls enqueue with the chunks in the
	// same transaction. A broadcast already planned, or finished, is
	// returned as it is and enqueue is not called: planning twice is safe.
	// Memory does not grow with the audience: boundaries are found by
	// query, not by loading the subscriptions.
	PlanBroadcast(ctx context.Context, id string, chunkSize int, enqueue func(context.Context, Tx, []Chunk) error) (Broadcast, error)
	// StartChunk returns the chunk's broadcast, first marking a queued one
	// sending with StartedAt now.
	StartChunk(ctx context.Context, c Chunk) (Broadcast, error)
	// Pending returns, in ID order, at most limit subscriptions of chunk c
	// with an ID above after that are in audience a and have no outcome for
	// c's broadcast yet.
	Pending(ctx context.Context, c Chunk, a Audience, after int64, limit int) ([]Subscription, error)
	// RecordOutcomes records outs (all of one broadcast) in one
	// transaction: each (broadcast, subscription) once, later duplicates
	// ignored; the broadcast's Sent, Failed and Pruned grow by the outcomes
	// newly recorded (sent: Sent; gone or Pruned: Pruned; the rest: Failed).
	RecordOutcomes(ctx context.Context, outs []Outcome) error
	// FinishChunk marks chunk c done (once) and, when it was the
	// broadcast's last chunk and the broadcast is not canceled, marks the
	// broadcast done with FinishedAt now and Skipped = Total - Sent -
	// Failed - Pruned (never negative). It returns the broadcast.
	FinishChunk(ctx context.Context, c Chunk) (Broadcast, error)

	// The funnel: what the service worker reported of a broadcast's pushes.
	// Events are kept as long as the broadcast's outcomes, and deleted with
	// them 30 days after it finished.

	// RecordEvent records e once per (broadcast, type, subscription):
	// recorded is false for a repeat, which changes nothing (the first
	// report's action and browser stay). It returns ErrBroadcastNotFound
	// when there is no such broadcast.
	RecordEvent(ctx context.Context, e Event) (recorded bool, err error)
	// Funnel counts the events of broadcast id; a broadcast with none, or
	// no broadcast at all, has zero counts.
	Funnel(ctx context.Context, broadcastID string) (FunnelCounts, error)

	// Setting returns the value stored under name, first storing value
	// when there is none: the first caller's value wins, across processes.
	Setting(ctx context.Context, name, value string) (string, error)

	// Admin console sessions, each kept as the hash of its cookie (hex or
	// base64url SHA-256), so that reading the database signs no one in.
	// CreateSession stores a session that ends at expires, and deletes the
	// sessions that have ended.
	CreateSession(ctx context.Context, idHash string, expires time.Time) error
	// SessionExpiry returns when the session with idHash ends, or
	// ErrSessionNotFound when there is none or it has ended.
	SessionExpiry(ctx context.Context, idHash string) (time.Time, error)
	// DeleteSession ends the session with idHash; none is not an error.
	DeleteSession(ctx context.Context, idHash string) error

	// Close releases the database.
	Close() error
}

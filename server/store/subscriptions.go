package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

const subscriptionColumns = `s.id, s.endpoint, s.p256dh, s.auth, s.expiration_time, s.user_agent, s.user_id, s.host, s.created_at, s.updated_at`

// EndpointHost is the host of a push endpoint, in lower case, with its port
// unless it is the scheme's default: the push service the endpoint belongs
// to, as the store keeps it for subscriptions and the delivery log. It is
// safe to log and show: the secret part of an endpoint is its path. It is ""
// for an endpoint that does not parse.
func EndpointHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Upsert adds s or updates the known subscription with its endpoint.
func (s *DB) Upsert(ctx context.Context, sub Subscription) (created bool, err error) {
	err = s.inTx(ctx, func(tx txn) error {
		created, err = s.upsertTx(ctx, tx, sub)
		return err
	})
	return created, err
}

// Replace removes oldEndpoint (if present) and upserts s, in one transaction;
// s takes over the old row's user when s.UserID is "" and its tags when
// s.Tags is nil. An empty oldEndpoint, or one equal to s.Endpoint, makes it
// an Upsert.
func (s *DB) Replace(ctx context.Context, oldEndpoint string, sub Subscription) (created bool, err error) {
	err = s.inTx(ctx, func(tx txn) error {
		if oldEndpoint != "" && oldEndpoint != sub.Endpoint {
			var id int64
			var user string
			err := tx.queryRow(ctx, `SELECT id, user_id FROM subscriptions WHERE endpoint = ?`, oldEndpoint).Scan(&id, &user)
			switch {
			case isNoRows(err):
			case err != nil:
				return fmt.Errorf("store: replace: %w", err)
			default:
				tags, err := tagsOf(ctx, tx, id)
				if err != nil {
					return fmt.Errorf("store: replace: %w", err)
				}
				if _, err := tx.exec(ctx, `DELETE FROM subscriptions WHERE id = ?`, id); err != nil {
					return fmt.Errorf("store: replace: %w", err)
				}
				if sub.UserID == "" {
					sub.UserID = user
				}
				if sub.Tags == nil && len(tags) > 0 {
					sub.Tags = tags
				}
			}
		}
		created, err = s.upsertTx(ctx, tx, sub)
		return err
	})
	return created, err
}

func (s *DB) upsertTx(ctx context.Context, tx txn, sub Subscription) (created bool, err error) {
	if sub.Endpoint == "" {
		return false, errors.New("store: upsert: empty endpoint")
	}
	now := ms(s.now())
	host := EndpointHost(sub.Endpoint)
	var id int64
	// On PostgreSQL another process may delete the row between the two
	// statements; the second round then inserts it.
	for range 2 {
		err = tx.queryRow(ctx,
			`INSERT INTO subscriptions (endpoint, p256dh, auth, expiration_time, user_agent, user_id, host, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint) DO NOTHING RETURNING id`,
			sub.Endpoint, sub.P256dh, sub.Auth, sub.ExpirationTime, sub.UserAgent, sub.UserID, host, now, now).Scan(&id)
		if err == nil {
			created = true
			break
		}
		if !isNoRows(err) {
			return false, fmt.Errorf("store: upsert: %w", err)
		}
		if sub.UserID == "" {
			err = tx.queryRow(ctx,
				`UPDATE subscriptions SET p256dh = ?, auth = ?, expiration_time = ?, user_agent = ?, host = ?, updated_at = ?
				 WHERE endpoint = ? RETURNING id`,
				sub.P256dh, sub.Auth, sub.ExpirationTime, sub.UserAgent, host, now, sub.Endpoint).Scan(&id)
		} else {
			err = tx.queryRow(ctx,
				`UPDATE subscriptions SET p256dh = ?, auth = ?, expiration_time = ?, user_agent = ?, user_id = ?, host = ?, updated_at = ?
				 WHERE endpoint = ? RETURNING id`,
				sub.P256dh, sub.Auth, sub.ExpirationTime, sub.UserAgent, sub.UserID, host, now, sub.Endpoint).Scan(&id)
		}
		if err == nil {
			break
		}
		if !isNoRows(err) {
			return false, fmt.Errorf("store: upsert: %w", err)
		}
	}
	if err != nil {
		return false, fmt.Errorf("store: upsert: %w", err)
	}
	if sub.Tags != nil {
		if err := setTags(ctx, tx, id, sub.Tags, !created); err != nil {
			return false, fmt.Errorf("store: upsert: %w", err)
		}
	}
	return created, nil
}

// setTags makes tags (in any order, duplicates allowed) the tags of
// subscription id; clear first removes the ones it has.
func setTags(ctx context.Context, q querier, id int64, tags []string, clear bool) error {
	if clear {
		if _, err := q.exec(ctx, `DELETE FROM subscription_tags WHERE subscription_id = ?`, id); err != nil {
			return err
		}
	}
	tags = slices.Clone(tags)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if len(tags) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO subscription_tags (subscription_id, tag) VALUES `)
	args := make([]any, 0, 2*len(tags))
	for i, tag := range tags {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, id, tag)
	}
	_, err := q.exec(ctx, b.String(), args...)
	return err
}

// tagsOf returns the tags of subscription id, sorted.
func tagsOf(ctx context.Context, q querier, id int64) ([]string, error) {
	rs, err := q.query(ctx, `SELECT tag FROM subscription_tags WHERE subscription_id = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var tags []string
	for rs.Next() {
		var tag string
		if err := rs.Scan(&tag); err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	slices.Sort(tags) // in Go: PostgreSQL would sort by the database's collation
	return tags, nil
}

// loadTags fills in the tags of subs, in ID order either way, with one query
// over their ID range.
func loadTags(ctx context.Context, q querier, subs []Subscription) error {
	if len(subs) == 0 {
		return nil
	}
	lo, hi := subs[0].ID, subs[len(subs)-1].ID
	if lo > hi {
		lo, hi = hi, lo
	}
	rs, err := q.query(ctx,
		`SELECT subscription_id, tag FROM subscription_tags WHERE subscription_id >= ? AND subscription_id <= ?`,
		lo, hi)
	if err != nil {
		return err
	}
	defer rs.Close()
	at := make(map[int64]int, len(subs))
	for i, sub := range subs {
		at[sub.ID] = i
	}
	for rs.Next() {
		var id int64
		var tag string
		if err := rs.Scan(&id, &tag); err != nil {
			return err
		}
		if i, ok := at[id]; ok {
			subs[i].Tags = append(subs[i].Tags, tag)
		}
	}
	if err := rs.Err(); err != nil {
		return err
	}
	for i := range subs {
		slices.Sort(subs[i].Tags)
	}
	return nil
}

// Get returns the subscription with endpoint, or ErrNotFound.
func (s *DB) Get(ctx context.Context, endpoint string) (Subscription, error) {
	row := s.r.queryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s WHERE s.endpoint = ?`, endpoint)
	sub, err := scanSubscription(row)
	if isNoRows(err) {
		return Subscription{}, ErrNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("store: get: %w", err)
	}
	if sub.Tags, err = tagsOf(ctx, s.r, sub.ID); err != nil {
		return Subscription{}, fmt.Errorf("store: get: %w", err)
	}
	return sub, nil
}

// Delete removes the subscription with endpoint, and its tags.
func (s *DB) Delete(ctx context.Context, endpoint string) (bool, error) {
	n, err := s.w.exec(ctx, `DELETE FROM subscriptions WHERE endpoint = ?`, endpoint)
	if err != nil {
		return false, fmt.Errorf("store: delete: %w", err)
	}
	return n > 0, nil
}

// List returns every subscription, oldest first.
func (s *DB) List(ctx context.Context) ([]Subscription, error) {
	subs, err := querySubscriptions(ctx, s.r, `SELECT `+subscriptionColumns+` FROM subscriptions s ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	return subs, nil
}

// querySubscriptions runs a query of subscriptionColumns in ID order and
// loads the rows' tags.
func querySubscriptions(ctx context.Context, q querier, query string, args ...any) ([]Subscription, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var subs []Subscription
	for rs.Next() {
		sub, err := scanSubscription(rs)
		if err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	rs.Close()
	if err := loadTags(ctx, q, subs); err != nil {
		return nil, err
	}
	return subs, nil
}

// Count returns the number of subscriptions.
func (s *DB) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.r.queryRow(ctx, `SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

func scanSubscription(sc row) (Subscription, error) {
	var sub Subscription
	var created, updated int64
	if err := sc.Scan(&sub.ID, &sub.Endpoint, &sub.P256dh, &sub.Auth, &sub.ExpirationTime, &sub.UserAgent,
		&sub.UserID, &sub.Host, &created, &updated); err != nil {
		return Subscription{}, err
	}
	sub.CreatedAt = fromMS(created)
	sub.UpdatedAt = fromMS(updated)
	return sub, nil
}

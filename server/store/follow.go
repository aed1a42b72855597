package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
)

// What the admin console reads to follow the subscriptions and the delivery
// log (the methods of the Store's console block).

// SubscriptionStats counts the subscriptions by host, user agent and tag in
// one statement, so that the three breakdowns are of the same moment and
// Total is the sum of ByHost.
func (s *DB) SubscriptionStats(ctx context.Context) (SubscriptionCounts, error) {
	rs, err := s.r.query(ctx,
		`SELECT 'h', host, COUNT(*) FROM subscriptions GROUP BY host
		 UNION ALL SELECT 'u', user_agent, COUNT(*) FROM subscriptions GROUP BY user_agent
		 UNION ALL SELECT 't', tag, COUNT(*) FROM subscription_tags GROUP BY tag`)
	if err != nil {
		return SubscriptionCounts{}, fmt.Errorf("store: subscription stats: %w", err)
	}
	defer rs.Close()
	c := SubscriptionCounts{ByHost: []KeyCount{}, ByUserAgent: []KeyCount{}, ByTag: []KeyCount{}}
	for rs.Next() {
		var kind string
		var kc KeyCount
		if err := rs.Scan(&kind, &kc.Key, &kc.Count); err != nil {
			return SubscriptionCounts{}, fmt.Errorf("store: subscription stats: %w", err)
		}
		switch kind {
		case "h":
			c.ByHost = append(c.ByHost, kc)
			c.Total += kc.Count
		case "u":
			c.ByUserAgent = append(c.ByUserAgent, kc)
		case "t":
			c.ByTag = append(c.ByTag, kc)
		}
	}
	if err := rs.Err(); err != nil {
		return SubscriptionCounts{}, fmt.Errorf("store: subscription stats: %w", err)
	}
	for _, l := range [][]KeyCount{c.ByHost, c.ByUserAgent, c.ByTag} {
		SortCounts(l)
	}
	return c, nil
}

// SortCounts sorts a breakdown by count, largest first, then by key in byte
// order (in Go: PostgreSQL would order keys by the database's collation).
func SortCounts(l []KeyCount) {
	slices.SortFunc(l, func(a, b KeyCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	})
}

// pageLimit is limit within 1..MaxPage.
func pageLimit(limit int) int {
	if limit < 1 || limit > MaxPage {
		return MaxPage
	}
	return limit
}

// SubscriptionPage returns a page of subscriptions, newest first, with one
// query: each row's last success and failure are looked up through the
// deliveries_subscription index, and the page's tags with one more.
func (s *DB) SubscriptionPage(ctx context.Context, before int64, limit int) ([]SubscriptionRow, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rs, err := s.r.query(ctx, `SELECT `+subscriptionColumns+`,
		(SELECT MAX(d.at) FROM deliveries d WHERE d.subscription_id = s.id AND d.outcome = 'sent'),
		(SELECT MAX(d.at) FROM deliveries d WHERE d.subscription_id = s.id AND d.outcome <> 'sent')
		FROM subscriptions s WHERE s.id < ? ORDER BY s.id DESC LIMIT ?`, before, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: subscription page: %w", err)
	}
	defer rs.Close()
	var subs []Subscription
	var last [][2]*int64
	for rs.Next() {
		var sub Subscription
		var created, updated int64
		var success, failure *int64
		if err := rs.Scan(&sub.ID, &sub.Endpoint, &sub.P256dh, &sub.Auth, &sub.ExpirationTime, &sub.UserAgent,
			&sub.UserID, &sub.Host, &created, &updated, &success, &failure); err != nil {
			return nil, fmt.Errorf("store: subscription page: %w", err)
		}
		sub.CreatedAt, sub.UpdatedAt = fromMS(created), fromMS(updated)
		subs = append(subs, sub)
		last = append(last, [2]*int64{success, failure})
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: subscription page: %w", err)
	}
	rs.Close()
	if err := loadTags(ctx, s.r, subs); err != nil {
		return nil, fmt.Errorf("store: subscription page: %w", err)
	}
	page := make([]SubscriptionRow, len(subs))
	for i, sub := range subs {
		page[i] = SubscriptionRow{Subscription: sub, LastSuccess: fromOptMS(last[i][0]), LastFailure: fromOptMS(last[i][1])}
	}
	return page, nil
}

// DeleteSubscription removes the subscription with id; its tags go with it
// (ON DELETE CASCADE). Its entries in the delivery log stay.
func (s *DB) DeleteSubscription(ctx context.Context, id int64) (bool, error) {
	n, err := s.w.exec(ctx, `DELETE FROM subscriptions WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("store: delete subscription: %w", err)
	}
	return n > 0, nil
}

// FindDeliveries returns the entries of the delivery log that f chooses,
// newest first. Every value of f reaches the query as a placeholder's
// argument; only the number of terms shapes its text.
func (s *DB) FindDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	if n := len(f.Hosts) + len(f.HostSuffixes) + len(f.ExcludeHosts) + len(f.ExcludeSuffixes); n > maxFilterHosts {
		return nil, fmt.Errorf("store: find deliveries: %d hosts and suffixes, at most %d", n, maxFilterHosts)
	}
	var where []string
	var args []any
	if f.BroadcastID != "" {
		where = append(where, `broadcast_id = ?`)
		args = append(args, f.BroadcastID)
	}
	if f.Outcome != "" {
		where = append(where, `outcome = ?`)
		args = append(args, f.Outcome)
	}
	if f.Before > 0 {
		where = append(where, `id < ?`)
		args = append(args, f.Before)
	}
	if cond, cargs := hostMatch(f.Hosts, f.HostSuffixes); cond != "" {
		where = append(where, cond)
		args = append(args, cargs...)
	}
	if cond, cargs := hostMatch(f.ExcludeHosts, f.ExcludeSuffixes); cond != "" {
		where = append(where, `NOT `+cond)
		args = append(args, cargs...)
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, pageLimit(f.Limit))
	rs, err := s.r.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: find deliveries: %w", err)
	}
	defer rs.Close()
	ds, err := scanDeliveries(rs)
	if err != nil {
		return nil, fmt.Errorf("store: find deliveries: %w", err)
	}
	return ds, nil
}

// hostMatch is the condition "host is one of hosts or ends with one of
// suffixes", in parentheses, with its arguments; "" when both are empty.
// Both are lowered, as hosts are stored: SQLite's LIKE ignores ASCII case
// and PostgreSQL's does not. A suffix is matched with LIKE, its own % and _
// escaped.
func hostMatch(hosts, suffixes []string) (string, []any) {
	var terms []string
	var args []any
	if len(hosts) > 0 {
		terms = append(terms, `host IN (?`+strings.Repeat(`, ?`, len(hosts)-1)+`)`)
		for _, h := range hosts {
			args = append(args, strings.ToLower(h))
		}
	}
	for _, sfx := range suffixes {
		terms = append(terms, `host LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(sfx)))
	}
	if len(terms) == 0 {
		return "", nil
	}
	return `(` + strings.Join(terms, ` OR `) + `)`, args
}

// likeEscaper escapes LIKE's wildcards and its escape character, '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"pushstart/push"
)

// MaxBroadcastID is the longest broadcast ID, in bytes: what leaves room,
// in the longest message id (push.MaxMessageID, 81 bytes), for the
// subscription's id in base36 (up to 13 characters), the MAC (16) and two
// dots (see package messageid). The engine's ids are 28.
const MaxBroadcastID = 50

const broadcastColumns = `id, status, title, payload, ttl, urgency, topic, audience, send_at,
	total, sent, failed, pruned, skipped, chunks, created_at, started_at, finished_at`

func scanBroadcast(sc row) (Broadcast, error) {
	var b Broadcast
	var audience string
	var sendAt, startedAt, finishedAt *int64
	var created int64
	if err := sc.Scan(&b.ID, &b.Status, &b.Title, &b.Message.Payload, &b.Message.TTL, &b.Message.Urgency,
		&b.Message.Topic, &audience, &sendAt, &b.Total, &b.Sent, &b.Failed, &b.Pruned, &b.Skipped,
		&b.Chunks, &created, &startedAt, &finishedAt); err != nil {
		return Broadcast{}, err
	}
	if err := json.Unmarshal([]byte(audience), &b.Audience); err != nil {
		return Broadcast{}, fmt.Errorf("broadcast %s: audience: %w", b.ID, err)
	}
	b.SendAt = fromOptMS(sendAt)
	b.CreatedAt = fromMS(created)
	b.StartedAt = fromOptMS(startedAt)
	b.FinishedAt = fromOptMS(finishedAt)
	return b, nil
}

func getBroadcast(ctx context.Context, q querier, id string) (Broadcast, error) {
	b, err := scanBroadcast(q.queryRow(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE id = ?`, id))
	if isNoRows(err) {
		return Broadcast{}, ErrBroadcastNotFound
	}
	return b, err
}

// lockBroadcast takes the broadcast's row lock for the rest of tx (on
// SQLite the transaction already holds the database's write lock), so that
// the decisions taken on what it reads next are not raced by another
// process.
func lockBroadcast(ctx context.Context, tx txn, id string) error {
	n, err := tx.exec(ctx, `UPDATE broadcasts SET status = status WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrBroadcastNotFound
	}
	return nil
}

// audienceFilter returns the condition, on subscriptions aliased s, that
// selects the members of a (starting with " AND ", or "" for everyone) and
// its arguments.
func audienceFilter(a Audience) (string, []any, error) {
	var col string
	var list []string
	n := 0
	if len(a.Tags) > 0 {
		n++
		list = a.Tags
	}
	if len(a.Users) > 0 {
		n++
		col, list = "s.user_id", a.Users
	}
	if len(a.Endpoints) > 0 {
		n++
		col, list = "s.endpoint", a.Endpoints
	}
	switch {
	case n == 0:
		return "", nil, nil
	case n > 1:
		return "", nil, errors.New("audience: set at most one of tags, users and endpoints")
	}
	args := make([]any, len(list))
	for i, v := range list {
		args[i] = v
	}
	in := "(?" + strings.Repeat(", ?", len(list)-1) + ")"
	if col == "" {
		return ` AND EXISTS (SELECT 1 FROM subscription_tags t WHERE t.subscription_id = s.id AND t.tag IN ` + in + `)`, args, nil
	}
	return ` AND ` + col + ` IN ` + in, args, nil
}

// CreateBroadcast stores b, counting its audience, and calls enqueue (when
// not nil) in the same transaction.
func (s *DB) CreateBroadcast(ctx context.Context, b Broadcast, enqueue func(context.Context, Tx) error) (Broadcast, error) {
	if b.ID == "" || len(b.ID) > MaxBroadcastID {
		return Broadcast{}, fmt.Errorf("store: create broadcast: the ID must be 1 to %d bytes", MaxBroadcastID)
	}
	filter, fargs, err := audienceFilter(b.Audience)
	if err != nil {
		return Broadcast{}, fmt.Errorf("store: create broadcast: %w", err)
	}
	audience, err := json.Marshal(b.Audience)
	if err != nil {
		return Broadcast{}, fmt.Errorf("store: create broadcast: %w", err)
	}
	now := s.now()
	status := StatusQueued
	if b.SendAt != nil && b.SendAt.After(now) {
		status = StatusScheduled
	}
	payload := b.Message.Payload
	if payload == nil {
		payload = []byte{}
	}
	var out Broadcast
	err = s.inTx(ctx, func(tx txn) error {
		var total int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM subscriptions s WHERE 1 = 1`+filter, fargs...).Scan(&total); err != nil {
			return fmt.Errorf("store: create broadcast: %w", err)
		}
		if _, err := tx.exec(ctx,
			`INSERT INTO broadcasts (id, status, title, payload, ttl, urgency, topic, audience, send_at, total, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, status, b.Title, payload, b.Message.TTL, b.Message.Urgency, b.Message.Topic, string(audience),
			optMS(b.SendAt), total, ms(now)); err != nil {
			return fmt.Errorf("store: create broadcast: %w", err)
		}
		if enqueue != nil {
			if err := enqueue(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		if out, err = getBroadcast(ctx, tx, b.ID); err != nil {
			return fmt.Errorf("store: create broadcast: %w", err)
		}
		return nil
	})
	return out, err
}

// GetBroadcast returns the broadcast with id, or ErrBroadcastNotFound.
func (s *DB) GetBroadcast(ctx context.Context, id string) (Broadcast, error) {
	b, err := getBroadcast(ctx, s.r, id)
	if err != nil && !errors.Is(err, ErrBroadcastNotFound) {
		return Broadcast{}, fmt.Errorf("store: get broadcast: %w", err)
	}
	return b, err
}

// ListBroadcasts returns at most limit broadcasts (all when limit <= 0)
// created before the one with ID before, or the newest when before is "",
// newest first. An unknown before gives none.
func (s *DB) ListBroadcasts(ctx context.Context, before string, limit int) ([]Broadcast, error) {
	q := `SELECT ` + broadcastColumns + ` FROM broadcasts`
	var args []any
	if before != "" {
		q += ` WHERE (created_at, id) < (SELECT created_at, id FROM broadcasts WHERE id = ?)`
		args = append(args, before)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rs, err := s.r.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list broadcasts: %w", err)
	}
	defer rs.Close()
	var bs []Broadcast
	for rs.Next() {
		b, err := scanBroadcast(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list broadcasts: %w", err)
		}
		bs = append(bs, b)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list broadcasts: %w", err)
	}
	return bs, nil
}

// CancelBroadcast marks a broadcast that is not finished canceled.
func (s *DB) CancelBroadcast(ctx context.Context, id string) (Broadcast, error) {
	var b Broadcast
	err := s.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(ctx,
			`UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status IN (?, ?, ?)`,
			StatusCanceled, ms(s.now()), id, StatusScheduled, StatusQueued, StatusSending); err != nil {
			return fmt.Errorf("store: cancel broadcast: %w", err)
		}
		var err error
		b, err = getBroadcast(ctx, tx, id)
		if err != nil && !errors.Is(err, ErrBroadcastNotFound) {
			return fmt.Errorf("store: cancel broadcast: %w", err)
		}
		return err
	})
	return b, err
}

// PlanBroadcast cuts the broadcast into chunks of its audience by ID range,
// in one transaction, and calls enqueue with them (when there are any and
// enqueue is not nil).
func (s *DB) PlanBroadcast(ctx context.Context, id string, chunkSize int, enqueue func(context.Context, Tx, []Chunk) error) (Broadcast, error) {
	if chunkSize <= 0 {
		return Broadcast{}, errors.New("store: plan broadcast: chunk size must be positive")
	}
	var b Broadcast
	err := s.inTx(ctx, func(tx txn) error {
		if err := lockBroadcast(ctx, tx, id); err != nil {
			return wrapNotFound("plan broadcast", err)
		}
		var err error
		if b, err = getBroadcast(ctx, tx, id); err != nil {
			return wrapNotFound("plan broadcast", err)
		}
		if b.Chunks > 0 || (b.Status != StatusScheduled && b.Status != StatusQueued) {
			return nil
		}
		filter, fargs, err := audienceFilter(b.Audience)
		if err != nil {
			return fmt.Errorf("store: plan broadcast: %w", err)
		}
		var maxID int64
		if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM subscriptions`).Scan(&maxID); err != nil {
			return fmt.Errorf("store: plan broadcast: %w", err)
		}
		var total int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM subscriptions s WHERE s.id <= ?`+filter,
			append([]any{maxID}, fargs...)...).Scan(&total); err != nil {
			return fmt.Errorf("store: plan broadcast: %w", err)
		}

		// Each chunk starts at the audience's first ID after the last
		// chunk and ends chunkSize-1 members further, or at the last.
		member := `SELECT s.id FROM subscriptions s WHERE s.id > ? AND s.id <= ?` + filter
		var chunks []Chunk
		for after := int64(0); ; {
			args := append([]any{after, maxID}, fargs...)
			var first, last int64
			err := tx.queryRow(ctx, member+` ORDER BY s.id LIMIT 1`, args...).Scan(&first)
			if isNoRows(err) {
				break
			}
			if err != nil {
				return fmt.Errorf("store: plan broadcast: %w", err)
			}
			err = tx.queryRow(ctx, member+` ORDER BY s.id LIMIT 1 OFFSET ?`, append(args, chunkSize-1)...).Scan(&last)
			if isNoRows(err) {
				err = tx.queryRow(ctx, member+` ORDER BY s.id DESC LIMIT 1`, args...).Scan(&last)
			}
			if err != nil {
				return fmt.Errorf("store: plan broadcast: %w", err)
			}
			c := Chunk{BroadcastID: id, Seq: len(chunks) + 1, FirstID: first, LastID: last}
			if _, err := tx.exec(ctx,
				`INSERT INTO broadcast_chunks (broadcast_id, seq, first_id, last_id) VALUES (?, ?, ?, ?)`,
				c.BroadcastID, c.Seq, c.FirstID, c.LastID); err != nil {
				return fmt.Errorf("store: plan broadcast: %w", err)
			}
			chunks = append(chunks, c)
			after = last
		}

		now := ms(s.now())
		if len(chunks) == 0 {
			_, err = tx.exec(ctx,
				`UPDATE broadcasts SET status = ?, total = 0, max_subscription_id = ?, finished_at = ? WHERE id = ?`,
				StatusDone, maxID, now, id)
		} else {
			_, err = tx.exec(ctx,
				`UPDATE broadcasts SET status = ?, total = ?, chunks = ?, max_subscription_id = ? WHERE id = ?`,
				StatusQueued, total, len(chunks), maxID, id)
		}
		if err != nil {
			return fmt.Errorf("store: plan broadcast: %w", err)
		}
		if len(chunks) > 0 && enqueue != nil {
			if err := enqueue(ctx, tx, chunks); err != nil {
				return err
			}
		}
		if b, err = getBroadcast(ctx, tx, id); err != nil {
			return fmt.Errorf("store: plan broadcast: %w", err)
		}
		return nil
	})
	if err != nil {
		return Broadcast{}, err
	}
	return b, nil
}

// StartChunk returns the chunk's broadcast, marking a queued one sending.
func (s *DB) StartChunk(ctx context.Context, c Chunk) (Broadcast, error) {
	var b Broadcast
	err := s.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(ctx, `UPDATE broadcasts SET status = ?, started_at = ? WHERE id = ? AND status = ?`,
			StatusSending, ms(s.now()), c.BroadcastID, StatusQueued); err != nil {
			return fmt.Errorf("store: start chunk: %w", err)
		}
		var err error
		b, err = getBroadcast(ctx, tx, c.BroadcastID)
		return wrapNotFound("start chunk", err)
	})
	return b, err
}

// Pending returns, in ID order, at most limit (all when limit <= 0)
// subscriptions of chunk c above after that are in audience a and have no
// outcome for c's broadcast yet.
func (s *DB) Pending(ctx context.Context, c Chunk, a Audience, after int64, limit int) ([]Subscription, error) {
	filter, fargs, err := audienceFilter(a)
	if err != nil {
		return nil, fmt.Errorf("store: pending: %w", err)
	}
	q := `SELECT ` + subscriptionColumns + ` FROM subscriptions s
		WHERE s.id >= ? AND s.id <= ? AND s.id > ?` + filter + `
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.broadcast_id = ? AND d.subscription_id = s.id)
		ORDER BY s.id`
	args := append([]any{c.FirstID, c.LastID, after}, fargs...)
	args = append(args, c.BroadcastID)
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	subs, err := querySubscriptions(ctx, s.r, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending: %w", err)
	}
	return subs, nil
}

// RecordOutcomes records outs, each (broadcast, subscription) once, and adds
// the newly recorded ones to the broadcast's counters, in one transaction.
func (s *DB) RecordOutcomes(ctx context.Context, outs []Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	bid := outs[0].BroadcastID
	if bid == "" {
		return errors.New("store: record outcomes: no broadcast ID")
	}
	// One outcome a subscription, the first given; in ID order, so that
	// transactions of PostgreSQL that overlap lock rows in the same order.
	byID := make([]Outcome, 0, len(outs))
	for _, o := range outs {
		if o.BroadcastID != bid {
			return errors.New("store: record outcomes: outcomes of more than one broadcast")
		}
		if o.SubscriptionID <= 0 {
			return errors.New("store: record outcomes: no subscription ID")
		}
		byID = append(byID, o)
	}
	slices.SortStableFunc(byID, func(a, b Outcome) int { return cmp.Compare(a.SubscriptionID, b.SubscriptionID) })
	byID = slices.CompactFunc(byID, func(a, b Outcome) bool { return a.SubscriptionID == b.SubscriptionID })

	// Each kind of outcome is inserted apart, so that the rows each
	// statement added are the count it adds to.
	var sent, failed, pruned []Outcome
	for _, o := range byID {
		switch {
		case o.Pruned || o.Outcome == string(push.Gone):
			pruned = append(pruned, o)
		case o.Outcome == string(push.Sent):
			sent = append(sent, o)
		default:
			failed = append(failed, o)
		}
	}
	now := s.now()
	return s.inTx(ctx, func(tx txn) error {
		if s.dialect == dialectPostgres {
			// An outcome guards against sending twice, never against
			// missing a subscription: the few a crash of the database
			// server itself could lose (its last fraction of a second)
			// would only be pushed again. So these commits do not wait
			// for the disk, which the engine's senders wait for. (SQLite
			// makes the same trade with WAL and synchronous=NORMAL.)
			if _, err := tx.exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return fmt.Errorf("store: record outcomes: %w", err)
			}
		}
		var added [3]int64
		for i, outs := range [][]Outcome{sent, failed, pruned} {
			n, err := insertOutcomes(ctx, tx, outs, now)
			if err != nil {
				return fmt.Errorf("store: record outcomes: %w", err)
			}
			added[i] = n
		}
		if added == [3]int64{} {
			return nil
		}
		n, err := tx.exec(ctx, addOutcomesSQL, added[0], added[1], added[2], bid)
		if err != nil {
			return fmt.Errorf("store: record outcomes: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("store: record outcomes: %w", ErrBroadcastNotFound)
		}
		return nil
	})
}

// insertOutcomes inserts outs and returns how many rows it added: those not
// recorded before. It inserts blocks of the sizes in outcomeBlocks, largest
// first (23 outcomes are 16 + 4 + 2 + 1): a few statement texts in all,
// which SQLite prepares once (see stmtCache).
func insertOutcomes(ctx context.Context, tx txn, outs []Outcome, now time.Time) (int64, error) {
	var added int64
	for len(outs) > 0 {
		n := 1
		for _, size := range outcomeBlocks() {
			if len(outs) >= size {
				n = size
				break
			}
		}
		part := outs[:n]
		outs = outs[n:]
		args := make([]any, 0, 9*n)
		for _, o := range part {
			at := o.At
			if at.IsZero() {
				at = now
			}
			args = append(args, o.BroadcastID, o.SubscriptionID, o.EndpointHash, o.Host, o.Outcome, o.Status, o.Attempts, o.Error, ms(at))
		}
		k, err := tx.exec(ctx, insertOutcomesSQL(n), args...)
		if err != nil {
			return 0, err
		}
		added += k
	}
	return added, nil
}

// outcomeBlocks returns the sizes of insertOutcomes' statements, largest
// first.
func outcomeBlocks() [5]int { return [...]int{16, 8, 4, 2, 1} }

// insertOutcomesSQL is the INSERT of n outcomes.
func insertOutcomesSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO deliveries (broadcast_id, subscription_id, endpoint_hash, host, outcome, status, attempts, error, at) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(` ON CONFLICT (broadcast_id, subscription_id) DO NOTHING`)
	return b.String()
}

// addOutcomesSQL adds newly recorded outcomes to a broadcast's counts.
const addOutcomesSQL = `UPDATE broadcasts SET sent = sent + ?, failed = failed + ?, pruned = pruned + ? WHERE id = ?`

// FinishChunk marks chunk c done and, when no chunk of a broadcast that is
// not canceled remains, the broadcast done.
func (s *DB) FinishChunk(ctx context.Context, c Chunk) (Broadcast, error) {
	var b Broadcast
	finished := false
	err := s.inTx(ctx, func(tx txn) error {
		if err := lockBroadcast(ctx, tx, c.BroadcastID); err != nil {
			return wrapNotFound("finish chunk", err)
		}
		now := ms(s.now())
		if _, err := tx.exec(ctx,
			`UPDATE broadcast_chunks SET done_at = ? WHERE broadcast_id = ? AND seq = ? AND done_at IS NULL`,
			now, c.BroadcastID, c.Seq); err != nil {
			return fmt.Errorf("store: finish chunk: %w", err)
		}
		n, err := tx.exec(ctx,
			`UPDATE broadcasts SET status = ?, finished_at = ?,
			   skipped = CASE WHEN total - sent - failed - pruned > 0 THEN total - sent - failed - pruned ELSE 0 END
			 WHERE id = ? AND status IN (?, ?) AND chunks > 0
			 AND NOT EXISTS (SELECT 1 FROM broadcast_chunks c WHERE c.broadcast_id = ? AND c.done_at IS NULL)`,
			StatusDone, now, c.BroadcastID, StatusQueued, StatusSending, c.BroadcastID)
		if err != nil {
			return fmt.Errorf("store: finish chunk: %w", err)
		}
		finished = n > 0
		b, err = getBroadcast(ctx, tx, c.BroadcastID)
		return wrapNotFound("finish chunk", err)
	})
	if err != nil {
		return Broadcast{}, err
	}
	if finished {
		// Outcomes of broadcasts long finished go now too. A failure
		// here leaves them for the next prune (at the next open, test
		// send or finished broadcast) and does not undo the finish.
		_ = s.pruneOutcomes(ctx)
	}
	return b, nil
}

// Setting returns the value stored under name, first storing value when
// there is none.
func (s *DB) Setting(ctx context.Context, name, value string) (string, error) {
	var stored string
	err := s.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
			return fmt.Errorf("store: setting %s: %w", name, err)
		}
		if err := tx.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&stored); err != nil {
			return fmt.Errorf("store: setting %s: %w", name, err)
		}
		return nil
	})
	return stored, err
}

// wrapNotFound passes nil and ErrBroadcastNotFound through and names op in
// any other error.
func wrapNotFound(op string, err error) error {
	if err == nil || errors.Is(err, ErrBroadcastNotFound) {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

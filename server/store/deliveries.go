package store

import (
	"context"
	"errors"
	"fmt"

	"pushstart/api"
)

const deliveryColumns = `id, broadcast_id, subscription_id, endpoint_hash, host, outcome, status, attempts, error, at`

// RecordDelivery appends d to the delivery log, stamping it with the current
// time when d.At is zero. Every pruneEvery test sends (d.BroadcastID "") it
// trims those to the newest maxDeliveries.
func (s *DB) RecordDelivery(ctx context.Context, d Delivery) error {
	at := d.At
	if at.IsZero() {
		at = s.now()
	}
	var bid *string
	if d.BroadcastID != "" {
		bid = &d.BroadcastID
	}
	_, err := s.w.exec(ctx,
		`INSERT INTO deliveries (broadcast_id, subscription_id, endpoint_hash, host, outcome, status, attempts, error, at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		bid, d.SubscriptionID, d.EndpointHash, d.Host, d.Outcome, d.Status, d.Attempts, d.Error, ms(at))
	if err != nil {
		return fmt.Errorf("store: record delivery: %w", err)
	}
	if bid == nil && s.testSends.Add(1)%s.pruneEvery == 0 {
		return s.prune(ctx)
	}
	return nil
}

// prune deletes all but the newest maxDeliveries test sends from the
// delivery log, and the outcomes of broadcasts that finished more than
// keepOutcomes ago.
func (s *DB) prune(ctx context.Context) error {
	return errors.Join(s.pruneTestSends(ctx), s.pruneOutcomes(ctx))
}

func (s *DB) pruneTestSends(ctx context.Context) error {
	var at, id int64
	err := s.w.queryRow(ctx,
		`SELECT at, id FROM deliveries WHERE broadcast_id IS NULL
		 ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`, s.maxDeliveries).Scan(&at, &id)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: prune deliveries: %w", err)
	}
	_, err = s.w.exec(ctx,
		`DELETE FROM deliveries WHERE broadcast_id IS NULL AND (at < ? OR (at = ? AND id <= ?))`,
		at, at, id)
	if err != nil {
		return fmt.Errorf("store: prune deliveries: %w", err)
	}
	return nil
}

// pruneOutcomes deletes the outcomes and the funnel's events of broadcasts
// that finished more than keepOutcomes ago, in batches of pruneBatch rows.
// Events reported late, after their broadcast's were pruned, go at the next
// prune.
func (s *DB) pruneOutcomes(ctx context.Context) error {
	rs, err := s.r.query(ctx,
		`SELECT b.id FROM broadcasts b WHERE b.finished_at < ?
		 AND (EXISTS (SELECT 1 FROM deliveries d WHERE d.broadcast_id = b.id)
		   OR EXISTS (SELECT 1 FROM events e WHERE e.broadcast_id = b.id))`,
		ms(s.now().Add(-keepOutcomes)))
	if err != nil {
		return fmt.Errorf("store: prune outcomes: %w", err)
	}
	var ids []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return fmt.Errorf("store: prune outcomes: %w", err)
		}
		ids = append(ids, id)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("store: prune outcomes: %w", err)
	}
	for _, id := range ids {
		// In batches by subscription ID, along each table's index, then
		// the rest (fewer than a batch of each).
		err := s.deleteInBatches(ctx,
			`DELETE FROM deliveries WHERE broadcast_id = ? AND subscription_id <= (
			   SELECT subscription_id FROM deliveries WHERE broadcast_id = ?
			   ORDER BY subscription_id LIMIT 1 OFFSET ?)`, id, id)
		if err == nil {
			_, err = s.w.exec(ctx, `DELETE FROM deliveries WHERE broadcast_id = ?`, id)
		}
		if err != nil {
			return fmt.Errorf("store: prune outcomes: %w", err)
		}
		for _, typ := range []string{api.EventShown, api.EventClicked, api.EventClosed} {
			err = s.deleteInBatches(ctx,
				`DELETE FROM events WHERE broadcast_id = ? AND type = ? AND subscription_id <= (
				   SELECT subscription_id FROM events WHERE broadcast_id = ? AND type = ?
				   ORDER BY subscription_id LIMIT 1 OFFSET ?)`, id, typ, id, typ)
			if err != nil {
				return fmt.Errorf("store: prune events: %w", err)
			}
		}
		if _, err := s.w.exec(ctx, `DELETE FROM events WHERE broadcast_id = ?`, id); err != nil {
			return fmt.Errorf("store: prune events: %w", err)
		}
	}
	return nil
}

// deleteInBatches runs batch, a DELETE of a broadcast's rows up to the
// pruneBatch-th (its last parameter, the OFFSET, follows args), until it
// deletes nothing: fewer than pruneBatch rows are left.
func (s *DB) deleteInBatches(ctx context.Context, batch string, args ...any) error {
	args = append(args, s.pruneBatch-1)
	for {
		n, err := s.w.exec(ctx, batch, args...)
		if err != nil || n == 0 {
			return err
		}
	}
}

// Deliveries returns at most limit entries of the delivery log, newest first
// (all kept entries when limit <= 0).
func (s *DB) Deliveries(ctx context.Context, limit int) ([]Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries ORDER BY at DESC, id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rs, err := s.r.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	defer rs.Close()
	ds, err := scanDeliveries(rs)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	return ds, nil
}

// scanDeliveries reads the rows of a query of deliveryColumns.
func scanDeliveries(rs rows) ([]Delivery, error) {
	var ds []Delivery
	for rs.Next() {
		var d Delivery
		var bid *string
		var at int64
		if err := rs.Scan(&d.ID, &bid, &d.SubscriptionID, &d.EndpointHash, &d.Host, &d.Outcome,
			&d.Status, &d.Attempts, &d.Error, &at); err != nil {
			return nil, err
		}
		if bid != nil {
			d.BroadcastID = *bid
		}
		d.At = fromMS(at)
		ds = append(ds, d)
	}
	return ds, rs.Err()
}

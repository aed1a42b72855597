package store

import (
	"context"
	"fmt"
	"time"
)

// CreateSession stores an admin session ending at expires. The sessions that
// have ended are deleted in the same transaction, so the table holds little
// more than the live ones.
func (s *DB) CreateSession(ctx context.Context, idHash string, expires time.Time) error {
	now := s.now()
	return s.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(ctx, `DELETE FROM admin_sessions WHERE expires_at <= ?`, ms(now)); err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO admin_sessions (id_hash, created_at, expires_at) VALUES (?, ?, ?)`,
			idHash, ms(now), ms(expires)); err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		return nil
	})
}

// SessionExpiry returns when the admin session with idHash ends, or
// ErrSessionNotFound when there is none or it has ended.
func (s *DB) SessionExpiry(ctx context.Context, idHash string) (time.Time, error) {
	var expires int64
	err := s.r.queryRow(ctx, `SELECT expires_at FROM admin_sessions WHERE id_hash = ? AND expires_at > ?`,
		idHash, ms(s.now())).Scan(&expires)
	if isNoRows(err) {
		return time.Time{}, ErrSessionNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: session: %w", err)
	}
	return fromMS(expires), nil
}

// DeleteSession deletes the admin session with idHash, if there is one.
func (s *DB) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.exec(ctx, `DELETE FROM admin_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlrec"
)

// dialect is how SQLite differs for sqlrec.
var dialect = sqlrec.Dialect{
	NoRows: sql.ErrNoRows,
	IsUnique: func(err error) bool {
		return strings.Contains(err.Error(), "UNIQUE constraint failed")
	},
	Greatest:     "max",
	PutChallenge: sqlrec.PutChallengeSQL,
}

// ScanFactors returns up to limit factors with an ID after after, by ID;
// every one for a limit <= 0.
func (s *Store) ScanFactors(ctx context.Context, after string, limit int) ([]store.Factor, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return sqlrec.List(ctx, sqlDB{s.r}, "scanning factors", sqlrec.ScanFactor,
		`SELECT `+sqlrec.FactorColumns+` FROM factors WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// PutRecoveryCodes replaces the recovery codes of userID, in one
// transaction.
func (s *Store) PutRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) (err error) {
	for _, c := range codes {
		if err := sqlrec.CheckTimes(c.CreatedAt, c.UsedAt); err != nil {
			return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that matters is err
		}
	}()
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
	}
	for i, c := range codes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, seq, hash, created_at, used_at)
			VALUES (?, ?, ?, ?, ?)`, userID, i, sqlrec.NonNil(c.Hash), sqlrec.UnixNano(c.CreatedAt),
			sqlrec.UnixNano(c.UsedAt)); err != nil {
			return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("putting recovery codes of %q: committing: %w", userID, err)
	}
	return nil
}

// ClaimNotifications leases up to limit due pending notifications in one
// transaction; see store.NotificationStore.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []store.Notification, err error) {
	if limit <= 0 {
		return nil, nil
	}
	until := now.Add(lease)
	if err := sqlrec.CheckTimes(now, until); err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that matters is err
		}
	}()
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlrec.NotificationColumns+` FROM notifications
		WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		store.NotificationPending, sqlrec.UnixNano(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	var out []store.Notification
	for rows.Next() {
		n, err := sqlrec.ScanNotification(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("claiming notifications: %w", err)
		}
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	if len(out) == 0 {
		return nil, tx.Rollback()
	}
	ids := make([]any, 0, len(out)+1)
	ids = append(ids, sqlrec.UnixNano(until))
	for i := range out {
		out[i].Attempts++
		out[i].NextAttemptAt = sqlrec.FromUnixNano(sqlrec.UnixNano(until))
		ids = append(ids, out[i].ID)
	}
	q := `UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ? WHERE id IN (?` +
		strings.Repeat(", ?", len(out)-1) + `)`
	if _, err := tx.ExecContext(ctx, q, ids...); err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claiming notifications: committing: %w", err)
	}
	return slices.Clip(out), nil
}

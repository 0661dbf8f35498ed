package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// defaultNotificationLimit is what NotificationQuery.Limit 0 means.
const defaultNotificationLimit = 100

const (
	notificationColumns = `id, dedupe_key, kind, channel, recipient, account, payload, created_at,
		next_attempt_at, attempts, state, last_error, sent_at`
	// A notification whose id or dedupe key is already stored is skipped.
	insertNotificationSQL = `INSERT INTO notifications (` + notificationColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
)

// writeNotifications enqueues ns inside the batch's transaction.
func writeNotifications(ctx context.Context, tx *sql.Tx, ns []store.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, insertNotificationSQL)
	if err != nil {
		return fmt.Errorf("preparing notification insert: %w", err)
	}
	defer st.Close()
	for _, n := range ns {
		if err := checkTimes(n.CreatedAt, n.NextAttemptAt, n.SentAt); err != nil {
			return fmt.Errorf("notification %q: %w", n.ID, err)
		}
		dedupe, state := n.DedupeKey, n.State
		if dedupe == "" {
			dedupe = n.ID
		}
		if state == "" {
			state = store.NotificationPending
		}
		if _, err := st.ExecContext(ctx, n.ID, dedupe, n.Kind, n.Channel, n.Recipient, n.Account,
			nonNilBytes(n.Payload), unixNano(n.CreatedAt), unixNano(n.NextAttemptAt), n.Attempts, state,
			n.LastError, unixNano(n.SentAt)); err != nil {
			return fmt.Errorf("notification %q: %w", n.ID, err)
		}
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
	if err := checkTimes(now, until); err != nil {
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
	rows, err := tx.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		store.NotificationPending, unixNano(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	var out []store.Notification
	for rows.Next() {
		n, err := scanNotification(rows)
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
	ids = append(ids, unixNano(until))
	for i := range out {
		out[i].Attempts++
		out[i].NextAttemptAt = fromUnixNano(unixNano(until))
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

// MarkNotificationSent records the delivery of notification id.
func (s *Store) MarkNotificationSent(ctx context.Context, id string, at time.Time) error {
	if err := checkTimes(at); err != nil {
		return fmt.Errorf("marking notification %q sent: %w", id, err)
	}
	return s.markNotification(ctx, id, "sent", `UPDATE notifications SET state = ?, sent_at = ?,
		last_error = '' WHERE id = ? AND state = ?`, store.NotificationSent, unixNano(at), id,
		store.NotificationPending)
}

// MarkNotificationRetry records a failed attempt and the next one's time.
func (s *Store) MarkNotificationRetry(ctx context.Context, id string, next time.Time, lastErr string) error {
	if err := checkTimes(next); err != nil {
		return fmt.Errorf("marking notification %q for retry: %w", id, err)
	}
	return s.markNotification(ctx, id, "for retry", `UPDATE notifications SET next_attempt_at = ?,
		last_error = ? WHERE id = ? AND state = ?`, unixNano(next), lastErr, id, store.NotificationPending)
}

// MarkNotificationFailed gives up on notification id.
func (s *Store) MarkNotificationFailed(ctx context.Context, id string, at time.Time, lastErr string) error {
	if err := checkTimes(at); err != nil {
		return fmt.Errorf("marking notification %q failed: %w", id, err)
	}
	return s.markNotification(ctx, id, "failed", `UPDATE notifications SET state = ?, next_attempt_at = ?,
		last_error = ? WHERE id = ? AND state = ?`, store.NotificationFailed, unixNano(at), lastErr, id,
		store.NotificationPending)
}

// markNotification runs an update of a pending notification; when it
// changes nothing, the notification is either final (fine) or unknown.
func (s *Store) markNotification(ctx context.Context, id, what, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("marking notification %q %s: %w", id, what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("marking notification %q %s: %w", id, what, err)
	} else if n > 0 {
		return nil
	}
	var one int
	err = s.w.QueryRowContext(ctx, `SELECT 1 FROM notifications WHERE id = ?`, id).Scan(&one)
	if err != nil {
		return lookupErr("notification", id, err)
	}
	return nil
}

// ListNotifications returns the notifications q selects, newest first.
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultNotificationLimit
	}
	query := `SELECT ` + notificationColumns + ` FROM notifications`
	var where []string
	var args []any
	if q.Account != "" {
		where = append(where, `account = ?`)
		args = append(args, q.Account)
	}
	if q.State != "" {
		where = append(where, `state = ?`)
		args = append(args, q.State)
	}
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return list(ctx, s.r, "listing notifications", scanNotification, query, args...)
}

func scanNotification(sc scanner) (store.Notification, error) {
	var n store.Notification
	var created, next, sent int64
	if err := sc.Scan(&n.ID, &n.DedupeKey, &n.Kind, &n.Channel, &n.Recipient, &n.Account, &n.Payload,
		&created, &next, &n.Attempts, &n.State, &n.LastError, &sent); err != nil {
		return store.Notification{}, err
	}
	n.CreatedAt = fromUnixNano(created)
	n.NextAttemptAt = fromUnixNano(next)
	n.SentAt = fromUnixNano(sent)
	return n, nil
}

// nonNilBytes stores nil as an empty blob, as the NOT NULL column needs.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// defaultNotificationLimit is what NotificationQuery.Limit 0 means.
const defaultNotificationLimit = 100

const (
	notificationColumns = `id, dedupe_key, kind, channel, recipient, account, payload, created_at,
		next_attempt_at, attempts, state, last_error, sent_at`
	// A notification whose id or dedupe key is already stored is skipped:
	// ON CONFLICT without a target covers both unique constraints.
	insertNotificationSQL = `INSERT INTO notifications (` + notificationColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT DO NOTHING`

	// claimSQL leases due notifications in one statement. FOR UPDATE SKIP
	// LOCKED passes over rows another claim holds, and PostgreSQL checks
	// the WHERE clause again on a row a committed claim moved, so no two
	// claims return the same notification while its lease runs. The
	// RETURNING list ends with the due time before the claim, to order by.
	claimSQL = `WITH due AS (
			SELECT id, next_attempt_at FROM notifications
			WHERE state = $1 AND next_attempt_at <= $2
			ORDER BY next_attempt_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE notifications n SET attempts = n.attempts + 1, next_attempt_at = $4
		FROM due WHERE n.id = due.id
		RETURNING n.id, n.dedupe_key, n.kind, n.channel, n.recipient, n.account, n.payload,
			n.created_at, n.next_attempt_at, n.attempts, n.state, n.last_error, n.sent_at,
			due.next_attempt_at`
)

// queueNotifications enqueues ns in the batch's transaction, in order, so
// that the first of a dedupe key in ns wins.
func queueNotifications(q *queued, ns []store.Notification) error {
	for _, n := range ns {
		label := fmt.Sprintf("notification %q", n.ID)
		if err := checkTimes(n.CreatedAt, n.NextAttemptAt, n.SentAt); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		dedupe, state := n.DedupeKey, n.State
		if dedupe == "" {
			dedupe = n.ID
		}
		if state == "" {
			state = store.NotificationPending
		}
		q.add(label, insertNotificationSQL, n.ID, dedupe, n.Kind, n.Channel, n.Recipient, n.Account,
			nonNil(n.Payload), unixNano(n.CreatedAt), unixNano(n.NextAttemptAt), int64(n.Attempts), state,
			cleanText(n.LastError), unixNano(n.SentAt))
	}
	return nil
}

// ClaimNotifications leases up to limit due pending notifications in one
// statement; see store.NotificationStore. Claims from any number of
// Stores on the database never return the same notification during its
// lease.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	until := now.Add(lease)
	if err := checkTimes(now, until); err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	type claimed struct {
		n   store.Notification
		due int64
	}
	out, err := list(ctx, s.pool, "claiming notifications", func(sc scanner) (claimed, error) {
		var c claimed
		n, err := scanNotificationPlus(sc, &c.due)
		c.n = n
		return c, err
	}, claimSQL, store.NotificationPending, unixNano(now), int64(limit), unixNano(until))
	if err != nil {
		return nil, err
	}
	// RETURNING has no order: restore the claim's.
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.due, b.due), strings.Compare(a.n.ID, b.n.ID))
	})
	ns := make([]store.Notification, len(out))
	for i, c := range out {
		ns[i] = c.n
	}
	return ns, nil
}

// MarkNotificationSent records the delivery of notification id.
func (s *Store) MarkNotificationSent(ctx context.Context, id string, at time.Time) error {
	if err := checkTimes(at); err != nil {
		return fmt.Errorf("marking notification %q sent: %w", id, err)
	}
	return s.markNotification(ctx, id, "sent", `UPDATE notifications SET state = $1, sent_at = $2,
		last_error = '' WHERE id = $3 AND state = $4`, store.NotificationSent, unixNano(at), id,
		store.NotificationPending)
}

// MarkNotificationRetry records a failed attempt and the next one's time.
func (s *Store) MarkNotificationRetry(ctx context.Context, id string, next time.Time, lastErr string) error {
	if err := checkTimes(next); err != nil {
		return fmt.Errorf("marking notification %q for retry: %w", id, err)
	}
	return s.markNotification(ctx, id, "for retry", `UPDATE notifications SET next_attempt_at = $1,
		last_error = $2 WHERE id = $3 AND state = $4`, unixNano(next), cleanText(lastErr), id, store.NotificationPending)
}

// MarkNotificationFailed gives up on notification id.
func (s *Store) MarkNotificationFailed(ctx context.Context, id string, at time.Time, lastErr string) error {
	if err := checkTimes(at); err != nil {
		return fmt.Errorf("marking notification %q failed: %w", id, err)
	}
	return s.markNotification(ctx, id, "failed", `UPDATE notifications SET state = $1, next_attempt_at = $2,
		last_error = $3 WHERE id = $4 AND state = $5`, store.NotificationFailed, unixNano(at), cleanText(lastErr), id,
		store.NotificationPending)
}

// markNotification runs an update of a pending notification; when it
// changes nothing, the notification is either final (fine) or unknown.
func (s *Store) markNotification(ctx context.Context, id, what, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("marking notification %q %s: %w", id, what, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var one int32
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM notifications WHERE id = $1`, id).Scan(&one); err != nil {
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
	args := []any{int64(limit)}
	var where []string
	if q.Account != "" {
		args = append(args, q.Account)
		where = append(where, `account = $`+strconv.Itoa(len(args)))
	}
	if q.State != "" {
		args = append(args, q.State)
		where = append(where, `state = $`+strconv.Itoa(len(args)))
	}
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT $1`
	return list(ctx, s.pool, "listing notifications", scanNotification, query, args...)
}

// cleanText makes s storable as PostgreSQL text: invalid UTF-8 and NUL
// characters become U+FFFD.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func scanNotification(sc scanner) (store.Notification, error) {
	return scanNotificationPlus(sc)
}

// scanNotificationPlus scans a notification followed by the columns
// extra point to.
func scanNotificationPlus(sc scanner, extra ...any) (store.Notification, error) {
	var n store.Notification
	var created, next, sent, attempts int64
	dest := append([]any{&n.ID, &n.DedupeKey, &n.Kind, &n.Channel, &n.Recipient, &n.Account, &n.Payload,
		&created, &next, &attempts, &n.State, &n.LastError, &sent}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return store.Notification{}, err
	}
	n.CreatedAt = fromUnixNano(created)
	n.NextAttemptAt = fromUnixNano(next)
	n.SentAt = fromUnixNano(sent)
	n.Attempts = int(attempts)
	return n, nil
}

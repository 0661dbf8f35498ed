package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// defaultNotificationLimit is what NotificationQuery.Limit 0 means.
const defaultNotificationLimit = 100

// outbox holds the notifications; its maps are guarded by Store.mu and
// made on first use.
type outbox struct {
	byID    map[string]store.Notification
	byDedup map[string]string // dedupe key → id
}

// addNotificationLocked enqueues n unless its id or dedupe key is taken.
func (s *Store) addNotificationLocked(n store.Notification) {
	o := &s.outbox
	if o.byID == nil {
		o.byID = make(map[string]store.Notification)
		o.byDedup = make(map[string]string)
	}
	n = copyNotification(n)
	if n.DedupeKey == "" {
		n.DedupeKey = n.ID
	}
	if n.State == "" {
		n.State = store.NotificationPending
	}
	if _, ok := o.byID[n.ID]; ok {
		return
	}
	if _, ok := o.byDedup[n.DedupeKey]; ok {
		return
	}
	o.byID[n.ID] = n
	o.byDedup[n.DedupeKey] = n.ID
}

// ClaimNotifications leases up to limit due pending notifications; see
// store.NotificationStore.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []store.Notification
	for _, n := range s.outbox.byID {
		if n.State == store.NotificationPending && !n.NextAttemptAt.After(now) {
			due = append(due, n)
		}
	}
	slices.SortFunc(due, func(a, b store.Notification) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(due) > limit {
		due = due[:limit]
	}
	until := utc(now.Add(lease))
	out := make([]store.Notification, len(due))
	for i, n := range due {
		n.Attempts++
		n.NextAttemptAt = until
		s.outbox.byID[n.ID] = n
		out[i] = copyNotification(n)
	}
	return out, nil
}

// MarkNotificationSent records the delivery of notification id.
func (s *Store) MarkNotificationSent(ctx context.Context, id string, at time.Time) error {
	return s.markNotification(ctx, id, func(n *store.Notification) {
		n.State = store.NotificationSent
		n.SentAt = utc(at)
		n.LastError = ""
	})
}

// MarkNotificationRetry records a failed attempt and the next one's time.
func (s *Store) MarkNotificationRetry(ctx context.Context, id string, next time.Time, lastErr string) error {
	return s.markNotification(ctx, id, func(n *store.Notification) {
		n.NextAttemptAt = utc(next)
		n.LastError = lastErr
	})
}

// MarkNotificationFailed gives up on notification id.
func (s *Store) MarkNotificationFailed(ctx context.Context, id string, at time.Time, lastErr string) error {
	return s.markNotification(ctx, id, func(n *store.Notification) {
		n.State = store.NotificationFailed
		n.NextAttemptAt = utc(at)
		n.LastError = lastErr
	})
}

func (s *Store) markNotification(ctx context.Context, id string, change func(*store.Notification)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.outbox.byID[id]
	if !ok {
		return fmt.Errorf("notification %q: %w", id, store.ErrNotFound)
	}
	if n.State != store.NotificationPending {
		return nil // sent and failed are final
	}
	change(&n)
	s.outbox.byID[id] = n
	return nil
}

// ListNotifications returns the notifications q selects, newest first.
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultNotificationLimit
	}
	s.mu.RLock()
	var out []store.Notification
	for _, n := range s.outbox.byID {
		if (q.Account == "" || n.Account == q.Account) && (q.State == "" || n.State == q.State) {
			out = append(out, n)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Notification) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i] = copyNotification(out[i])
	}
	return out, nil
}

func copyNotification(n store.Notification) store.Notification {
	n.Payload = bytes.Clone(n.Payload)
	n.CreatedAt = utc(n.CreatedAt)
	n.NextAttemptAt = utc(n.NextAttemptAt)
	n.SentAt = utc(n.SentAt)
	return n
}

// PruneNotifications deletes up to limit notifications delivered before
// before (sent then, or given up on then), oldest first.
func (s *Store) PruneNotifications(ctx context.Context, before time.Time, limit int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []store.Notification
	for _, n := range s.outbox.byID {
		if (n.State == store.NotificationSent && n.SentAt.Before(before)) ||
			(n.State == store.NotificationFailed && n.NextAttemptAt.Before(before)) {
			done = append(done, n)
		}
	}
	slices.SortFunc(done, func(a, b store.Notification) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	done = done[:min(len(done), max(limit, 1))]
	for _, n := range done {
		delete(s.outbox.byID, n.ID)
		delete(s.outbox.byDedup, n.DedupeKey)
	}
	return int64(len(done)), nil
}

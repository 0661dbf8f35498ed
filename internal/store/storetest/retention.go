package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// testPruneAudit: records received before the cut-off go, oldest first,
// at most limit a call; later ones stay; an event id pruned can be
// written again.
func testPruneAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	var b store.Batch
	for i := range 5 {
		b.Audit = append(b.Audit, audit(fmt.Sprintf("ev-%d", i), t0().Add(time.Duration(i)*time.Hour)))
	}
	write(t, s, b)
	cut := t0().Add(3 * time.Hour) // ev-0, ev-1, ev-2 are older
	for _, want := range []int64{2, 1, 0} {
		n, err := s.PruneAudit(ctx, cut, 2)
		if err != nil {
			t.Fatalf("PruneAudit: %v", err)
		}
		if n != want {
			t.Errorf("PruneAudit pruned %d, want %d", n, want)
		}
	}
	var ids []string
	for _, a := range listAudit(t, s, store.AuditQuery{}) {
		ids = append(ids, a.EventID)
	}
	if !slices.Equal(ids, []string{"ev-4", "ev-3"}) {
		t.Errorf("left after pruning: %v, want [ev-4 ev-3]", ids)
	}
	write(t, s, store.Batch{Audit: []store.AuditRecord{audit("ev-0", t0().Add(10*time.Hour))}})
	if n, err := s.CountAudit(ctx); err != nil || n != 3 {
		t.Errorf("after writing a pruned id again: %d records (%v), want 3", n, err)
	}
}

// testPruneNotifications: delivered notifications (sent, or given up on)
// before the cut-off go, oldest first; pending ones and later ones stay.
func testPruneNotifications(t *testing.T, s store.Store) {
	ctx := t.Context()
	var b store.Batch
	for _, id := range []string{"n-sent-old", "n-failed-old", "n-pending", "n-sent-new"} {
		b.Notifications = append(b.Notifications, notification(id, t0()))
	}
	write(t, s, b)
	mark := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mark(s.MarkNotificationSent(ctx, "n-sent-old", t0().Add(time.Hour)))
	mark(s.MarkNotificationFailed(ctx, "n-failed-old", t0().Add(2*time.Hour), "550 no such user"))
	mark(s.MarkNotificationSent(ctx, "n-sent-new", t0().Add(48*time.Hour)))
	n, err := s.PruneNotifications(ctx, t0().Add(24*time.Hour), 100)
	if err != nil {
		t.Fatalf("PruneNotifications: %v", err)
	}
	if n != 2 {
		t.Errorf("PruneNotifications pruned %d, want 2", n)
	}
	got := notificationIDs(listNotifications(t, s, store.NotificationQuery{}))
	slices.Sort(got)
	if !slices.Equal(got, []string{"n-pending", "n-sent-new"}) {
		t.Errorf("left after pruning: %v, want [n-pending n-sent-new]", got)
	}
}

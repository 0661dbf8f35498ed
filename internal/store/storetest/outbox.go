package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// notification returns a pending email notification with every field
// set, due at next.
func notification(id string, next time.Time) store.Notification {
	return store.Notification{
		ID:            id,
		DedupeKey:     "owner.order:u-1:" + id + ":taro@example.jp",
		Kind:          "owner.order",
		Channel:       store.ChannelEmail,
		Recipient:     "taro@example.jp",
		Account:       "u-1",
		Payload:       []byte(`{"id":"` + id + `","text":"ご注文 \"quoted\" \u0000"}`),
		CreatedAt:     next.Add(-time.Second - 7),
		NextAttemptAt: next,
		Attempts:      0,
		State:         store.NotificationPending,
	}
}

func listNotifications(t *testing.T, s store.Store, q store.NotificationQuery) []store.Notification {
	t.Helper()
	got, err := s.ListNotifications(t.Context(), q)
	if err != nil {
		t.Fatalf("ListNotifications(%+v): %v", q, err)
	}
	return got
}

func claim(t *testing.T, s store.Store, now time.Time, lease time.Duration, limit int) []store.Notification {
	t.Helper()
	got, err := s.ClaimNotifications(t.Context(), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimNotifications(%v, %v, %d): %v", now, lease, limit, err)
	}
	return got
}

func notificationIDs(ns []store.Notification) []string {
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return ids
}

func testNotificationRoundTrip(t *testing.T, s store.Store) {
	full := notification("n-1", t0())
	full.Attempts = 3
	full.LastError = "webhook answered 500"
	full.SentAt = at(time.Hour) // kept as written, whatever the state
	// Empty DedupeKey means the id; empty State means pending.
	bare := store.Notification{ID: "n-bare", Kind: "operator.incident_opened", Channel: store.ChannelWebhook,
		Recipient: "ops", CreatedAt: at(-time.Hour)}
	write(t, s, store.Batch{
		Notifications: []store.Notification{full, bare},
		Audit:         []store.AuditRecord{audit("ev-1", t0())},
	})
	wantBare := bare
	wantBare.DedupeKey = "n-bare"
	wantBare.State = store.NotificationPending
	diff(t, "ListNotifications", listNotifications(t, s, store.NotificationQuery{}),
		[]store.Notification{full, wantBare})
	if n := countAudit(t, s); n != 1 {
		t.Errorf("CountAudit = %d, want 1: the batch's other records are written too", n)
	}
	// A bare notification has a zero NextAttemptAt: it is due at once.
	diff(t, "claimed ids", notificationIDs(claim(t, s, t0(), time.Minute, 10)), []string{"n-bare", "n-1"})
}

func testNotificationDedupe(t *testing.T, s store.Store) {
	first := notification("n-1", t0())
	sameKey := notification("n-2", at(time.Hour))
	sameKey.DedupeKey = first.DedupeKey
	sameKey.Payload = []byte(`{"second":true}`)
	sameID := notification("n-1", at(time.Hour))
	sameID.DedupeKey = "other"
	keyIsOtherID := store.Notification{ID: "n-3", DedupeKey: "n-4", CreatedAt: at(2 * time.Hour)}
	bareClash := store.Notification{ID: "n-4", CreatedAt: at(3 * time.Hour)} // its key "n-4" is taken

	write(t, s, store.Batch{Notifications: []store.Notification{first}})
	write(t, s, store.Batch{Notifications: []store.Notification{sameKey}})
	write(t, s, store.Batch{Notifications: []store.Notification{sameID}})
	// Within one batch, alongside a new one: the first of a key wins.
	inBatch := notification("n-5", t0())
	inBatch.DedupeKey = "k-5"
	inBatchDup := notification("n-6", t0())
	inBatchDup.DedupeKey = "k-5"
	write(t, s, store.Batch{Notifications: []store.Notification{keyIsOtherID, bareClash, inBatch, inBatchDup}})

	wantKeyIsOtherID := keyIsOtherID
	wantKeyIsOtherID.State = store.NotificationPending
	diff(t, "ListNotifications", listNotifications(t, s, store.NotificationQuery{}),
		[]store.Notification{wantKeyIsOtherID, inBatch, first}) // n-5 and n-1 tie on CreatedAt
}

func testClaimNotifications(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(time.Hour)
	a := notification("n-a", at(30*time.Minute))
	b := notification("n-b", at(-time.Hour)) // the earliest due
	c := notification("n-c", now)            // due exactly now
	d := notification("n-d", at(30*time.Minute))
	future := notification("n-future", now.Add(time.Nanosecond))
	sent := notification("n-sent", at(-2*time.Hour))
	failed := notification("n-failed", at(-2*time.Hour))
	write(t, s, store.Batch{Notifications: []store.Notification{a, b, c, d, future, sent, failed}})
	if err := s.MarkNotificationSent(ctx, "n-sent", t0()); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotificationFailed(ctx, "n-failed", t0(), "gone"); err != nil {
		t.Fatal(err)
	}

	if got := claim(t, s, now, time.Minute, 0); len(got) != 0 {
		t.Errorf("ClaimNotifications(limit 0) = %v, want none", notificationIDs(got))
	}
	got := claim(t, s, now, 5*time.Minute, 3)
	want := []store.Notification{b, a, d} // by NextAttemptAt, ties by id
	for i := range want {
		want[i].Attempts = 1
		want[i].NextAttemptAt = now.Add(5 * time.Minute)
	}
	diff(t, "first claim", got, want)

	// Claimed ones are leased: the next claim takes what is left.
	diff(t, "second claim ids", notificationIDs(claim(t, s, now, 5*time.Minute, 10)), []string{"n-c"})
	diff(t, "third claim ids", notificationIDs(claim(t, s, now, 5*time.Minute, 10)), []string(nil))

	// The lease of a dispatcher that died ends; they come back, counted
	// again, and the future one (now the earliest due) with them.
	later := now.Add(5 * time.Minute)
	got = claim(t, s, later, time.Minute, 10)
	diff(t, "after the lease ids", notificationIDs(got), []string{"n-future", "n-a", "n-b", "n-c", "n-d"})
	attempts := map[string]int{}
	for _, n := range got {
		attempts[n.ID] = n.Attempts
	}
	diff(t, "attempts", attempts, map[string]int{"n-a": 2, "n-b": 2, "n-c": 2, "n-d": 2, "n-future": 1})

	// What the store holds matches what the claim returned.
	stored := listNotifications(t, s, store.NotificationQuery{State: store.NotificationPending})
	for _, n := range stored {
		if n.Attempts != attempts[n.ID] || !n.NextAttemptAt.Equal(later.Add(time.Minute)) {
			t.Errorf("stored %s: attempts %d, next %v; want %d, %v", n.ID, n.Attempts, n.NextAttemptAt,
				attempts[n.ID], later.Add(time.Minute))
		}
	}
}

func testMarkNotifications(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"n-1", "n-2", "n-3"} {
		write(t, s, store.Batch{Notifications: []store.Notification{notification(id, t0())}})
	}
	claim(t, s, t0(), time.Minute, 10)

	if err := s.MarkNotificationRetry(ctx, "n-1", at(time.Hour), "connection refused"); err != nil {
		t.Fatalf("MarkNotificationRetry: %v", err)
	}
	if err := s.MarkNotificationSent(ctx, "n-2", at(time.Second)); err != nil {
		t.Fatalf("MarkNotificationSent: %v", err)
	}
	if err := s.MarkNotificationFailed(ctx, "n-3", at(2*time.Second), "550 no such user"); err != nil {
		t.Fatalf("MarkNotificationFailed: %v", err)
	}
	// Sent and failed are final: later marks change nothing.
	for _, id := range []string{"n-2", "n-3"} {
		if err := s.MarkNotificationRetry(ctx, id, at(time.Hour), "late"); err != nil {
			t.Errorf("MarkNotificationRetry(%s) of a final one: %v", id, err)
		}
		if err := s.MarkNotificationSent(ctx, id, at(time.Hour)); err != nil {
			t.Errorf("MarkNotificationSent(%s) of a final one: %v", id, err)
		}
		if err := s.MarkNotificationFailed(ctx, id, at(time.Hour), "late"); err != nil {
			t.Errorf("MarkNotificationFailed(%s) of a final one: %v", id, err)
		}
	}

	n1, n2, n3 := notification("n-1", t0()), notification("n-2", t0()), notification("n-3", t0())
	n1.Attempts, n2.Attempts, n3.Attempts = 1, 1, 1
	n1.NextAttemptAt, n1.LastError = at(time.Hour), "connection refused"
	n2.State, n2.SentAt, n2.NextAttemptAt = store.NotificationSent, at(time.Second), t0().Add(time.Minute)
	n3.State, n3.LastError, n3.NextAttemptAt = store.NotificationFailed, "550 no such user", at(2*time.Second)
	diff(t, "ListNotifications", listNotifications(t, s, store.NotificationQuery{}),
		[]store.Notification{n3, n2, n1})

	// A retried one is due again at its new time, not before.
	diff(t, "claim before the retry", notificationIDs(claim(t, s, at(time.Hour-1), time.Minute, 10)), []string(nil))
	diff(t, "claim at the retry", notificationIDs(claim(t, s, at(time.Hour), time.Minute, 10)), []string{"n-1"})

	for name, mark := range map[string]func() error{
		"MarkNotificationSent":   func() error { return s.MarkNotificationSent(ctx, "n-none", t0()) },
		"MarkNotificationRetry":  func() error { return s.MarkNotificationRetry(ctx, "n-none", t0(), "x") },
		"MarkNotificationFailed": func() error { return s.MarkNotificationFailed(ctx, "n-none", t0(), "x") },
	} {
		if err := mark(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(unknown id) error = %v, want ErrNotFound", name, err)
		}
	}
}

func testListNotifications(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id, account string, created time.Time) store.Notification {
		n := notification(id, t0())
		n.Account = account
		n.CreatedAt = created
		return n
	}
	write(t, s, store.Batch{Notifications: []store.Notification{
		mk("n-a", "alice", at(time.Minute)),
		mk("n-b", "bob", t0()),
		mk("n-c", "alice", at(time.Minute)), // ties with n-a: the greater id first
		mk("n-d", "", at(time.Hour)),        // an operator alert
		mk("n-e", "alice", at(-time.Hour)),
	}})
	if err := s.MarkNotificationSent(ctx, "n-c", t0()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    store.NotificationQuery
		want []string
	}{
		{store.NotificationQuery{}, []string{"n-d", "n-c", "n-a", "n-b", "n-e"}},
		{store.NotificationQuery{Limit: 2}, []string{"n-d", "n-c"}},
		{store.NotificationQuery{Account: "alice"}, []string{"n-c", "n-a", "n-e"}},
		{store.NotificationQuery{Account: "alice", State: store.NotificationPending}, []string{"n-a", "n-e"}},
		{store.NotificationQuery{State: store.NotificationSent}, []string{"n-c"}},
		{store.NotificationQuery{State: store.NotificationFailed}, nil},
		{store.NotificationQuery{Account: "nobody"}, nil},
	}
	for _, tt := range tests {
		diff(t, fmt.Sprintf("ListNotifications(%+v) ids", tt.q),
			notificationIDs(listNotifications(t, s, tt.q)), tt.want)
	}
	var b store.Batch
	for i := range 105 {
		b.Notifications = append(b.Notifications, mk(fmt.Sprintf("n-%03d", i), "carol", at(time.Duration(i))))
	}
	write(t, s, b)
	if got := listNotifications(t, s, store.NotificationQuery{Account: "carol"}); len(got) != 100 {
		t.Errorf("ListNotifications(Limit 0) returned %d, want 100", len(got))
	}
}

// testConcurrentClaims claims from several goroutines at once: every due
// notification is claimed exactly once.
func testConcurrentClaims(t *testing.T, s store.Store) {
	const total, claimers = 60, 6
	var b store.Batch
	for i := range total {
		b.Notifications = append(b.Notifications, notification(fmt.Sprintf("n-%02d", i), at(time.Duration(i))))
	}
	write(t, s, b)
	now := at(time.Hour)
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	errs := make(chan error, claimers*total)
	for range claimers {
		wg.Go(func() {
			for {
				got, err := s.ClaimNotifications(t.Context(), now, time.Hour, 4)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					counts[n.ID]++
				}
				mu.Unlock()
				for _, n := range got {
					if err := s.MarkNotificationSent(t.Context(), n.ID, now); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(counts) != total {
		t.Errorf("%d notifications claimed, want %d", len(counts), total)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("%s claimed %d times, want once", id, c)
		}
	}
	if n := len(listNotifications(t, s, store.NotificationQuery{State: store.NotificationSent, Limit: 1000})); n != total {
		t.Errorf("%d sent, want %d", n, total)
	}
}

// testNotificationCopies checks that the payload is copied in and out.
func testNotificationCopies(t *testing.T, s store.Store) {
	n := notification("n-1", t0())
	b := store.Batch{Notifications: []store.Notification{n}}
	write(t, s, b)
	b.Notifications[0].Payload[0] = 'x'
	got := listNotifications(t, s, store.NotificationQuery{})
	diff(t, "after scribbling on the input", got, []store.Notification{notification("n-1", t0())})
	got[0].Payload[0] = 'x'
	claimed := claim(t, s, t0(), time.Minute, 1)
	if len(claimed) != 1 || string(claimed[0].Payload) != string(notification("n-1", t0()).Payload) {
		t.Errorf("claimed payload changed by scribbling on a listed copy: %+v", claimed)
	}
	if len(claimed) == 1 {
		claimed[0].Payload[0] = 'x'
	}
	want := notification("n-1", t0())
	want.Attempts = 1
	want.NextAttemptAt = t0().Add(time.Minute)
	diff(t, "after scribbling on the output", listNotifications(t, s, store.NotificationQuery{}),
		[]store.Notification{want})
}

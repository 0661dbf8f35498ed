package retention

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

func TestPrune(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	st := memory.New()
	var b store.Batch
	for i := range 250 { // one a day, the newest received now
		at := now.AddDate(0, 0, -i)
		b.Audit = append(b.Audit, store.AuditRecord{EventID: fmt.Sprintf("ev-%03d", i), ReceivedAt: at, OccurredAt: at})
	}
	for i := range 60 {
		b.Notifications = append(b.Notifications, store.Notification{ID: fmt.Sprintf("n-%02d", i), Kind: "owner.order",
			Channel: store.ChannelEmail, Recipient: "a@example.jp", CreatedAt: now.AddDate(0, 0, -i), NextAttemptAt: now})
	}
	if err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if err := st.MarkNotificationSent(ctx, fmt.Sprintf("n-%02d", i), now.AddDate(0, 0, -i)); err != nil {
			t.Fatal(err)
		}
	}
	p := New(Config{Batch: 7, Pause: time.Millisecond}, st, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	got, err := p.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// Days 91..249 of the audit log and 31..59 of the outbox are past the
	// defaults (90 and 30 days); day 90 and day 30 are exactly on the edge
	// and stay.
	if want := (Pruned{Audit: 159, Notifications: 29}); got != want {
		t.Errorf("pruned %+v, want %+v", got, want)
	}
	if n, _ := st.CountAudit(ctx); n != 91 {
		t.Errorf("%d audit records left, want 91", n)
	}
	if again, _ := p.Prune(ctx, now); again != (Pruned{}) {
		t.Errorf("a second round pruned %+v, want nothing", again)
	}
}

func TestProblems(t *testing.T) {
	if errs := (Config{}).Problems(); len(errs) != 0 {
		t.Errorf("zero config: %v", errs)
	}
	errs := Config{AuditDays: -1, Batch: -2, Every: -time.Second}.Problems()
	if len(errs) != 3 {
		t.Errorf("problems %v, want 3", errs)
	}
}

package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// TestBurstDeniedAtDoor: a shop that asks before checking the password
// (login.attempt) and stops at a deny sends no login.failed; a burst
// stopped that way still opens an incident within a minute, with its
// attempts, source and accounts (outcome denied).
func TestBurstDeniedAtDoor(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st)
	// Half an hour of owners, so the campaign detector is past learning.
	for i := range 30 {
		ev := login(t, "login.succeeded", fmt.Sprintf("owner%d", i), fmt.Sprintf("203.0.113.%d", i+1), "d-own", t0.Add(time.Duration(i)*time.Minute))
		if _, err := e.Assess(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	start := t0.Add(31 * time.Minute)
	denied := 0
	for i := range 600 {
		ev := decode(t, `{"type": "login.attempt", "occurred_at": %q, "login": "victim%d@example.jp",
			"context": {"ip": "198.51.100.7", "user_agent": "python-requests/2.32.3"}}`,
			start.Add(time.Duration(i)*200*time.Millisecond).Format(time.RFC3339Nano), i)
		r, err := e.Assess(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if r.Decision == policy.Deny {
			denied++
		}
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	incs, err := st.ListIncidents(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if denied != 600 || len(incs) != 1 {
		t.Fatalf("denied %d of 600, %d incidents; want 600 and 1", denied, len(incs))
	}
	inc := incs[0]
	if d := inc.StartedAt.Sub(start); d < 0 || d > time.Minute {
		t.Errorf("incident opened %v after the burst began, want within a minute", d)
	}
	accts, err := st.ListIncidentAccounts(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Attempts < 500 || len(accts) < 500 {
		t.Errorf("incident: %d attempts, %d logins tried; want the burst's (about 600 each)", inc.Attempts, len(accts))
	}
	for _, a := range accts {
		if a.Outcome != store.OutcomeDenied {
			t.Fatalf("account %s: outcome %q, want %q", a.Account, a.Outcome, store.OutcomeDenied)
		}
	}
}

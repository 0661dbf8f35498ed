package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// counts is the shape of a batch: how many records of each kind.
type counts struct {
	Audit, Challenges, Incidents, Accounts, Profiles, Reviews, Notifications, Contacts int
}

func countsOf(b store.Batch) counts {
	return counts{len(b.Audit), len(b.Challenges), len(b.Incidents), len(b.IncidentAccounts), len(b.Profiles), len(b.Reviews), len(b.Notifications), len(b.Contacts)}
}

// TestRecord checks the record phase alone: what it writes for a decided
// event, with fixed times and no I/O.
func TestRecord(t *testing.T) {
	p, err := notify.NewPlanner(notify.Config{SMTP: notify.SMTPConfig{Host: "127.0.0.1", From: "Shop <security@example.jp>"},
		OperatorEmails: []string{"soc@example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, "", memory.New(), func(d *Deps) { d.Notifications = p })
	received := t0.Add(time.Second)
	order := decode(t, `{"type": "order.attempt", "occurred_at": %q, "user": {"id": "u-1"}, "session_id": "s-1", "context": {"ip": "203.0.113.7"},
		"properties": {"order": {"id": "o-1", "amount": 120000, "currency": "JPY", "items": [{"sku": "iphone-16", "quantity": 1, "unit_price": 120000}]}}}`, t0.Format(time.RFC3339))
	ch := store.Challenge{ID: "ch_1", UserID: "u-1", State: store.ChallengePending}
	inc := store.Incident{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: t0}
	for _, tc := range []struct {
		name  string
		ev    string // "login" or "order"
		res   Result
		obs   observation
		l     learned
		want  counts
		check func(t *testing.T, b store.Batch)
	}{
		{
			name: "allowed login: the audit record only",
			ev:   "login", res: Result{EventID: "ev_1", Decision: policy.Allow, Reasons: []policy.Reason{}},
			want: counts{Audit: 1},
			check: func(t *testing.T, b store.Batch) {
				got := b.Audit[0]
				if got.EventID != "ev_1" || got.Decision != "allow" || !got.ReceivedAt.Equal(received) || !got.OccurredAt.Equal(t0) || len(got.PasswordHMAC) != 16 {
					t.Errorf("audit record %+v", got)
				}
			},
		},
		{
			name: "challenged login: the challenge, its id in the audit record",
			ev:   "login", res: Result{EventID: "ev_2", Decision: policy.Challenge, Challenge: &ch},
			want: counts{Audit: 1, Challenges: 1},
			check: func(t *testing.T, b store.Batch) {
				if b.Audit[0].ChallengeID != "ch_1" || b.Challenges[0].ID != "ch_1" {
					t.Errorf("challenge %+v, audit %+v", b.Challenges[0], b.Audit[0])
				}
			},
		},
		{
			name: "an incident opened and an account reached: written and announced",
			ev:   "login", res: Result{EventID: "ev_3", Decision: policy.Deny, IncidentID: "inc_1"},
			obs:  observation{trans: transitions{incidents: []store.Incident{inc}, opened: []store.Incident{inc}}},
			l:    learned{accounts: []store.IncidentAccount{{IncidentID: "inc_1", Account: "u-1"}}},
			want: counts{Audit: 1, Incidents: 1, Accounts: 1, Notifications: 1},
		},
		{
			name: "held order: a review carrying the reasons, and the owner's notice",
			ev:   "order", res: Result{EventID: "ev_4", ReviewID: "rv_1", Decision: policy.Review, Reasons: []policy.Reason{{Code: "order.high_value"}}},
			l:    learned{contacts: contactsUpdate{owner: true, write: true, h: notify.ContactHistory{Email: "a@example.jp"}}},
			want: counts{Audit: 1, Reviews: 1, Contacts: 1, Notifications: 1},
			check: func(t *testing.T, b store.Batch) {
				want := store.Review{ID: "rv_1", EventID: "ev_4", UserID: "u-1", SessionID: "s-1", OrderID: "o-1", Amount: 120000,
					Currency: "JPY", State: store.ReviewPending, CreatedAt: t0, Reasons: []string{"order.high_value"}}
				if diff := cmp.Diff(want, b.Reviews[0]); diff != "" {
					t.Errorf("review (-want +got):\n%s", diff)
				}
				if c := b.Contacts[0]; c.UserID != "u-1" || c.Email != "a@example.jp" || !c.UpdatedAt.Equal(t0) {
					t.Errorf("contact history %+v", c)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := login(t, "login.succeeded", "u-1", "203.0.113.7", "d-1", t0)
			ev.Credential.HasPassword = true
			if tc.ev == "order" {
				ev = order
			}
			tc.obs.now = t0
			b := e.record(store.Batch{}, &ev, &tc.obs, tc.res, tc.l, received)
			if got := countsOf(b); got != tc.want {
				t.Fatalf("records %+v, want %+v", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, b)
			}
			// Appending keeps what dst held.
			again := e.record(b, &ev, &tc.obs, tc.res, tc.l, received)
			if got, want := countsOf(again).Audit, 2*tc.want.Audit; got != want {
				t.Errorf("after a second record: %d audit records, want %d", got, want)
			}
		})
	}
}

// TestAuditSealsPeople: with a sealer, the audit log keeps no email,
// login or shipping address in clear; an unknown login is kept as its
// pseudonym, which AuditAccount gives for lookups; and a restart still
// replays the sealed events.
func TestAuditSealsPeople(t *testing.T) {
	ctx := t.Context()
	keys, err := stepup.ParseKeys(stepup.NewKeyEntry("k1"))
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	e := newEngine(t, "", st, func(d *Deps) { d.Sealer = keys })
	owner := decode(t, `{"type": "login.succeeded", "occurred_at": %q, "login": "Taro.Owner@Example.jp",
		"user": {"id": "u-1", "email": "taro.owner@example.jp"}, "context": {"ip": "203.0.113.7", "device_id": "d-1"}}`, t0.Format(time.RFC3339))
	order := decode(t, `{"type": "order.attempt", "occurred_at": %q, "user": {"id": "u-1"}, "context": {"ip": "203.0.113.7"},
		"properties": {"order": {"id": "o-1", "amount": 1000, "currency": "JPY", "items": [{"sku": "case", "quantity": 1, "unit_price": 1000}],
		"shipping": {"name": "山田太郎", "postal_code": "100-0001", "line1": "千代田1-1"}}}}`, t0.Add(time.Minute).Format(time.RFC3339))
	stranger := decode(t, `{"type": "login.failed", "occurred_at": %q, "login": "victim@mail.example",
		"context": {"ip": "198.51.100.9"}, "properties": {"reason": "unknown_account"}}`, t0.Add(2*time.Minute).Format(time.RFC3339))
	for _, ev := range []event.Event{owner, order, stranger} {
		if _, err := e.Assess(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := st.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 3 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		blob := string(r.Event) + r.Login + r.Account
		for _, person := range []string{"taro.owner", "victim@mail.example", "山田太郎", "千代田", "100-0001"} {
			if strings.Contains(blob, person) {
				t.Errorf("audit record %s keeps %q in clear", r.EventID, person)
			}
		}
	}
	if got, err := st.ListAudit(ctx, store.AuditQuery{Account: e.AuditAccount("victim@mail.example")}); err != nil || len(got) != 1 {
		t.Errorf("looking the unknown login up by its pseudonym: %d records, %v", len(got), err)
	}
	again := newEngine(t, "", st, func(d *Deps) { d.Sealer = keys })
	if err := again.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if got := again.Recovered().Replayed; got != 3 {
		t.Errorf("a restart replayed %d sealed events, want 3", got)
	}
}

package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/store"
)

// RunRestart checks that what a durable backend was told to keep is there
// when it opens again: open opens the same database each time it is
// called, and the store it returns is closed by RunRestart.
func RunRestart(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+09:00", 9*3600)
	t0 := time.Date(2026, time.November, 25, 23, 59, 59, 999999999, zone)
	b := store.Batch{
		Audit: []store.AuditRecord{{
			EventID: "ev-1", ReceivedAt: t0, OccurredAt: t0.Add(-time.Second), Type: "login.succeeded",
			Account: "u1", Login: "a@example.com", IP: "192.0.2.1", SessionID: "s", RequestID: "r",
			Decision: "allow", Risk: 5, Reasons: []string{"ok"}, IncidentID: "inc-1", ChallengeID: "ch-1",
			PasswordHMAC: []byte{1, 2, 3}, Event: []byte(`{}`),
		}},
		Profiles: []store.Profile{{Account: "u1", Data: []byte("p"), UpdatedAt: t0}},
		Incidents: []store.Incident{{
			ID: "inc-1", Kind: "stuffing", State: store.IncidentOpen, StartedAt: t0, Attempts: 10,
			DistinctIPs: 9, DistinctPrefixes: 3, AccountsTargeted: 8, AccountsCompromised: 1,
			TopSources: []store.Source{{Kind: "ip", Value: "192.0.2.1", Attempts: 4}}, UpdatedAt: t0,
		}},
		IncidentAccounts: []store.IncidentAccount{{
			IncidentID: "inc-1", Account: "u1", Known: true, Outcome: store.OutcomeAllowed,
			Attempts: 1, FirstSeen: t0, LastSeen: t0,
		}},
		Challenges: []store.Challenge{{
			ID: "ch-1", UserID: "u1", SessionID: "s", Purpose: "login", Methods: []string{"totp"},
			State: store.ChallengePending, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute),
			EventID: "ev-1", IncidentID: "inc-1",
		}},
		Notifications: []store.Notification{{ID: "n-1", Kind: "owner.new_device_login",
			Channel: store.ChannelEmail, Recipient: "a@example.com", Account: "u1",
			Payload: []byte(`{}`), CreatedAt: t0, NextAttemptAt: t0, State: store.NotificationPending,
			DedupeKey: "n-1"}},
		Reviews: []store.Review{{ID: "rv-1", EventID: "ev-1", UserID: "u1", OrderID: "o-1", Amount: 100,
			Currency: "JPY", Reasons: []string{"order.high_value"}, State: store.ReviewPending, CreatedAt: t0}},
		Contacts: []store.Contacts{{UserID: "u1", Email: "b@example.com",
			Changes: []store.ContactChange{{From: "a@example.com", At: t0.Add(-time.Hour)}}, UpdatedAt: t0}},
	}
	key := store.APIKey{ID: "k1", Name: "shop", Hash: []byte("h"), Scopes: []string{store.ScopeEvents}, CreatedAt: t0}
	factor := store.Factor{ID: "f-1", UserID: "u1", Type: store.FactorTOTP, Name: "phone",
		Secret: []byte("sealed"), Confirmed: true, CreatedAt: t0, TOTPLastStep: 7}

	s := open(t)
	for _, w := range []struct {
		what string
		err  error
	}{
		{"Write", s.Write(ctx, b)},
		{"PutKey", s.PutKey(ctx, key)},
		{"PutState", s.PutState(ctx, "campaign", []byte("state"))},
		{"PutFactor", s.PutFactor(ctx, factor)},
		{"Close", s.Close()},
	} {
		if w.err != nil {
			t.Fatalf("%s: %v", w.what, w.err)
		}
	}

	s = open(t)
	defer s.Close()
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if d := cmp.Diff(want, got, cmpOptions()); d != "" {
			t.Errorf("%s after restart (-want +got):\n%s", what, d)
		}
	}
	audit, err := s.ListAudit(ctx, store.AuditQuery{})
	check("ListAudit", audit, b.Audit, err)
	p, err := s.GetProfile(ctx, "u1")
	check("GetProfile", p, b.Profiles[0], err)
	incs, err := s.ListIncidents(ctx, "")
	check("ListIncidents", incs, b.Incidents, err)
	ias, err := s.ListIncidentAccounts(ctx, "inc-1")
	check("ListIncidentAccounts", ias, b.IncidentAccounts, err)
	c, err := s.GetChallenge(ctx, "ch-1")
	check("GetChallenge", c, b.Challenges[0], err)
	k, err := s.KeyByHash(ctx, []byte("h"))
	check("KeyByHash", k, key, err)
	st, err := s.GetState(ctx, "campaign")
	check("GetState", st, []byte("state"), err)
	n, err := s.CountAudit(ctx)
	check("CountAudit", n, int64(1), err)
	ns, err := s.ListNotifications(ctx, store.NotificationQuery{})
	check("ListNotifications", ns, b.Notifications, err)
	rv, err := s.GetReview(ctx, "rv-1")
	check("GetReview", rv, b.Reviews[0], err)
	ct, err := s.GetContacts(ctx, "u1")
	check("GetContacts", ct, b.Contacts[0], err)
	f, err := s.GetFactor(ctx, "f-1")
	check("GetFactor", f, factor, err)
	if ok, err := s.AdvanceTOTPStep(ctx, "f-1", 7, t0); err != nil || ok {
		t.Errorf("AdvanceTOTPStep(the stored step) after restart = %v, %v; want false (a replay)", ok, err)
	}
}

// RunOpenCancelled checks that a backend's open with a context already
// cancelled fails with context.Canceled.
func RunOpenCancelled(t *testing.T, open func(ctx context.Context) (store.Store, error)) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := open(ctx)
	if err == nil {
		s.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open error = %v, want context.Canceled", err)
	}
}

// OpenFailure is a way of opening a backend that must fail.
type OpenFailure struct {
	Name    string
	Open    func(ctx context.Context) (store.Store, error)
	WantErr string // the start of the error message
	WantIs  error  // nil: any
	Secret  string // must not be in the message (a password); empty: none
}

// RunOpenFailures checks that each way of opening fails as it should.
func RunOpenFailures(t *testing.T, failures []OpenFailure) {
	for _, tt := range failures {
		t.Run(tt.Name, func(t *testing.T) {
			s, err := tt.Open(t.Context())
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want error %q", tt.WantErr)
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.WantErr) {
				t.Errorf("Open error = %q, want it to start with %q", got, tt.WantErr)
			}
			if tt.WantIs != nil && !errors.Is(err, tt.WantIs) {
				t.Errorf("Open error = %v, want errors.Is %v", err, tt.WantIs)
			}
			if tt.Secret != "" && strings.Contains(err.Error(), tt.Secret) {
				t.Errorf("Open error = %q shows the password", err)
			}
		})
	}
}

package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// TestSweepAbandonedChallenges: a challenge that expired unanswered is
// counted once as a failed step-up of its account and marks the account
// challenge_abandoned in its incident; an answered or unexpired one is
// not; a second sweep, or one after a restart, counts nothing again; an
// instance with peers does not sweep.
func TestSweepAbandonedChallenges(t *testing.T) {
	ctx := context.Background()
	at := t0.Add(time.Hour) // the challenged login; TTL 5 minutes
	for _, tc := range []struct {
		name        string
		answer      string        // "": none; else the mfa.* event type
		answerAfter time.Duration // from the challenged login; after the sweeps when later than sweepAfter
		sweepAfter  time.Duration // from the challenged login
		restart     bool          // a new engine on the same records sweeps again
		peers       bool          // the engine has other instances (it does not sweep)
		wantState   string
		wantFails   int
		wantOutcome string
	}{
		{"expired unanswered", "", 0, 10 * time.Minute, false, false, store.ChallengeExpired, 1, store.OutcomeChallengeAbandoned},
		{"expired at the second", "", 0, 5 * time.Minute, false, false, store.ChallengeExpired, 1, store.OutcomeChallengeAbandoned},
		{"answered", "mfa.succeeded", time.Minute, 10 * time.Minute, false, false, store.ChallengePassed, 0, store.OutcomeChallengePassed},
		{"answered wrong once", "mfa.failed", time.Minute, 10 * time.Minute, false, false, store.ChallengeExpired, 2, store.OutcomeChallengeAbandoned},
		{"expiry reported by the shop", "mfa.failed", 6 * time.Minute, 10 * time.Minute, false, false, store.ChallengeExpired, 1, store.OutcomeChallengeAbandoned},
		{"expiry reported by the shop after the sweep", "mfa.failed", 12 * time.Minute, 10 * time.Minute, false, false, store.ChallengeExpired, 1, store.OutcomeChallengeAbandoned},
		{"not yet expired", "", 0, 4 * time.Minute, false, false, store.ChallengePending, 0, store.OutcomeChallenged},
		{"restart", "", 0, 10 * time.Minute, true, false, store.ChallengeExpired, 1, store.OutcomeChallengeAbandoned},
		{"several instances", "", 0, 10 * time.Minute, false, true, store.ChallengePending, 0, store.OutcomeChallenged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			e := newEngine(t, stepUpNewDevices, st)
			if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); err != nil {
				t.Fatal(err)
			}
			incID := e.tracker.Open(incident.KindCredentialStuffing, at).ID
			r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "198.51.100.4", "d-new", at))
			if err != nil || r.Challenge == nil {
				t.Fatalf("new device: %+v, %v", r, err)
			}
			// The incident's traffic challenged the account.
			e.tracked(e.tracker, &e.mu, &e.lastIncSave, incident.Hit{Account: "u-1", Known: true, Succeeded: true, IP: "198.51.100.4", Outcome: store.OutcomeChallenged}, at, &learned{})
			ch, _ := st.GetChallenge(ctx, r.Challenge.ID)
			ch.IncidentID = incID
			if err := st.Write(ctx, store.Batch{Challenges: []store.Challenge{ch}}); err != nil {
				t.Fatal(err)
			}
			answer := func(e *Engine) {
				if _, err := e.Assess(ctx, decode(t, `{"type": %q, "occurred_at": %q, "user": {"id": "u-1"},
					"context": {"ip": "198.51.100.4", "device_id": "d-new"}, "properties": {"challenge_id": %q}}`,
					tc.answer, at.Add(tc.answerAfter).Format(time.RFC3339), ch.ID)); err != nil {
					t.Fatal(err)
				}
			}
			late := tc.answerAfter > tc.sweepAfter
			if tc.answer != "" && !late {
				answer(e)
			}
			if tc.peers {
				e.peers = peer{&hub{claims: map[string]claim{}}, 0}
			}
			now := at.Add(tc.sweepAfter)
			sweeps := []*Engine{e, e}
			if tc.restart {
				sweeps[1] = newEngine(t, stepUpNewDevices, st)
				sweeps[1].tracker = e.tracker // the incident as the restart restores it
			}
			for _, s := range sweeps {
				if err := s.sweepAbandoned(ctx, now); err != nil {
					t.Fatal(err)
				}
			}
			if tc.answer != "" && late {
				answer(sweeps[1])
			}
			got, _ := st.GetChallenge(ctx, ch.ID)
			if got.State != tc.wantState {
				t.Errorf("challenge state %q, want %q", got.State, tc.wantState)
			}
			f, err := sweeps[1].familiar.Assess(ctx, "u-1", familiarity.Context{}, at.Add(time.Hour)) // after every answer
			if err != nil {
				t.Fatal(err)
			}
			wantAbandoned := 0
			if tc.wantOutcome == store.OutcomeChallengeAbandoned {
				wantAbandoned = 1
			}
			if f.MFAFailures != tc.wantFails || f.ChallengesAbandoned != wantAbandoned {
				t.Errorf("failed step-ups %d, abandoned %d; want %d, %d", f.MFAFailures, f.ChallengesAbandoned, tc.wantFails, wantAbandoned)
			}
			accts, err := st.ListIncidentAccounts(ctx, incID)
			if err != nil {
				t.Fatal(err)
			}
			outcome := store.OutcomeChallenged // the hit's row, unless a change was written
			for _, a := range accts {
				if a.Account == "u-1" {
					outcome = a.Outcome
				}
			}
			if outcome != tc.wantOutcome {
				t.Errorf("incident outcome %q, want %q", outcome, tc.wantOutcome)
			}
		})
	}
}

// TestAbandonedChallengeSparesTheOwner: after a challenge of the account
// expired unanswered, a login from a new device and network is stepped up
// (account.challenge_abandoned), the owner's from a familiar device is
// not.
func TestAbandonedChallengeSparesTheOwner(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, ip, device string
		want             policy.Decision
		wantReason       bool
	}{
		{"familiar device", "203.0.113.7", "d-home", policy.Allow, false},
		{"new device and network", "192.0.2.44", "d-new-phone", policy.Challenge, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			e := newEngine(t, "", st)
			for d := range 5 {
				if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0.Add(time.Duration(d)*24*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			at := t0.Add(5 * 24 * time.Hour)
			ch := store.Challenge{ID: "ch-walked-away", UserID: "u-1", Purpose: "login", State: store.ChallengePending,
				CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute), IP: "198.51.100.66", DeviceID: "d-attacker"}
			if err := st.Write(ctx, store.Batch{Challenges: []store.Challenge{ch}}); err != nil {
				t.Fatal(err)
			}
			if err := e.sweepAbandoned(ctx, at.Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", tc.ip, tc.device, at.Add(2*time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			reason := slices.Contains(codes(r.Reasons), "account.challenge_abandoned")
			if r.Decision != tc.want || reason != tc.wantReason {
				t.Errorf("login: %s %v, want %s (account.challenge_abandoned: %v)", r.Decision, codes(r.Reasons), tc.want, tc.wantReason)
			}
		})
	}
}

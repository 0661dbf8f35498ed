package simulate

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/traffic"
)

// challengeOwners is a guard that challenges every owner's successful
// login and keeps what it was sent, batch by batch.
type challengeOwners struct {
	batches [][]client.Event
}

func (g *challengeOwners) AssessRaw(_ context.Context, evs []json.RawMessage) ([]client.Result, error) {
	var batch []client.Event
	out := make([]client.Result, len(evs))
	for i, raw := range evs {
		var ev client.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		batch = append(batch, ev)
		out[i].Decision = client.Allow
		if ev.Type == client.LoginSucceeded && ev.Login == "owner@example.jp" {
			out[i].Decision, out[i].Challenge = client.Challenge, &client.ChallengeOffer{ID: "ch-" + ev.RequestID}
		}
	}
	g.batches = append(g.batches, batch)
	return out, nil
}

// TestShopPlayer: owners answer their step-ups 20 s later, in a later
// batch and in time order; PlayUntil stops at its bound; the tally counts
// the owners' friction and the crew's stolen logins.
func TestShopPlayer(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC)
	ev := func(at time.Duration, typ, login, id string, l traffic.Label) traffic.Labeled {
		raw, _ := json.Marshal(client.Event{Type: typ, OccurredAt: t0.Add(at), RequestID: id, Login: login,
			User: &client.User{ID: "u-" + login}, Context: client.Context{IP: "198.51.100.7"}})
		return traffic.Labeled{Label: l, Event: raw}
	}
	owner := traffic.Label{Actor: traffic.ActorOwner, Phase: traffic.PhaseEval, AccountExists: true}
	crew := traffic.Label{Actor: traffic.ActorAttacker, Phase: traffic.PhaseEval, AccountExists: true, ValidCredential: true}
	evs := []traffic.Labeled{
		ev(0, client.LoginSucceeded, "owner@example.jp", "1", owner),
		ev(10*time.Second, client.LoginSucceeded, "victim@example.jp", "2", crew),
		ev(30*time.Second, client.LoginSucceeded, "other@example.jp", "3", owner),
		ev(2*time.Minute, client.LoginSucceeded, "victim2@example.jp", "4", crew),
	}
	g := &challengeOwners{}
	p := NewShopPlayer(g, evs)
	if err := p.PlayUntil(context.Background(), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range g.batches {
		s := ""
		for _, e := range b {
			s += e.Type + "@" + e.OccurredAt.Sub(t0).String() + " "
		}
		got = append(got, s)
	}
	want := []string{
		"login.succeeded@0s login.succeeded@10s ",
		"mfa.succeeded@20s login.succeeded@30s ",
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("batches until 1m:\n got %q\nwant %q", got, want)
	}
	if p.Done() {
		t.Fatal("done before the last event")
	}
	if err := p.PlayUntil(context.Background(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	o := p.Outcome()
	if !p.Done() || o.OwnerLogins != 2 || o.OwnerChallenged != 1 || o.StolenLogins != 2 || o.StolenLetIn != 2 || o.CrewAttempts != 2 {
		t.Errorf("outcome %+v, done %v: want 2 owners' logins (1 challenged), 2 stolen logins let in of 2 attempts", o, p.Done())
	}
}

// TestTwoShopsTraffic: shop A's traffic holds the crew's visit Lag
// before shop B's, in time order, with the logins A does not have failed
// as unknown.
func TestTwoShopsTraffic(t *testing.T) {
	sc, err := FederatedScenario()
	if err != nil {
		t.Fatal(err)
	}
	sc.Owners.Accounts, sc.Warmup, sc.Duration = 300, 0, traffic.Duration(14*time.Hour)
	sc.Attacks[0].Duration, sc.Attacks[0].SourceIPs = traffic.Duration(time.Hour), 100
	a, b, err := TwoShopsTraffic(Federated{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	first := func(ls []traffic.Labeled) (at time.Time, n, unknown int) {
		var last time.Time
		for _, l := range ls {
			var ev client.Event
			if err := json.Unmarshal(l.Event, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.OccurredAt.Before(last) {
				t.Fatalf("events out of order at %v", ev.OccurredAt)
			}
			last = ev.OccurredAt
			if l.Label.Actor != traffic.ActorAttacker || (ev.Type != client.LoginSucceeded && ev.Type != client.LoginFailed) {
				continue
			}
			if at.IsZero() {
				at = ev.OccurredAt
			}
			n++
			if ev.Properties != nil && ev.Properties.Reason == client.ReasonUnknownAccount {
				unknown++
			}
		}
		return at, n, unknown
	}
	atA, nA, unknownA := first(a)
	atB, nB, unknownB := first(b)
	if nA != nB || nA == 0 || !atA.Equal(atB.Add(-DefaultLag)) {
		t.Errorf("crew at A: %d attempts from %v; at B: %d from %v; want the same attempts an hour earlier", nA, atA, nB, atB)
	}
	if unknownA <= unknownB {
		t.Errorf("unknown logins: %d at A, %d at B; want more at A (B's customers are not A's)", unknownA, unknownB)
	}
}

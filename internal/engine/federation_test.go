package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

var testFedKey = federation.Key("federation-key-federation-key-federation-key")

// fakeFacts is a PeerFacts holding facts by kind and subject.
type fakeFacts map[federation.Kind]map[string]bool

func (f fakeFacts) Lookup(kind federation.Kind, subject string, now time.Time) federation.Match {
	if f[kind][subject] {
		return federation.Match{Peers: []string{"https://peer.example"}, Count: 1, Confidence: 0.7}
	}
	return federation.Match{}
}

// recorder is a Publisher keeping what it was given, failing while fail
// is set; it sends to two peers.
type recorder struct {
	got  [][]federation.Fact
	fail bool
}

func (r *recorder) Recipients() []string { return []string{"https://a.example", "https://b.example"} }

func (r *recorder) Publish(_ context.Context, facts []federation.Fact) error {
	if r.fail {
		return errors.New("peer out of reach")
	}
	r.got = append(r.got, facts)
	return nil
}

func TestPeerFactsReachThePolicy(t *testing.T) {
	listed := fakeFacts{federation.ComboListed: {testFedKey.Hash(domainLogin, "u1@example.jp"): true}}
	e := newEngine(t, "", memory.New(), func(d *Deps) { d.Federation = &Federation{Key: testFedKey, Facts: listed} })
	// u1 has history from home; then a correct password from elsewhere.
	for i := range 3 {
		mustAssessT(t, e, login(t, "login.succeeded", "u1", "198.51.100.7", "d-home", t0.Add(time.Duration(i)*time.Hour)))
	}
	r := mustAssessT(t, e, login(t, "login.succeeded", "u1", "203.0.113.9", "d-other", t0.Add(4*time.Hour)))
	if r.Decision != policy.Challenge || !slices.ContainsFunc(r.Reasons, func(x policy.Reason) bool { return x.Code == "peer.combo_listed" }) {
		t.Errorf("listed login from a stranger: %s %v, want a challenge with peer.combo_listed", r.Decision, r.Reasons)
	}
	if d := cmp.Diff([]string{ActionRequirePasswordChange}, r.Actions); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	home := mustAssessT(t, e, login(t, "login.succeeded", "u1", "198.51.100.7", "d-home", t0.Add(5*time.Hour)))
	if home.Decision != policy.Allow {
		t.Errorf("listed login at home: %s, want allow", home.Decision)
	}
}

func mustAssessT(t *testing.T, e *Engine, ev event.Event) Result {
	t.Helper()
	r, err := e.Assess(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFactsAreToldOnceDurableDeduplicatedAndBounded: what the engine
// tells is deduplicated and bounded, only the facts of events whose
// records are durable are told, and a restart (the audit log replayed)
// tells nothing again. What was told survives the restart in the
// publisher's queue (package ssf's outbox, TestOutboxSurvivesRestart);
// what was learned and not yet told does not: it is best-effort.
func TestFactsAreToldOnceDurableDeduplicatedAndBounded(t *testing.T) {
	t.Run("deduplicated and bounded", func(t *testing.T) {
		now := t0
		f := newFedState(&Federation{Key: testFedKey, Config: federation.Config{MaxFacts: 10}, Publisher: &recorder{}})
		fact := func(kind federation.Kind, subject string) federation.Fact {
			return federation.Fact{Kind: kind, Subject: subject, Incident: "inc_1", Count: 1, LastSeen: now, Expires: now.Add(time.Hour)}
		}
		f.learned([]federation.Fact{fact(federation.ComboListed, "a"), fact(federation.ComboListed, "a"), fact(federation.CampaignSource, "p")})
		got := f.due(now)
		if len(got) != 1 || got[0].Subject != "a" || got[0].Count != 2 {
			t.Fatalf("first publication = %+v, want combo_listed a (count 2) alone: one sighting of a prefix is not enough", got)
		}
		f.learned([]federation.Fact{fact(federation.ComboListed, "a"), fact(federation.CampaignSource, "p")})
		got = f.due(now)
		if len(got) != 1 || got[0].Kind != federation.CampaignSource {
			t.Errorf("second publication = %+v, want the prefix alone (a grew 2 → 3, not doubled)", got)
		}
		f.learned([]federation.Fact{fact(federation.ComboListed, "a")})
		if got := f.due(now); len(got) != 1 || got[0].Count != 4 {
			t.Errorf("third publication = %+v, want a again (count doubled to 4)", got)
		}
		if got := f.due(now); len(got) != 0 {
			t.Errorf("nothing new, yet published %+v", got)
		}
		for i := range 30 {
			f.learned([]federation.Fact{fact(federation.ComboListed, string(rune('b'+i)))})
		}
		if len(f.told) > 10 {
			t.Errorf("%d facts held, want at most max_facts 10", len(f.told))
		}
	})
	t.Run("once durable, and not again after a restart", func(t *testing.T) {
		ctx := context.Background()
		rec := &recorder{}
		st := &flakyWriter{Store: memory.New(), fail: true}
		fed := func(d *Deps) { d.Federation = &Federation{Key: testFedKey, Publisher: rec} }
		e := newEngine(t, "", st, fed)
		subject, _ := e.fed.loginSubject("u1@example.jp")
		e.fed.victim("u1", subject)
		reset := decode(t, `{"type": "password.changed", "occurred_at": %q, "user": {"id": "u1"}, "context": {"ip": "198.51.100.7"}}`, t0.Format(time.RFC3339))
		if _, err := e.Assess(ctx, reset); err == nil {
			t.Fatal("a failed write reported no error")
		}
		if err := e.publishFacts(ctx, t0); err != nil {
			t.Fatal(err)
		}
		if len(rec.got) != 0 {
			t.Fatalf("an event whose write failed was told: %+v", rec.got)
		}
		st.fail = false
		mustAssessT(t, e, reset) // the shop sends it again
		mustAssessT(t, e, reset) // and once more
		if err := e.publishFacts(ctx, t0); err != nil {
			t.Fatal(err)
		}
		want := []federation.Fact{{Kind: federation.CredentialChanged, Subject: subject, SubjectFormat: federation.SubjectLoginHash,
			Count: 1, FirstSeen: t0, LastSeen: t0, Confidence: confCompromised, Expires: t0.Add(federation.Config{}.TTL(federation.CredentialChanged))}}
		if d := cmp.Diff([][]federation.Fact{want}, rec.got); d != "" {
			t.Fatalf("told (-want +got):\n%s", d)
		}

		again := newEngine(t, "", st, fed)
		if err := again.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		if n := again.Recovered().Replayed; n != 2 {
			t.Errorf("a restart replayed %d events, want the 2 on record", n)
		}
		if err := again.publishFacts(ctx, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([][]federation.Fact{want}, rec.got); d != "" {
			t.Errorf("told after a restart (-want +got):\n%s", d)
		}
	})
}

// flakyWriter is a memory store whose writes fail while fail is set.
type flakyWriter struct {
	*memory.Store
	fail bool
}

func (w *flakyWriter) Write(ctx context.Context, b store.Batch) error {
	if w.fail {
		return errors.New("disk full")
	}
	return w.Store.Write(ctx, b)
}

func TestPublishFailureRetries(t *testing.T) {
	rec := &recorder{fail: true}
	e := newEngine(t, "", memory.New(), func(d *Deps) { d.Federation = &Federation{Key: testFedKey, Publisher: rec} })
	e.fed.learned([]federation.Fact{{Kind: federation.ComboListed, Subject: "a", Incident: "inc_1", Count: 1, LastSeen: t0, Expires: t0.Add(time.Hour)}})
	if err := e.publishFacts(context.Background(), t0); err == nil {
		t.Fatal("a failed publication reported no error")
	}
	if n, _ := e.Told("inc_1"); n != 0 {
		t.Errorf("a failed publication counted %d facts told", n)
	}
	rec.fail = false
	if err := e.publishFacts(context.Background(), t0); err != nil || len(rec.got) != 1 {
		t.Errorf("retry: err %v, publications %d, want 1", err, len(rec.got))
	}
	n, peers := e.Told("inc_1")
	if d := cmp.Diff([]string{"https://a.example", "https://b.example"}, peers); n != 1 || d != "" {
		t.Errorf("told inc_1: %d facts, peers (-want +got):\n%s", n, d)
	}
}

func TestOwnersResetAfterCompromiseIsTold(t *testing.T) {
	rec := &recorder{}
	e := newEngine(t, "", memory.New(), func(d *Deps) { d.Federation = &Federation{Key: testFedKey, Publisher: rec} })
	subject, _ := e.fed.loginSubject("u1@example.jp")
	e.fed.victim("u1", subject)
	ev := decode(t, `{"type": "password.changed", "occurred_at": %q, "user": {"id": "u1"}, "context": {"ip": "198.51.100.7"}}`, t0.Format(time.RFC3339))
	mustAssessT(t, e, ev)
	e.SessionsRevoked([]string{"u1", "u2"}) // u1 forgotten after its reset; u2 never told
	if err := e.publishFacts(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 || len(rec.got[0]) != 1 || rec.got[0][0].Kind != federation.CredentialChanged || rec.got[0][0].Subject != subject {
		t.Errorf("published %+v, want one credential_changed for u1", rec.got)
	}
}

func TestFederationKeyRequired(t *testing.T) {
	_, err := New(Config{}, Deps{Federation: &Federation{Key: federation.Key("short")}})
	if err == nil || !strings.Contains(err.Error(), "engine: no federation key") {
		t.Fatalf("a short federation key: %v, want engine: no federation key", err)
	}
}

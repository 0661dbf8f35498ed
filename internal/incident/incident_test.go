package incident

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/store"
)

var t0 = time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)

func TestRecordOutcomes(t *testing.T) {
	tr := New(Config{})
	if _, ok := tr.Record(Hit{Account: "u-1"}, t0); ok {
		t.Fatal("Record succeeded with no open incident")
	}
	inc := tr.Open(KindCredentialStuffing, t0)
	if !strings.HasPrefix(inc.ID, "inc_") || inc.State != store.IncidentOpen {
		t.Fatalf("opened %+v", inc)
	}
	hits := []struct {
		h    Hit
		want string
	}{
		{Hit{Account: "u-1", Known: true, Outcome: "failed", IP: "192.0.2.1", Prefix: "192.0.2.0/24"}, "failed"},
		{Hit{Account: "u-1", Known: true, Outcome: store.OutcomeChallenged, Succeeded: true, IP: "192.0.2.2", Prefix: "192.0.2.0/24"}, store.OutcomeChallenged},
		{Hit{Account: "u-1", Known: true, Outcome: "failed", IP: "192.0.2.3", Prefix: "192.0.2.0/24"}, store.OutcomeChallenged},
		{Hit{Account: "u-2", Known: true, Outcome: store.OutcomeAllowed, Succeeded: true, IP: "198.51.100.1", Prefix: "198.51.100.0/24"}, store.OutcomeAllowed},
		{Hit{Account: "nobody@example.jp", Outcome: "failed", IP: "198.51.100.1", Prefix: "198.51.100.0/24"}, "failed"},
	}
	for i, h := range hits {
		a, ok := tr.Record(h.h, t0.Add(time.Duration(i)*time.Second))
		if !ok || a.Outcome != h.want {
			t.Errorf("hit %d: outcome %q ok=%v, want %q", i, a.Outcome, ok, h.want)
		}
	}
	if a, ok := tr.PassChallenge("u-1", t0.Add(time.Minute)); !ok || a.Outcome != store.OutcomeChallengePassed {
		t.Errorf("PassChallenge: %+v %v", a, ok)
	}
	if _, ok := tr.PassChallenge("u-2", t0.Add(time.Minute)); ok {
		t.Error("PassChallenge changed an allowed account")
	}
	got, ok := tr.Close(t0.Add(time.Hour))
	if !ok {
		t.Fatal("Close: nothing open")
	}
	want := store.Incident{
		ID: inc.ID, Kind: KindCredentialStuffing, State: store.IncidentClosed,
		StartedAt: t0, EndedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour),
		Attempts: 5, DistinctIPs: 4, DistinctPrefixes: 2, AccountsTargeted: 2, AccountsCompromised: 2,
		TopSources: []store.Source{
			{Kind: "ip", Value: "198.51.100.1", Attempts: 2}, {Kind: "ip", Value: "192.0.2.1", Attempts: 1},
			{Kind: "ip", Value: "192.0.2.2", Attempts: 1}, {Kind: "ip", Value: "192.0.2.3", Attempts: 1},
			{Kind: "prefix", Value: "192.0.2.0/24", Attempts: 3}, {Kind: "prefix", Value: "198.51.100.0/24", Attempts: 2},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("closed incident mismatch (-want +got):\n%s", diff)
	}
	if tr.OpenID() != "" {
		t.Error("still open after Close")
	}
}

func TestBoundedAccounts(t *testing.T) {
	tr := New(Config{MaxAccounts: 100})
	tr.Open(KindCredentialStuffing, t0)
	listed := 0
	for i := 0; i < 1000; i++ {
		if _, ok := tr.Record(Hit{Account: fmt.Sprint("u-", i), Known: true, Outcome: "failed"}, t0); ok {
			listed++
		}
	}
	inc, _ := tr.Snapshot()
	if listed != 100 || inc.Attempts != 1000 {
		t.Errorf("listed %d accounts and %d attempts, want 100 and 1000", listed, inc.Attempts)
	}
}

func TestSpaceSavingFindsHeavyHitters(t *testing.T) {
	s := newSpaceSaving(20)
	for i := 0; i < 10000; i++ {
		s.add(fmt.Sprint("noise-", i))
		if i%10 == 0 {
			s.add("heavy")
		}
	}
	if top := s.topN(1); len(top) != 1 || top[0].key != "heavy" {
		t.Errorf("top = %+v, want heavy", top)
	}
}

func TestSaveRestore(t *testing.T) {
	tr := New(Config{})
	tr.Open(KindCredentialStuffing, t0)
	a, _ := tr.Record(Hit{Account: "u-1", Known: true, Outcome: store.OutcomeChallenged, IP: "192.0.2.1"}, t0)
	data, err := tr.Save()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := tr.Snapshot()
	tr2 := New(Config{})
	if err := tr2.Restore(data, func(id string) ([]store.IncidentAccount, error) {
		if id != before.ID {
			t.Errorf("accounts asked for incident %s, want %s", id, before.ID)
		}
		return []store.IncidentAccount{a}, nil
	}); err != nil {
		t.Fatal(err)
	}
	after, ok := tr2.Snapshot()
	if !ok || after.ID != before.ID || after.Attempts != 1 || after.DistinctIPs != 1 {
		t.Errorf("restored %+v, want %+v", after, before)
	}
	if got, ok := tr2.PassChallenge("u-1", t0); !ok || got.Outcome != store.OutcomeChallengePassed {
		t.Error("restored incident lost its accounts")
	}
	if err := tr2.Restore([]byte("{"), nil); err == nil {
		t.Error("Restore of bad JSON succeeded")
	}
}

func TestSpaceSavingIgnoresOneOffFlood(t *testing.T) {
	s := newSpaceSaving(20)
	for i := 0; i < 100000; i++ {
		s.add(fmt.Sprint("one-off-", i))
	}
	for _, e := range s.topN(10) {
		if e.count > 1 {
			t.Errorf("one-off key %s reported with %d attempts", e.key, e.count)
		}
	}
}

// TestReplayMatchesRecord checks that a tracker restored from a snapshot
// taken mid-way, with the accounts on record at the end, and replaying the
// hits after the snapshot, ends with the counters of one that recorded
// every hit, without touching the rows on record.
func TestReplayMatchesRecord(t *testing.T) {
	hits := []Hit{
		{Account: "u-1", Known: true, Outcome: "failed", IP: "192.0.2.1"},
		{Account: "u-2", Known: true, Outcome: store.OutcomeAllowed, Succeeded: true, IP: "192.0.2.2"},
		{Account: "u-1", Known: true, Outcome: store.OutcomeChallenged, Succeeded: true, IP: "192.0.2.3"},
		{Account: "nobody", Outcome: "failed", IP: "192.0.2.4"},
		{Account: "u-3", Known: true, Outcome: "failed", IP: "192.0.2.5"},
		{Account: "u-2", Known: true, Outcome: store.OutcomeAllowed, Succeeded: true, IP: "192.0.2.5"},
	}
	for cut := range len(hits) + 1 {
		t.Run(fmt.Sprintf("snapshot after %d hits", cut), func(t *testing.T) {
			whole := New(Config{})
			inc := whole.Open(KindCredentialStuffing, t0)
			rows := map[string]store.IncidentAccount{}
			var snap []byte
			for i, h := range hits {
				if i == cut {
					snap = mustSave(t, whole)
				}
				if a, ok := whole.Record(h, t0.Add(time.Duration(i)*time.Second)); ok {
					rows[a.Account] = a
				}
			}
			if snap == nil {
				snap = mustSave(t, whole)
			}
			restarted := New(Config{})
			err := restarted.Restore(snap, func(id string) ([]store.IncidentAccount, error) {
				if id != inc.ID {
					t.Errorf("accounts of %q loaded, want %q", id, inc.ID)
				}
				var out []store.IncidentAccount
				for _, a := range rows {
					out = append(out, a)
				}
				return out, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := cut; i < len(hits); i++ {
				restarted.Replay(hits[i], t0.Add(time.Duration(i)*time.Second))
			}
			got, _ := restarted.Snapshot()
			want, _ := whole.Snapshot()
			got.DistinctIPs, want.DistinctIPs, got.TopSources, want.TopSources = 0, 0, nil, nil // sketches restart empty
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("replayed incident differs (-want +got):\n%s", d)
			}
		})
	}
}

func mustSave(t *testing.T, tr *Tracker) []byte {
	t.Helper()
	data, err := tr.Save()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestResume(t *testing.T) {
	tr := New(Config{})
	if tr.Resume("inc_x", nil) {
		t.Error("Resume with no open incident reported true")
	}
	tr.Open(KindCredentialStuffing, t0)
	rows := []store.IncidentAccount{{IncidentID: "inc_x", Account: "u-1", Known: true, Outcome: "failed", Attempts: 2, FirstSeen: t0, LastSeen: t0}}
	if !tr.Resume("inc_x", rows) {
		t.Fatal("Resume reported false")
	}
	tr.Replay(Hit{Account: "u-1", Known: true, Outcome: "failed"}, t0)
	got, _ := tr.Snapshot()
	if got.ID != "inc_x" || got.Attempts != 1 || got.AccountsTargeted != 1 {
		t.Errorf("resumed incident = %+v, want inc_x with 1 attempt, 1 account", got)
	}
	a, _ := tr.Record(Hit{Account: "u-1", Known: true, Outcome: "failed"}, t0.Add(time.Second))
	if a.Attempts != 3 || a.IncidentID != "inc_x" {
		t.Errorf("row after the replay = %+v, want 3 attempts of inc_x", a)
	}
}

// TestAbandonChallenge: only a challenged account of the open incident
// named is marked challenge_abandoned; a later challenge keeps it so, a
// pass or a login let in overrides it.
func TestAbandonChallenge(t *testing.T) {
	tr := New(Config{})
	if _, ok := tr.AbandonChallenge("inc_none", "u-1", t0); ok {
		t.Fatal("AbandonChallenge succeeded with no open incident")
	}
	inc := tr.Open(KindCredentialStuffing, t0)
	for i, h := range []Hit{
		{Account: "u-1", Known: true, Outcome: store.OutcomeChallenged, Succeeded: true, IP: "192.0.2.1"},
		{Account: "u-2", Known: true, Outcome: store.OutcomeAllowed, Succeeded: true, IP: "192.0.2.2"},
		{Account: "u-3", Known: true, Outcome: "failed", IP: "192.0.2.3"},
		{Account: "u-4", Known: true, Outcome: store.OutcomeChallenged, Succeeded: true, IP: "192.0.2.4"},
	} {
		if _, ok := tr.Record(h, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("hit %d not recorded", i)
		}
	}
	at := t0.Add(10 * time.Minute)
	for _, tc := range []struct {
		incID, account string
		want           string // "": nothing to persist
	}{
		{inc.ID, "u-1", store.OutcomeChallengeAbandoned},
		{inc.ID, "u-1", ""}, // already abandoned
		{inc.ID, "u-2", ""}, // let in
		{inc.ID, "u-3", ""}, // never challenged
		{inc.ID, "u-9", ""}, // never reached
		{"inc_other", "u-4", ""},
	} {
		a, ok := tr.AbandonChallenge(tc.incID, tc.account, at)
		if got := map[bool]string{true: a.Outcome}[ok]; got != tc.want {
			t.Errorf("AbandonChallenge(%s, %s) = %q, want %q", tc.incID, tc.account, got, tc.want)
		}
	}
	if a, _ := tr.Record(Hit{Account: "u-1", Known: true, Outcome: store.OutcomeChallenged, Succeeded: true, IP: "192.0.2.5"}, at); a.Outcome != store.OutcomeChallengeAbandoned {
		t.Errorf("a later challenge: %q, want it still abandoned", a.Outcome)
	}
	if a, ok := tr.PassChallenge("u-1", at); !ok || a.Outcome != store.OutcomeChallengePassed {
		t.Errorf("PassChallenge after abandoning: %+v %v", a, ok)
	}
}

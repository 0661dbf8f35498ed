package federation

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)

func fact(peer string, kind Kind, subject string, count int, seen time.Time) Fact {
	return Fact{Kind: kind, Subject: subject, SubjectFormat: SubjectHash, Count: count, FirstSeen: seen, LastSeen: seen,
		Confidence: 0.8, Expires: seen.Add(time.Hour), Peer: peer, ID: "jti-" + subject}
}

func fixed(at *time.Time) func() time.Time { return func() time.Time { return *at } }

func TestStoreDeduplicatesAndExpires(t *testing.T) {
	now := t0
	s, err := Open("", Config{}, fixed(&now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, s.Receive(ctx, []Fact{
		fact("https://a.example", ComboListed, "h1", 3, t0.Add(-time.Minute)),
		fact("https://a.example", ComboListed, "h1", 1, t0),
		fact("https://b.example", ComboListed, "h1", 2, t0),
		fact("https://a.example", CampaignSource, "203.0.113.0/24", 40, t0),
	}))
	got := s.Lookup(ComboListed, "h1", t0)
	want := Match{Peers: []string{"https://a.example", "https://b.example"}, Count: 3, Confidence: 0.8}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Lookup (-want +got):\n%s", d)
	}
	if s.Lookup(ComboListed, "h2", t0).Found() {
		t.Error("an unknown subject matched")
	}
	if got := s.Lookup(ComboListed, "h1", t0.Add(2*time.Hour)); got.Found() {
		t.Errorf("expired facts matched: %+v", got)
	}
	if got := s.counts[ComboListed]; got != 2 {
		t.Errorf("combo_listed facts held = %d, want 2 (one per peer)", got)
	}
}

func TestStoreRefusesGarbageAndCapsTTL(t *testing.T) {
	now := t0
	s, _ := Open("", Config{FactTTL: map[Kind]time.Duration{CampaignSource: time.Minute}}, fixed(&now))
	long := fact("p", CampaignSource, "198.51.100.0/24", 1, t0)
	long.Expires = t0.Add(365 * 24 * time.Hour)
	bad := []Fact{
		{Kind: "nonsense", Subject: "x", Peer: "p", Expires: t0.Add(time.Hour)},
		{Kind: ComboListed, Subject: "", Peer: "p", Expires: t0.Add(time.Hour)},
		{Kind: ComboListed, Subject: strings.Repeat("x", MaxSubjectBytes+1), Peer: "p", Expires: t0.Add(time.Hour)},
		{Kind: ComboListed, Subject: "x", Peer: "", Expires: t0.Add(time.Hour)},
		fact("p", ComboListed, "old", 1, t0.Add(-2*time.Hour)), // expired
		long,
	}
	must(t, s.Receive(context.Background(), bad))
	if n := s.totalLocked(); n != 1 {
		t.Errorf("facts kept = %d, want 1", n)
	}
	if !s.Lookup(CampaignSource, "198.51.100.0/24", t0.Add(59*time.Second)).Found() {
		t.Error("fact lost before its capped expiry")
	}
	if s.Lookup(CampaignSource, "198.51.100.0/24", t0.Add(time.Minute)).Found() {
		t.Error("fact outlived fact_ttl")
	}
}

func TestStoreCapEvictsSoonestToExpire(t *testing.T) {
	now := t0
	s, _ := Open("", Config{MaxFacts: 10}, fixed(&now))
	var fs []Fact
	for i := range 11 {
		f := fact("p", ComboListed, string(rune('a'+i)), 1, t0)
		f.Expires = t0.Add(time.Duration(i+1) * time.Minute)
		fs = append(fs, f)
	}
	must(t, s.Receive(context.Background(), fs))
	if got, want := s.counts[ComboListed], 9; got != want {
		t.Errorf("held = %d, want %d", got, want)
	}
	for _, sub := range []string{"a", "b"} {
		if s.Lookup(ComboListed, sub, t0).Found() {
			t.Errorf("%s (soonest to expire) kept", sub)
		}
	}
	if !s.Lookup(ComboListed, "k", t0).Found() {
		t.Error("latest fact evicted")
	}
}

func TestStorePauseRemoveAndRestart(t *testing.T) {
	now := t0
	path := filepath.Join(t.TempDir(), "facts.jsonl")
	s, err := Open(path, Config{}, fixed(&now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, s.Receive(ctx, []Fact{fact("a", ComboListed, "h1", 1, t0), fact("b", ComboListed, "h1", 1, t0),
		fact("c", DropPoint, "d1", 1, t0)}))
	must(t, s.Pause("a", true))
	must(t, s.Remove("c"))
	check := func(s *Store, when string) {
		t.Helper()
		if got, want := s.Lookup(ComboListed, "h1", t0).Peers, []string{"b"}; !cmp.Equal(got, want) {
			t.Errorf("%s: peers = %v, want %v (a paused)", when, got, want)
		}
		if s.Lookup(DropPoint, "d1", t0).Found() {
			t.Errorf("%s: removed peer's fact found", when)
		}
		ps := s.Peers(t0)
		if len(ps) != 2 || ps[0].Peer != "a" || !ps[0].Paused || ps[1].Live[ComboListed] != 1 {
			t.Errorf("%s: peers = %+v", when, ps)
		}
	}
	check(s, "before restart")
	// No Close: a kill -9 after the acknowledgement, and a torn line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"fact":{"Kind":"combo_lis`)
	f.Close()
	s2, err := Open(path, Config{}, fixed(&now))
	if err != nil {
		t.Fatal(err)
	}
	check(s2, "after restart")
	must(t, s2.Pause("a", false))
	if got := len(s2.Lookup(ComboListed, "h1", t0).Peers); got != 2 {
		t.Errorf("resumed: %d peers, want 2", got)
	}
	now = t0.Add(2 * time.Hour) // everything expired: a restart forgets it
	s3, err := Open(path, Config{}, fixed(&now))
	if err != nil {
		t.Fatal(err)
	}
	if n := s3.totalLocked(); n != 0 {
		t.Errorf("after expiry: %d facts, want 0", n)
	}
}

func TestStoreCompacts(t *testing.T) {
	now := t0
	path := filepath.Join(t.TempDir(), "facts.jsonl")
	s, _ := Open(path, Config{}, fixed(&now))
	for i := range 1200 {
		must(t, s.Receive(context.Background(), []Fact{fact("a", ComboListed, "h1", i, t0)}))
	}
	if s.lines > 1100 {
		t.Errorf("file holds %d records for 1 fact", s.lines)
	}
	s2, _ := Open(path, Config{}, fixed(&now))
	if got := s2.Lookup(ComboListed, "h1", t0).Count; got != 1199 {
		t.Errorf("count after compaction and restart = %d, want 1199", got)
	}
}

// TestStoreRestartCompactsOnlyWhenWorthIt: a restart rewrites the file
// only when most of its records are dead, and loses no acknowledged fact
// either way, not even after a torn last line.
func TestStoreRestartCompactsOnlyWhenWorthIt(t *testing.T) {
	for _, c := range []struct {
		name          string
		expired, live int
		wantRewritten bool
	}{
		{"little garbage", 200, 1000, false},
		{"much garbage", 1100, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := t0
			path := filepath.Join(t.TempDir(), "facts.jsonl")
			s, err := Open(path, Config{}, fixed(&now))
			if err != nil {
				t.Fatal(err)
			}
			var fs []Fact
			for i := range c.expired + c.live {
				f := fact("a", ComboListed, fmt.Sprint("h", i), 1, t0)
				if i >= c.expired {
					f.Expires = t0.Add(3 * time.Hour)
				}
				fs = append(fs, f)
			}
			must(t, s.Receive(context.Background(), fs))
			// No Close: a kill -9 after the acknowledgement, and a torn line.
			appendTorn(t, path)
			before, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			now = t0.Add(2 * time.Hour)
			s2, err := Open(path, Config{}, fixed(&now))
			if err != nil {
				t.Fatal(err)
			}
			after, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := !os.SameFile(before, after); got != c.wantRewritten {
				t.Errorf("file rewritten = %v, want %v", got, c.wantRewritten)
			}
			if got := s2.totalLocked(); got != c.live {
				t.Errorf("live facts after restart = %d, want %d", got, c.live)
			}
			// A fact received after the restart lands on a line of its own.
			must(t, s2.Receive(context.Background(), []Fact{fact("b", DropPoint, "d1", 1, now)}))
			s3, err := Open(path, Config{}, fixed(&now))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []struct {
				kind    Kind
				subject string
			}{{ComboListed, fmt.Sprint("h", c.expired)}, {ComboListed, fmt.Sprint("h", c.expired+c.live-1)}, {DropPoint, "d1"}} {
				if !s3.Lookup(k.kind, k.subject, now).Found() {
					t.Errorf("%s %s lost", k.kind, k.subject)
				}
			}
			if got, want := s3.totalLocked(), c.live+1; got != want {
				t.Errorf("live facts after the second restart = %d, want %d", got, want)
			}
		})
	}
}

// appendTorn appends the start of a record, as a crash mid-write leaves.
func appendTorn(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`{"fact":{"Kind":"combo_lis`); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package federation

import (
	"context"
	"math"
	"testing"
	"time"
)

// FuzzReceive feeds the store facts with arbitrary fields (what a
// peer's verified SET may still carry): it never fails or panics, keeps
// only live facts of known kinds, and never more than its cap.
func FuzzReceive(f *testing.F) {
	f.Add("combo_listed", "h1", "https://a.example", 3, 0.7, int64(3600), int64(0))
	f.Add("campaign_source", "203.0.113.0/24", "p", -5, 7.0, int64(-10), int64(1e12))
	f.Add("nonsense", "", "", 0, -1.0, int64(0), int64(-1e12))
	f.Add("drop_point", "d", "p", 1, math.NaN(), int64(60), int64(0))
	f.Fuzz(func(t *testing.T, kind, subject, peer string, count int, conf float64, expiresIn, seenAgo int64) {
		now := t0
		s, err := Open("", Config{MaxFacts: 4}, fixed(&now))
		if err != nil {
			t.Fatal(err)
		}
		fact := Fact{Kind: Kind(kind), Subject: subject, Peer: peer, Count: count, Confidence: conf,
			LastSeen: t0.Add(-time.Duration(seenAgo)), Expires: t0.Add(time.Duration(expiresIn) * time.Second)}
		for i := range 6 {
			fact.Subject = subject + string(rune('a'+i))
			if err := s.Receive(context.Background(), []Fact{fact}); err != nil {
				t.Fatalf("Receive: %v", err)
			}
		}
		for k, n := range s.counts {
			if !knownKind(k) || n > 4 || n < 0 {
				t.Errorf("kind %q holds %d facts", k, n)
			}
		}
		for _, bySubject := range s.facts {
			for _, byPeer := range bySubject {
				for _, got := range byPeer {
					if !got.Live(now) || !(got.Confidence >= 0 && got.Confidence <= 1) || got.Count < 0 {
						t.Errorf("kept %+v", got)
					}
				}
			}
		}
	})
}

package guard

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/ssf"
)

// TestFollowPeers: the fact store follows the configured peers across a
// restart: a peer paused in the configuration has its facts kept and
// unused, a peer resumed has them used again, and a peer no longer
// configured has them dropped.
func TestFollowPeers(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), FederationFactsFile)
	facts, err := federation.Open(path, federation.Config{}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer facts.Close()
	login := strings.Repeat("0a", 32)
	var sent []federation.Fact
	for _, peer := range []string{"shop-a", "shop-b", "shop-c"} {
		sent = append(sent, federation.Fact{Kind: federation.ComboListed, Subject: login, SubjectFormat: federation.SubjectLoginHash,
			Count: 1, Confidence: 0.7, LastSeen: now, Expires: now.Add(time.Hour), Peer: peer, ID: "jti-" + peer})
	}
	if err := facts.Receive(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	peers := func(ps ...ssf.Peer) ssf.Config { return ssf.Config{Issuer: "https://b.example", Peers: ps} }
	steps := []struct {
		cfg  ssf.Config
		want []string // peers whose facts count
		held []string // peers the store knows
	}{
		{peers(ssf.Peer{Name: "shop-a"}, ssf.Peer{Name: "shop-b", Paused: true}, ssf.Peer{Name: "shop-c"}),
			[]string{"shop-a", "shop-c"}, []string{"shop-a", "shop-b", "shop-c"}},
		{peers(ssf.Peer{Name: "shop-a"}, ssf.Peer{Name: "shop-b"}),
			[]string{"shop-a", "shop-b"}, []string{"shop-a", "shop-b"}},
		{peers(ssf.Peer{Name: "shop-a"}, ssf.Peer{Name: "shop-b"}, ssf.Peer{Name: "shop-d", Paused: true}),
			[]string{"shop-a", "shop-b"}, []string{"shop-a", "shop-b", "shop-d"}},
	}
	for i, s := range steps {
		if err := followPeers(facts, s.cfg, now); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, facts.Lookup(federation.ComboListed, login, now).Peers); diff != "" {
			t.Errorf("step %d: peers whose facts count (-want +got):\n%s", i, diff)
		}
		var held []string
		for _, ps := range facts.Peers(now) {
			held = append(held, ps.Peer)
		}
		if diff := cmp.Diff(s.held, held); diff != "" {
			t.Errorf("step %d: peers held (-want +got):\n%s", i, diff)
		}
	}
}

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

// TestFederationPoll: shop B polls shop A (long polls through A's API,
// with A's federation key); both stop cleanly with a poll held open.
func TestFederationPoll(t *testing.T) {
	ctx := context.Background()
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	urlA := "http://" + lnA.Addr().String()
	const keyB = "agk_shop-b-poll-key"
	cfgA := config.Default()
	cfgA.Data, cfgA.Clock = t.TempDir(), string(clock.Event)
	cfgA.SSF = ssf.Config{Issuer: urlA, Peers: []ssf.Peer{{Name: "shop-b", Issuer: "https://b.example", Send: federation.Kinds}}}
	st, err := sqlite.Open(ctx, cfgA.Data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(keyB))
	if err := st.PutKey(ctx, store.APIKey{ID: "key_b", Name: "shop-b", Hash: sum[:], Scopes: []string{store.ScopeFederation}, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	log := slog.New(slog.DiscardHandler)
	a, err := Start(ctx, cfgA, Options{Log: log, Listener: lnA})
	if err != nil {
		t.Fatal(err)
	}
	var stream ssf.Stream
	if code := callAs(t, keyB, "POST", urlA+ssf.PathStream, map[string]any{"delivery": map[string]any{"method": ssf.MethodPoll}}, &stream); code != 201 {
		t.Fatalf("creating the stream: %d", code)
	}
	cfgB := config.Default()
	cfgB.Data, cfgB.Listen, cfgB.Clock = t.TempDir(), "127.0.0.1:0", string(clock.Event)
	cfgB.SSF = ssf.Config{Issuer: "https://b.example", Peers: []ssf.Peer{{Name: "shop-a", Issuer: urlA, JWKSURL: urlA + ssf.PathJWKS,
		Accept: federation.Kinds, PollURL: stream.Delivery.EndpointURL, PollTokenEnv: "POLL_A"}}}
	sink := &recordingSink{got: make(chan struct{}, 10)}
	b, err := Start(ctx, cfgB, Options{Log: log, FactSink: sink, Getenv: func(k string) string {
		if k == "POLL_A" {
			return keyB
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	facts := []federation.Fact{{Kind: federation.CampaignSource, Subject: "203.0.113.0/24", SubjectFormat: federation.SubjectPrefix,
		Count: 40, Confidence: 0.8, Expires: time.Now().Add(time.Hour)}}
	if err := a.Federation().Publish(ctx, facts); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sink.got:
	case <-time.After(30 * time.Second):
		t.Fatal("B did not poll A's fact")
	}
	if f := sink.facts[0]; f.Kind != federation.CampaignSource || f.Subject != "203.0.113.0/24" || f.Peer != "shop-a" {
		t.Errorf("B took %+v", f)
	}
	if err := b.Stop(); err != nil {
		t.Errorf("stopping B: %v", err)
	}
	if err := a.Stop(); err != nil {
		t.Errorf("stopping A: %v", err)
	}
}

package guard

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// recordingSink keeps the facts it is given (tests only).
type recordingSink struct {
	mu    sync.Mutex
	facts []federation.Fact
	got   chan struct{}
}

func (s *recordingSink) Receive(_ context.Context, facts []federation.Fact) error {
	s.mu.Lock()
	s.facts = append(s.facts, facts...)
	s.mu.Unlock()
	for range facts {
		s.got <- struct{}{}
	}
	return nil
}

// TestFederationPush: shop B creates a push stream at shop A with an API
// key of A's (scope federation, named after B); A publishes facts, and B
// takes them over real HTTP on loopback, with A's keys fetched from its
// JWKS. B's metrics count them.
func TestFederationPush(t *testing.T) {
	ctx := context.Background()
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	lnB, _ := net.Listen("tcp", "127.0.0.1:0")
	urlA, urlB := "http://"+lnA.Addr().String(), "http://"+lnB.Addr().String()
	const keyB = "agk_shop-b-federation-key"

	cfgA := config.Default()
	cfgA.Data, cfgA.Clock = t.TempDir(), string(clock.Event)
	cfgA.Federation.KeyFile = writeFederationKey(t, cfgA.Data)
	cfgA.SSF = ssf.Config{Issuer: urlA, Peers: []ssf.Peer{{Name: "shop-b", Issuer: urlB,
		Send: []federation.Kind{federation.ComboListed, federation.CredentialCompromised}}}}
	st, err := sqlite.Open(ctx, cfgA.Data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(keyB))
	if err := st.PutKey(ctx, store.APIKey{ID: "key_b", Name: "shop-b", Hash: sum[:],
		Scopes: []string{store.ScopeFederation}, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cfgB := config.Default()
	cfgB.Data, cfgB.Clock = t.TempDir(), string(clock.Event)
	cfgB.Federation.KeyFile = writeFederationKey(t, cfgB.Data)
	cfgB.SSF = ssf.Config{Issuer: urlB, Peers: []ssf.Peer{{Name: "shop-a", Issuer: urlA, JWKSURL: urlA + ssf.PathJWKS,
		Accept: federation.Kinds, PushTokenEnv: "PUSH_FROM_A"}}}
	for _, c := range []config.Config{cfgA, cfgB} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	a, err := Start(ctx, cfgA, Options{Log: log, Listener: lnA})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	sink := &recordingSink{got: make(chan struct{}, 10)}
	env := func(k string) string {
		if k == "PUSH_FROM_A" {
			return "push-secret"
		}
		return ""
	}
	b, err := Start(ctx, cfgB, Options{Log: log, Listener: lnB, FactSink: sink, Getenv: env, BootstrapKey: multiBootstrap})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	if code := callAs(t, keyB, "POST", urlA+ssf.PathStream, map[string]any{"delivery": map[string]any{
		"method": ssf.MethodPush, "endpoint_url": urlB + ssf.PathPush + "shop-a", "authorization_header": "Bearer push-secret"}}, nil); code != 201 {
		t.Fatalf("creating the stream: %d", code)
	}
	if code := callAs(t, multiBootstrap, "GET", urlA+ssf.PathStream, nil, nil); code != 401 {
		t.Errorf("another guard's bootstrap key at A: %d, want 401", code)
	}
	now := time.Now()
	facts := []federation.Fact{
		{Kind: federation.ComboListed, Subject: strings.Repeat("0a", 32), SubjectFormat: federation.SubjectLoginHash, Count: 3, Confidence: 0.9, Expires: now.Add(time.Hour)},
		{Kind: federation.CredentialCompromised, Subject: strings.Repeat("0b", 32), SubjectFormat: federation.SubjectLoginHash, Count: 1, Confidence: 1, Expires: now.Add(time.Hour)},
		{Kind: federation.DropPoint, Subject: strings.Repeat("0c", 32), SubjectFormat: federation.SubjectHash, Count: 2, Confidence: 1, Expires: now.Add(time.Hour)}, // not sent to B
	}
	if err := a.Federation().Publish(ctx, facts); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for range 2 {
		select {
		case <-sink.got:
		case <-deadline:
			t.Fatal("B did not get A's facts")
		}
	}
	sink.mu.Lock()
	got := sink.facts
	sink.mu.Unlock()
	for _, f := range got {
		if f.Peer != "shop-a" || (f.Kind != federation.ComboListed && f.Kind != federation.CredentialCompromised) {
			t.Errorf("B took %+v", f)
		}
	}
	var metrics string
	if code := callText(t, urlB+"/metrics", &metrics); code != 200 || !strings.Contains(metrics, `atoguard_ssf_received_total{peer="shop-a"} 2`) {
		t.Errorf("B's metrics lack 2 facts received from shop-a: %d", code)
	}
}

// callText GETs url and keeps the body as text.
func callText(t *testing.T, url string, out *string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	*out = string(data)
	return resp.StatusCode
}

// writeFederationKey writes the federation's key (the same at every
// guard of a test) into dir and returns its path.
func writeFederationKey(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "federation.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
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
	cfgA.Federation.KeyFile = writeFederationKey(t, cfgA.Data)
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
	cfgB.Federation.KeyFile = writeFederationKey(t, cfgB.Data)
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

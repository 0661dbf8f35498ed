package ssf

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/atoguard/atoguard/internal/federation"
)

// pair is shop A transmitting to shop B, each knowing the other as a
// peer: A sends every kind to "b"; B accepts every kind from "a" and lets
// it push with the token env-PUSH_A.
type pair struct {
	a, b *guard
}

func newPair(t *testing.T, wall func() time.Time) pair {
	t.Helper()
	var p pair
	bURL := make(chan string, 1)
	p.a = startGuard(t, t.TempDir(), func(iss string) Config {
		return Config{Issuer: iss, Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds,
			JWKSFile: writeJWKS(t, `{"keys":[]}`)}}}
	}, wall)
	p.b = startGuard(t, t.TempDir(), func(iss string) Config {
		bURL <- iss
		return Config{Issuer: "https://b.example", Peers: []Peer{{Name: "a", Issuer: p.a.srv.URL,
			JWKSURL: p.a.srv.URL + PathJWKS, Accept: federation.Kinds, PushTokenEnv: "PUSH_A"}}}
	}, wall)
	<-bURL
	return p
}

func writeJWKS(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pushStream is B's stream at A delivered by push to B.
func (p pair) pushStream(t *testing.T) Stream {
	t.Helper()
	var st Stream
	code := call(t, "POST", p.a.srv.URL+PathStream, "b", map[string]any{
		"delivery": map[string]any{"method": MethodPush, "endpoint_url": p.b.srv.URL + PathPush + "a",
			"authorization_header": "Bearer env-PUSH_A"},
		"events_requested": SupportedEvents, "description": "shop B"}, &st)
	if code != http.StatusCreated {
		t.Fatalf("creating a push stream: %d", code)
	}
	return st
}

func TestConfigurationAndJWKS(t *testing.T) {
	p := newPair(t, nil)
	var doc map[string]any
	if code := call(t, "GET", p.a.srv.URL+PathConfiguration, "", nil, &doc); code != 200 {
		t.Fatalf("configuration: %d", code)
	}
	iss := p.a.srv.URL
	want := map[string]any{
		"spec_version": "1_0", "issuer": iss, "jwks_uri": iss + PathJWKS,
		"delivery_methods_supported": []any{MethodPush, MethodPoll},
		"configuration_endpoint":     iss + PathStream, "status_endpoint": iss + PathStatus,
		"verification_endpoint": iss + PathVerify, "default_subjects": "ALL",
		"authorization_schemes": []any{map[string]any{"spec_urn": "urn:ietf:rfc:6750"}},
	}
	if d := cmp.Diff(want, doc); d != "" {
		t.Errorf("configuration (-want +got):\n%s", d)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if code := call(t, "GET", p.a.srv.URL+PathJWKS, "", nil, &jwks); code != 200 || len(jwks.Keys) != 1 {
		t.Fatalf("jwks: %d %v", code, jwks)
	}
	k := jwks.Keys[0]
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["d"] != nil {
		t.Errorf("jwks key = %v, want a public RSA RS256 signing key", k)
	}
}

func TestStreamManagement(t *testing.T) {
	clk := &fakeClock{now: time.Now()}
	p := newPair(t, clk.Now)
	a := p.a.srv.URL
	st := p.pushStream(t)
	want := Stream{ID: st.ID, Issuer: a, Audience: "https://b.example", EventsSupported: SupportedEvents,
		EventsRequested: SupportedEvents, EventsDelivered: SupportedEvents, MinVerificationInterval: minVerificationInterval,
		Delivery: Delivery{Method: MethodPush, EndpointURL: p.b.srv.URL + PathPush + "a"}, Description: "shop B"}
	if d := cmp.Diff(want, st); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}
	var got Stream
	steps := []struct {
		name         string
		method, path string
		caller       string
		body         any
		want         int
	}{
		{"second stream", "POST", PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, http.StatusConflict},
		{"unknown peer", "POST", PathStream, "z", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, http.StatusForbidden},
		{"bad method", "PATCH", PathStream, "b", map[string]any{"stream_id": st.ID, "delivery": map[string]any{"method": "smoke"}}, http.StatusBadRequest},
		{"bad event", "PATCH", PathStream, "b", map[string]any{"stream_id": st.ID, "events_requested": []string{"x"}}, http.StatusBadRequest},
		{"unknown member", "PATCH", PathStream, "b", map[string]any{"stream_id": st.ID, "smoke": 1}, http.StatusBadRequest},
		{"read", "GET", PathStream + "?stream_id=" + st.ID, "b", nil, http.StatusOK},
		{"read another's", "GET", PathStream + "?stream_id=nope", "b", nil, http.StatusNotFound},
		{"patch", "PATCH", PathStream, "b", map[string]any{"stream_id": st.ID, "events_requested": []string{EventCampaignIndicator}}, http.StatusOK},
		{"status", "GET", PathStatus + "?stream_id=" + st.ID, "b", nil, http.StatusOK},
		{"pause", "POST", PathStatus, "b", map[string]any{"stream_id": st.ID, "status": StatusPaused, "reason": "maintenance"}, http.StatusOK},
		{"bad status", "POST", PathStatus, "b", map[string]any{"stream_id": st.ID, "status": "asleep"}, http.StatusBadRequest},
		{"enable", "POST", PathStatus, "b", map[string]any{"stream_id": st.ID, "status": StatusEnabled}, http.StatusOK},
		{"verify", "POST", PathVerify, "b", map[string]any{"stream_id": st.ID, "state": "s1"}, http.StatusNoContent},
		{"verify again at once", "POST", PathVerify, "b", map[string]any{"stream_id": st.ID}, http.StatusTooManyRequests},
		{"replace", "PUT", PathStream, "b", map[string]any{"stream_id": st.ID, "delivery": map[string]any{"method": MethodPoll}}, http.StatusOK},
		{"delete without id", "DELETE", PathStream, "b", nil, http.StatusBadRequest},
		{"delete", "DELETE", PathStream + "?stream_id=" + st.ID, "b", nil, http.StatusNoContent},
		{"read deleted", "GET", PathStream + "?stream_id=" + st.ID, "b", nil, http.StatusNotFound},
		{"no key", "GET", PathStream, "", nil, http.StatusUnauthorized},
	}
	for _, s := range steps {
		got = Stream{}
		var out any = &got
		if s.want != http.StatusOK {
			out = nil
		}
		if code := call(t, s.method, a+s.path, s.caller, s.body, out); code != s.want {
			t.Errorf("%s: %d, want %d", s.name, code, s.want)
		}
		switch s.name {
		case "patch":
			if d := cmp.Diff([]string{EventCampaignIndicator}, got.EventsDelivered); d != "" {
				t.Errorf("patched events_delivered (-want +got):\n%s", d)
			}
		case "replace":
			if got.Delivery.Method != MethodPoll || got.Delivery.EndpointURL != a+PathPoll+st.ID || len(got.EventsDelivered) != 4 {
				t.Errorf("replaced stream = %+v", got)
			}
		}
	}
	var list []Stream
	if code := call(t, "GET", a+PathStream, "b", nil, &list); code != 200 || len(list) != 0 {
		t.Errorf("list after delete: %d %v", code, list)
	}
}

func TestPushDelivery(t *testing.T) {
	p := newPair(t, nil)
	p.pushStream(t)
	now := time.Now()
	facts := testFacts(now)
	if err := p.a.svc.Publish(context.Background(), facts); err != nil {
		t.Fatal(err)
	}
	got := p.b.sink.wait(t, len(facts))
	checkFacts(t, got, facts, p.b)
}

// checkFacts compares received facts with those sent: each is from peer
// "a", with an id, expiring as asked.
func checkFacts(t *testing.T, got, sent []federation.Fact, _ *guard) {
	t.Helper()
	want := slices.Clone(sent)
	for i := range want {
		want[i].Peer = "a"
	}
	for _, f := range got {
		if f.ID == "" {
			t.Errorf("fact %s has no id", f.Kind)
		}
		if f.Expires.Before(time.Now().Add(23*time.Hour)) || f.Expires.After(time.Now().Add(25*time.Hour)) {
			t.Errorf("fact %s expires %v, want in about 24h", f.Kind, f.Expires)
		}
	}
	byKind := cmpopts.SortSlices(func(x, y federation.Fact) bool { return x.Kind < y.Kind })
	if d := cmp.Diff(want, got, byKind, cmpopts.IgnoreFields(federation.Fact{}, "ID", "Expires")); d != "" {
		t.Errorf("facts (-sent +received):\n%s", d)
	}
}

func TestPollDelivery(t *testing.T) {
	var p pair
	p.a = startGuard(t, t.TempDir(), func(iss string) Config {
		return Config{Issuer: iss, Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds}}}
	}, nil)
	var st Stream
	if code := call(t, "POST", p.a.srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, &st); code != 201 {
		t.Fatalf("creating a poll stream: %d", code)
	}
	facts := testFacts(time.Now())
	if err := p.a.svc.Publish(context.Background(), facts); err != nil {
		t.Fatal(err)
	}
	// The protocol by hand: maxEvents, moreAvailable, ack.
	var resp pollResponse
	if code := call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"maxEvents": 3, "returnImmediately": true}, &resp); code != 200 {
		t.Fatalf("poll: %d", code)
	}
	if len(resp.Sets) != 3 || !resp.MoreAvailable {
		t.Fatalf("poll of 3: %d sets, moreAvailable %v; want 3, true", len(resp.Sets), resp.MoreAvailable)
	}
	var acked []string
	for jti := range resp.Sets {
		acked = append(acked, jti)
	}
	resp = pollResponse{}
	call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"ack": acked, "returnImmediately": true}, &resp)
	if len(resp.Sets) != len(facts)-3 || resp.MoreAvailable {
		t.Fatalf("after ack: %d sets (more %v), want %d", len(resp.Sets), resp.MoreAvailable, len(facts)-3)
	}
	for _, j := range acked {
		if _, again := resp.Sets[j]; again {
			t.Errorf("acknowledged SET %s served again", j)
		}
	}
	if code := call(t, "POST", st.Delivery.EndpointURL, "a", map[string]any{"returnImmediately": true}, nil); code != http.StatusForbidden {
		t.Errorf("poll with another peer's key: %d, want 403", code)
	}
	// Then B's poller takes everything still queued.
	p.b = startGuard(t, t.TempDir(), func(string) Config {
		return Config{Issuer: "https://b.example", Peers: []Peer{{Name: "a", Issuer: p.a.srv.URL,
			JWKSURL: p.a.srv.URL + PathJWKS, Accept: federation.Kinds, PollURL: st.Delivery.EndpointURL, PollTokenFile: writeJWKS(t, "key-b\n")}}}
	}, nil)
	got := p.b.sink.wait(t, len(facts)-3)
	if len(got) != len(facts)-3 {
		t.Errorf("poller took %d facts, want %d", len(got), len(facts)-3)
	}
}

// TestKeyRotation: after a rotation the transmitter signs with the new
// key and publishes both; the receiver fetches the JWKS again for the
// new kid and still takes SETs the old key signed.
func TestKeyRotation(t *testing.T) {
	clk := &fakeClock{now: time.Now()}
	p := newPair(t, clk.Now)
	var st Stream
	call(t, "POST", p.a.srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, &st)
	facts := testFacts(clk.Now())
	if err := p.a.svc.Publish(context.Background(), facts[:1]); err != nil {
		t.Fatal(err)
	}
	oldKid := p.a.svc.keys.current(clk.Now()).KeyID
	var before pollResponse // signed with the old key
	call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"returnImmediately": true}, &before)
	newKid, err := RotateKeys(filepath.Join(p.a.dir, KeyFileName), clk.Now(), p.a.svc.keyKeep())
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(reloadEvery + time.Second)
	if err := p.a.svc.Publish(context.Background(), facts[1:2]); err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	call(t, "GET", p.a.srv.URL+PathJWKS, "", nil, &jwks)
	if len(jwks.Keys) != 2 || jwks.Keys[0].Kid != newKid || jwks.Keys[1].Kid != oldKid {
		t.Errorf("JWKS after rotation = %+v, want [%s %s]", jwks.Keys, newKid, oldKid)
	}
	var resp pollResponse
	call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"returnImmediately": true}, &resp)
	var jtis []string
	kids := map[string]bool{}
	for _, tok := range append(slices.Collect(maps.Values(resp.Sets)), slices.Collect(maps.Values(before.Sets))...) {
		kids[headerKid(t, tok)] = true
		c, serr := p.b.svc.verifySET(context.Background(), p.b.svc.peers["a"], tok, clk.Now())
		if serr != nil {
			t.Errorf("B refuses a SET: %v", serr)
		}
		jtis = append(jtis, c.ID)
	}
	if len(jtis) != 3 || !kids[oldKid] || !kids[newKid] {
		t.Errorf("verified %d SETs signed by %v, want 3 signed by %s and %s", len(jtis), kids, oldKid, newKid)
	}
	// Once the old key's SETs have aged out it leaves the JWKS.
	clk.Add(p.a.svc.keyKeep())
	jwks.Keys = nil
	call(t, "GET", p.a.srv.URL+PathJWKS, "", nil, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kid != newKid {
		t.Errorf("JWKS once the old key aged out = %+v, want [%s]", jwks.Keys, newKid)
	}
}

// TestPollRefusals: a poller that refuses SETs (here B expects another
// issuer of A) reports them in setErrs; A drops them from its outbox and
// counts them, and B's sink gets nothing.
func TestPollRefusals(t *testing.T) {
	a := startGuard(t, t.TempDir(), func(iss string) Config {
		return Config{Issuer: iss, Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds}}}
	}, nil)
	var st Stream
	call(t, "POST", a.srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, &st)
	if err := a.svc.Publish(context.Background(), testFacts(time.Now())[:2]); err != nil {
		t.Fatal(err)
	}
	b := startGuard(t, t.TempDir(), func(string) Config {
		return Config{Issuer: "https://b.example", Peers: []Peer{{Name: "a", Issuer: "https://not-a.example",
			JWKSURL: a.srv.URL + PathJWKS, Accept: federation.Kinds, PollURL: st.Delivery.EndpointURL,
			PollTokenFile: writeJWKS(t, "key-b")}}}
	}, nil)
	deadline := time.Now().Add(30 * time.Second)
	for outboxDepth(t, a.svc) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := outboxDepth(t, a.svc); n != 0 {
		t.Fatalf("%d refused SETs still queued", n)
	}
	if got := b.sink.all(); len(got) != 0 {
		t.Errorf("B kept %d facts of SETs it refused", len(got))
	}
	if n := counterValue(a.svc.met.failures.WithLabelValues("b", "refused")); n != 2 {
		t.Errorf("A counted %v refused SETs, want 2", n)
	}
	if n := counterValue(b.svc.met.rejected.WithLabelValues("a", ErrInvalidIssuer)); n != 2 {
		t.Errorf("B counted %v invalid_issuer, want 2", n)
	}
}

// TestVerificationEvent: a verification request reaches the receiver,
// which takes it (no fact) and logs it.
func TestVerificationEvent(t *testing.T) {
	p := newPair(t, nil)
	st := p.pushStream(t)
	if code := call(t, "POST", p.a.srv.URL+PathVerify, "b", map[string]any{"stream_id": st.ID, "state": "hi"}, nil); code != 204 {
		t.Fatalf("verify: %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for counterValue(p.a.svc.met.delivered.WithLabelValues("b")) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := counterValue(p.a.svc.met.delivered.WithLabelValues("b")); n != 1 {
		t.Fatalf("verification SETs delivered: %v, want 1", n)
	}
	if got := p.b.sink.all(); len(got) != 0 {
		t.Errorf("a verification became facts: %v", got)
	}
}

func headerKid(t *testing.T, tok string) string {
	jws, err := jose.ParseSignedCompact(tok, algorithms)
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected.KeyID
}

// TestSeenIsBounded: past the cap, a peer's oldest jtis are forgotten.
func TestSeenIsBounded(t *testing.T) {
	st, err := openState(filepath.Join(t.TempDir(), StateFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	old := maxSeenPerPeer
	maxSeenPerPeer = 3
	defer func() { maxSeenPerPeer = old }()
	ctx := context.Background()
	t0 := time.Now()
	for i := range 5 {
		for _, peer := range []string{"p", "q"} {
			if fresh, err := st.markSeen(ctx, peer, fmt.Sprint("j", i), t0.Add(time.Duration(i)*time.Second)); err != nil || !fresh {
				t.Fatalf("markSeen: %v %v", fresh, err)
			}
		}
	}
	if _, err := st.prune(ctx, t0.Add(-time.Hour), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, peer := range []string{"p", "q"} {
		var got []bool
		for i := range 5 {
			fresh, _ := st.markSeen(ctx, peer, fmt.Sprint("j", i), t0)
			got = append(got, fresh)
		}
		if want := []bool{true, true, false, false, false}; !slices.Equal(got, want) {
			t.Errorf("peer %s: fresh after prune %v, want %v", peer, got, want)
		}
	}
}

// BenchmarkPublish: signing and queueing one fact for one peer.
func BenchmarkPublish(b *testing.B) {
	dir := b.TempDir()
	s, err := New(Config{Issuer: "https://a.example", Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds}}},
		Deps{Log: quiet(), DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := storedStream{Stream: Stream{ID: "s1", Audience: "https://b.example", EventsDelivered: SupportedEvents,
		Delivery: Delivery{Method: MethodPoll}}, Peer: "b", Status: StatusEnabled}
	if err := s.state.createStream(context.Background(), st, time.Now()); err != nil {
		b.Fatal(err)
	}
	facts := testFacts(time.Now())[3:4] // combo_listed
	batch := make([]federation.Fact, 100)
	for i := range batch {
		batch[i] = facts[0]
	}
	b.ResetTimer()
	for range b.N {
		if err := s.Publish(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(batch)), "µs/fact")
}

// BenchmarkVerify: checking one pushed SET (signature, claims, fact).
func BenchmarkVerify(b *testing.B) {
	a, err := New(Config{Issuer: "https://a.example"}, Deps{Log: quiet(), DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	jwks, _ := json.Marshal(a.keys.Public(time.Now(), time.Hour))
	path := filepath.Join(b.TempDir(), "jwks.json")
	_ = os.WriteFile(path, jwks, 0o600)
	r, err := New(Config{Issuer: "https://b.example", Peers: []Peer{{Name: "a", Issuer: "https://a.example", JWKSFile: path, Accept: federation.Kinds}}},
		Deps{Log: quiet(), DataDir: b.TempDir(), Sink: newMemSink()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c, _ := factClaims(testFacts(time.Now())[3], "https://a.example", "https://b.example", "j", time.Now())
	body, _ := json.Marshal(c)
	tok, _ := a.sign(queued{JTI: "j", Claims: body}, time.Now())
	p := r.peers["a"]
	b.ResetTimer()
	for range b.N {
		if _, serr := r.verifySET(context.Background(), p, tok, time.Now()); serr != nil {
			b.Fatal(serr)
		}
	}
}

// TestTTLCountsFromQueueing: a SET delivered an hour after its fact was
// queued carries an hour less of ttl, so the fact expires when the sender
// meant.
func TestTTLCountsFromQueueing(t *testing.T) {
	clk := &fakeClock{now: time.Now()}
	p := newPair(t, clk.Now)
	var st Stream
	call(t, "POST", p.a.srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, &st)
	f := testFacts(clk.Now())[3] // expires in 24h
	if err := p.a.svc.Publish(context.Background(), []federation.Fact{f}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	var resp pollResponse
	call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"returnImmediately": true}, &resp)
	for _, tok := range resp.Sets {
		c, serr := p.b.svc.verifySET(context.Background(), p.b.svc.peers["a"], tok, clk.Now())
		if serr != nil {
			t.Fatal(serr)
		}
		got, err := factOf(c, "a", clk.Now(), DefaultTTLCap)
		if err != nil {
			t.Fatal(err)
		}
		if d := got.Expires.Sub(f.Expires); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("received fact expires %v, sent %v", got.Expires, f.Expires)
		}
	}
}

// TestLongPoll: a poll that may wait is answered with a SET queued while
// it waits, and with no SET when none comes within long_poll.
func TestLongPoll(t *testing.T) {
	a := startGuard(t, t.TempDir(), func(iss string) Config {
		return Config{Issuer: iss, Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds}}}
	}, nil)
	var st Stream
	call(t, "POST", a.srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, &st)
	var empty pollResponse
	if code := call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{}, &empty); code != 200 || len(empty.Sets) != 0 {
		t.Fatalf("long poll with nothing queued: %d, %d sets", code, len(empty.Sets))
	}
	done := make(chan pollResponse)
	go func() {
		var resp pollResponse
		call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{}, &resp)
		done <- resp
	}()
	if err := a.svc.Publish(context.Background(), testFacts(time.Now())[:1]); err != nil {
		t.Fatal(err)
	}
	if resp := <-done; len(resp.Sets) != 1 {
		// Published before the poll began waiting, or woke it: either way
		// the poll answers with it, unless it was already answered empty.
		var again pollResponse
		call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"returnImmediately": true}, &again)
		if len(again.Sets) != 1 {
			t.Errorf("the queued SET was not served: %d then %d", len(resp.Sets), len(again.Sets))
		}
	}
}

// TestPublishFilters: a peer gets only the kinds it is configured to be
// sent, of the event types its stream asked for, and email subjects only
// when allowed; a disabled stream gets nothing.
func TestPublishFilters(t *testing.T) {
	email := federation.Fact{Kind: federation.ComboListed, Subject: "taro@example.jp", SubjectFormat: federation.SubjectEmail,
		Confidence: 1, Expires: time.Now().Add(time.Hour)}
	for _, tc := range []struct {
		name      string
		peer      Peer
		requested []string
		status    string
		facts     []federation.Fact
		want      int
	}{
		{"all kinds on", Peer{Send: federation.Kinds}, nil, "", testFacts(time.Now()), 8},
		{"nothing on", Peer{}, nil, "", testFacts(time.Now()), 0},
		{"two kinds on", Peer{Send: []federation.Kind{federation.ComboListed, federation.SessionRevoked}}, nil, "", testFacts(time.Now()), 2},
		{"indicators requested", Peer{Send: federation.Kinds}, []string{EventCampaignIndicator}, "", testFacts(time.Now()), 5},
		{"paused peer", Peer{Send: federation.Kinds, Paused: true}, nil, "", testFacts(time.Now()), 0},
		{"disabled stream", Peer{Send: federation.Kinds}, nil, StatusDisabled, testFacts(time.Now()), 0},
		{"paused stream keeps", Peer{Send: federation.Kinds}, nil, StatusPaused, testFacts(time.Now()), 8},
		{"email not allowed", Peer{Send: federation.Kinds}, nil, "", []federation.Fact{email}, 0},
		{"email allowed", Peer{Send: federation.Kinds, SendEmail: true}, nil, "", []federation.Fact{email}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := tc.peer
			peer.Name, peer.Issuer = "b", "https://b.example"
			s, err := New(Config{Issuer: "https://a.example", Peers: []Peer{peer}}, Deps{Log: quiet(), DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			srv := httptest.NewServer(mount(func() *Service { return s }))
			defer srv.Close()
			var st Stream
			body := map[string]any{"delivery": map[string]any{"method": MethodPoll}}
			if tc.requested != nil {
				body["events_requested"] = tc.requested
			}
			call(t, "POST", srv.URL+PathStream, "b", body, &st)
			if tc.status != "" {
				call(t, "POST", srv.URL+PathStatus, "b", map[string]any{"stream_id": st.ID, "status": tc.status}, nil)
			}
			if err := s.Publish(context.Background(), tc.facts); err != nil {
				t.Fatal(err)
			}
			if got := outboxDepth(t, s); got != tc.want {
				t.Errorf("queued %d SETs, want %d", got, tc.want)
			}
		})
	}
}

// BenchmarkSign: signing one queued SET at delivery (RS256, 2048 bits).
func BenchmarkSign(b *testing.B) {
	s, err := New(Config{Issuer: "https://a.example"}, Deps{Log: quiet(), DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, _ := factClaims(testFacts(time.Now())[3], "https://a.example", "https://b.example", "j", time.Now())
	body, _ := json.Marshal(c)
	q := queued{JTI: "j", Claims: body}
	b.ResetTimer()
	for range b.N {
		if _, err := s.sign(q, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

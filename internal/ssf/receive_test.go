package ssf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/atoguard/atoguard/internal/federation"
)

// signed signs claims c (a JSON object) with key as kid, alg and typ.
func signed(t testing.TB, key any, alg jose.SignatureAlgorithm, kid, typ string, c any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(c)
	jws, err := signer.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// setClaims are valid claims from iss to aud at iat, carrying a combo
// listing.
func setClaims(iss, aud, jti string, iat time.Time) map[string]any {
	return map[string]any{"iss": iss, "aud": aud, "iat": iat.Unix(), "jti": jti,
		"sub_id": map[string]any{"format": "opaque", "id": strings.Repeat("cd", 32)},
		"events": map[string]any{EventCampaignIndicator: map[string]any{"kind": "combo_listed", "count": 3, "ttl": 3600, "confidence": 0.5}}}
}

// push sends body to url with token and content type; it returns the
// status and the RFC 8935 error.
func push(t *testing.T, url, token, ctype, body string) (int, SETError) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e SETError
	if len(data) > 0 {
		if err := json.Unmarshal(data, &e); err != nil {
			t.Errorf("answer %d is not RFC 8935 JSON: %s", resp.StatusCode, data)
		}
	}
	return resp.StatusCode, e
}

// TestPushErrors sends one bad SET of each kind to a receiver: each is
// refused with its RFC 8935 error, never a 5xx.
func TestPushErrors(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	retired, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &rsaKey.PublicKey, KeyID: "r1", Algorithm: "RS256", Use: "sig"},
		{Key: &ecKey.PublicKey, KeyID: "e1", Algorithm: "ES256", Use: "sig"},
	}})
	const iss, aud = "https://peer.example", "https://me.example"
	g := startGuard(t, t.TempDir(), func(string) Config {
		return Config{Issuer: aud, MaxBodyBytes: 8 << 10, BadPerMinute: 1000, Peers: []Peer{{Name: "p", Issuer: iss,
			JWKSFile: writeJWKS(t, string(jwks)), Accept: []federation.Kind{federation.ComboListed}, PushTokenEnv: "T"}}}
	}, nil)
	url, token := g.srv.URL+PathPush+"p", "env-T"
	now := time.Now()
	ok := func(jti string) string {
		return signed(t, rsaKey, jose.RS256, "r1", SETType, setClaims(iss, aud, jti, now))
	}
	with := func(mod func(map[string]any)) string {
		c := setClaims(iss, aud, "j-"+randomID(4), now)
		mod(c)
		return signed(t, rsaKey, jose.RS256, "r1", SETType, c)
	}
	replayed := ok("j-replay")
	if code, e := push(t, url, token, "application/secevent+jwt", replayed); code != http.StatusAccepted {
		t.Fatalf("a valid SET: %d %v", code, e)
	}
	for _, tc := range []struct {
		name    string
		token   string
		ctype   string
		body    string
		status  int
		errCode string
	}{
		{"valid RS256", token, "", ok("j-ok"), 202, ""},
		{"valid ES256", token, "", signed(t, ecKey, jose.ES256, "e1", SETType, setClaims(iss, aud, "j-es", now)), 202, ""},
		{"typ with application/", token, "", signed(t, rsaKey, jose.RS256, "r1", "application/secevent+jwt", setClaims(iss, aud, "j-typ", now)), 202, ""},
		{"no kid", token, "", signed(t, rsaKey, jose.RS256, "", SETType, setClaims(iss, aud, "j-nokid", now)), 202, ""},
		{"kind not accepted", token, "", with(func(c map[string]any) {
			c["events"] = map[string]any{EventCampaignIndicator: map[string]any{"kind": "drop_point"}}
		}), 202, ""},
		{"no bearer", "", "", ok("j-1"), 401, ErrAuthenticationFailed},
		{"wrong bearer", "env-X", "", ok("j-2"), 401, ErrAuthenticationFailed},
		{"bad signature", token, "", signed(t, otherKey, jose.RS256, "r1", SETType, setClaims(iss, aud, "j-3", now)), 400, ErrInvalidKey},
		{"unknown kid", token, "", signed(t, otherKey, jose.RS256, "zz", SETType, setClaims(iss, aud, "j-4", now)), 400, ErrInvalidKey},
		{"retired key", token, "", signed(t, retired, jose.RS256, "old", SETType, setClaims(iss, aud, "j-5", now)), 400, ErrInvalidKey},
		{"ES256 under an RSA kid", token, "", signed(t, ecKey, jose.ES256, "r1", SETType, setClaims(iss, aud, "j-6", now)), 400, ErrInvalidKey},
		{"wrong iss", token, "", signed(t, rsaKey, jose.RS256, "r1", SETType, setClaims("https://evil.example", aud, "j-7", now)), 400, ErrInvalidIssuer},
		{"wrong aud", token, "", signed(t, rsaKey, jose.RS256, "r1", SETType, setClaims(iss, "https://other.example", "j-8", now)), 400, ErrInvalidAudience},
		{"replayed jti", token, "", replayed, 400, ErrInvalidRequest},
		{"stale iat", token, "", signed(t, rsaKey, jose.RS256, "r1", SETType, setClaims(iss, aud, "j-9", now.Add(-72*time.Hour))), 400, ErrInvalidRequest},
		{"future iat", token, "", signed(t, rsaKey, jose.RS256, "r1", SETType, setClaims(iss, aud, "j-10", now.Add(time.Hour))), 400, ErrInvalidRequest},
		{"wrong typ", token, "", signed(t, rsaKey, jose.RS256, "r1", "JWT", setClaims(iss, aud, "j-11", now)), 400, ErrInvalidRequest},
		{"no typ", token, "", signed(t, rsaKey, jose.RS256, "r1", "", setClaims(iss, aud, "j-12", now)), 400, ErrInvalidRequest},
		{"HS256", token, "", signed(t, []byte(strings.Repeat("k", 32)), jose.HS256, "r1", SETType, setClaims(iss, aud, "j-13", now)), 400, ErrInvalidRequest},
		{"alg none", token, "", "eyJhbGciOiJub25lIiwidHlwIjoic2VjZXZlbnQrand0In0.eyJpc3MiOiJ4In0.", 400, ErrInvalidRequest},
		{"garbage", token, "", "not a token", 400, ErrInvalidRequest},
		{"empty", token, "", "", 400, ErrInvalidRequest},
		{"wrong content type", token, "application/json", ok("j-14"), 400, ErrInvalidRequest},
		{"oversized", token, "", strings.Repeat("a", 9<<10), 400, ErrInvalidRequest},
		{"has exp", token, "", with(func(c map[string]any) { c["exp"] = now.Unix() + 60 }), 400, ErrInvalidRequest},
		{"has sub", token, "", with(func(c map[string]any) { c["sub"] = "x" }), 400, ErrInvalidRequest},
		{"two events", token, "", with(func(c map[string]any) {
			c["events"] = map[string]any{EventCredentialCompromise: map[string]any{}, EventSessionRevoked: map[string]any{}}
		}), 400, ErrInvalidRequest},
		{"unknown event", token, "", with(func(c map[string]any) { c["events"] = map[string]any{"https://x.example/e": map[string]any{}} }), 400, ErrInvalidRequest},
		{"no sub_id", token, "", with(func(c map[string]any) { delete(c, "sub_id") }), 400, ErrInvalidRequest},
		{"bad confidence", token, "", with(func(c map[string]any) {
			c["events"] = map[string]any{EventCampaignIndicator: map[string]any{"kind": "combo_listed", "confidence": 7}}
		}), 400, ErrInvalidRequest},
		{"claims not an object", token, "", signed(t, rsaKey, jose.RS256, "r1", SETType, []int{1, 2}), 400, ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/secevent+jwt"
			}
			code, e := push(t, url, tc.token, ctype, tc.body)
			if code != tc.status || e.Code != tc.errCode {
				t.Errorf("%d %q (%s), want %d %q", code, e.Code, e.Description, tc.status, tc.errCode)
			}
		})
	}
	got := g.sink.all()
	if len(got) != 5 { // the first valid one, RS256, ES256, typ with application/, no kid
		t.Errorf("the sink took %d facts, want 5: %v", len(got), got)
	}
}

// TestPushRateLimitAndPause: a peer sending garbage is answered 429 once
// over its budget; a paused peer's SETs are dropped unread.
func TestPushRateLimitAndPause(t *testing.T) {
	clk := &fakeClock{now: time.Now()}
	g := startGuard(t, t.TempDir(), func(string) Config {
		return Config{Issuer: "https://me.example", BadPerMinute: 3, Peers: []Peer{
			{Name: "p", Issuer: "https://p.example", JWKSFile: writeJWKS(t, `{"keys":[]}`), PushTokenEnv: "T"},
			{Name: "q", Issuer: "https://q.example", JWKSFile: writeJWKS(t, `{"keys":[]}`), PushTokenEnv: "T", Paused: true},
		}}
	}, clk.Now)
	var codes []int
	for range 5 {
		code, _ := push(t, g.srv.URL+PathPush+"p", "env-T", "application/secevent+jwt", "garbage")
		codes = append(codes, code)
	}
	want := []int{400, 400, 400, 429, 429}
	if !equalInts(codes, want) {
		t.Errorf("garbage answers %v, want %v", codes, want)
	}
	clk.Add(time.Minute)
	if code, _ := push(t, g.srv.URL+PathPush+"p", "env-T", "application/secevent+jwt", "garbage"); code != 400 {
		t.Errorf("a minute later: %d, want 400", code)
	}
	if code, _ := push(t, g.srv.URL+PathPush+"q", "env-T", "application/secevent+jwt", "garbage"); code != 202 {
		t.Errorf("paused peer: %d, want 202 (ignored)", code)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSinkFailureIsRetried: facts the sink cannot keep are answered 503
// and taken when pushed again (the jti is not burnt).
func TestSinkFailureIsRetried(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}}})
	g := startGuard(t, t.TempDir(), func(string) Config {
		return Config{Issuer: "https://me.example", Peers: []Peer{{Name: "p", Issuer: "https://p.example",
			JWKSFile: writeJWKS(t, string(jwks)), Accept: federation.Kinds, PushTokenEnv: "T"}}}
	}, nil)
	tok := signed(t, key, jose.RS256, "k", SETType, setClaims("https://p.example", "https://me.example", "j1", time.Now()))
	g.sink.setFail(errors.New("disk full"))
	if code, _ := push(t, g.srv.URL+PathPush+"p", "env-T", "application/secevent+jwt", tok); code != 503 {
		t.Errorf("sink failing: %d, want 503", code)
	}
	g.sink.setFail(nil)
	if code, _ := push(t, g.srv.URL+PathPush+"p", "env-T", "application/secevent+jwt", tok); code != 202 {
		t.Errorf("again: %d, want 202", code)
	}
	if code, _ := push(t, g.srv.URL+PathPush+"p", "env-T", "application/secevent+jwt", tok); code != 400 {
		t.Errorf("a third time: %d, want 400 (replay)", code)
	}
}

// TestOutboxSurvivesRestart: SETs queued for an unreachable receiver
// are still there after a restart, and delivered once it answers.
func TestOutboxSurvivesRestart(t *testing.T) {
	var up atomic.Bool
	var got atomic.Int32
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer b.Close()
	dir := t.TempDir()
	cfg := Config{Issuer: "https://a.example", Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds}}}
	open := func() (*Service, *httptest.Server) {
		svc, err := New(cfg, Deps{Log: quiet(), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return svc, httptest.NewServer(mount(func() *Service { return svc }))
	}
	a, srv := open()
	call(t, "POST", srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPush, "endpoint_url": b.URL}}, nil)
	if err := a.Publish(context.Background(), testFacts(time.Now())); err != nil {
		t.Fatal(err)
	}
	a.pushOnce(context.Background()) // b is down: the first is put off, the stream held
	srv.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a, srv = open()
	defer srv.Close()
	defer a.Close()
	if n := outboxDepth(t, a); n != len(federation.Kinds) {
		t.Fatalf("after a restart the outbox holds %d SETs, want %d", n, len(federation.Kinds))
	}
	up.Store(true)
	a.pushOnce(context.Background()) // all but the one tried before the restart, put off
	if n := outboxDepth(t, a); n != 1 || int(got.Load()) != len(federation.Kinds)-1 {
		t.Errorf("after a restart: %d queued, %d received; want 1 (its retry not due), %d", n, got.Load(), len(federation.Kinds)-1)
	}
	if _, err := a.state.db.Exec(`UPDATE outbox SET next_at = 0`); err != nil { // its time has come
		t.Fatal(err)
	}
	a.pushOnce(context.Background())
	if n := outboxDepth(t, a); n != 0 || int(got.Load()) != len(federation.Kinds) {
		t.Errorf("after delivery: %d queued, %d received; want 0, %d", n, got.Load(), len(federation.Kinds))
	}
}

func outboxDepth(t *testing.T, s *Service) int {
	t.Helper()
	depth, err := s.state.depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range depth {
		total += n
	}
	return total
}

// TestPushHoldsAFailingStream: while a receiver fails, one SET is tried
// and the stream is held with a growing backoff, not every SET.
func TestPushHoldsAFailingStream(t *testing.T) {
	var tries atomic.Int32
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer b.Close()
	clk := &fakeClock{now: time.Now()}
	a, err := New(Config{Issuer: "https://a.example", Peers: []Peer{{Name: "b", Issuer: "https://b.example", Send: federation.Kinds}}},
		Deps{Log: quiet(), DataDir: t.TempDir(), Wall: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(mount(func() *Service { return a }))
	defer srv.Close()
	call(t, "POST", srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPush, "endpoint_url": b.URL}}, nil)
	if err := a.Publish(context.Background(), testFacts(clk.Now())); err != nil {
		t.Fatal(err)
	}
	var got []int32
	for _, step := range []time.Duration{0, 500 * time.Millisecond, 600 * time.Millisecond, time.Second, 2 * time.Second} {
		clk.Add(step)
		a.pushOnce(context.Background())
		got = append(got, tries.Load())
	}
	// Held 1s after the first failure, then 2s after the second.
	if want := []int32{1, 1, 2, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("tries after each round %v, want %v", got, want)
	}
}

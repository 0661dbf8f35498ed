package ssf

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/atoguard/atoguard/internal/federation"
)

// FuzzSET feeds the receiver's SET parser arbitrary tokens (seeded with
// valid ones and near misses): it never panics, and what it takes makes
// a fact within bounds.
func FuzzSET(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256"}}})
	const iss, aud = "https://p.example", "https://me.example"
	now := time.Now()
	for _, c := range []any{
		setClaims(iss, aud, "j1", now),
		map[string]any{"iss": iss, "aud": []string{aud, "x"}, "iat": now.Unix(), "jti": "j2",
			"sub_id": map[string]any{"format": "email", "email": "A@Example.com"},
			"events": map[string]any{EventSessionRevoked: map[string]any{}}},
		map[string]any{"iss": iss, "aud": aud, "iat": now.Unix(), "jti": "j3",
			"sub_id": map[string]any{"format": "opaque", "id": "203.0.113.0/24"},
			"events": map[string]any{EventCampaignIndicator: map[string]any{"kind": "campaign_source", "subject_format": "prefix", "ttl": -1}}},
		map[string]any{"events": 7},
	} {
		f.Add(signed(f, key, jose.RS256, "k", SETType, c))
	}
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	dir := f.TempDir()
	path := dir + "/jwks.json"
	if err := writeFile(path, jwks); err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Issuer: aud, Peers: []Peer{{Name: "p", Issuer: iss, JWKSFile: path, Accept: federation.Kinds}}},
		Deps{Log: quiet(), DataDir: dir, Sink: newMemSink()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	p := s.peers["p"]
	f.Fuzz(func(t *testing.T, tok string) {
		c, serr := s.verifySET(context.Background(), p, tok, now)
		if serr != nil {
			return
		}
		checkFact(t, c, now)
	})
}

// FuzzSETClaims feeds the claims of a verified SET, arbitrary JSON, to
// the fact builder.
func FuzzSETClaims(f *testing.F) {
	now := time.Now()
	for _, c := range []any{
		setClaims("i", "a", "j", now),
		map[string]any{"sub_id": map[string]any{"format": "opaque", "id": "x"}, "events": map[string]any{EventCampaignIndicator: map[string]any{"kind": "drop_point", "ttl": 1e12, "count": -1}}},
		map[string]any{"sub_id": map[string]any{"format": "email"}, "events": map[string]any{EventCredentialChange: map[string]any{"confidence": 0.3}}},
	} {
		data, _ := json.Marshal(c)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c claims
		if json.Unmarshal(data, &c) != nil {
			return
		}
		checkFact(t, c, now)
	})
}

func checkFact(t *testing.T, c claims, now time.Time) {
	fact, err := factOf(c, "p", now, DefaultTTLCap)
	if err != nil {
		return
	}
	switch {
	case fact.Subject == "" || len(fact.Subject) > maxSubject:
		t.Errorf("subject %q", fact.Subject)
	case !fact.Expires.After(now) || fact.Expires.After(now.Add(DefaultTTLCap)):
		t.Errorf("expires %v, now %v", fact.Expires, now)
	case fact.Confidence < 0 || fact.Confidence > 1 || fact.Count < 0:
		t.Errorf("confidence %v count %d", fact.Confidence, fact.Count)
	case fact.Peer != "p":
		t.Errorf("peer %q", fact.Peer)
	}
}

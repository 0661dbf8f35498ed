package ssf

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/federation"
)

// interopDir holds the node scripts and their pinned jose (npm ci there;
// .ci/run does).
var interopDir = filepath.Join("testdata", "interop")

// node runs script of interopDir with input on stdin and decodes its
// output into out; it skips the test without node or jose.
func node(t *testing.T, script string, input, out any) {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the jose interop tests do not run")
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "jose", "package.json")); err != nil {
		t.Skip("jose is not installed: run `npm ci` in internal/ssf/testdata/interop (.ci/run does)")
	}
	in, _ := json.Marshal(input)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, script)
	cmd.Dir = interopDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v: %s", script, err, stderr.String())
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("node %s: %v: %s", script, err, data)
	}
}

// TestInteropJoseVerifiesOurSETs: jose, fetching our JWKS over loopback,
// verifies SETs our transmitter queued, of every event type, and finds
// the SET envelope: typ, RS256, iss, aud, iat, jti, sub_id, one event, no
// sub or exp.
func TestInteropJoseVerifiesOurSETs(t *testing.T) {
	p := newPair(t, nil)
	var st Stream
	call(t, "POST", p.a.srv.URL+PathStream, "b", map[string]any{"delivery": map[string]any{"method": MethodPoll}}, &st)
	facts := testFacts(time.Now())
	if err := p.a.svc.Publish(context.Background(), facts); err != nil {
		t.Fatal(err)
	}
	var resp pollResponse
	call(t, "POST", st.Delivery.EndpointURL, "b", map[string]any{"returnImmediately": true}, &resp)
	var tokens []string
	for _, tok := range resp.Sets {
		tokens = append(tokens, tok)
	}
	if len(tokens) != len(facts) {
		t.Fatalf("%d SETs queued, want %d", len(tokens), len(facts))
	}
	var verified []struct {
		Header  map[string]any `json:"header"`
		Payload map[string]any `json:"payload"`
	}
	node(t, "verify.mjs", map[string]any{"jwks_uri": p.a.srv.URL + PathJWKS, "issuer": p.a.srv.URL,
		"audience": "https://b.example", "tokens": tokens}, &verified)
	if len(verified) != len(tokens) {
		t.Fatalf("jose verified %d SETs, want %d", len(verified), len(tokens))
	}
	types := map[string]int{}
	for _, v := range verified {
		if v.Header["typ"] != SETType || v.Header["alg"] != "RS256" || v.Header["kid"] == nil {
			t.Errorf("header %v", v.Header)
		}
		for _, claim := range []string{"iss", "aud", "iat", "jti", "sub_id", "events"} {
			if v.Payload[claim] == nil {
				t.Errorf("no %s in %v", claim, v.Payload)
			}
		}
		for _, claim := range []string{"sub", "exp"} {
			if v.Payload[claim] != nil {
				t.Errorf("%s in %v", claim, v.Payload)
			}
		}
		events, _ := v.Payload["events"].(map[string]any)
		if len(events) != 1 {
			t.Errorf("%d events in a SET, want 1", len(events))
		}
		for typ := range events {
			types[typ]++
		}
	}
	want := map[string]int{EventCredentialCompromise: 1, EventCredentialChange: 1, EventSessionRevoked: 1, EventCampaignIndicator: 5}
	for typ, n := range want {
		if types[typ] != n {
			t.Errorf("%d SETs of %s, want %d", types[typ], typ, n)
		}
	}
}

// TestInteropJoseSignedSETsAccepted: SETs jose signed, RS256 and ES256,
// with a JWKS jose exported, are taken by our receiver.
func TestInteropJoseSignedSETsAccepted(t *testing.T) {
	const iss, aud = "https://jose.example", "https://me.example"
	var out struct {
		JWKS   json.RawMessage `json:"jwks"`
		Tokens []string        `json:"tokens"`
	}
	claims := map[string]any{
		"sub_id": map[string]any{"format": "opaque", "id": strings.Repeat("ef", 32)},
		"events": map[string]any{EventCredentialCompromise: map[string]any{"credential_type": "password", "ttl": 600}},
	}
	node(t, "sign.mjs", map[string]any{"issuer": iss, "audience": aud, "claims": claims}, &out)
	jwks := writeJWKS(t, string(out.JWKS))
	g := startGuard(t, t.TempDir(), func(string) Config {
		return Config{Issuer: aud, Peers: []Peer{{Name: "jose", Issuer: iss, JWKSFile: jwks,
			Accept: []federation.Kind{federation.CredentialCompromised}, PushTokenEnv: "T"}}}
	}, nil)
	for i, tok := range out.Tokens {
		if code, e := push(t, g.srv.URL+PathPush+"jose", "env-T", "application/secevent+jwt", tok); code != 202 {
			t.Errorf("jose SET %d: %d %v", i, code, e)
		}
	}
	got := g.sink.wait(t, len(out.Tokens))
	for _, f := range got {
		if f.Kind != federation.CredentialCompromised || f.Peer != "jose" || f.SubjectFormat != federation.SubjectLoginHash {
			t.Errorf("fact %+v", f)
		}
	}
}

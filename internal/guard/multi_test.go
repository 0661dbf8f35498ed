package guard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/hot"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/testserver"
	"github.com/atoguard/atoguard/internal/traffic"
)

const multiBootstrap = "multi-instance-test-bootstrap-secret"

// sharedRedis returns the URL of the test Redis (ATOGUARD_TEST_REDIS, or
// 127.0.0.1:6379); it skips t when none answers.
func sharedRedis(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("ATOGUARD_TEST_REDIS"); u != "" {
		return u
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		t.Skipf("Redis is not reachable on 127.0.0.1:6379 (set ATOGUARD_TEST_REDIS): %v", err)
	}
	c.Close()
	return "redis://127.0.0.1:6379/0"
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// fleet is guards sharing records and Redis, as behind a load balancer.
type fleet struct {
	records, redis, prefix string
	secretFile, factorFile string
}

func newFleet(t *testing.T, records, redis string) *fleet {
	dir := t.TempDir()
	f := &fleet{records: records, redis: redis, prefix: "atoguard-test-" + randHex(t, 6),
		secretFile: filepath.Join(dir, "secret.key"), factorFile: filepath.Join(dir, "factor.keys")}
	if redis != "" {
		testserver.DeleteRedisKeys(t, redis, f.prefix)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := os.WriteFile(f.secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.factorFile, []byte(stepup.NewKeyEntry("k1")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fleet) config(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Clock = string(clock.Event)
	cfg.Records = f.records
	cfg.Hot = hot.Config{URL: f.redis, Prefix: f.prefix}
	cfg.SecretKeyFile = f.secretFile
	cfg.StepUp.EncryptionKeyFile = f.factorFile
	cfg.TickEvery = time.Hour // no idle ticks: the test's events are the clock
	return cfg
}

// start starts one guard of the fleet; it stops when the test ends.
func (f *fleet) start(t *testing.T, cfg config.Config) *Guard {
	t.Helper()
	g, _ := startGuard(t, cfg, Options{BootstrapKey: multiBootstrap})
	return g
}

// startGuard starts a guard of cfg on a free loopback port with opts
// (their Log and Listener set here) and returns it and its log; it stops
// when the test ends, if it has not already.
func startGuard(t *testing.T, cfg config.Config, opts Options) (*Guard, *syncBuffer) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts.Log, opts.Listener = slog.New(slog.NewTextHandler(logs, nil)), ln
	g, err := Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Stop(); err != nil {
			t.Errorf("guard %s stopped: %v", g.URL(), err)
		}
		if t.Failed() {
			t.Logf("log of guard %s:\n%s", g.URL(), logs.String())
		}
	})
	return g, logs
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// call sends one API request with the bootstrap key and decodes the
// answer into out (when not nil); it returns the status.
func call(t *testing.T, method, url string, in, out any) int {
	t.Helper()
	return callAs(t, multiBootstrap, method, url, in, out)
}

// callAs is call with the API key secret; empty means the bootstrap key.
func callAs(t *testing.T, secret, method, url string, in, out any) int {
	t.Helper()
	if secret == "" {
		secret = multiBootstrap
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type incidentOut struct {
	ID                  string `json:"id"`
	Kind                string `json:"kind"`
	Attempts            int64  `json:"attempts"`
	AccountsTargeted    int64  `json:"accounts_targeted"`
	AccountsCompromised int64  `json:"accounts_compromised"`
}

// waitApplied waits until g has replayed n of its peers' events.
func waitApplied(t *testing.T, g *Guard, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for g.hub.Status().Applied < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s replayed %d of its peers' events, want %d (%+v)", g.URL(), g.hub.Status().Applied, n, g.hub.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// multiScenario returns the events of testdata/multi/scenario.yaml, a
// small distributed attack among owners' logins.
func multiScenario(t *testing.T) []traffic.Labeled {
	t.Helper()
	sc, err := traffic.Load("testdata/multi/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	labeled, err := traffic.Generate(sc)
	if err != nil {
		t.Fatal(err)
	}
	return labeled
}

// TestTwoGuardsActAsOne runs two guards on different ports sharing
// PostgreSQL and Redis. A distributed attack sent half to each opens one
// incident, the same the attack opens on a single guard; a challenge made
// on one is answered on the other; a TOTP code used on one is refused on
// the other.
func TestTwoGuardsActAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two guards on PostgreSQL and Redis")
	}
	f := newFleet(t, testserver.PostgresSchema(t), sharedRedis(t))
	a := f.start(t, f.config(t))
	b := f.start(t, f.config(t))

	labeled := multiScenario(t)
	// The reference: one engine alone, in process.
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	one, err := engine.New(engine.Config{}, engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: mem, Writer: mem,
		Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}

	// Batches go to a and b in turn, as a load balancer would spread them;
	// each waits until the other guard has replayed the previous one.
	const batch = 40
	sent := map[*Guard]int64{}
	guards := []*Guard{a, b}
	var last time.Time
	for i := 0; i*batch < len(labeled); i++ {
		part := labeled[i*batch : min((i+1)*batch, len(labeled))]
		raw := make([]json.RawMessage, len(part))
		for j := range part {
			raw[j] = part[j].Event
			ev, err := event.Decode(part[j].Event)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := one.Assess(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			last = ev.OccurredAt
		}
		to, other := guards[i%2], guards[(i+1)%2]
		var out struct {
			Results []struct {
				Decision string `json:"decision"`
			} `json:"results"`
		}
		if code := call(t, "POST", to.URL()+"/v1/events:batch", map[string]any{"events": raw}, &out); code != 200 || len(out.Results) != len(part) {
			t.Fatalf("batch %d to %s: %d, %d results", i, to.URL(), code, len(out.Results))
		}
		sent[to] += int64(len(part))
		waitApplied(t, other, sent[to])
	}
	if err := one.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, err := mem.ListIncidents(context.Background(), "")
	if err != nil || len(want) != 1 {
		t.Fatalf("the attack on one guard opened %d incidents (%v), want 1", len(want), err)
	}

	var fromA, fromB []incidentOut
	if code := call(t, "GET", a.URL()+"/v1/incidents", nil, &fromA); code != 200 {
		t.Fatalf("incidents from a: %d", code)
	}
	if code := call(t, "GET", b.URL()+"/v1/incidents", nil, &fromB); code != 200 {
		t.Fatalf("incidents from b: %d", code)
	}
	if len(fromA) != 1 || len(fromB) != 1 || fromA[0] != fromB[0] {
		t.Fatalf("incidents: a lists %+v, b lists %+v; want the same one", fromA, fromB)
	}
	got := fromA[0]
	w := want[0]
	if got.Kind != w.Kind || got.Attempts != w.Attempts || got.AccountsTargeted != w.AccountsTargeted || got.AccountsCompromised != w.AccountsCompromised {
		t.Errorf("two guards: %+v\none guard: kind %s attempts %d targeted %d compromised %d", got, w.Kind, w.Attempts, w.AccountsTargeted, w.AccountsCompromised)
	}
	t.Logf("one incident from two guards: %+v", got)

	// Step-up across the guards. Event time: each event sent moves both
	// guards' clocks (the other replays it).
	at := last.Add(time.Hour).Truncate(30 * time.Second)
	tick := func(to *Guard, at time.Time) {
		t.Helper()
		ev := map[string]any{"type": "login.failed", "occurred_at": at.Format(time.RFC3339Nano), "login": "clock@example.jp",
			"context": map[string]any{"ip": "192.0.2.1", "user_agent": "Mozilla/5.0"}}
		if code := call(t, "POST", to.URL()+"/v1/events", ev, nil); code != 200 {
			t.Fatalf("clock event: %d", code)
		}
		sent[to]++
		other := a
		if to == a {
			other = b
		}
		waitApplied(t, other, sent[to])
	}
	code := func(secret string, at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tick(a, at)
	var enrol struct {
		FactorID string `json:"factor_id"`
		Secret   string `json:"secret"`
	}
	if c := call(t, "POST", a.URL()+"/v1/users/u-multi/factors/totp", map[string]any{"name": "phone", "account_name": "multi@example.jp"}, &enrol); c != 200 {
		t.Fatalf("enrol on a: %d", c)
	}
	var confirmed struct {
		Confirmed bool `json:"confirmed"`
	}
	if c := call(t, "POST", b.URL()+"/v1/users/u-multi/factors/totp/confirm", map[string]any{"factor_id": enrol.FactorID, "code": code(enrol.Secret, at)}, &confirmed); c != 200 || !confirmed.Confirmed {
		t.Fatalf("confirm on b of a factor enrolled on a: %d %+v", c, confirmed)
	}

	at = at.Add(30 * time.Second)
	tick(b, at)
	var ch1, ch2 struct {
		ID string `json:"id"`
	}
	if c := call(t, "POST", a.URL()+"/v1/challenges", map[string]any{"user_id": "u-multi", "purpose": "login"}, &ch1); c != 200 || ch1.ID == "" {
		t.Fatalf("challenge on a: %d", c)
	}
	type verdict struct {
		Status   string `json:"status"`
		Decision string `json:"decision"`
	}
	var v verdict
	if c := call(t, "POST", b.URL()+"/v1/challenges/"+ch1.ID+"/verify", map[string]any{"method": "totp", "code": code(enrol.Secret, at)}, &v); c != 200 || v.Status != "passed" {
		t.Fatalf("challenge made on a, answered on b: %d %+v, want passed", c, v)
	}
	if c := call(t, "POST", b.URL()+"/v1/challenges", map[string]any{"user_id": "u-multi", "purpose": "login"}, &ch2); c != 200 || ch2.ID == "" {
		t.Fatalf("challenge on b: %d", c)
	}
	v = verdict{}
	if c := call(t, "POST", a.URL()+"/v1/challenges/"+ch2.ID+"/verify", map[string]any{"method": "totp", "code": code(enrol.Secret, at)}, &v); c != 200 || v.Status != "failed" {
		t.Fatalf("the TOTP code used on b, replayed on a: %d %+v, want failed", c, v)
	}
	at = at.Add(30 * time.Second)
	tick(a, at)
	v = verdict{}
	if c := call(t, "POST", a.URL()+"/v1/challenges/"+ch2.ID+"/verify", map[string]any{"method": "totp", "code": code(enrol.Secret, at)}, &v); c != 200 || v.Status != "passed" {
		t.Fatalf("the next code on a: %d %+v, want passed", c, v)
	}

	var ready struct {
		Status     string `json:"status"`
		Components map[string]struct {
			Status string `json:"status"`
		} `json:"components"`
	}
	if c := call(t, "GET", a.URL()+"/readyz", nil, &ready); c != 200 || ready.Status != "ready" || ready.Components["redis"].Status != "ok" {
		t.Errorf("readyz: %d %+v", c, ready)
	}
}

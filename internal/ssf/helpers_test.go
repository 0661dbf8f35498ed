package ssf

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/atoguard/atoguard/internal/federation"
)

// memSink records the facts it is given (tests only).
type memSink struct {
	mu    sync.Mutex
	facts []federation.Fact
	got   chan struct{}
	fail  error
}

func newMemSink() *memSink { return &memSink{got: make(chan struct{}, 1000)} }

func (m *memSink) Receive(_ context.Context, facts []federation.Fact) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.facts = append(m.facts, facts...)
	for range facts {
		m.got <- struct{}{}
	}
	return nil
}

func (m *memSink) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

func (m *memSink) all() []federation.Fact {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]federation.Fact(nil), m.facts...)
}

// wait blocks until n facts have arrived (or fails the test after a
// generous bound: a liveness check, not a timing).
func (m *memSink) wait(t *testing.T, n int) []federation.Fact {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for range n {
		select {
		case <-m.got:
		case <-deadline:
			t.Fatalf("got %d facts, want %d", len(m.all()), n)
		}
	}
	return m.all()
}

// fakeClock is a settable wall clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// guard is one side of a test federation: a service served over
// loopback, with API keys "key-NAME" for callers NAME.
type guard struct {
	svc  *Service
	srv  *httptest.Server
	sink *memSink
	dir  string
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mount serves the routes of svc; an authorized route takes "Bearer
// key-NAME" as the API key of NAME.
func mount(svc func() *Service) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range (&Service{}).Routes() {
		pattern := rt.Pattern
		authorized := rt.Authorized
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s := svc()
			var route Route
			for _, x := range s.Routes() {
				if x.Pattern == pattern {
					route = x
				}
			}
			caller := ""
			if authorized {
				name, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer key-")
				if !ok {
					http.Error(w, `{"status":401}`, http.StatusUnauthorized)
					return
				}
				caller = name
			}
			route.Serve(w, r, caller)
		})
	}
	return mux
}

// startGuard starts a service of cfg (Issuer filled in from its server
// unless set) in dir.
func startGuard(t *testing.T, dir string, cfg func(issuer string) Config, wall func() time.Time) *guard {
	t.Helper()
	g := &guard{sink: newMemSink(), dir: dir}
	g.srv = httptest.NewServer(mount(func() *Service { return g.svc }))
	t.Cleanup(g.srv.Close)
	c := cfg(g.srv.URL)
	c.LongPoll, c.PollEvery = 2*time.Second, 100*time.Millisecond
	svc, err := New(c, Deps{Log: quiet(), Sink: g.sink, DataDir: dir, Wall: wall,
		Getenv: func(k string) string { return "env-" + k }})
	if err != nil {
		t.Fatal(err)
	}
	g.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = svc.Close() })
	return g
}

// call sends a JSON request as caller and decodes the answer into out
// (when not nil); it returns the status.
func call(t *testing.T, method, url, caller string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if caller != "" {
		req.Header.Set("Authorization", "Bearer key-"+caller)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, data)
		}
	}
	return resp.StatusCode
}

// testFacts are one of each kind.
func testFacts(now time.Time) []federation.Fact {
	var out []federation.Fact
	for i, k := range federation.Kinds {
		f := federation.Fact{Kind: k, Subject: strings.Repeat("ab", 32), SubjectFormat: federation.SubjectLoginHash,
			Incident: "inc_1", Count: 10 + i, FirstSeen: now.Add(-time.Hour).Truncate(time.Second).UTC(),
			LastSeen: now.Truncate(time.Second).UTC(), Confidence: 0.75, Expires: now.Add(24 * time.Hour)}
		switch k {
		case federation.CampaignSource:
			f.Subject, f.SubjectFormat = "203.0.113.0/24", federation.SubjectPrefix
		case federation.CampaignFingerprint, federation.DropPoint, federation.SprayedPassword:
			f.SubjectFormat = federation.SubjectHash
		}
		out = append(out, f)
	}
	return out
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

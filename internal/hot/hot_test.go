package hot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/atoguard/atoguard/internal/testserver"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// redisURL is the Redis the tests use: ATOGUARD_TEST_REDIS, or this
// machine's on 127.0.0.1:6379. Tests skip when it is not reachable.
func redisURL(t *testing.T) string {
	t.Helper()
	addr := "127.0.0.1:6379"
	if u := os.Getenv("ATOGUARD_TEST_REDIS"); u != "" {
		return u
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Skipf("no Redis on %s (start it, or set ATOGUARD_TEST_REDIS): %v", addr, err)
	}
	c.Close()
	return "redis://" + addr + "/0"
}

func openHub(t *testing.T, url, prefix string) *Hub {
	t.Helper()
	h, err := Open(context.Background(), Config{URL: url, Prefix: prefix}, secret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	testserver.DeleteRedisKeys(t, url, prefix)
	return h
}

// collector records what a hub replays.
type collector struct {
	mu  sync.Mutex
	got []string
}

func (c *collector) apply(_ context.Context, batch [][]byte) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, data := range batch {
		c.got = append(c.got, string(data))
	}
	return make([]error, len(batch))
}

// ignore is an Applier that replays nothing and fails nothing.
func ignore(_ context.Context, batch [][]byte) []error { return make([]error, len(batch)) }

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventsReachTheOtherInstances(t *testing.T) {
	url := redisURL(t)
	prefix := fmt.Sprintf("atoguard-test-%d", time.Now().UnixNano())
	a, b := openHub(t, url, prefix), openHub(t, url, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	var ca, cb collector
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.Run(ctx, ca.apply) }()
	go func() { defer wg.Done(); b.Run(ctx, cb.apply) }()
	defer func() { cancel(); wg.Wait() }()
	// Both read from the stream's end; let them get there.
	time.Sleep(200 * time.Millisecond)

	const n = 1500 // more than one pipeline and one read
	for i := range n {
		a.Publish([]byte(fmt.Sprintf("a%d", i)))
	}
	b.Publish([]byte("b0"))
	waitFor(t, "b to replay a's events", func() bool { return cb.len() == n })
	waitFor(t, "a to replay b's event", func() bool { return ca.len() == 1 })
	cb.mu.Lock()
	for i, got := range cb.got {
		if want := fmt.Sprintf("a%d", i); got != want {
			t.Fatalf("event %d: got %q, want %q (in order)", i, got, want)
		}
	}
	cb.mu.Unlock()
	if ca.got[0] != "b0" {
		t.Errorf("a replayed %q, want b0 (and not its own)", ca.got[0])
	}
	st := a.Status()
	if !st.Connected || st.Published != n || st.Backlog != 0 {
		t.Errorf("a's status %+v", st)
	}
	// Pipelined: far fewer round trips than events.
	if st.RoundTrips > n/10 {
		t.Errorf("%d round trips for %d events", st.RoundTrips, n)
	}
}

// TestReplayAppliesARead: the peers' events of one read go to the
// applier in one call, in the stream's order, without this instance's
// own; an entry that does not open and an event the applier refuses are
// counted failed, the others applied. (No Redis: the hubs only seal and
// open.)
func TestReplayAppliesARead(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{URL: "redis://127.0.0.1:1/0", Prefix: "atoguard-test-replay"}
	a, err := Open(context.Background(), cfg, secret, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(context.Background(), cfg, secret, log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, d := range []string{"a0", "bad", "a1"} {
		a.Publish([]byte(d))
	}
	b.Publish([]byte("b0"))
	entry := func(id string, h *Hub, i int) redis.XMessage {
		return redis.XMessage{ID: id, Values: map[string]any{"i": h.instance, "d": string(h.backlog[i])}}
	}
	read := []redis.XStream{{Stream: b.stream, Messages: []redis.XMessage{
		entry("5-0", a, 0), entry("5-1", b, 0), entry("5-2", a, 1),
		{ID: "6-0", Values: map[string]any{"i": a.instance, "d": "not sealed"}},
		entry("7-0", a, 2),
	}}}
	var calls [][]string
	last := "1-0"
	b.replay(context.Background(), read, &last, func(_ context.Context, batch [][]byte) []error {
		var got []string
		errs := make([]error, len(batch))
		for i, d := range batch {
			got = append(got, string(d))
			if string(d) == "bad" {
				errs[i] = errors.New("refused")
			}
		}
		calls = append(calls, got)
		return errs
	})
	if diff := cmp.Diff([][]string{{"a0", "bad", "a1"}}, calls); diff != "" {
		t.Errorf("applier calls (-want +got):\n%s", diff)
	}
	if st := b.Status(); st.Applied != 2 || st.Failed != 2 {
		t.Errorf("applied %d and failed %d, want 2 and 2 (one not sealed, one refused)", st.Applied, st.Failed)
	}
	if last != "7-0" {
		t.Errorf("last id %s, want 7-0", last)
	}
}

func TestSealedEvents(t *testing.T) {
	url := redisURL(t)
	h := openHub(t, url, "atoguard-test-seal")
	other, err := Open(context.Background(), Config{URL: url, Prefix: "atoguard-test-seal"}, []byte("another secret of thirty-two b.."), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	h.Publish([]byte("password sha1 and all"))
	sealed := h.backlog[0]
	if string(sealed) == "password sha1 and all" {
		t.Fatal("published in the clear")
	}
	if got, err := h.open(sealed); err != nil || string(got) != "password sha1 and all" {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := other.open(sealed); err == nil {
		t.Error("an instance with another secret opened the event")
	}
}

func TestClaimOneIncident(t *testing.T) {
	url := redisURL(t)
	prefix := fmt.Sprintf("atoguard-test-%d", time.Now().UnixNano())
	a, b := openHub(t, url, prefix), openHub(t, url, prefix)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

	id, since, err := a.Claim(ctx, "credential_stuffing", "inc_a", t0)
	if err != nil || id != "inc_a" || !since.Equal(t0) {
		t.Fatalf("a's claim: %s %v %v", id, since, err)
	}
	id, since, err = b.Claim(ctx, "credential_stuffing", "inc_b", t0.Add(time.Second))
	if err != nil || id != "inc_a" || !since.Equal(t0) {
		t.Fatalf("b's claim: got %s %v %v, want inc_a", id, since, err)
	}
	if id, _, _ := b.Claim(ctx, "password_spraying", "inc_s", t0); id != "inc_s" {
		t.Errorf("another kind: %s", id)
	}
	if ok, err := b.Release(ctx, "credential_stuffing", "inc_b"); ok || err != nil {
		t.Errorf("releasing another's claim: %v %v", ok, err)
	}
	if ok, err := a.Release(ctx, "credential_stuffing", "inc_a"); !ok || err != nil {
		t.Errorf("first release: %v %v", ok, err)
	}
	if ok, _ := b.Release(ctx, "credential_stuffing", "inc_a"); ok {
		t.Error("second release also reported first")
	}
	if id, _, _ := b.Claim(ctx, "credential_stuffing", "inc_c", t0); id != "inc_c" {
		t.Errorf("claim after release: %s", id)
	}
}

func TestLock(t *testing.T) {
	url := redisURL(t)
	prefix := fmt.Sprintf("atoguard-test-%d", time.Now().UnixNano())
	a, b := openHub(t, url, prefix), openHub(t, url, prefix)
	ctx := context.Background()
	unlock, err := a.Lock(ctx, "challenge:ch_1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "challenge:ch_1", 5*time.Second); err == nil {
		t.Fatal("b took a lock a holds")
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(ctx, "challenge:ch_1", 5*time.Second)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	unlock()
	if err := <-got; err != nil {
		t.Errorf("b after a released: %v", err)
	}
}

func TestUnreachableRedis(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := openHub(t, "redis://"+addr+"/0", "atoguard-test")
	if !h.Degraded() {
		t.Fatal("not degraded without Redis")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	h.Publish([]byte("kept"))
	h.Run(ctx, ignore)
	st := h.Status()
	if st.Connected || st.Backlog != 1 || st.LastError == "" {
		t.Errorf("status %+v, want disconnected with the event kept", st)
	}
	if _, _, err := h.Claim(context.Background(), "credential_stuffing", "inc", time.Now()); err == nil {
		t.Error("claim without Redis succeeded")
	}
}

// TestHungRedisNoticed: a Redis that hangs (SIGSTOP) is noticed by the
// probe within a few probe periods, not after a blocking read's timeout
// (before: about 11 s, while /readyz said ready), and found again once it
// answers.
func TestHungRedisNoticed(t *testing.T) {
	srv := testserver.Redis(t)
	h := openHub(t, srv.URL(), "atoguard-hung")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx, ignore) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor := func(what string, cond func() bool, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > within {
				t.Fatalf("%s: not within %v", what, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("connected", func() bool { return !h.Degraded() }, 5*time.Second)
	srv.Pause()
	took := waitFor("hung Redis noticed", h.Degraded, 5*time.Second) // the blocking read alone takes ~11 s
	t.Logf("hung Redis noticed after %v", took.Round(10*time.Millisecond))
	srv.Resume()
	waitFor("Redis found again", func() bool { return !h.Degraded() }, 10*time.Second)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{URL: "redis://127.0.0.1:6379/0", OnOutage: "closed"}, true},
		{Config{URL: "redis://127.0.0.1:6379/0", OnOutage: "sometimes"}, false},
		{Config{URL: "http://127.0.0.1/"}, false},
		{Config{URL: "redis://127.0.0.1:6379/0", Backlog: -1}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
	}
}

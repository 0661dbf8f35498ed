package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/groupcommit"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

const hookSecret = "whsec_test_secret_value_0123456789"

// fakeClock is a settable time, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var start = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)

// receiver is a webhook endpoint on 127.0.0.1 that verifies signatures
// against the fake clock and fails while failing() says so.
type receiver struct {
	t       *testing.T
	clock   *fakeClock
	failing func(n int) int // status for the n-th request (from 1); 0 means 200

	mu        sync.Mutex
	requests  int
	delivered map[string]int // notification id → 2xx answers
	bodies    map[string][]byte
	bad       []string // signature or format problems
}

func newReceiver(t *testing.T, clock *fakeClock, failing func(n int) int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, clock: clock, failing: failing, delivered: map[string]int{}, bodies: map[string][]byte{}}
	srv := httptest.NewServer(r) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := client.VerifyWebhookRequest(req, []byte(hookSecret), r.clock.Now(), time.Minute, 1<<20)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" || p.ID != req.Header.Get(HeaderNotificationID) ||
		req.Header.Get("Content-Type") != "application/json" || p.Kind != req.Header.Get(HeaderKind) {
		r.bad = append(r.bad, "bad payload or headers: "+string(body))
	}
	if status := r.failing(r.requests); status != 0 {
		w.WriteHeader(status)
		return
	}
	r.delivered[p.ID]++
	r.bodies[p.ID] = body
}

func (r *receiver) snapshot() (requests int, delivered map[string]int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, maps(r.delivered), slices.Clone(r.bad)
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// hookConfig is a configuration with one signed webhook, "ops", taking
// every kind, at url.
func hookConfig(url string) Config {
	return Config{
		Webhooks: []WebhookConfig{{Name: "ops", URL: url, SecretEnv: "HOOK_SECRET", Kinds: []string{"*"}}},
		Retry:    RetryConfig{Base: 30 * time.Second, MaxDelay: time.Hour, MaxAttempts: 48, MaxAge: 48 * time.Hour},
	}
}

func getenv(k string) string {
	if k == "HOOK_SECRET" {
		return hookSecret
	}
	return ""
}

// testLogger logs into logs, or nowhere when it is nil.
func testLogger(logs *bytes.Buffer) *slog.Logger {
	var w io.Writer = io.Discard
	if logs != nil {
		w = logs
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// newTestDispatcher returns a dispatcher on the fake clock with seeded
// jitter, logging into logs.
func newTestDispatcher(t *testing.T, cfg Config, outbox Outbox, clock *fakeClock, logs *bytes.Buffer) *Dispatcher {
	t.Helper()
	d, err := newDispatcher(cfg, outbox, testLogger(logs), getenv)
	if err != nil {
		t.Fatalf("newDispatcher: %v", err)
	}
	d.now = clock.Now
	d.jitter = mrand.New(mrand.NewPCG(1, 2))
	return d
}

// owed builds what the engine would enqueue for one taken-over account
// and one incident: owner notifications to the shop's webhook and the
// operator alerts.
func owed(t *testing.T, cfg Config, now time.Time) []store.Notification {
	t.Helper()
	p, err := NewPlanner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := Owner{Account: "u-1042"}
	o.Contacts.Observe("taro@example.jp", now.Add(-30*24*time.Hour))
	o.Contacts.Observe("attacker@example.net", now.Add(-time.Hour))
	inc := store.Incident{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: now.Add(-2 * time.Hour)}
	var out []store.Notification
	out = append(out, p.IncidentOpened(inc, now)...)
	out = append(out, p.NewDeviceLogin(o, Login{Ref: "ev_1", At: now.Add(-90 * time.Minute), Decision: "allow", NewDevice: true}, now)...)
	out = append(out, p.ContactChanged(o, ContactUpdate{Ref: "ev_2", At: now.Add(-time.Hour), Fields: []string{"email"},
		OldEmail: "taro@example.jp", NewEmail: "attacker@example.net"}, now)...)
	out = append(out, p.OrderPlaced(o, Order{Ref: "o-991", At: now.Add(-30 * time.Minute), Decision: "review"}, now)...)
	inc.State, inc.EndedAt = store.IncidentClosed, now
	out = append(out, p.IncidentClosed(inc, now)...)
	return out
}

func idsOf(ns []store.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	slices.Sort(out)
	return out
}

func list(t *testing.T, s store.Store, state string) []store.Notification {
	t.Helper()
	got, err := s.ListNotifications(t.Context(), store.NotificationQuery{State: state, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFailingReceiverDeliversExactlyOnce: the receiver answers 500 to its
// first seven requests, then 200. Every notification owed arrives once
// it is back, exactly once; none is lost, none duplicated.
func TestFailingReceiverDeliversExactlyOnce(t *testing.T) {
	clock := &fakeClock{t: start}
	rec, srv := newReceiver(t, clock, func(n int) int {
		if n <= 7 {
			return http.StatusInternalServerError
		}
		return 0
	})
	cfg := hookConfig(srv.URL)
	st := memory.New()
	want := owed(t, cfg, start)
	if len(want) != 5 {
		t.Fatalf("owed %d notifications, want 5", len(want))
	}
	// The engine writes them with its records; a retried event writes the
	// same notifications again (new ids, same dedupe keys): skipped.
	if err := st.Write(t.Context(), store.Batch{Notifications: want}); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(t.Context(), store.Batch{Notifications: owed(t, cfg, start)}); err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, nil)
	d.batch = 2 // several rounds per pass

	for round := 0; round < 500 && len(list(t, st, store.NotificationPending)) > 0; round++ {
		if _, err := d.dispatch(t.Context(), clock.Now()); err != nil {
			t.Fatal(err)
		}
		clock.Set(clock.Now().Add(15 * time.Second))
	}
	requests, delivered, bad := rec.snapshot()
	if len(bad) > 0 {
		t.Errorf("receiver saw bad requests: %q", bad)
	}
	wantDelivered := map[string]int{}
	for _, id := range idsOf(want) {
		wantDelivered[id] = 1
	}
	if d := cmp.Diff(wantDelivered, delivered); d != "" {
		t.Errorf("deliveries per notification (-want +got):\n%s", d)
	}
	if requests != 7+len(want) {
		t.Errorf("%d requests, want %d (7 failures, then one each)", requests, 7+len(want))
	}
	if got, want := d.Stats(), (DispatchStats{Sent: 5, Retried: 7, QueueDelay: d.Stats().QueueDelay}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	sent := list(t, st, store.NotificationSent)
	if d := cmp.Diff(idsOf(want), idsOf(sent)); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
	for _, n := range sent {
		if n.SentAt.IsZero() || n.LastError != "" {
			t.Errorf("sent %s: SentAt %v, LastError %q", n.ID, n.SentAt, n.LastError)
		}
	}
	// The body received is the payload stored.
	for _, n := range want {
		if !bytes.Equal(rec.bodies[n.ID], n.Payload) {
			t.Errorf("%s: body received differs from the payload", n.ID)
		}
	}
}

// TestQueueDelay: notifications enqueued at start and first claimed two
// minutes later waited two minutes; a round that claims nothing resets
// the figure.
func TestQueueDelay(t *testing.T) {
	clock := &fakeClock{t: start.Add(2 * time.Minute)}
	_, srv := newReceiver(t, clock, func(int) int { return 0 })
	cfg := hookConfig(srv.URL)
	st := memory.New()
	if err := st.Write(t.Context(), store.Batch{Notifications: owed(t, cfg, start)}); err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, nil)
	for round, want := range []time.Duration{2 * time.Minute, 0} {
		if _, err := d.dispatch(t.Context(), clock.Now()); err != nil {
			t.Fatal(err)
		}
		if got := d.Stats(); got.QueueDelay != want || got.Sent != 5 {
			t.Errorf("round %d: Stats() = %+v, want 5 sent, queue delay %v", round+1, got, want)
		}
	}
}

// TestOutboxSurvivesRestart enqueues with SQLite, stops, starts again and
// delivers; and a dispatcher that died holding a lease leaves its
// notifications to be delivered once the lease ends.
func TestOutboxSurvivesRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	clock := &fakeClock{t: start}
	down := true
	var mu sync.Mutex
	rec, srv := newReceiver(t, clock, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	cfg := hookConfig(srv.URL)
	want := owed(t, cfg, start)

	// 1. The engine answers events: their records and notifications are
	// written in one durable write. Then the process stops.
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Batch{
		Audit:         []store.AuditRecord{{EventID: "ev_1", ReceivedAt: start, Type: "login.succeeded", Account: "u-1042"}},
		Notifications: want,
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// 2. Restart while the receiver is down: every attempt fails.
	st, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, nil)
	if n, err := d.dispatch(ctx, clock.Now()); err != nil || n != len(want) {
		t.Fatalf("dispatch = %d, %v; want %d", n, err, len(want))
	}
	for _, n := range list(t, st, store.NotificationPending) {
		if n.Attempts != 1 || !strings.Contains(n.LastError, "answered 503") || !n.NextAttemptAt.After(start) {
			t.Errorf("after a failed attempt: %+v", n)
		}
	}
	// 3. A dispatcher claims them again later and dies mid-delivery
	// (claimed, never marked), then the process stops.
	clock.Set(start.Add(time.Hour))
	claimed, err := st.ClaimNotifications(ctx, clock.Now(), d.lease, 100)
	if err != nil || len(claimed) != len(want) {
		t.Fatalf("claim = %d, %v", len(claimed), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// 4. Restart with the receiver back: nothing is due until the lease
	// ends, then everything is delivered, once.
	mu.Lock()
	down = false
	mu.Unlock()
	st, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d = newTestDispatcher(t, cfg, st, clock, nil)
	if n, err := d.dispatch(ctx, clock.Now()); err != nil || n != 0 {
		t.Fatalf("dispatch during the lease = %d, %v; want 0", n, err)
	}
	clock.Set(start.Add(time.Hour).Add(d.lease))
	if n, err := d.dispatch(ctx, clock.Now()); err != nil || n != len(want) {
		t.Fatalf("dispatch after the lease = %d, %v; want %d", n, err, len(want))
	}
	clock.Set(clock.Now().Add(24 * time.Hour))
	if n, err := d.dispatch(ctx, clock.Now()); err != nil || n != 0 {
		t.Fatalf("dispatch once all is sent = %d, %v; want 0", n, err)
	}
	_, delivered, bad := rec.snapshot()
	if len(bad) > 0 {
		t.Errorf("bad requests: %q", bad)
	}
	for _, n := range want {
		if delivered[n.ID] != 1 {
			t.Errorf("%s (%s) delivered %d times, want once", n.ID, n.Kind, delivered[n.ID])
		}
	}
	for _, n := range list(t, st, "") {
		if n.State != store.NotificationSent || n.Attempts != 3 {
			t.Errorf("%s: state %s after %d attempts; want sent after 3", n.ID, n.State, n.Attempts)
		}
	}
}

// TestBackoffSchedule follows one notification to a receiver that is
// always down, at exactly each time it is due: the delays double from
// the base to the cap with seeded jitter, and it is given up after
// MaxAttempts.
func TestBackoffSchedule(t *testing.T) {
	clock := &fakeClock{t: start}
	_, srv := newReceiver(t, clock, func(int) int { return http.StatusBadGateway })
	cfg := hookConfig(srv.URL)
	cfg.Retry = RetryConfig{Base: 30 * time.Second, MaxDelay: 10 * time.Minute, MaxAttempts: 8, MaxAge: 48 * time.Hour}
	st := memory.New()
	n := owed(t, cfg, start)[0]
	if err := st.Write(t.Context(), store.Batch{Notifications: []store.Notification{n}}); err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, nil)

	// The same seed replayed gives the jitter each delay must carry.
	jitter := mrand.New(mrand.NewPCG(1, 2))
	nominal := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		10 * time.Minute, 10 * time.Minute} // after attempts 1-7; attempt 8 gives up
	at := start
	for attempt := 1; attempt <= 8; attempt++ {
		clock.Set(at)
		if got, err := d.dispatch(t.Context(), at); err != nil || got != 1 {
			t.Fatalf("attempt %d at %v: dispatched %d, %v", attempt, at, got, err)
		}
		stored := list(t, st, "")[0]
		if stored.Attempts != attempt {
			t.Fatalf("attempts = %d, want %d", stored.Attempts, attempt)
		}
		if attempt == 8 {
			if stored.State != store.NotificationFailed || !strings.Contains(stored.LastError, "answered 502") {
				t.Errorf("after the last attempt: state %s, error %q", stored.State, stored.LastError)
			}
			break
		}
		nom := nominal[attempt-1]
		want := nom/2 + time.Duration(jitter.Float64()*float64(nom/2))
		delay := stored.NextAttemptAt.Sub(at)
		if delay != want || delay < nom/2 || delay >= nom {
			t.Errorf("delay after attempt %d = %v, want %v (within [%v, %v))", attempt, delay, want, nom/2, nom)
		}
		// Not due a moment before.
		if got, _ := d.dispatch(t.Context(), stored.NextAttemptAt.Add(-time.Nanosecond)); got != 0 {
			t.Errorf("attempt %d: dispatched %d before it was due", attempt, got)
		}
		at = stored.NextAttemptAt
	}
}

func TestDelay(t *testing.T) {
	r := RetryConfig{Base: 30 * time.Second, MaxDelay: time.Hour}
	tests := []struct {
		attempts int
		u        float64
		want     time.Duration
	}{
		{1, 0, 15 * time.Second},
		{1, 0.5, 22500 * time.Millisecond},
		{1, 0.999999, 29999985 * time.Microsecond},
		{2, 0, 30 * time.Second},
		{3, 0.5, 90 * time.Second},
		{7, 0, 16 * time.Minute},   // 32m nominal
		{8, 0, 30 * time.Minute},   // 64m nominal, capped at 1h
		{8, 0.5, 45 * time.Minute}, // capped
		{1000, 0, 30 * time.Minute},
		{0, 0, 15 * time.Second},  // nonsense attempts count as the first
		{1, -1, 15 * time.Second}, // u clamped
	}
	for _, tt := range tests {
		if got := r.Delay(tt.attempts, tt.u); got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempts, tt.u, got, tt.want)
		}
	}
	// Zero fields take the defaults: 30s base, 1h cap.
	if got := (RetryConfig{}).Delay(20, 0); got != 30*time.Minute {
		t.Errorf("default Delay(20, 0) = %v, want 30m", got)
	}
}

func TestGiveUp(t *testing.T) {
	r := RetryConfig{MaxAttempts: 5, MaxAge: 24 * time.Hour}
	n := store.Notification{CreatedAt: start, Attempts: 4}
	tests := []struct {
		attempts int
		now      time.Time
		want     bool
	}{
		{4, start.Add(time.Hour), false},
		{5, start.Add(time.Hour), true},
		{1, start.Add(24*time.Hour - 1), false},
		{1, start.Add(24 * time.Hour), true},
	}
	for _, tt := range tests {
		n.Attempts = tt.attempts
		if got := r.GiveUp(n, tt.now); got != tt.want {
			t.Errorf("GiveUp(attempts %d, at +%v) = %v, want %v", tt.attempts, tt.now.Sub(start), got, tt.want)
		}
	}
}

// TestPermanentFailures: 410 Gone is final at once; a notification too
// old is given up on its next failure; a channel not configured is
// retried (the configuration may come back).
func TestPermanentFailures(t *testing.T) {
	clock := &fakeClock{t: start}
	_, srv := newReceiver(t, clock, func(int) int { return http.StatusGone })
	cfg := hookConfig(srv.URL)
	st := memory.New()
	gone := store.Notification{ID: "n-gone", Kind: KindIncidentOpened, Channel: store.ChannelWebhook, Recipient: "ops",
		Payload: []byte(`{"id":"n-gone","kind":"operator.incident_opened"}`), CreatedAt: start}
	email := store.Notification{ID: "n-email", Kind: KindOrder, Channel: store.ChannelEmail, Recipient: "a@example.jp",
		Payload: []byte(`{}`), CreatedAt: start}
	unknownHook := store.Notification{ID: "n-unknown", Kind: KindOrder, Channel: store.ChannelWebhook, Recipient: "removed",
		Payload: []byte(`{}`), CreatedAt: start.Add(-47 * time.Hour)}
	if err := st.Write(t.Context(), store.Batch{Notifications: []store.Notification{gone, email, unknownHook}}); err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, nil)
	if _, err := d.dispatch(t.Context(), start); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Notification{}
	for _, n := range list(t, st, "") {
		got[n.ID] = n
	}
	if n := got["n-gone"]; n.State != store.NotificationFailed || !strings.Contains(n.LastError, "410") {
		t.Errorf("410: %+v", n)
	}
	if n := got["n-email"]; n.State != store.NotificationPending || n.LastError != "no email channel is configured" {
		t.Errorf("no channel: %+v", n)
	}
	if n := got["n-unknown"]; n.State != store.NotificationPending || !strings.Contains(n.LastError, `webhook "removed" is not configured`) {
		t.Errorf("unknown webhook: %+v", n)
	}
	// An hour later the unknown webhook's notification is 48 hours old:
	// its next failure is its last.
	clock.Set(start.Add(time.Hour))
	if _, err := d.dispatch(t.Context(), start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, n := range list(t, st, "") {
		if n.ID == "n-unknown" && n.State != store.NotificationFailed {
			t.Errorf("too old: %+v", n)
		}
	}
}

// TestWebhookURLNeverLogged: a chat webhook's URL is its secret; neither
// an error stored nor a log line carries it, nor does the signing secret.
func TestWebhookURLNeverLogged(t *testing.T) {
	clock := &fakeClock{t: start}
	cfg := hookConfig("http://127.0.0.1:1/hooks/T0001/B0001/sEcReTtOkEn") // nothing listens on port 1
	var logs bytes.Buffer
	st := memory.New()
	if err := st.Write(t.Context(), store.Batch{Notifications: owed(t, cfg, start)[:1]}); err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, &logs)
	if _, err := d.dispatch(t.Context(), start); err != nil {
		t.Fatal(err)
	}
	n := list(t, st, "")[0]
	if n.LastError == "" || n.State != store.NotificationPending {
		t.Fatalf("want a failed attempt: %+v", n)
	}
	for what, text := range map[string]string{"LastError": n.LastError, "logs": logs.String()} {
		if strings.Contains(text, "sEcReTtOkEn") || strings.Contains(text, hookSecret) {
			t.Errorf("%s carries a secret: %s", what, text)
		}
	}
	if !strings.Contains(logs.String(), "webhook=ops") {
		t.Errorf("logs do not name the webhook: %s", logs.String())
	}
}

// TestRun runs the loop on the real clock: a notification written while
// it runs is delivered after Wake, and cancelling stops it.
func TestRun(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	rec, srv := newReceiver(t, clock, func(int) int { return 0 })
	cfg := hookConfig(srv.URL)
	cfg.PollEvery = time.Hour // only the first round and Wake
	st := memory.New()
	d := newTestDispatcher(t, cfg, st, clock, nil)
	d.now = time.Now
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	want := owed(t, cfg, time.Now())
	if err := st.Write(t.Context(), store.Batch{Notifications: want}); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for len(list(t, st, store.NotificationSent)) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s, %d of %d sent", len(list(t, st, store.NotificationSent)), len(want))
		}
		clock.Set(time.Now())
		time.Sleep(10 * time.Millisecond)
		d.Wake()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, delivered, _ := rec.snapshot(); len(delivered) != len(want) {
		t.Errorf("%d delivered, want %d", len(delivered), len(want))
	}
}

// TestInterruptedDelivery stops the dispatcher while a receiver hangs:
// the notification is due again at once, not backed off.
func TestInterruptedDelivery(t *testing.T) {
	clock := &fakeClock{t: start}
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then the server notices the client leave
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	cfg := hookConfig(srv.URL)
	st := memory.New()
	if err := st.Write(t.Context(), store.Batch{Notifications: owed(t, cfg, start)[:1]}); err != nil {
		t.Fatal(err)
	}
	d := newTestDispatcher(t, cfg, st, clock, nil)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if _, err := d.dispatch(ctx, start); err != nil {
		t.Fatal(err)
	}
	n := list(t, st, "")[0]
	if n.State != store.NotificationPending || !n.NextAttemptAt.Equal(start) || !strings.HasPrefix(n.LastError, "interrupted") {
		t.Errorf("after an interrupted delivery: %+v", n)
	}
}

func TestNewDispatcherSecrets(t *testing.T) {
	st := memory.New()
	cfg := hookConfig("http://127.0.0.1:9/x")
	cfg.Webhooks[0].SecretEnv = "UNSET_VARIABLE"
	if _, err := newDispatcher(cfg, st, nil, getenv); err == nil || !strings.Contains(err.Error(), "UNSET_VARIABLE is not set") {
		t.Errorf("missing secret env: %v", err)
	}
	cfg.Webhooks[0].SecretEnv = ""
	cfg.Webhooks[0].SecretFile = t.TempDir() + "/none"
	if _, err := newDispatcher(cfg, st, nil, getenv); err == nil {
		t.Error("missing secret file accepted")
	}
	if _, err := NewDispatcher(Config{Workers: -1}, st, nil); err == nil {
		t.Error("invalid configuration accepted")
	}
	if s := (secret{[]byte("pw")}); slog.AnyValue(s).Resolve().String() != "REDACTED" || strings.Contains(fmtAll(s), "pw") {
		t.Error("a secret prints itself")
	}
}

func fmtAll(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		b.WriteString(strings.ReplaceAll(fmt.Sprintf(verb, v), "REDACTED", ""))
	}
	return b.String()
}

// TestGroupCommitWritesNotificationsAlone: a batch holding only
// notifications (an incident alert on a tick) goes through the group
// committer the engine writes with, and is not taken for empty.
func TestGroupCommitWritesNotificationsAlone(t *testing.T) {
	st := memory.New()
	c := groupcommit.New(st, groupcommit.Options{MaxBatch: 2})
	defer c.Close()
	want := owed(t, hookConfig("http://127.0.0.1:9/x"), start)
	if err := c.Write(t.Context(), store.Batch{Notifications: want}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(idsOf(want), idsOf(list(t, st, ""))); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}
}

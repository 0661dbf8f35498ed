package guard

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/testserver"
)

// loadGen sends login events to guards in turn and remembers every event
// id a guard acknowledged.
type loadGen struct {
	key   string // the API key sent; empty: the bootstrap key
	n     int
	acked map[string]bool
	t0    time.Time
}

func newLoadGen() *loadGen {
	return &loadGen{acked: map[string]bool{}, t0: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

// send posts count events to g, each of which must be answered.
func (l *loadGen) send(t *testing.T, g *Guard, count int) {
	t.Helper()
	for range count {
		l.n++
		typ, user := "login.failed", ""
		if l.n%3 == 0 {
			typ, user = "login.succeeded", fmt.Sprintf("u-%d", l.n%50)
		}
		ev := map[string]any{"type": typ, "occurred_at": l.t0.Add(time.Duration(l.n) * time.Second).Format(time.RFC3339Nano),
			"login":   fmt.Sprintf("user%d@example.jp", l.n%50),
			"context": map[string]any{"ip": fmt.Sprintf("198.51.100.%d", l.n%250+1), "user_agent": "Mozilla/5.0", "device_id": fmt.Sprintf("d-%d", l.n%50)}}
		if user != "" {
			ev["user"] = map[string]any{"id": user}
		}
		var out struct {
			EventID  string `json:"event_id"`
			Decision string `json:"decision"`
		}
		if code := callAs(t, l.key, "POST", g.URL()+"/v1/events", ev, &out); code != 200 || out.EventID == "" {
			t.Fatalf("event %d to %s: status %d %+v", l.n, g.URL(), code, out)
		}
		l.acked[out.EventID] = true
	}
}

// checkAudit checks that every acknowledged event is in the audit log of
// the records at url, once.
func (l *loadGen) checkAudit(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListAudit(ctx, store.AuditQuery{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.EventID] = true
	}
	missing := 0
	for id := range l.acked {
		if !seen[id] {
			missing++
		}
	}
	if missing > 0 || len(recs) < len(l.acked) {
		t.Errorf("%d of %d acknowledged events missing from the audit log (%d records)", missing, len(l.acked), len(recs))
	}
}

type readyOut struct {
	Status     string `json:"status"`
	Components map[string]struct {
		Status string          `json:"status"`
		Detail json.RawMessage `json:"detail"`
	} `json:"components"`
}

// waitReady waits until g's /readyz says status (ready or degraded), with
// component part in state partStatus.
func waitReady(t *testing.T, g *Guard, status, part, partStatus string) readyOut {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r readyOut
		code := call(t, "GET", g.URL()+"/readyz", nil, &r)
		if code == 200 && r.Status == status && r.Components[part].Status == partStatus {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s /readyz: %d %+v, want %s with %s %s", g.URL(), code, r, status, part, partStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gauge returns the value of the unlabelled metric name on g's /metrics,
// failing the test when it is not there.
func gauge(t *testing.T, g *Guard, name string) float64 {
	t.Helper()
	resp, err := http.Get(g.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("%s /metrics has no %s", g.URL(), name)
	return 0
}

// TestRedisOutage stops the guards' Redis mid-run: both keep answering,
// /readyz says degraded, and when Redis is back they publish what they
// queued, replay each other's events and say ready again. No acknowledged
// event is missing from the audit log.
func TestRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Redis and two guards")
	}
	rds := testserver.Redis(t)
	records := testserver.PostgresSchema(t)
	f := newFleet(t, records, rds.URL())
	a, b := f.start(t, f.config(t)), f.start(t, f.config(t))
	l := newLoadGen()

	l.send(t, a, 30)
	l.send(t, b, 30)
	waitApplied(t, a, 30)
	waitApplied(t, b, 30)

	rds.Stop()
	l.send(t, a, 40) // answered on a's own state
	l.send(t, b, 40)
	waitReady(t, a, "degraded", "redis", "degraded")
	waitReady(t, b, "degraded", "redis", "degraded")
	if st := a.hub.Status(); st.Backlog == 0 {
		t.Errorf("a queued nothing during the outage: %+v", st)
	}
	if c, q := gauge(t, a, "atoguard_redis_connected"), gauge(t, a, "atoguard_redis_backlog_events"); c != 0 || q == 0 {
		t.Errorf("a's metrics during the outage: atoguard_redis_connected %v, atoguard_redis_backlog_events %v; want 0 and more", c, q)
	}

	rds.Start()
	waitReady(t, a, "ready", "redis", "ok")
	waitReady(t, b, "ready", "redis", "ok")
	// What each queued during the outage reaches the other.
	waitApplied(t, a, 70)
	waitApplied(t, b, 70)
	l.send(t, a, 10)
	waitApplied(t, b, 80)
	// b has read them; a counts them published once its pipeline returns.
	deadline := time.Now().Add(10 * time.Second)
	for a.hub.Status().Backlog != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := a.hub.Status(); st.Backlog != 0 || st.Dropped != 0 || st.Published != 80 {
		t.Errorf("a after the outage: %+v, want all 80 published, none dropped", st)
	}
	if c := gauge(t, a, "atoguard_redis_connected"); c != 1 {
		t.Errorf("atoguard_redis_connected after the outage: %v, want 1", c)
	}
	l.checkAudit(t, records)
}

// TestPostgresOutage stops the guard's PostgreSQL mid-run: events are still
// answered, their records journaled in the data directory, /readyz says
// degraded; when PostgreSQL is back the journal is written and no
// acknowledged event is missing from the audit log.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL and a guard")
	}
	pg := testserver.Postgres(t)
	f := newFleet(t, pg.URL(), "")
	cfg := f.config(t)
	cfg.Hot.URL = "" // records only
	g := f.start(t, cfg)
	l := newLoadGen()

	l.send(t, g, 50)
	pg.Stop()
	l.send(t, g, 100) // journaled
	r := waitReady(t, g, "degraded", "journal", "degraded")
	var js struct {
		Pending int `json:"pending"`
	}
	_ = json.Unmarshal(r.Components["journal"].Detail, &js)
	if js.Pending == 0 {
		t.Errorf("nothing journaled during the outage: %s", r.Components["journal"].Detail)
	}
	if p, d := gauge(t, g, "atoguard_journal_pending_batches"), gauge(t, g, "atoguard_journal_degraded"); p == 0 || d != 1 {
		t.Errorf("metrics during the outage: atoguard_journal_pending_batches %v, atoguard_journal_degraded %v; want some and 1", p, d)
	}

	pg.Start()
	waitReady(t, g, "ready", "journal", "ok")
	if p, r := gauge(t, g, "atoguard_journal_pending_batches"), gauge(t, g, "atoguard_journal_refused_writes_total"); p != 0 || r != 0 {
		t.Errorf("metrics after the outage: atoguard_journal_pending_batches %v, atoguard_journal_refused_writes_total %v; want 0 and 0", p, r)
	}
	l.send(t, g, 10)
	l.checkAudit(t, pg.URL())
}

// TestStartWhilePostgresDown starts a guard whose PostgreSQL is stopped:
// it starts from its journal and the API keys it cached on its last run,
// answers events with a stored key (their records journaled), says
// degraded, and writes the records once PostgreSQL is back.
func TestStartWhilePostgresDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL and a guard")
	}
	pg := testserver.Postgres(t)
	const secret = "stored-key-secret-for-the-outage-test"
	st, err := postgres.Open(t.Context(), pg.URL(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if err := st.PutKey(t.Context(), store.APIKey{ID: "k1", Name: "shop", Hash: sum[:], Scopes: []string{store.ScopeEvents}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	f := newFleet(t, pg.URL(), "")
	cfg := f.config(t)
	cfg.Hot.URL = "" // records only
	l := newLoadGen()
	l.key = secret
	g := f.start(t, cfg)
	l.send(t, g, 5) // reads the stored key: cached
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}

	pg.Stop()
	g = f.start(t, cfg) // the same data directory
	l.send(t, g, 20)
	waitReady(t, g, "degraded", "records", "degraded")
	pg.Start()
	waitReady(t, g, "ready", "journal", "ok")
	l.send(t, g, 5)
	l.checkAudit(t, pg.URL())
}

package guard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/backup"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// TestBackupRestore backs up a guard on SQLite while it serves (events
// keep coming during the backup), restores the backup into a fresh data
// directory and starts a guard there: it has the audit records, the
// incident and the profiles the first had when the backup was taken,
// its API key works, and its keys are the first guard's.
func TestBackupRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("plays an attack through a guard")
	}
	ctx := context.Background()
	const secret = "agk_backup-test-secret" // an API key in the records, as `atoguard keys create` makes it
	cfgA := guardConfig(t)
	st, err := sqlite.Open(ctx, cfgA.Data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if err := st.PutKey(ctx, store.APIKey{ID: "key_shop", Name: "shop", Hash: sum[:],
		Scopes: []string{store.ScopeEvents, store.ScopeAdmin}, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := startGuard(t, cfgA, Options{}) // no bootstrap key: only the records' keys

	// An attack and the owners' logins around it, in batches.
	labeled := multiScenario(t)
	users := map[string]bool{}
	var last time.Time
	for i := 0; i < len(labeled); i += 500 {
		part := labeled[i:min(i+500, len(labeled))]
		raw := make([]json.RawMessage, len(part))
		for j, l := range part {
			raw[j] = l.Event
			ev, err := event.Decode(l.Event)
			if err != nil {
				t.Fatal(err)
			}
			if ev.User.ID != "" {
				users[ev.User.ID] = true
			}
			last = ev.OccurredAt
		}
		if code := callAs(t, secret, "POST", a.URL()+"/v1/events:batch", map[string]any{"events": raw}, nil); code != 200 {
			t.Fatalf("batch at %d: %d", i, code)
		}
	}
	var incidents []incidentOut
	if code := callAs(t, secret, "GET", a.URL()+"/v1/incidents", nil, &incidents); code != 200 || len(incidents) == 0 {
		t.Fatalf("incidents: %d %+v, want the attack's", code, incidents)
	}
	played := int64(len(labeled))

	// More events while the backup is taken: reset requests of users
	// outside the scenario, which touch none of its profiles or incidents.
	var during atomic.Int64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			ev := map[string]any{"type": "password.reset_requested", "occurred_at": last.Format(time.RFC3339Nano),
				"login": fmt.Sprintf("nobody%d@example.jp", n), "user": map[string]any{"id": fmt.Sprintf("nobody-%d", n)}, "context": map[string]any{"ip": "192.0.2.9", "user_agent": "Mozilla/5.0"}}
			if code := callAs(t, secret, "POST", a.URL()+"/v1/events", ev, nil); code != 200 {
				t.Errorf("event during the backup: %d", code)
				return
			}
			during.Add(1)
		}
	}()
	for during.Load() < 5 { // the writes are under way
		select {
		case <-stopped:
			t.Fatal("the events during the backup stopped")
		case <-time.After(time.Millisecond):
		}
	}
	dir := filepath.Join(t.TempDir(), "backup")
	rep, err := backup.Create(ctx, backup.LayoutOf(cfgA, noEnv), dir)
	close(stop)
	<-stopped
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Copied) != 3 {
		t.Errorf("backup copied %+v, want the records, the secret key and the factor keys", rep.Copied)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	cfgB := guardConfig(t)
	if _, err := backup.Restore(backup.LayoutOf(cfgB, noEnv), dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{backup.SecretKeyName, backup.FactorKeysName} {
		ka, errA := os.ReadFile(filepath.Join(cfgA.Data, f))
		kb, errB := os.ReadFile(filepath.Join(cfgB.Data, f))
		if errA != nil || errB != nil || !bytes.Equal(ka, kb) {
			t.Errorf("%s restored: %v %v, equal %v", f, errA, errB, bytes.Equal(ka, kb))
		}
	}
	b, _ := startGuard(t, cfgB, Options{})
	var restored []incidentOut
	if code := callAs(t, secret, "GET", b.URL()+"/v1/incidents", nil, &restored); code != 200 {
		t.Fatalf("incidents from the restored guard: %d", code)
	}
	if diff := cmp.Diff(incidents, restored); diff != "" {
		t.Errorf("incidents (-before the backup +restored):\n%s", diff)
	}
	ev := map[string]any{"type": "login.failed", "occurred_at": last.Add(time.Minute).Format(time.RFC3339Nano), "login": "after@example.jp",
		"context": map[string]any{"ip": "192.0.2.10", "user_agent": "Mozilla/5.0"}}
	if code := callAs(t, secret, "POST", b.URL()+"/v1/events", ev, nil); code != 200 {
		t.Errorf("the restored guard refused the API key: %d", code)
	}
	if code := callAs(t, "agk_not-a-key", "POST", b.URL()+"/v1/events", ev, nil); code != 401 {
		t.Errorf("a wrong key: %d, want 401", code)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}

	// The records, side by side: the first guard's now, and the restored.
	ra, rb := openRecords(t, cfgA.Data), openRecords(t, cfgB.Data)
	na, _ := ra.CountAudit(ctx)
	nb, err := rb.CountAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nb-- // the event sent to the restored guard
	if nb < played || nb > na || na != played+during.Load() {
		t.Errorf("audit records: %d restored, %d played before the backup, %d in all (%d during it)", nb, played, na, during.Load())
	}
	profiles := 0
	for u := range users {
		pa, errA := ra.GetProfile(ctx, u)
		pb, errB := rb.GetProfile(ctx, u)
		if errors.Is(errA, store.ErrNotFound) && errors.Is(errB, store.ErrNotFound) {
			continue // a user who never signed in
		}
		if errA != nil || errB != nil || !bytes.Equal(pa.Data, pb.Data) || !pa.UpdatedAt.Equal(pb.UpdatedAt) {
			t.Fatalf("profile of %s: %v %v; restored equal: %v", u, errA, errB, bytes.Equal(pa.Data, pb.Data))
		}
		profiles++
	}
	if profiles == 0 {
		t.Error("no profile to compare")
	}
	t.Logf("%d audit records restored (%d written during the backup), %d incidents, %d profiles", nb, during.Load(), len(restored), profiles)
}

// guardConfig is a guard alone on SQLite in a fresh data directory, on
// event time.
func guardConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Data, cfg.Clock, cfg.TickEvery = t.TempDir(), string(clock.Event), time.Hour
	return cfg
}

func noEnv(string) string { return "" }

// openRecords opens the SQLite records in data until the test ends.
func openRecords(t *testing.T, data string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

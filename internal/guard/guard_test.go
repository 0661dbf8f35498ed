package guard

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// TestStartServesAndStops starts a guard alone on SQLite, listening on
// cfg.Listen: it answers an event, its dashboard and metrics, and after
// Stop its data directory holds the key, the store and the event.
func TestStartServesAndStops(t *testing.T) {
	cfg := config.Default()
	cfg.Data, cfg.Listen, cfg.Clock = t.TempDir(), "127.0.0.1:0", string(clock.Event)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	g, err := Start(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(logs, nil)), BootstrapKey: multiBootstrap})
	if err != nil {
		t.Fatal(err)
	}
	if g.Mode() != clock.Event || !strings.HasPrefix(g.URL(), "http://127.0.0.1:") || g.Addr() == nil {
		t.Errorf("mode %s, URL %s", g.Mode(), g.URL())
	}
	ev := map[string]any{"type": "login.failed", "occurred_at": "2026-11-25T10:00:00Z", "login": "taro@example.jp",
		"context": map[string]any{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}}
	var out struct {
		Decision string `json:"decision"`
	}
	if code := call(t, "POST", g.URL()+"/v1/events", ev, &out); code != 200 || out.Decision == "" {
		t.Fatalf("event: %d %+v", code, out)
	}
	for path, want := range map[string]int{"/readyz": 200, "/metrics": 200, "/ui/login": 200, "/range/5BAA6": 200, "/v1/challenges/nope": 404} {
		if code := call(t, "GET", g.URL()+path, nil, nil); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
	if err := g.Stop(); err != nil {
		t.Fatalf("Stop: %v\n%s", err, logs)
	}
	if err := g.Wait(); err != nil {
		t.Errorf("Wait after Stop: %v", err)
	}
	for _, f := range []string{"secret.key", sqlite.FileName} {
		if _, err := os.Stat(filepath.Join(cfg.Data, f)); err != nil {
			t.Errorf("data directory: %v", err)
		}
	}
	// A restart on the same data directory finds the acknowledged event.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, cfg.Data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountAudit(ctx); err != nil || n != 1 {
		t.Errorf("audit records after Stop: %d, %v; want 1", n, err)
	}
}

// TestStartFailsCleanly: a guard that cannot start says why and leaves
// its listener closed.
func TestStartFailsCleanly(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for name, tc := range map[string]struct {
		edit func(*config.Config)
		opts Options
		want string
	}{
		"no logger":      {opts: Options{}, want: "no logger"},
		"missing policy": {edit: func(c *config.Config) { c.Policy = filepath.Join(t.TempDir(), "none.yaml") }, opts: Options{Log: log}, want: "none.yaml"},
		"short secret key": {edit: func(c *config.Config) {
			c.SecretKeyFile = filepath.Join(c.Data, "short.key")
			_ = os.WriteFile(c.SecretKeyFile, []byte("short"), 0o600)
		}, opts: Options{Log: log}, want: "want at least 32"},
		"short spray key": {edit: func(c *config.Config) {
			c.Engine.Spray.KeyFile = filepath.Join(c.Data, "spray.key")
			_ = os.WriteFile(c.Engine.Spray.KeyFile, []byte("too short"), 0o600)
		}, opts: Options{Log: log}, want: "engine.spray.key_file"},
		"short federation key": {edit: func(c *config.Config) {
			c.Federation.KeyFile = filepath.Join(c.Data, "federation.key")
			_ = os.WriteFile(c.Federation.KeyFile, []byte("too short"), 0o600)
		}, opts: Options{Log: log}, want: "federation.key_file"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Data = t.TempDir()
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			tc.opts.Listener = ln
			if _, err := Start(context.Background(), cfg, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v, want an error with %q", err, tc.want)
			}
			c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
			if err == nil {
				c.Close()
				t.Error("the listener is still open")
			}
		})
	}
}

// TestRetentionPrunesTheAuditLog: a guard prunes audit records past
// retention.audit_days as it starts (and every retention.every), keeping
// the recent ones.
func TestRetentionPrunesTheAuditLog(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Data, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	cfg.Retention.AuditDays = 30
	st, err := sqlite.Open(ctx, cfg.Data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	var b store.Batch
	for i, age := range []int{100, 45, 31, 1, 0} { // days
		at := now.AddDate(0, 0, -age)
		b.Audit = append(b.Audit, store.AuditRecord{EventID: fmt.Sprintf("ev-%d", i), ReceivedAt: at, OccurredAt: at, Type: "login.failed"})
	}
	if err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	g, err := Start(ctx, cfg, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := st.CountAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit records after start, want the 2 younger than 30 days", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

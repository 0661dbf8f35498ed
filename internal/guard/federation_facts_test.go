package guard

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/federation"
)

// TestFederatedGuard starts a guard with federation on and a fact a
// peer sent on record (kept in the data directory): a correct password
// for that login from a new context is stepped up, and the answer asks
// for a password change.
func TestFederatedGuard(t *testing.T) {
	cfg := config.Default()
	cfg.Data, cfg.Listen, cfg.Clock = t.TempDir(), "127.0.0.1:0", string(clock.Event)
	cfg.Federation.KeyFile = filepath.Join(cfg.Data, "federation.key")
	key := []byte(strings.Repeat("f", 32))
	if err := os.WriteFile(cfg.Federation.KeyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	stolen := federation.Fact{Kind: federation.CredentialCompromised, Subject: federation.Key(key).Hash("login", "taro@example.jp"),
		SubjectFormat: federation.SubjectLoginHash, Count: 1, Confidence: 0.9, LastSeen: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		Expires: time.Date(2026, 12, 25, 9, 0, 0, 0, time.UTC), Peer: "https://shop-a.example", ID: "jti-1"}
	line, _ := json.Marshal(map[string]any{"fact": stolen})
	if err := os.WriteFile(filepath.Join(cfg.Data, FederationFactsFile), append(line, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := Start(context.Background(), cfg, Options{Log: slog.New(slog.DiscardHandler), BootstrapKey: multiBootstrap})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ev := map[string]any{"type": "login.succeeded", "occurred_at": "2026-11-25T10:00:00Z", "login": "Taro@Example.jp",
		"user": map[string]any{"id": "u-1"}, "session_id": "s-1",
		"context": map[string]any{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "accept_language": "en"}}
	var out struct {
		Decision string   `json:"decision"`
		Actions  []string `json:"actions"`
		Reasons  []struct {
			Code string `json:"code"`
		} `json:"reasons"`
	}
	if code := call(t, "POST", g.URL()+"/v1/events", ev, &out); code != 200 {
		t.Fatalf("event: %d", code)
	}
	if out.Decision != "challenge" || !slices.Contains(out.Actions, "require_password_change") ||
		!slices.ContainsFunc(out.Reasons, func(r struct {
			Code string `json:"code"`
		}) bool {
			return r.Code == "peer.credential_compromised"
		}) {
		t.Errorf("login with a password a peer saw stolen: %+v, want a challenge naming peer.credential_compromised and asking for a password change", out)
	}
}

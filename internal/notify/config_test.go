package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/notify"
)

// TestConfigFromYAML parses a full notify section through the server's
// configuration loader: strict keys, durations, lists.
func TestConfigFromYAML(t *testing.T) {
	cfg, err := config.Parse([]byte(`
notify:
  owner_window_days: 30
  site_name: Example Mobile
  time_zone: Asia/Tokyo
  smtp:
    host: smtp.example.jp
    port: 2525
    tls: starttls
    ca_file: /etc/atoguard/relay-ca.pem
    username: atoguard
    password_file: /etc/atoguard/smtp.pass
    from: "Example Mobile <security@example.jp>"
  operator_emails: [soc@example.jp]
  webhooks:
    - name: shop
      url: https://shop.example.jp/atoguard/webhook
      secret_env: ATOGUARD_WEBHOOK_SHOP
      kinds: [owner.*]
    - name: ops-chat
      url: https://chat.example.jp/hooks/T000/B000/XXXX
      unsigned: true
      kinds: [operator.incident_opened, operator.incident_closed]
  retry:
    base: 10s
    max_delay: 30m
    max_attempts: 20
    max_age: 24h
  poll_every: 2s
  batch_size: 20
  workers: 2
  send_timeout: 15s
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := notify.Config{
		OwnerWindowDays: 30, SiteName: "Example Mobile", TimeZone: "Asia/Tokyo",
		SMTP: notify.SMTPConfig{
			Host: "smtp.example.jp", Port: 2525, TLS: "starttls", CAFile: "/etc/atoguard/relay-ca.pem",
			Username: "atoguard", PasswordFile: "/etc/atoguard/smtp.pass", From: "Example Mobile <security@example.jp>",
		},
		OperatorEmails: []string{"soc@example.jp"},
		Webhooks: []notify.WebhookConfig{
			{Name: "shop", URL: "https://shop.example.jp/atoguard/webhook", SecretEnv: "ATOGUARD_WEBHOOK_SHOP", Kinds: []string{"owner.*"}},
			{Name: "ops-chat", URL: "https://chat.example.jp/hooks/T000/B000/XXXX", Unsigned: true,
				Kinds: []string{notify.KindIncidentOpened, notify.KindIncidentClosed}},
		},
		Retry:     notify.RetryConfig{Base: 10 * time.Second, MaxDelay: 30 * time.Minute, MaxAttempts: 20, MaxAge: 24 * time.Hour},
		PollEvery: 2 * time.Second, BatchSize: 20, Workers: 2, SendTimeout: 15 * time.Second,
	}
	if d := cmp.Diff(want, cfg.Notify); d != "" {
		t.Errorf("notify section (-want +got):\n%s", d)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if !cfg.Notify.Enabled() || config.Default().Notify.Enabled() {
		t.Error("Enabled: want true for the file, false for the default")
	}
	if cfg.Notify.OwnerWindow() != 30*24*time.Hour || (notify.Config{}).OwnerWindow() != 14*24*time.Hour {
		t.Errorf("OwnerWindow = %v", cfg.Notify.OwnerWindow())
	}

	if _, err := config.Parse([]byte("notify:\n  smtp:\n    hostname: x\n")); err == nil {
		t.Error("an unknown key under notify.smtp was accepted")
	}
}

// TestConfigValidate reports every problem at once, none for the zero
// value.
func TestConfigValidate(t *testing.T) {
	if err := (notify.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	bad := notify.Config{
		OwnerWindowDays: 91,
		TimeZone:        "Mars/Olympus",
		SMTP: notify.SMTPConfig{
			Host: "smtp.example.jp:587", TLS: "ssl", Port: 70000, Username: "u", From: "not an address",
		},
		OperatorEmails: []string{"Ops <ops@example.jp>"},
		Webhooks: []notify.WebhookConfig{
			{Name: "chat", URL: "ftp://secret-token@example.jp/x", Kinds: []string{"owner.everything"}},
			{Name: "chat", URL: "https://example.jp/a", SecretFile: "/a", SecretEnv: "B", Kinds: []string{"*"}},
			{Name: "bad name!", URL: "https://example.jp/b", Unsigned: true, SecretEnv: "C"},
		},
		Retry:     notify.RetryConfig{Base: time.Hour, MaxDelay: time.Minute, MaxAttempts: -1},
		BatchSize: 5000, Workers: -1, PollEvery: -time.Second,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad configuration")
	}
	want := []string{
		`notify.batch_size: 5000 is not within 0-1000`,
		`notify.operator_emails[0]: "Ops <ops@example.jp>" is not a plain email address`,
		`notify.owner_window_days: 91 is not within 1-90 (0: 14)`,
		`notify.poll_every and send_timeout must not be negative`,
		`notify.retry.max_attempts: -1 is negative`,
		`notify.retry.max_delay: 1m0s is less than retry.base 1h0m0s`,
		`notify.smtp.from: "not an address" is not an email address`,
		`notify.smtp.host: "smtp.example.jp:587" is a host name or address, without port or scheme`,
		`notify.smtp.port: 70000 is not a port`,
		`notify.smtp.tls: "ssl" is not starttls, tls or none`,
		`notify.smtp: username without password_file or password_env`,
		`notify.time_zone: "Mars/Olympus" is not a known time zone`,
		`notify.webhooks[0].kinds: "owner.everything" is not a notification kind, owner.*, operator.*, action.* or *`,
		`notify.webhooks[0].url: not an http or https URL`,
		`notify.webhooks[0]: secret_file or secret_env is required (or unsigned: true)`,
		`notify.webhooks[1].name: "chat" is used twice`,
		`notify.webhooks[1]: both secret_file and secret_env`,
		`notify.webhooks[2].kinds: empty (e.g. [operator.*])`,
		`notify.webhooks[2].name: "bad name!" is not 1-64 letters, digits, '-' or '_'`,
		`notify.webhooks[2]: unsigned with a secret`,
		`notify.workers: -1 is not within 0-64`,
	}
	if d := cmp.Diff(want, strings.Split(err.Error(), "\n")); d != "" {
		t.Errorf("Validate (-want +got):\n%s", d)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Error("an error quotes a webhook URL")
	}

	// The server's validation includes them.
	c := config.Default()
	c.Notify = bad
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "notify.workers") {
		t.Errorf("config.Validate = %v, want the notify problems", err)
	}

	for name, cfg := range map[string]notify.Config{
		"credentials in clear":      {SMTP: notify.SMTPConfig{Host: "h", TLS: "none", From: "a@b.jp", Username: "u", PasswordEnv: "P"}},
		"operator email, no smtp":   {OperatorEmails: []string{"soc@example.jp"}},
		"smtp settings, no host":    {SMTP: notify.SMTPConfig{From: "a@b.jp"}},
		"password without username": {SMTP: notify.SMTPConfig{Host: "h", From: "a@b.jp", PasswordFile: "/p"}},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := notify.NewPlanner(bad); err == nil {
		t.Error("NewPlanner accepted a bad configuration")
	}
}

package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/ssf"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "atoguard.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		file string
		want func(c *config.Config) // changes to Default
	}{
		{name: "empty file", file: ""},
		{name: "only a comment", file: "# all defaults\n"},
		{name: "only whitespace", file: "\n\n   \n"},
		{name: "one field", file: "listen: 0.0.0.0:9000\n", want: func(c *config.Config) { c.Listen = "0.0.0.0:9000" }},
		{name: "tls", file: "tls:\n  cert_file: /etc/atoguard/cert.pem\n  key_file: /etc/atoguard/key.pem\n",
			want: func(c *config.Config) {
				c.TLS.CertFile, c.TLS.KeyFile = "/etc/atoguard/cert.pem", "/etc/atoguard/key.pem"
			}},
		{
			name: "durations",
			file: "tick_every: 5m\nengine:\n  challenge_ttl: 90s\n  campaign:\n    window: 2m\n    close_after: 1h30m\n    learn: 15m\n",
			want: func(c *config.Config) {
				c.TickEvery = 5 * time.Minute
				c.Engine.ChallengeTTL = 90 * time.Second
				c.Engine.Campaign.Window = 2 * time.Minute
				c.Engine.Campaign.CloseAfter = 90 * time.Minute
				c.Engine.Campaign.Learn = 15 * time.Minute
			},
		},
		{
			name: "future skew",
			file: "api:\n  max_future_skew: 30s\n",
			want: func(c *config.Config) { c.API.MaxFutureSkew = 30 * time.Second },
		},
		{
			name: "nested and lists",
			file: "clock: event\napi:\n  max_body_bytes: 1024\nengine:\n  challenge_methods: [totp, email_otp]\n  sources:\n    max_ips: 500\n",
			want: func(c *config.Config) {
				c.Clock = "event"
				c.API.MaxBodyBytes = 1024
				c.API.MaxBatch = 1000 // kept from the default
				c.Engine.ChallengeMethods = []string{"totp", "email_otp"}
				c.Engine.Sources.MaxIPs = 500
			},
		},
		{
			name: "mail servers",
			file: "stepup:\n  smtp:\n    host: mail.example.jp\n    port: 2525\n    from: a@example.jp\n    timeout: 5s\n" +
				"notify:\n  smtp:\n    host: relay.example.jp\n    tls: tls\n    username: guard\n    password_env: PW\n    from: b@example.jp\n",
			want: func(c *config.Config) {
				c.StepUp.SMTP.Host, c.StepUp.SMTP.Port, c.StepUp.SMTP.From = "mail.example.jp", 2525, "a@example.jp"
				c.StepUp.SMTP.Timeout = 5 * time.Second
				n := &c.Notify.SMTP
				n.Host, n.TLS, n.Username, n.PasswordEnv, n.From = "relay.example.jp", "tls", "guard", "PW", "b@example.jp"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Load(writeFile(t, tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := config.Default()
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error
	}{
		{"unknown top-level key", "listen: 127.0.0.1:1\nlisten_adress: x\n", []string{"listen_adress", "not found"}},
		{"unknown nested key", "api:\n  max_bodybytes: 5\n", []string{"max_bodybytes"}},
		{"bootstrap key is not configurable", "api:\n  bootstrapkey: s3cret\n", []string{"bootstrapkey"}},
		{"unknown engine key", "engine:\n  campaign:\n    windw: 1m\n", []string{"windw"}},
		{"bad duration", "data: x\ntick_every: soon\n", []string{"line 2", "soon", "time.Duration"}},
		{"wrong type", "api:\n  max_batch: lots\n", []string{"lots"}},
		{"not a mapping", "- listen\n", []string{"config"}},
		{"timeout is stepup.smtp's only", "notify:\n  smtp:\n    timeout: 5s\n", []string{"timeout", "not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("Load: no error")
			}
			for _, s := range append(tt.want, path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "reading config") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *config.Config)
		want string // the whole error, one problem a line; "" for none
	}{
		{name: "default", edit: func(*config.Config) {}},
		{name: "zero caps and durations mean defaults", edit: func(c *config.Config) {
			c.TickEvery = 0
			c.API.MaxBodyBytes, c.API.MaxBatch = 0, 0
			c.Engine.ChallengeTTL = 0
		}},
		{name: "wall and event", edit: func(c *config.Config) { c.Clock = "event"; c.Synchronous = "normal" }},
		{
			name: "several problems at once",
			edit: func(c *config.Config) {
				c.Listen = "8080"
				c.Clock = "sundial"
				c.Synchronous = "OFF"
				c.Engine.Sources.MaxIPs = -1
				c.Engine.Incidents.TopSources = -2
				c.API.MaxBatch = -5
				c.TickEvery = -time.Second
			},
			want: strings.Join([]string{
				`api.max_batch: -5 is not within 0-10000`,
				`clock: clock "sundial": want wall or event`,
				`engine.incidents.top_sources: -2 is negative`,
				`engine.sources.max_ips: -1 is negative`,
				`listen: "8080" is not host:port`,
				`synchronous: "OFF" is not FULL or NORMAL`,
				`tick_every: negative`,
			}, "\n"),
		},
		{name: "several instances", edit: func(c *config.Config) {
			c.Records = "postgres://atoguard@db.internal:5432/atoguard"
			c.Hot.URL, c.Hot.OnOutage = "redis://127.0.0.1:6379/0", "closed"
		}},
		{
			name: "several instances, wrongly",
			edit: func(c *config.Config) {
				c.Records = "mysql://db/atoguard"
				c.Hot.OnOutage = "maybe"
			},
			want: strings.Join([]string{
				`hot.on_outage: "maybe" is neither open nor closed`,
				`records: not a postgres:// URL (leave it empty for SQLite in the data directory)`,
			}, "\n"),
		},
		{name: "dashboard behind proxies", edit: func(c *config.Config) {
			c.Dashboard.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "::1"}
			c.Dashboard.LoginPerMinute = 10
		}},
		{
			name: "dashboard, wrongly",
			edit: func(c *config.Config) {
				c.Dashboard.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"}
				c.Dashboard.LoginPerMinute = -1
			},
			want: strings.Join([]string{
				`dashboard.login_per_minute: -1 is negative`,
				`dashboard.trusted_proxies[1]: "proxy.internal" is not an address or a CIDR prefix`,
			}, "\n"),
		},
		{name: "federation", edit: func(c *config.Config) {
			c.Federation.KeyFile, c.Federation.Subjects = "/etc/atoguard/federation.key", "email"
			c.SSF = ssf.Config{Issuer: "https://shop-a.example", Peers: []ssf.Peer{{Name: "shop-b", Issuer: "https://shop-b.example",
				JWKSURL: "https://shop-b.example/ssf/jwks.json", Accept: []federation.Kind{federation.ComboListed},
				Send: federation.Kinds, PushTokenEnv: "ATOGUARD_PUSH_SHOP_B"}}}
		}},
		{
			name: "federation, wrongly",
			edit: func(c *config.Config) {
				c.Federation.Subjects = "plain"
				c.SSF = ssf.Config{Issuer: "shop-a", LongPoll: -time.Second, Peers: []ssf.Peer{
					{Name: "shop b", Issuer: "https://shop-b.example", Accept: []federation.Kind{"gossip"}, PollURL: "https://shop-b.example/v1/ssf/poll/1"},
				}}
			},
			want: strings.Join([]string{
				`federation.key_file: empty, yet other federation settings are given`,
				`federation.subjects: "plain" is not login_hash or email`,
				`ssf.issuer: "shop-a" is not an absolute http(s) URL`,
				`ssf.long_poll: -1s is negative`,
				`ssf.peers[0].accept: "gossip" is not a kind of fact (want some of [credential_compromised credential_changed session_revoked combo_listed campaign_source campaign_fingerprint drop_point sprayed_password])`,
				`ssf.peers[0].jwks_url: give jwks_url or jwks_file (one of them) to take SETs from the peer`,
				`ssf.peers[0].name: "shop b" is not 1-64 letters, digits, '.', '_' or '-'`,
				`ssf.peers[0].poll_token_file: polling needs poll_token_env or poll_token_file`,
				`ssf.peers[0]: sends or accepts facts, but federation.key_file is empty (the federation's key hashes what is told and keeps what peers send)`,
			}, "\n"),
		},
		{
			name: "future skew negative",
			edit: func(c *config.Config) { c.API.MaxFutureSkew = -time.Second },
			want: `api.max_future_skew: -1s is not within 0-24h (0: the default, 5m)`,
		},
		{
			name: "future skew over a day",
			edit: func(c *config.Config) { c.API.MaxFutureSkew = 25 * time.Hour },
			want: `api.max_future_skew: 25h0m0s is not within 0-24h (0: the default, 5m)`,
		},
		{name: "future skew of a day", edit: func(c *config.Config) { c.API.MaxFutureSkew = 24 * time.Hour }},
		{
			name: "redis without shared records",
			edit: func(c *config.Config) { c.Hot.URL = "redis://127.0.0.1:6379/0" },
			want: `hot.url: instances sharing Redis must share their records too (records: postgres://...)`,
		},
		{
			name: "api, wrongly",
			edit: func(c *config.Config) {
				c.API.QuotaBurst = -1
				c.API.MaxBatch = 10001
				c.API.MaxBatchBodyBytes = -1
				c.API.RangePerSecond = -0.5
			},
			want: strings.Join([]string{
				`api.max_batch: 10001 is not within 0-10000`,
				`api.max_batch_body_bytes: -1 is not within 0-64 MiB`,
				`api.quota_per_second and api.quota_burst must not be negative`,
				`api.range_per_second: -0.5 is negative`,
			}, "\n"),
		},
		{
			name: "engine, wrongly",
			edit: func(c *config.Config) {
				c.Engine.Familiarity.MaxMarks = -1
				c.Engine.ChallengeMaxAttempts = -3
				c.Engine.Spray.OpenAt = -1
				c.Engine.Campaign.Alpha = -0.1
			},
			want: strings.Join([]string{
				`engine.campaign.alpha: -0.1 is not within [0, 1)`,
				`engine.challenge_max_attempts: -3 is negative`,
				`engine.familiarity.max_marks: -1 is negative`,
				`engine.spray: window, close_after, max_passwords and open_at must not be negative`,
			}, "\n"),
		},
		{
			name: "everything else",
			edit: func(c *config.Config) {
				c.Data = " "
				c.LogFormat = "xml"
				c.API.MaxBodyBytes = 1 << 30
				c.Engine.Campaign.Alpha = 1
				c.Engine.Campaign.Window = -time.Minute
				c.Engine.ChallengeMethods = []string{"totp", "carrier_pigeon"}
				c.TLS.KeyFile = "key.pem"
			},
			want: strings.Join([]string{
				`api.max_body_bytes: 1073741824 is not within 0-64 MiB`,
				`data: empty`,
				`engine.campaign.alpha: 1 is not within [0, 1)`,
				`engine.challenge_methods: "carrier_pigeon" is not webauthn, totp, email_otp or recovery_code`,
				`engine: durations must not be negative`,
				`log_format: "xml" is not text or json`,
				`tls: cert_file and key_file go together`,
			}, "\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.edit(&c)
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadSecretKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.Repeat("k", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good, short := write("good.key", 32), write("short.key", 31)
	missing := filepath.Join(dir, "missing.key")
	tests := []struct {
		name     string
		path     string
		wantLen  int
		wantErr  string // substring; "" for none
		notExist bool
	}{
		{"32 bytes", good, 32, "", false},
		{"too short", short, 0, "secret key " + short + ": 31 bytes, want at least 32", false},
		{"missing", missing, 0, "reading secret key: ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := config.ReadSecretKey(tt.path)
			if got := len(key); got != tt.wantLen {
				t.Errorf("key of %d bytes, want %d", got, tt.wantLen)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
}

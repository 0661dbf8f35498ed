// Package config loads atoguard's configuration file strictly, fills in
// defaults in one place, and validates it, reporting every problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/challenge"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/hot"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/retention"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/stepup"
)

// Config is the configuration of `atoguard serve`. The zero value of every
// field means its default (see Default).
type Config struct {
	Listen        string        `yaml:"listen"`          // address to serve on (default 127.0.0.1:8080)
	TLS           TLS           `yaml:"tls"`             // certificate and key to serve HTTPS with; empty: plain HTTP
	Data          string        `yaml:"data"`            // data directory (default ./atoguard-data)
	Clock         string        `yaml:"clock"`           // wall or event (default wall)
	Policy        string        `yaml:"policy"`          // policy file; empty: the built-in policy
	SecretKeyFile string        `yaml:"secret_key_file"` // 32-byte key for keyed hashes; empty: DATA/secret.key, created on first start
	Synchronous   string        `yaml:"synchronous"`     // SQLite durability: FULL (default) or NORMAL
	LogFormat     string        `yaml:"log_format"`      // text (default) or json
	TickEvery     time.Duration `yaml:"tick_every"`      // how often idle campaigns are checked and state saved (default 10s)
	GeoIP         geo.Config    `yaml:"geoip"`           // MaxMind-format country and ASN databases; empty: none
	Passwords     breach.Config `yaml:"passwords"`       // breached-password corpus: imported index and built-in list
	API           api.Config    `yaml:"api"`
	Engine        engine.Config `yaml:"engine"`
	Notify        notify.Config `yaml:"notify"` // owner and operator notifications; empty: none sent
	StepUp        stepup.Config `yaml:"stepup"` // step-up factors: WebAuthn relying party, email codes, factor keys
	// Records is where records are kept: empty for SQLite in Data, or a
	// postgres:// URL for a PostgreSQL that several instances share
	// (ATOGUARD_RECORDS overrides it, to keep a password out of the file).
	Records string     `yaml:"records"`
	Hot     hot.Config `yaml:"hot"` // Redis joining several instances into one guard; empty url: this instance is alone
	// Dashboard tunes the operators' dashboard under /ui.
	Dashboard Dashboard `yaml:"dashboard"`
	// Retention is how long the audit log and delivered notifications are
	// kept before they are pruned.
	Retention retention.Config `yaml:"retention"`
	// Federation shares what this guard's incidents learn with the
	// guards of other shops, and uses what they report (key_file empty:
	// off, the default).
	Federation federation.Config `yaml:"federation"`
	// SSF is how the facts travel: OpenID Shared Signals, this guard's
	// issuer and its peers (README, "Defend together"); empty issuer: off.
	SSF ssf.Config `yaml:"ssf"`
}

// TLS names the certificate and key files the guard serves HTTPS with;
// both or neither. A renewed pair written over them is picked up within
// seconds, without a restart.
type TLS struct {
	CertFile string `yaml:"cert_file"` // PEM certificate chain, the server's first
	KeyFile  string `yaml:"key_file"`  // PEM private key
}

// Enabled reports whether the guard serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Dashboard tunes the operators' dashboard.
type Dashboard struct {
	// TrustedProxies are the reverse proxies in front of the guard, as
	// addresses or CIDR prefixes: from them the sign-in limiter reads the
	// client's address in X-Forwarded-For. Empty: the peer's address
	// (behind a proxy, every operator would share one address's limit).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// LoginPerMinute is how many sign-in attempts one address, and apart
	// one operator name, may make a minute (default 5). A name whose
	// attempts are spent still lets in a current TOTP code.
	LoginPerMinute int `yaml:"login_per_minute"`
	// SecureCookies says the dashboard's public URL is https behind a
	// TLS-terminating proxy: its cookies are Secure and it sends HSTS on
	// plain HTTP too (served over TLS, it always does).
	SecureCookies bool `yaml:"secure_cookies"`
}

// SecretKeyFileName is the secret key's file in the data directory when
// secret_key_file is empty.
const SecretKeyFileName = "secret.key"

// SecretKeyPath returns the secret key's file: secret_key_file, else
// SecretKeyFileName in the data directory.
func (c Config) SecretKeyPath() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.Data, SecretKeyFileName)
}

// MinSecretKeyBytes is the shortest secret key taken.
const MinSecretKeyBytes = 32

// ReadSecretKey reads the secret key of keyed hashes at path (see
// SecretKeyPath), refusing one shorter than MinSecretKeyBytes. The error
// of a file that does not exist is fs.ErrNotExist.
func ReadSecretKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	if len(key) < MinSecretKeyBytes {
		return nil, fmt.Errorf("secret key %s: %d bytes, want at least %d", path, len(key), MinSecretKeyBytes)
	}
	return key, nil
}

// Proxies returns the trusted proxies as prefixes.
func (d Dashboard) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range d.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("dashboard.trusted_proxies[%d]: %q is not an address or a CIDR prefix", i, s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080", Data: "./atoguard-data", Clock: string(clock.Wall),
		Synchronous: "FULL", LogFormat: "text", TickEvery: 10 * time.Second,
		API: api.Config{MaxBodyBytes: 64 << 10, MaxBatch: 1000, MaxFutureSkew: api.DefaultMaxFutureSkew},
	}
}

// Load reads a YAML file over the defaults. Unknown keys are errors.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML over the defaults. Unknown keys are errors; an empty
// document means all defaults.
func Parse(data []byte) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every problem of the configuration at once, sorted.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, c.serverProblems()...)
	errs = append(errs, apiProblems(c.API)...)
	errs = append(errs, engineProblems(c.Engine)...)
	errs = append(errs, c.Notify.Problems()...)
	errs = append(errs, c.Retention.Problems()...)
	errs = append(errs, c.Federation.Problems()...)
	errs = append(errs, c.SSF.Problems()...)
	errs = append(errs, c.federationProblems()...)
	errs = append(errs, c.Dashboard.problems()...)
	errs = append(errs, c.storageProblems()...)
	if err := c.StepUp.Validate(); err != nil {
		errs = append(errs, err)
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// serverProblems checks the process's own settings: where it listens,
// its data, clock and logs.
func (c Config) serverProblems() []error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port", c.Listen))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	if strings.TrimSpace(c.Data) == "" {
		errs = append(errs, errors.New("data: empty"))
	}
	if _, err := clock.ParseMode(c.Clock); err != nil {
		errs = append(errs, fmt.Errorf("clock: %w", err))
	}
	if s := strings.ToUpper(c.Synchronous); s != "FULL" && s != "NORMAL" {
		errs = append(errs, fmt.Errorf("synchronous: %q is not FULL or NORMAL", c.Synchronous))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format: %q is not text or json", c.LogFormat))
	}
	if c.TickEvery < 0 {
		errs = append(errs, errors.New("tick_every: negative"))
	}
	return errs
}

// apiProblems checks the api section.
func apiProblems(a api.Config) []error {
	var errs []error
	if a.MaxBodyBytes < 0 || a.MaxBodyBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("api.max_body_bytes: %d is not within 0-64 MiB", a.MaxBodyBytes))
	}
	if a.QuotaPerSecond < 0 || a.QuotaBurst < 0 {
		errs = append(errs, errors.New("api.quota_per_second and api.quota_burst must not be negative"))
	}
	if a.MaxBatch < 0 || a.MaxBatch > 10000 {
		errs = append(errs, fmt.Errorf("api.max_batch: %d is not within 0-10000", a.MaxBatch))
	}
	if a.MaxBatchBodyBytes < 0 || a.MaxBatchBodyBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("api.max_batch_body_bytes: %d is not within 0-64 MiB", a.MaxBatchBodyBytes))
	}
	if a.RangePerSecond < 0 {
		errs = append(errs, fmt.Errorf("api.range_per_second: %g is negative", a.RangePerSecond))
	}
	if a.MaxFutureSkew < 0 || a.MaxFutureSkew > 24*time.Hour {
		errs = append(errs, fmt.Errorf("api.max_future_skew: %v is not within 0-24h (0: the default, 5m)", a.MaxFutureSkew))
	}
	return errs
}

// engineProblems checks the engine section: its caps, durations and
// step-up methods.
func engineProblems(e engine.Config) []error {
	var errs []error
	for name, v := range map[string]int{
		"engine.sources.max_ips": e.Sources.MaxIPs, "engine.sources.max_prefixes": e.Sources.MaxPrefixes,
		"engine.sources.max_devices": e.Sources.MaxDevices, "engine.sources.max_user_agents": e.Sources.MaxUserAgents,
		"engine.sources.max_fingerprints": e.Sources.MaxFingerprints, "engine.familiarity.max_profiles": e.Familiarity.MaxProfiles,
		"engine.familiarity.max_marks": e.Familiarity.MaxMarks, "engine.incidents.max_accounts": e.Incidents.MaxAccounts,
		"engine.incidents.top_sources": e.Incidents.TopSources, "engine.challenge_max_attempts": e.ChallengeMaxAttempts,
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative", name, v))
		}
	}
	if e.Campaign.Window < 0 || e.Campaign.CloseAfter < 0 || e.Campaign.Learn < 0 || e.ChallengeTTL < 0 {
		errs = append(errs, errors.New("engine: durations must not be negative"))
	}
	if s := e.Spray; s.Window < 0 || s.CloseAfter < 0 || s.MaxPasswords < 0 || s.OpenAt < 0 {
		errs = append(errs, errors.New("engine.spray: window, close_after, max_passwords and open_at must not be negative"))
	}
	if e.Campaign.Alpha < 0 || e.Campaign.Alpha >= 1 {
		errs = append(errs, fmt.Errorf("engine.campaign.alpha: %v is not within [0, 1)", e.Campaign.Alpha))
	}
	for _, m := range e.ChallengeMethods {
		if !challenge.IsMethod(m) {
			errs = append(errs, fmt.Errorf("engine.challenge_methods: %q is not webauthn, totp, email_otp or recovery_code", m))
		}
	}
	return errs
}

// problems checks the dashboard section.
func (d Dashboard) problems() []error {
	var errs []error
	if _, err := d.Proxies(); err != nil {
		errs = append(errs, err)
	}
	if d.LoginPerMinute < 0 {
		errs = append(errs, fmt.Errorf("dashboard.login_per_minute: %d is negative", d.LoginPerMinute))
	}
	return errs
}

// storageProblems checks where records and hot state are kept, and that
// instances sharing hot state share their records too.
func (c Config) storageProblems() []error {
	var errs []error
	if r := c.Records; r != "" && !strings.HasPrefix(r, "postgres://") && !strings.HasPrefix(r, "postgresql://") {
		errs = append(errs, errors.New("records: not a postgres:// URL (leave it empty for SQLite in the data directory)"))
	}
	if err := c.Hot.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Hot.URL != "" && c.Records == "" {
		errs = append(errs, errors.New("hot.url: instances sharing Redis must share their records too (records: postgres://...)"))
	}
	return errs
}

// federationProblems checks the two halves of federation against each
// other: a Shared Signals peer that is sent or accepts facts needs the
// federation's key (it hashes the subjects told, and turns on the store
// that keeps what peers send). A key without an issuer is fine: the
// facts on record are used and nothing is told.
func (c Config) federationProblems() []error {
	if c.Federation.Enabled() {
		return nil
	}
	var errs []error
	for i, p := range c.SSF.Peers {
		if len(p.Send) > 0 || len(p.Accept) > 0 {
			errs = append(errs, fmt.Errorf("ssf.peers[%d]: sends or accepts facts, but federation.key_file is empty "+
				"(the federation's key hashes what is told and keeps what peers send)", i))
		}
	}
	return errs
}

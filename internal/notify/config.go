package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/mailer"
)

// Config is the `notify:` section: where owner and operator
// notifications go and how they are retried. The zero value sends nothing;
// every other zero field means its default (see the field).
type Config struct {
	// OwnerWindowDays is N: the owner is told on the address on file
	// before any change in the last N days, and on the current one.
	// 0 means 14; at most 90.
	OwnerWindowDays int `yaml:"owner_window_days"`
	// SiteName names the shop in owner messages; empty: "your account".
	SiteName string `yaml:"site_name"`
	// TimeZone is the IANA zone times are shown in; empty: Asia/Tokyo.
	TimeZone string `yaml:"time_zone"`

	SMTP SMTPConfig `yaml:"smtp"` // empty host: no email
	// OperatorEmails get the operator alerts by email (SMTP needed).
	OperatorEmails []string        `yaml:"operator_emails"`
	Webhooks       []WebhookConfig `yaml:"webhooks"`

	Retry RetryConfig `yaml:"retry"`

	PollEvery   time.Duration `yaml:"poll_every"`   // how often the outbox is checked; 0: 5s
	BatchSize   int           `yaml:"batch_size"`   // notifications claimed per round; 0: 50
	Workers     int           `yaml:"workers"`      // deliveries at once; 0: 4
	SendTimeout time.Duration `yaml:"send_timeout"` // one delivery (SMTP session, webhook call); 0: 30s
}

// SMTPConfig is the mail server owner and operator emails go through.
// Port 0 means 587 for starttls, 465 for tls and 25 for none; TLS none
// (plain text) is only allowed without credentials, e.g. a local relay.
type SMTPConfig = mailer.Server

// WebhookConfig is one named webhook receiver.
type WebhookConfig struct {
	Name string `yaml:"name"` // letters, digits, '-', '_'; names the webhook in logs and records
	URL  string `yaml:"url"`  // http or https; never logged (chat webhook URLs are secrets)
	// SecretFile or SecretEnv holds the HMAC key the body is signed with
	// (Atoguard-Signature). One of them is required unless Unsigned.
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
	// Unsigned sends without a signature, for chat tools whose URL is the
	// only secret.
	Unsigned bool `yaml:"unsigned"`
	// Kinds are the notification kinds sent here: any of Kinds(), or
	// owner.*, operator.*, action.* or *.
	Kinds []string `yaml:"kinds"`
}

// RetryConfig is how failed deliveries are retried: after attempt n
// fails, the next one waits Base·2^(n−1), at most MaxDelay, with jitter
// (a delay d is drawn from [d/2, d)). A notification is given up on once
// MaxAttempts have failed or it is MaxAge old, whichever comes first.
type RetryConfig struct {
	Base        time.Duration `yaml:"base"`         // 0: 30s
	MaxDelay    time.Duration `yaml:"max_delay"`    // 0: 1h
	MaxAttempts int           `yaml:"max_attempts"` // 0: 48
	MaxAge      time.Duration `yaml:"max_age"`      // 0: 48h
}

// Defaults.
const (
	DefaultOwnerWindowDays = 14
	MaxOwnerWindowDays     = 90
	DefaultTimeZone        = "Asia/Tokyo"
)

// Enabled reports whether anything is configured to be sent.
func (c Config) Enabled() bool { return c.SMTP.Host != "" || len(c.Webhooks) > 0 }

// withDefaults fills in every zero field; it is the one place defaults
// are set.
func (c Config) withDefaults() Config {
	if c.OwnerWindowDays == 0 {
		c.OwnerWindowDays = DefaultOwnerWindowDays
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.SMTP.TLS == "" {
		c.SMTP.TLS = "starttls"
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[c.SMTP.TLS]
	}
	if c.Retry.Base == 0 {
		c.Retry.Base = 30 * time.Second
	}
	if c.Retry.MaxDelay == 0 {
		c.Retry.MaxDelay = time.Hour
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = 48
	}
	if c.Retry.MaxAge == 0 {
		c.Retry.MaxAge = 48 * time.Hour
	}
	if c.PollEvery == 0 {
		c.PollEvery = 5 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 50
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 30 * time.Second
	}
	return c
}

// OwnerWindow is N days as a duration, default applied.
func (c Config) OwnerWindow() time.Duration {
	return time.Duration(c.withDefaults().OwnerWindowDays) * 24 * time.Hour
}

var webhookName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate reports every problem of the configuration at once, each
// prefixed with its key under notify.
func (c Config) Validate() error {
	errs := c.Problems()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Problems returns what Validate reports, one error each, so that a
// caller validating a larger configuration can merge and sort them.
func (c Config) Problems() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("notify."+format, args...)) }
	if c.OwnerWindowDays < 0 || c.OwnerWindowDays > MaxOwnerWindowDays {
		bad("owner_window_days: %d is not within 1-%d (0: %d)", c.OwnerWindowDays, MaxOwnerWindowDays, DefaultOwnerWindowDays)
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			bad("time_zone: %q is not a known time zone", c.TimeZone)
		}
	}

	s := c.SMTP
	switch s.TLS {
	case "", "starttls", "tls", "none":
	default:
		bad("smtp.tls: %q is not starttls, tls or none", s.TLS)
	}
	if s.Port < 0 || s.Port > 65535 {
		bad("smtp.port: %d is not a port", s.Port)
	}
	if s.Host == "" {
		if s.From != "" || s.Username != "" || s.PasswordFile != "" || s.PasswordEnv != "" || s.CAFile != "" || s.Port != 0 {
			bad("smtp: settings given without smtp.host")
		}
		if len(c.OperatorEmails) > 0 {
			bad("operator_emails: email needs smtp.host")
		}
	} else {
		if strings.ContainsAny(s.Host, " /:") && !strings.HasPrefix(s.Host, "[") {
			bad("smtp.host: %q is a host name or address, without port or scheme", s.Host)
		}
		if s.From == "" {
			bad("smtp.from: empty (the sender address is required)")
		} else if _, err := mail.ParseAddress(s.From); err != nil {
			bad("smtp.from: %q is not an email address", s.From)
		}
		if s.Username != "" && s.PasswordFile == "" && s.PasswordEnv == "" {
			bad("smtp: username without password_file or password_env")
		}
		if s.Username == "" && (s.PasswordFile != "" || s.PasswordEnv != "") {
			bad("smtp: password without username")
		}
		if s.PasswordFile != "" && s.PasswordEnv != "" {
			bad("smtp: both password_file and password_env")
		}
		if s.Username != "" && s.TLS == "none" {
			bad("smtp.tls: none would send the credentials in clear; use starttls or tls")
		}
	}
	for i, a := range c.OperatorEmails {
		if _, err := mail.ParseAddress(a); err != nil || strings.Contains(a, "<") {
			bad("operator_emails[%d]: %q is not a plain email address", i, a)
		}
	}

	names := map[string]bool{}
	for i, w := range c.Webhooks {
		at := fmt.Sprintf("webhooks[%d]", i)
		if !webhookName.MatchString(w.Name) {
			bad("%s.name: %q is not 1-64 letters, digits, '-' or '_'", at, w.Name)
		} else if names[w.Name] {
			bad("%s.name: %q is used twice", at, w.Name)
		}
		names[w.Name] = true
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s.url: not an http or https URL", at) // the URL is not echoed: it may hold a secret
		}
		switch {
		case w.Unsigned && (w.SecretFile != "" || w.SecretEnv != ""):
			bad("%s: unsigned with a secret", at)
		case !w.Unsigned && w.SecretFile == "" && w.SecretEnv == "":
			bad("%s: secret_file or secret_env is required (or unsigned: true)", at)
		case w.SecretFile != "" && w.SecretEnv != "":
			bad("%s: both secret_file and secret_env", at)
		}
		if len(w.Kinds) == 0 {
			bad("%s.kinds: empty (e.g. [operator.*])", at)
		}
		for _, k := range w.Kinds {
			if !validKindPattern(k) {
				bad("%s.kinds: %q is not a notification kind, owner.*, operator.*, action.* or *", at, k)
			}
		}
	}

	r := c.Retry
	if r.Base < 0 || r.MaxDelay < 0 || r.MaxAge < 0 {
		bad("retry: durations must not be negative")
	}
	if r.MaxAttempts < 0 {
		bad("retry.max_attempts: %d is negative", r.MaxAttempts)
	}
	if r.Base > 0 && r.MaxDelay > 0 && r.MaxDelay < r.Base {
		bad("retry.max_delay: %v is less than retry.base %v", r.MaxDelay, r.Base)
	}
	if c.PollEvery < 0 || c.SendTimeout < 0 {
		bad("poll_every and send_timeout must not be negative")
	}
	if c.BatchSize < 0 || c.BatchSize > 1000 {
		bad("batch_size: %d is not within 0-1000", c.BatchSize)
	}
	if c.Workers < 0 || c.Workers > 64 {
		bad("workers: %d is not within 0-64", c.Workers)
	}
	return errs
}

// validKindPattern reports whether p names a kind or a group of kinds.
func validKindPattern(p string) bool {
	return p == "*" || p == "owner.*" || p == "operator.*" || p == "action.*" || slices.Contains(Kinds(), p)
}

// matchKind reports whether kind is selected by one of patterns.
func matchKind(patterns []string, kind string) bool {
	for _, p := range patterns {
		if p == "*" || p == kind || (strings.HasSuffix(p, ".*") && strings.HasPrefix(kind, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

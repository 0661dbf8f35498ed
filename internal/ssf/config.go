package ssf

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/federation"
)

// Config is the Shared Signals part of a guard (ssf: in the file). The
// zero value turns it off; with an issuer set, the guard transmits to
// and receives from its peers.
type Config struct {
	// Issuer is this guard's public base URL (https://shop-a.example): the
	// iss of its SETs and the base of the endpoints its
	// /.well-known/ssf-configuration lists. Empty: federation is off.
	Issuer string `yaml:"issuer"`
	// Peers are the other guards (or identity providers) this one talks
	// to. Nothing is sent to, or taken from, anyone else.
	Peers []Peer `yaml:"peers"`
	// MaxAge is how old a received SET may be (its iat) and how long its
	// jti is remembered against replays (default 48h).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxSkew is how far ahead of this guard's clock a received SET's iat
	// may lie (default 5m).
	MaxSkew time.Duration `yaml:"max_skew"`
	// TTLCap caps how long a received fact lives, whatever ttl the peer
	// asked for (default 7 days).
	TTLCap time.Duration `yaml:"ttl_cap"`
	// Retain is how long an undelivered SET waits in the outbox, and how
	// long a retired signing key stays in the JWKS after its last SET
	// aged out (default 7 days).
	Retain time.Duration `yaml:"retain"`
	// MaxBodyBytes bounds a pushed SET or a poll request (default 64 KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// LongPoll is how long a poll that asks to wait is held when nothing
	// is queued (default 20s).
	LongPoll time.Duration `yaml:"long_poll"`
	// PollEvery is how long the poller of a peer rests between polls that
	// returned nothing or failed (default 30s, doubled on failures up to
	// 10 times that).
	PollEvery time.Duration `yaml:"poll_every"`
	// BadPerMinute is how many refused SETs a peer may send a minute
	// before its pushes are answered 429 for the rest of that minute
	// (default 30).
	BadPerMinute int `yaml:"bad_per_minute"`
}

// Peer is another party of the federation.
type Peer struct {
	// Name names the peer in logs, metrics and facts; the API key the
	// peer manages its stream with (scope federation) bears this name.
	Name string `yaml:"name"`
	// Issuer is the iss of the peer's SETs, and the aud of the SETs sent
	// to it.
	Issuer string `yaml:"issuer"`
	// JWKSURL or JWKSFile is where the peer's public keys are.
	JWKSURL  string `yaml:"jwks_url"`
	JWKSFile string `yaml:"jwks_file"`
	// Audience is the aud the peer's SETs must carry (default: this
	// guard's issuer).
	Audience string `yaml:"audience"`
	// PushTokenEnv and PushTokenFile name where the bearer secret the
	// peer pushes with (POST /v1/ssf/push/NAME) is: an environment
	// variable or a file. Neither: the peer cannot push.
	PushTokenEnv  string `yaml:"push_token_env"`
	PushTokenFile string `yaml:"push_token_file"`
	// PollURL is the peer's poll endpoint (its stream's endpoint_url) to
	// poll; empty: this guard does not poll the peer. PollTokenEnv or
	// PollTokenFile hold the API key sent with each poll.
	PollURL       string `yaml:"poll_url"`
	PollTokenEnv  string `yaml:"poll_token_env"`
	PollTokenFile string `yaml:"poll_token_file"`
	// Accept are the kinds of fact taken from the peer; others are
	// dropped (and counted). Empty: nothing is taken.
	Accept []federation.Kind `yaml:"accept"`
	// Send are the kinds of fact sent to the peer. Empty: nothing is.
	Send []federation.Kind `yaml:"send"`
	// SendEmail lets email subjects (the address in clear) go to the
	// peer; otherwise facts whose subject is an email are not sent to it.
	SendEmail bool `yaml:"send_email"`
	// Paused peers are neither sent to nor heard.
	Paused bool `yaml:"paused"`
}

// Defaults.
const (
	DefaultMaxAge       = 48 * time.Hour
	DefaultMaxSkew      = 5 * time.Minute
	DefaultTTLCap       = 7 * 24 * time.Hour
	DefaultRetain       = 7 * 24 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
	DefaultLongPoll     = 20 * time.Second
	DefaultPollEvery    = 30 * time.Second
	DefaultBadPerMinute = 30
)

// Enabled reports whether federation is on.
func (c Config) Enabled() bool { return c.Issuer != "" }

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MaxAge, DefaultMaxAge)
	def(&c.MaxSkew, DefaultMaxSkew)
	def(&c.TTLCap, DefaultTTLCap)
	def(&c.Retain, DefaultRetain)
	def(&c.LongPoll, DefaultLongPoll)
	def(&c.PollEvery, DefaultPollEvery)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.BadPerMinute <= 0 {
		c.BadPerMinute = DefaultBadPerMinute
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	return c
}

var peerName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Problems returns every problem of the configuration, each naming its
// field (ssf.peers[1].jwks_url: ...).
func (c Config) Problems() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ssf."+field+": "+format, args...))
	}
	if c.Issuer != "" && !absoluteURL(c.Issuer) {
		bad("issuer", "%q is not an absolute http(s) URL", c.Issuer)
	}
	if c.Issuer == "" && len(c.Peers) > 0 {
		bad("issuer", "empty, but peers are configured (the issuer turns federation on)")
	}
	for name, d := range map[string]time.Duration{"max_age": c.MaxAge, "max_skew": c.MaxSkew, "ttl_cap": c.TTLCap,
		"retain": c.Retain, "long_poll": c.LongPoll, "poll_every": c.PollEvery} {
		if d < 0 {
			bad(name, "%v is negative", d)
		}
	}
	if c.LongPoll > 25*time.Second {
		bad("long_poll", "%v is over 25s (the guard's HTTP write timeout is 30s)", c.LongPoll)
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > 16<<20 {
		bad("max_body_bytes", "%d is not within 0-16 MiB", c.MaxBodyBytes)
	}
	if c.BadPerMinute < 0 {
		bad("bad_per_minute", "%d is negative", c.BadPerMinute)
	}
	names := map[string]bool{}
	for i, p := range c.Peers {
		if names[p.Name] {
			bad(fmt.Sprintf("peers[%d].name", i), "%q is listed twice", p.Name)
		}
		names[p.Name] = true
		errs = append(errs, p.problems(fmt.Sprintf("ssf.peers[%d].", i))...)
	}
	return errs
}

// problems are the peer's, each field named after prefix.
func (p Peer) problems(prefix string) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+field+": "+format, args...))
	}
	if !peerName.MatchString(p.Name) {
		bad("name", "%q is not 1-64 letters, digits, '.', '_' or '-'", p.Name)
	}
	if !absoluteURL(p.Issuer) {
		bad("issuer", "%q is not an absolute http(s) URL", p.Issuer)
	}
	if (p.JWKSURL == "") == (p.JWKSFile == "") && (len(p.Accept) > 0 || p.PollURL != "") {
		bad("jwks_url", "give jwks_url or jwks_file (one of them) to take SETs from the peer")
	}
	if p.JWKSURL != "" && !absoluteURL(p.JWKSURL) {
		bad("jwks_url", "%q is not an absolute http(s) URL", p.JWKSURL)
	}
	if p.PushTokenEnv != "" && p.PushTokenFile != "" {
		bad("push_token_file", "give push_token_env or push_token_file, not both")
	}
	if p.PollURL != "" && !absoluteURL(p.PollURL) {
		bad("poll_url", "%q is not an absolute http(s) URL", p.PollURL)
	}
	if p.PollURL != "" && p.PollTokenEnv == "" && p.PollTokenFile == "" {
		bad("poll_token_file", "polling needs poll_token_env or poll_token_file")
	}
	for field, kinds := range map[string][]federation.Kind{"accept": p.Accept, "send": p.Send} {
		for _, k := range kinds {
			if !slices.Contains(federation.Kinds, k) {
				bad(field, "%q is not a kind of fact (want some of %v)", k, federation.Kinds)
			}
		}
	}
	return errs
}

// Validate returns the problems of the configuration joined, or nil.
func (c Config) Validate() error { return errors.Join(c.Problems()...) }

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// peer returns the configured peer called name.
func (c Config) peer(name string) (Peer, bool) {
	for _, p := range c.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

// audienceFor is the aud the peer's SETs must carry.
func (c Config) audienceFor(p Peer) string {
	if p.Audience != "" {
		return p.Audience
	}
	return c.Issuer
}

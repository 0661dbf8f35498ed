// Package traffic generates labelled, reproducible shop traffic: benign owners and credential-stuffing attacks.
package traffic

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Attack kinds.
const (
	KindDistributed = "distributed" // thousands of IPs, each trying a few combo-list entries
	KindBurst       = "burst"       // one (or a few) IPs, many combo-list entries fast
	KindSpray       = "spray"       // a few common passwords tried across many accounts
)

// User-agent styles of an attack.
const (
	AgentsBrowsers   = "browsers"   // real current browsers, with accept-language and client hints
	AgentsAutomation = "automation" // HTTP libraries and tools, no accept-language
)

// Source networks of an attack.
const (
	SourcesProxies     = "proxies"     // datacenter and proxy networks abroad (the default)
	SourcesResidential = "residential" // domestic residential networks, owners' languages: indistinguishable by network
)

// Device-id styles of an attack.
const (
	DevicesNone   = "none"   // no device_id
	DevicesRandom = "random" // a new random device_id per attempt
	DevicesMixed  = "mixed"  // half none, half random
)

// Limits that keep a scenario (and its memory) bounded.
const (
	maxSpan         = 90 * 24 * time.Hour
	maxAccounts     = 1_000_000
	maxLoginsPerDay = 100
	maxAttempts     = 10_000_000
	maxSources      = 1_000_000
	maxEvents       = 20_000_000
	maxCarrierIPs   = 2 * 254 // the carrier pool is two /24s
)

// Scenario describes a day of shop traffic: owners who log in as usual,
// with a warm-up history before it, and zero or more attacks. The zero
// value of every field is valid and documented; Validate reports every
// problem at once.
type Scenario struct {
	// Seed makes the traffic reproducible: one seed, one byte-identical stream.
	Seed int64 `yaml:"seed"`
	// Start is the start of the evaluated span (e.g. 2026-11-20T15:00:00Z,
	// midnight in Japan). Required.
	Start time.Time `yaml:"start"`
	// Duration is the evaluated span; zero means 24h.
	Duration Duration `yaml:"duration"`
	// Warmup is the history before Start in which owners log in as usual so
	// that a detector can learn them; its events are labelled phase "warmup".
	// Zero means none.
	Warmup Duration `yaml:"warmup"`
	// Owners is the benign population.
	Owners OwnerSpec `yaml:"owners"`
	// Attacks run within the evaluated span.
	Attacks []AttackSpec `yaml:"attacks"`
}

// LaunchSpec is a launch-day rush of owners buying one new item.
type LaunchSpec struct {
	// Start is the offset of the rush from Scenario.Start; Duration its length.
	Start    Duration `yaml:"start"`
	Duration Duration `yaml:"duration"`
	// Buyers is the number of distinct owners who buy (at most Accounts).
	Buyers int `yaml:"buyers"`
	// SKU and Price of the new item (JPY).
	SKU   string `yaml:"sku"`
	Price int64  `yaml:"price"`
	// PickupShare is the share of buyers who pick up at a convenience store.
	PickupShare float64 `yaml:"pickup_share"`
	// Habits makes buyers behave as on any other login: they mistype
	// passwords and logins (owners' typo_rate and unknown_rate), some come
	// from a brand-new device (new_device_rate) or a new network
	// (new_network_rate). False: every buyer logs in cleanly from the
	// usual device.
	Habits bool `yaml:"habits"`
}

// OwnerSpec describes the shop's account owners. Rates are fractions in
// [0, 1]; zero means "never".
type OwnerSpec struct {
	// Accounts is the number of accounts (user ids u-000001 ...). Zero: no owners.
	Accounts int `yaml:"accounts"`
	// LoginsPerDay is the mean number of logins per account and day; each
	// account has its own activity around it and logins follow the Japanese
	// daily rhythm (quiet 02-06 JST, peaks at lunch and 20-23 JST).
	LoginsPerDay float64 `yaml:"logins_per_day"`
	// TypoRate is the fraction of logins preceded by a bad_password failure
	// from the same context; a fifth of those typo twice.
	TypoRate float64 `yaml:"typo_rate"`
	// UnknownRate is the fraction of logins preceded by a failure for a
	// mistyped login (unknown_account).
	UnknownRate float64 `yaml:"unknown_rate"`
	// NewDeviceRate is the fraction of evaluated-span logins from a brand-new
	// device (new device_id, often a new user agent; half on a known
	// network, half on a new one).
	NewDeviceRate float64 `yaml:"new_device_rate"`
	// NewNetworkRate is the fraction of evaluated-span logins from a known
	// device on a new network (travel, cafe wifi).
	NewNetworkRate float64 `yaml:"new_network_rate"`
	// CarrierNATShare is the fraction of owners who log in mostly (85%)
	// through a mobile carrier's NAT pool, shared with every other such owner.
	CarrierNATShare float64 `yaml:"carrier_nat_share"`
	// CarrierNATIPs is the size of the carrier pool (in two /24s); zero
	// means 20.
	CarrierNATIPs int `yaml:"carrier_nat_ips"`
	// OrderRate is the fraction of successful logins followed by an
	// order.attempt.
	OrderRate float64 `yaml:"order_rate"`
	// Launch is a launch-day rush: many owners, from their usual devices,
	// buy one new phone within a short window. Nil: none.
	Launch *LaunchSpec `yaml:"launch"`
	// EvalVolume multiplies logins_per_day in the evaluated span (a busy
	// day after an ordinary warm-up); zero means 1. The extra logins follow
	// the same habits and daily rhythm.
	EvalVolume float64 `yaml:"eval_volume"`
}

// AttackSpec describes one credential-stuffing attack.
type AttackSpec struct {
	// Kind is distributed, burst or spray. Required.
	Kind string `yaml:"kind"`
	// Start is the offset of the attack from Scenario.Start.
	Start Duration `yaml:"start"`
	// Duration is how long the attack lasts; it must end within the
	// evaluated span. Required.
	Duration Duration `yaml:"duration"`
	// SourceIPs is the number of distinct source addresses (a tenth of them
	// IPv6 for distributed attacks). Required for distributed; zero means 1
	// for burst and spray.
	SourceIPs int `yaml:"source_ips"`
	// AttemptsPerIP is the inclusive range of attempts each source makes
	// (distributed only); zero means [1, 3].
	AttemptsPerIP [2]int `yaml:"attempts_per_ip"`
	// Attempts is the total number of attempts (burst and spray). Required
	// for those.
	Attempts int `yaml:"attempts"`
	// UnknownShare is the fraction of combo-list logins that are not
	// accounts of the shop.
	UnknownShare float64 `yaml:"unknown_share"`
	// ReuseRate is the fraction of attempts on real accounts whose password
	// is valid (the owner reused it, or, for spray, chose that common
	// password); those end in login.succeeded.
	ReuseRate float64 `yaml:"reuse_rate"`
	// UserAgents is browsers or automation; zero means automation for burst,
	// browsers otherwise.
	UserAgents string `yaml:"user_agents"`
	// DeviceIDs is none, random or mixed; zero means none.
	DeviceIDs string `yaml:"device_ids"`
	// Sources is proxies (addresses in networks owners never use, browser
	// languages of a foreign tool) or residential (addresses in the
	// owners' own residential ISPs, Japanese browser languages); zero
	// means proxies.
	Sources string `yaml:"sources"`
	// Passwords is the number of common passwords a spray tries (at most
	// 20); zero means 5.
	Passwords int `yaml:"passwords"`
	// FraudOrders is the share of takeovers (login.succeeded with a valid
	// credential) after which the attacker, from the same source, changes
	// the account's email (profile.updated) and orders the most expensive
	// phone for convenience-store pickup paid by carrier billing, as in
	// 2018. Zero means none. Those events use their own random stream, so
	// the login attempts are the same with or without them.
	FraudOrders float64 `yaml:"fraud_orders"`
}

// Duration is a time.Duration written in YAML as a Go duration string ("90m", "72h").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a string like \"90m\"", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q (want e.g. \"90m\", \"72h\")", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Load reads a scenario from a YAML file, strictly, and validates it.
func Load(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("loading scenario: %w", err)
	}
	s, err := Decode(bytes.NewReader(data))
	if err != nil {
		return Scenario{}, fmt.Errorf("loading scenario %s: %w", path, err)
	}
	return s, nil
}

// Decode reads one scenario YAML document strictly (unknown fields are
// errors) and validates it.
func Decode(r io.Reader) (Scenario, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return Scenario{}, errors.New("empty scenario")
		}
		return Scenario{}, fmt.Errorf("decoding scenario: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Scenario{}, errors.New("decoding scenario: more than one YAML document")
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// withDefaults returns s with every documented zero-value default filled in.
// It is the one place defaults live.
func (s Scenario) withDefaults() Scenario {
	if s.Duration == 0 {
		s.Duration = Duration(24 * time.Hour)
	}
	if s.Owners.CarrierNATIPs == 0 {
		s.Owners.CarrierNATIPs = 20
	}
	attacks := make([]AttackSpec, len(s.Attacks))
	for i, a := range s.Attacks {
		if a.SourceIPs == 0 && (a.Kind == KindBurst || a.Kind == KindSpray) {
			a.SourceIPs = 1
		}
		if a.AttemptsPerIP == [2]int{} && a.Kind == KindDistributed {
			a.AttemptsPerIP = [2]int{1, 3}
		}
		if a.UserAgents == "" {
			a.UserAgents = AgentsBrowsers
			if a.Kind == KindBurst {
				a.UserAgents = AgentsAutomation
			}
		}
		if a.DeviceIDs == "" {
			a.DeviceIDs = DevicesNone
		}
		if a.Sources == "" {
			a.Sources = SourcesProxies
		}
		if a.Passwords == 0 && a.Kind == KindSpray {
			a.Passwords = 5
		}
		attacks[i] = a
	}
	s.Attacks = attacks
	return s
}

// Validate checks s (with its defaults applied) and reports every problem
// at once, one per line, each naming the YAML field.
func (s Scenario) Validate() error {
	s = s.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	rate := func(field string, v float64) {
		if !(v >= 0 && v <= 1) { // also catches NaN
			bad(field, "must be between 0 and 1 (got %v)", v)
		}
	}

	if s.Start.IsZero() {
		bad("start", "required (e.g. 2026-11-20T15:00:00Z)")
	} else if s.Start.Year() < 1971 || s.Start.Year() > 9000 {
		bad("start", "must be between 1971 and 9000 (got %s)", s.Start.Format(time.RFC3339))
	}
	if s.Duration < Duration(time.Second) {
		bad("duration", "must be at least 1s (got %s)", s.Duration)
	}
	if s.Warmup < 0 {
		bad("warmup", "must not be negative (got %s)", s.Warmup)
	}
	if s.Warmup >= 0 && (s.Duration.D() > maxSpan || s.Warmup.D() > maxSpan || s.Duration.D()+s.Warmup.D() > maxSpan) {
		bad("duration", "warmup plus duration must be at most %s (got warmup %s + duration %s)", maxSpan, s.Warmup, s.Duration)
	}

	o := s.Owners
	if o.Accounts < 0 || o.Accounts > maxAccounts {
		bad("owners.accounts", "must be between 0 and %d (got %d)", maxAccounts, o.Accounts)
	}
	if !(o.LoginsPerDay >= 0 && o.LoginsPerDay <= maxLoginsPerDay) {
		bad("owners.logins_per_day", "must be between 0 and %d (got %v)", maxLoginsPerDay, o.LoginsPerDay)
	}
	rate("owners.typo_rate", o.TypoRate)
	rate("owners.unknown_rate", o.UnknownRate)
	rate("owners.new_device_rate", o.NewDeviceRate)
	rate("owners.new_network_rate", o.NewNetworkRate)
	rate("owners.carrier_nat_share", o.CarrierNATShare)
	rate("owners.order_rate", o.OrderRate)
	if l := o.Launch; l != nil {
		if l.Buyers <= 0 || l.Buyers > o.Accounts {
			bad("owners.launch.buyers", "%d is not within 1..owners.accounts", l.Buyers)
		}
		if l.SKU == "" || l.Price <= 0 {
			bad("owners.launch", "sku and a positive price are required")
		}
		if l.Start < 0 || l.Duration <= 0 || l.Start+l.Duration > s.Duration {
			bad("owners.launch", "start and duration must fall within the evaluated span")
		}
		rate("owners.launch.pickup_share", l.PickupShare)
	}
	if !(o.EvalVolume >= 0 && o.EvalVolume <= 10) {
		bad("owners.eval_volume", "must be between 0 and 10 (got %v)", o.EvalVolume)
	}
	if o.NewDeviceRate+o.NewNetworkRate > 1 {
		bad("owners.new_network_rate", "new_device_rate plus new_network_rate must be at most 1 (got %v)", o.NewDeviceRate+o.NewNetworkRate)
	}
	if o.CarrierNATIPs < 1 || o.CarrierNATIPs > maxCarrierIPs {
		bad("owners.carrier_nat_ips", "must be between 1 and %d (got %d)", maxCarrierIPs, o.CarrierNATIPs)
	}

	days := (s.Duration.D().Hours()*max(1, o.EvalVolume) + s.Warmup.D().Hours()) / 24
	events := float64(o.Accounts) * o.LoginsPerDay * days * (1 + 1.2*o.TypoRate + o.UnknownRate + o.OrderRate)
	for i, a := range s.Attacks {
		f := func(name string) string { return fmt.Sprintf("attacks[%d].%s", i, name) }
		switch a.Kind {
		case KindDistributed, KindBurst, KindSpray:
		case "":
			bad(f("kind"), "required (distributed, burst or spray)")
		default:
			bad(f("kind"), "must be distributed, burst or spray (got %q)", a.Kind)
		}
		if a.Start < 0 {
			bad(f("start"), "must not be negative (got %s)", a.Start)
		}
		if a.Duration < Duration(time.Second) {
			bad(f("duration"), "must be at least 1s (got %s)", a.Duration)
		} else if a.Start >= 0 && s.Duration >= Duration(time.Second) && (a.Start > s.Duration || a.Duration > s.Duration-a.Start) {
			bad(f("duration"), "the attack must end within the evaluated span of %s (start %s + duration %s)", s.Duration, a.Start, a.Duration)
		}
		if a.SourceIPs < 1 || a.SourceIPs > maxSources {
			bad(f("source_ips"), "must be between 1 and %d (got %d)", maxSources, a.SourceIPs)
		}
		rate(f("unknown_share"), a.UnknownShare)
		rate(f("reuse_rate"), a.ReuseRate)
		rate(f("fraud_orders"), a.FraudOrders)
		if o.Accounts == 0 && a.UnknownShare < 1 {
			bad(f("unknown_share"), "must be 1 when owners.accounts is 0: there are no accounts to attack")
		}
		if a.UserAgents != AgentsBrowsers && a.UserAgents != AgentsAutomation {
			bad(f("user_agents"), "must be browsers or automation (got %q)", a.UserAgents)
		}
		if a.Sources != SourcesProxies && a.Sources != SourcesResidential {
			bad(f("sources"), "must be proxies or residential (got %q)", a.Sources)
		}
		if a.DeviceIDs != DevicesNone && a.DeviceIDs != DevicesRandom && a.DeviceIDs != DevicesMixed {
			bad(f("device_ids"), "must be none, random or mixed (got %q)", a.DeviceIDs)
		}
		switch a.Kind {
		case KindDistributed:
			lo, hi := a.AttemptsPerIP[0], a.AttemptsPerIP[1]
			if lo < 1 || hi < lo || hi > 1000 {
				bad(f("attempts_per_ip"), "must be [min, max] with 1 <= min <= max <= 1000 (got [%d, %d])", lo, hi)
			}
			if a.Attempts != 0 {
				bad(f("attempts"), "applies to burst and spray only; distributed attacks use source_ips and attempts_per_ip")
			}
			if a.Passwords != 0 {
				bad(f("passwords"), "applies to spray only")
			}
			events += float64(a.SourceIPs) * float64(max(hi, 0))
		case KindBurst, KindSpray:
			if a.Attempts < 1 || a.Attempts > maxAttempts {
				bad(f("attempts"), "must be between 1 and %d (got %d)", maxAttempts, a.Attempts)
			}
			if a.AttemptsPerIP != [2]int{} {
				bad(f("attempts_per_ip"), "applies to distributed only")
			}
			if a.SourceIPs > a.Attempts && a.Attempts >= 1 {
				bad(f("source_ips"), "must be at most attempts (%d), or some sources would make no attempt (got %d)", a.Attempts, a.SourceIPs)
			}
			if a.Kind == KindSpray && (a.Passwords < 1 || a.Passwords > len(commonPasswordSHA1)) {
				bad(f("passwords"), "must be between 1 and %d (got %d)", len(commonPasswordSHA1), a.Passwords)
			}
			if a.Kind == KindBurst && a.Passwords != 0 {
				bad(f("passwords"), "applies to spray only")
			}
			events += float64(max(a.Attempts, 0))
		}
	}
	if len(errs) == 0 && (events > maxEvents || math.IsNaN(events)) {
		bad("owners", "the scenario would make about %.0f events, more than %d", events, maxEvents)
	}
	return errors.Join(errs...)
}

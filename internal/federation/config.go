package federation

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Config is the federation section of the guard's configuration. The
// zero value is valid: federation off.
type Config struct {
	// KeyFile holds the key the federation's guards agree on for hashing
	// subjects (at least 32 bytes, the same file at every guard of the
	// federation). Empty: federation off.
	KeyFile string `yaml:"key_file"`
	// Subjects is how a login is named in facts this guard sends:
	// login_hash (the default: a keyed hash of the normalized login) or
	// email (the normalized login in clear; only when the operator and
	// the peers choose it).
	Subjects string `yaml:"subjects"`
	// FactTTL caps how long a fact counts, per kind (e.g.
	// combo_listed: 720h), whether this guard sends it or receives it;
	// a kind not named takes DefaultTTL.
	FactTTL map[Kind]time.Duration `yaml:"fact_ttl"`
	// MaxFacts is how many received facts are kept per kind (default
	// 100,000); past it, those that expire soonest are dropped.
	MaxFacts int `yaml:"max_facts"`
}

// Defaults.
const (
	DefaultMaxFacts = 100_000
	DefaultTTL      = 7 * 24 * time.Hour
)

// defaultTTLs are the caps of kinds whose facts age faster or slower than
// DefaultTTL: a campaign's sources are rotated within days, a combo list
// circulates for months.
var defaultTTLs = map[Kind]time.Duration{
	CampaignSource:      48 * time.Hour,
	CampaignFingerprint: 48 * time.Hour,
	ComboListed:         30 * 24 * time.Hour,
	CredentialChanged:   30 * 24 * time.Hour,
	SessionRevoked:      24 * time.Hour,
}

// Enabled reports whether federation is configured.
func (c Config) Enabled() bool { return c.KeyFile != "" }

// TTL returns how long a fact of kind counts at most.
func (c Config) TTL(kind Kind) time.Duration {
	if d, ok := c.FactTTL[kind]; ok && d > 0 {
		return d
	}
	if d, ok := defaultTTLs[kind]; ok {
		return d
	}
	return DefaultTTL
}

// Max returns the cap on received facts per kind.
func (c Config) Max() int {
	if c.MaxFacts > 0 {
		return c.MaxFacts
	}
	return DefaultMaxFacts
}

// Problems reports every problem of c, each naming its field under
// federation.
func (c Config) Problems() []error {
	var errs []error
	switch c.Subjects {
	case "", SubjectLoginHash, SubjectEmail:
	default:
		errs = append(errs, fmt.Errorf("federation.subjects: %q is not login_hash or email", c.Subjects))
	}
	for k, d := range c.FactTTL {
		if !knownKind(k) {
			errs = append(errs, fmt.Errorf("federation.fact_ttl: %q is not a fact kind", k))
		}
		if d < 0 {
			errs = append(errs, fmt.Errorf("federation.fact_ttl.%s: %v is negative", k, d))
		}
	}
	if c.MaxFacts < 0 {
		errs = append(errs, fmt.Errorf("federation.max_facts: %d is negative", c.MaxFacts))
	}
	if !c.Enabled() && (c.Subjects != "" || len(c.FactTTL) > 0 || c.MaxFacts != 0) {
		errs = append(errs, errors.New("federation.key_file: empty, yet other federation settings are given"))
	}
	return errs
}

// LoadKey reads and checks the federation key of c.
func (c Config) LoadKey() (Key, error) {
	b, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("federation.key_file: %w", err)
	}
	k, err := NewKey(b)
	if err != nil {
		return nil, fmt.Errorf("federation.key_file %s: %w", c.KeyFile, err)
	}
	return k, nil
}

func knownKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

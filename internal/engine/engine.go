// Package engine assesses events in three phases that data flows through
// one way: observe feeds the event to the detectors and reads what is on
// record about it (observe.go), decide applies the policy (decide.go), and
// record turns the decision into what the detectors learn and the one
// batch of records written for it (record.go). Events another instance of
// the guard assessed are observed the same way and replayed, never decided
// again (peers.go).
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/challenge"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/source"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
)

// Records are the stored records the engine reads.
type Records interface {
	GetProfile(ctx context.Context, account string) (store.Profile, error)
	GetChallenge(ctx context.Context, id string) (store.Challenge, error)
	GetContacts(ctx context.Context, userID string) (store.Contacts, error)
	ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error)
	GetState(ctx context.Context, name string) ([]byte, error)
	PutState(ctx context.Context, name string, value []byte) error
}

// Geo maps an IP address to its country and autonomous system.
type Geo interface {
	Lookup(ip netip.Addr) geo.Info
}

// Writer makes a batch of records durable.
type Writer interface {
	Write(ctx context.Context, b store.Batch) error
}

// Factors tells which step-up methods a user can answer (package stepup).
type Factors interface {
	// Methods returns those of offered that userID can answer, in order,
	// plus recovery_code when the user has recovery codes left.
	Methods(ctx context.Context, userID string, offered []string) ([]string, error)
}

// Breached tells how often a password digest was seen in breaches
// (package breach). The error is a technical failure, never "not found".
type Breached interface {
	Count(sha1 [20]byte) (n int64, ok bool, err error)
}

// Sealer seals what the audit log keeps of people: the event (emails,
// logins, shipping addresses) is kept sealed, AES-GCM under the factor
// keys (stepup.Keyring), and opened only to replay it after a restart.
type Sealer interface {
	Seal(plaintext, context []byte) []byte
	Open(sealed, context []byte) (plaintext []byte, stale bool, err error)
}

// NoBreachCheck is a Breached that knows no password: it turns the breach
// check off.
type NoBreachCheck struct{}

// Count reports every password as not breached.
func (NoBreachCheck) Count([20]byte) (int64, bool, error) { return 0, false, nil }

// Config tunes the engine's detectors. Zero values take defaults.
type Config struct {
	Sources          source.Config      `yaml:"sources"`
	Familiarity      familiarity.Config `yaml:"familiarity"`
	Campaign         campaign.Config    `yaml:"campaign"`
	Incidents        incident.Config    `yaml:"incidents"`
	Spray            spray.Config       `yaml:"spray"` // password spraying (keys: see package spray)
	Orders           OrderConfig        `yaml:"orders"`
	ChallengeTTL     time.Duration      `yaml:"challenge_ttl"`     // default 5m
	ChallengeMethods []string           `yaml:"challenge_methods"` // default webauthn, totp, email_otp
	// ChallengeMaxAttempts is the number of wrong answers (mfa.failed)
	// that lock a challenge; default 5.
	ChallengeMaxAttempts int `yaml:"challenge_max_attempts"`
}

// Challenges returns how the engine makes challenges.
func (c Config) Challenges() challenge.Settings {
	return challenge.Settings{TTL: c.ChallengeTTL, Methods: c.ChallengeMethods, MaxAttempts: c.ChallengeMaxAttempts}.WithDefaults()
}

// Outage is how the engine answers while shared state is out of reach:
// events whose account records cannot be read (shared records out of
// reach, writes journaled) are answered without familiarity instead of
// failing. With Closed, such events and all events while HubDown reports
// true have the policy fact Guard.Degraded.
type Outage struct {
	Closed  bool
	HubDown func() bool // the hot layer is out of reach; nil: never
}

// Deps are what an engine works with. Clock, Policy, Records, Writer and
// Key are required; the others are optional.
type Deps struct {
	// Clock gives event time (clock.At) and wall time (clock.Wall, when
	// an event was received and when notifications are due).
	Clock   *clock.Clock
	Policy  *policy.Policy
	Records Records
	Writer  Writer
	// Key is the secret for keyed hashes (password digests, familiarity
	// marks); it must stay the same across restarts, and be at least
	// spray.MinKeyBytes long unless Config.Spray has a key of its own.
	Key []byte

	Geo           Geo             // nil: no country or ASN facts
	Factors       Factors         // nil: challenges offer every configured method
	Peers         Peers           // nil: this instance is the only one
	Notifications *notify.Planner // nil: no notifications
	// Breached is the breach corpus passwords are checked against; nil:
	// the built-in list of common passwords (breach.Builtin);
	// NoBreachCheck{}: none.
	Breached Breached
	// Outage, when set, answers events whose records cannot be read;
	// nil: such events fail.
	Outage *Outage
	// Sealer, when set, seals each audit record's event and keeps no
	// login in clear beside it (an unknown account's login is kept as a
	// keyed pseudonym, AuditAccount); nil: the event is kept as JSON.
	Sealer Sealer
	// Federation connects the engine to other shops' guards
	// (federation.go); nil: federation off.
	Federation *Federation
}

// Result is the answer to one event.
type Result struct {
	EventID    string
	Decision   policy.Decision
	Risk       int
	Reasons    []policy.Reason
	Challenge  *store.Challenge
	IncidentID string
	ReviewID   string   // order.attempt answered review: the held order's review
	Rules      []string // the policy rules that fired
	// Actions ask the shop to do something besides the decision, e.g.
	// ActionRequirePasswordChange; nil when none.
	Actions []string

	facts  familiarity.Facts // the account's familiarity, for the peers
	passed bool              // an mfa.succeeded that passed its challenge
	// answered is the challenge an mfa.* event answered, as the answer
	// left it; nil when it named no open challenge of the user.
	answered *store.Challenge
}

// Engine assesses events. It is safe for concurrent use.
type Engine struct {
	cfg        Config
	challenges challenge.Settings
	clock      *clock.Clock
	policy     *policy.Policy
	records    Records
	writer     Writer
	key        []byte

	sources  *source.Detector
	familiar *familiarity.Detector
	networks *familiarity.Networks // seen in good sessions of any account
	campaign *campaign.Detector
	tracker  *incident.Tracker
	creds    *credentials // breached passwords, password spraying
	orders   *orderSignals
	notes    *notify.Planner // nil: no notifications
	geo      Geo             // nil: no country or ASN facts
	factors  Factors         // nil: challenges offer every configured method
	peers    Peers           // nil: this instance is the only one
	outage   *Outage         // nil: records must be readable, never degraded
	sealer   Sealer          // nil: audit events in clear
	keyed    *keyedHashes    // HMACs under key, buffers (record.go)
	fed      *fedState       // nil: federation off

	mu          sync.Mutex
	lastIncSave time.Time // event time the open incident was last written
	// unclaimed holds, per tracker, the incident opened here that the
	// instances have not yet agreed on (peers): its counters are not
	// written until it has its name.
	unclaimed map[*incident.Tracker]string

	recovery recovery // batches against snapshots, and the last restart (recover.go)
}

// New returns an engine assessing events with deps, or an error naming
// what is missing or wrong.
func New(cfg Config, deps Deps) (*Engine, error) {
	var errs []error
	for _, m := range []struct {
		name    string
		missing bool
	}{
		{"clock", deps.Clock == nil}, {"policy", deps.Policy == nil}, {"records", deps.Records == nil},
		{"writer", deps.Writer == nil}, {"key", len(deps.Key) == 0},
		{"federation key", deps.Federation != nil && len(deps.Federation.Key) < 32},
	} {
		if m.missing {
			errs = append(errs, fmt.Errorf("engine: no %s", m.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	creds, err := newCredentials(cfg, deps.Key, deps.Breached)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	familiar := familiarity.New(cfg.Familiarity, deps.Key, profiles{deps.Records})
	return &Engine{
		cfg: cfg, challenges: cfg.Challenges(), clock: deps.Clock, policy: deps.Policy,
		records: deps.Records, writer: deps.Writer, key: deps.Key,
		sources:  source.New(cfg.Sources),
		familiar: familiar,
		networks: familiar.Networks(),
		campaign: campaign.New(cfg.Campaign),
		tracker:  incident.New(cfg.Incidents),
		creds:    creds,
		orders:   newOrderSignals(cfg.Orders),
		notes:    deps.Notifications, geo: deps.Geo, factors: deps.Factors,
		peers: deps.Peers, outage: deps.Outage, sealer: deps.Sealer,
		keyed:     &keyedHashes{key: deps.Key},
		fed:       newFedState(deps.Federation),
		unclaimed: map[*incident.Tracker]string{},
	}, nil
}

// ChallengeSettings returns how the engine makes challenges.
func (e *Engine) ChallengeSettings() challenge.Settings {
	s := e.challenges
	s.Methods = append([]string(nil), s.Methods...)
	return s
}

// Assess assesses one event and returns once its record is durable.
func (e *Engine) Assess(ctx context.Context, ev event.Event) (Result, error) {
	rs, err := e.AssessBatch(ctx, []event.Event{ev})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// RecordAnswer assesses an answer to a step-up challenge (an mfa.succeeded
// or mfa.failed event naming it) and returns, once durable, the event's id
// and the challenge as the answer left it.
//
// Only answers recorded here pass a challenge the guard verifies (one that
// offers methods); an mfa.succeeded sent as an event passes only a
// challenge the shop verifies itself (methods: []).
func (e *Engine) RecordAnswer(ctx context.Context, ev event.Event) (challenge.Answered, error) {
	rs, err := e.assessBatch(ctx, []event.Event{ev}, true)
	if err != nil {
		return challenge.Answered{}, err
	}
	res := rs[0]
	out := challenge.Answered{EventID: res.EventID}
	if res.answered != nil {
		out.Challenge = *res.answered
	}
	return out, nil
}

// AssessBatch assesses events in order and writes all their records in
// one durable write.
func (e *Engine) AssessBatch(ctx context.Context, evs []event.Event) ([]Result, error) {
	return e.assessBatch(ctx, evs, false)
}

// assessBatch is AssessBatch; verified reports answers the guard's own
// step-up verified (RecordAnswer).
func (e *Engine) assessBatch(ctx context.Context, evs []event.Event, verified bool) ([]Result, error) {
	out := make([]Result, len(evs))
	var b store.Batch
	var settle transitions
	var told []federation.Fact // what the batch teaches the federation, once durable
	received, assessed := e.recovery.begin(e.clock.Wall())
	defer assessed()
	pend := pending{received: received, verified: verified}
	for i := range evs {
		r, err := e.assess(ctx, &evs[i], &pend)
		if err != nil {
			return nil, err
		}
		out[i] = r
		b = e.record(b, &evs[i], &pend.obs, r, pend.learned, pend.received)
		told = e.tell(told, &evs[i], &pend.obs, r)
		settle.claims = append(settle.claims, pend.obs.trans.claims...)
		settle.releases = append(settle.releases, pend.obs.trans.releases...)
	}
	assessed() // a snapshot may be taken now: it holds this batch
	if err := e.writer.Write(ctx, b); err != nil {
		return nil, fmt.Errorf("recording events: %w", err)
	}
	e.publish(evs, out, pend.received)
	e.fed.learned(told)
	if err := e.settle(ctx, &settle); err != nil {
		return nil, err
	}
	return out, nil
}

// assess runs one event through the phases before record: observe,
// decide and learn from the decision, leaving in pend what the event's
// record needs (pend.obs, pend.learned).
func (e *Engine) assess(ctx context.Context, ev *event.Event, pend *pending) (Result, error) {
	pend.obs = e.newObservation(ev, e.clock.At(ev.OccurredAt))
	obs := &pend.obs
	if err := e.accountFacts(ctx, ev, obs); err != nil {
		return Result{}, err
	}
	if err := e.observe(ctx, ev, obs); err != nil {
		return Result{}, err
	}
	res, err := e.decide(ctx, ev, obs, pend.received)
	if err != nil {
		return Result{}, err
	}
	pend.learned, err = e.learn(ctx, ev, obs, &res, pend)
	return res, err
}

// Tick moves the campaign and spray detectors to the clock's now, closing
// an episode whose traffic stopped, and publishes to the federation what
// the incidents learned since the last tick. Serve calls it periodically.
func (e *Engine) Tick(ctx context.Context) error {
	now := e.clock.Now()
	// The detectors move even when the sweep cannot read the records (an
	// outage): an episode whose traffic stopped still closes.
	return errors.Join(e.tick(ctx, now), e.sweepAbandoned(ctx, now))
}

func (e *Engine) tick(ctx context.Context, now time.Time) error {
	var t transitions
	e.campaignTransition(e.campaign.Tick(now), &t)
	e.sprayTransition(e.creds.spray.Tick(now), &t)
	b := t.record(store.Batch{}, e.notes, e.clock.Wall())
	if !b.Empty() {
		if err := e.writer.Write(ctx, b); err != nil {
			return err
		}
	}
	if err := e.settle(ctx, &t); err != nil {
		return err
	}
	return e.publishFacts(ctx, now)
}

// Flush writes the open incidents' current counters.
func (e *Engine) Flush(ctx context.Context) error {
	var b store.Batch
	for _, t := range []*incident.Tracker{e.tracker, e.creds.tracker} {
		if inc, ok := e.incidentSnapshot(t); ok {
			b.Incidents = append(b.Incidents, inc)
		}
	}
	if b.Empty() {
		return nil
	}
	return e.writer.Write(ctx, b)
}

// OpenIncidents returns the number of incidents open: a credential-stuffing
// campaign, password spraying, or both.
func (e *Engine) OpenIncidents() int {
	n := 0
	for _, t := range []*incident.Tracker{e.tracker, e.creds.tracker} {
		if t.OpenID() != "" {
			n++
		}
	}
	return n
}

// SourceSizes reports the number of keys held per kind of source.
func (e *Engine) SourceSizes() map[string]int { return e.sources.Sizes() }

// Rates returns the campaign detector's current rates and baseline.
func (e *Engine) Rates() []campaign.Rate { return e.campaign.Rates(e.clock.Now()) }

// Tests returns where the campaign detector's slower tests stand (the
// sequential and strangers tests, first logins) against their thresholds.
func (e *Engine) Tests() []campaign.Rate { return e.campaign.Tests() }

// Policy returns the policy in force.
func (e *Engine) Policy() *policy.Policy { return e.policy }

// defaultBreached is the corpus used when Deps.Breached is nil.
func defaultBreached(b Breached) Breached {
	if b == nil {
		return breach.Builtin()
	}
	return b
}

// profiles read the familiarity profiles on record.
type profiles struct{ records Records }

func (p profiles) LoadProfile(ctx context.Context, account string) (familiarity.Record, error) {
	rec, err := p.records.GetProfile(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return familiarity.Record{}, fmt.Errorf("%w: %w", familiarity.ErrNoProfile, err)
	}
	return familiarity.Record(rec), err
}

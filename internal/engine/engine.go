// Package engine assesses events: it derives the signals of each event,
// applies the policy, and records the decision with its side effects
// (learning, incidents, challenges, the audit log) in one durable write.
package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/bot"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/source"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/signal/window"
	"github.com/atoguard/atoguard/internal/store"
)

// Records are the stored records the engine reads.
type Records interface {
	GetProfile(ctx context.Context, account string) (store.Profile, error)
	GetChallenge(ctx context.Context, id string) (store.Challenge, error)
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

// Factors tells which step-up methods a user can answer (package stepup).
type Factors interface {
	// Methods returns those of offered that userID can answer, in order,
	// plus recovery_code when the user has recovery codes left.
	Methods(ctx context.Context, userID string, offered []string) ([]string, error)
}

// ChallengeSettings are how the engine makes challenges.
type ChallengeSettings struct {
	TTL         time.Duration
	Methods     []string // offered before filtering by what the user enrolled
	MaxAttempts int      // wrong answers that lock a challenge
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
}

// Engine assesses events. It is safe for concurrent use.
type Engine struct {
	cfg     Config
	clock   *clock.Clock
	policy  *policy.Policy
	records Records
	writer  Writer
	key     []byte

	sources  *source.Detector
	familiar *familiarity.Detector
	campaign *campaign.Detector
	tracker  *incident.Tracker
	creds    *credentials // breached passwords, password spraying
	orders   *orderSignals
	notes    *notify.Planner  // nil: no notifications
	wall     func() time.Time // wall time, for scheduling notifications
	geo      Geo              // nil: no country or ASN facts
	factors  Factors          // nil: challenges offer every configured method
	peers    Peers            // nil: this instance is the only one
	outage   *outage          // nil: records must be readable, never degraded

	mu          sync.Mutex
	lastIncSave time.Time // event time the open incident was last written
}

// New returns an engine. key is the secret for keyed hashes (password
// digests, familiarity marks); it must stay the same across restarts.
func New(cfg Config, clk *clock.Clock, pol *policy.Policy, records Records, w Writer, key []byte) *Engine {
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if len(cfg.ChallengeMethods) == 0 {
		cfg.ChallengeMethods = []string{"webauthn", "totp", "email_otp"}
	}
	if cfg.ChallengeMaxAttempts <= 0 {
		cfg.ChallengeMaxAttempts = 5
	}
	return &Engine{
		cfg: cfg, clock: clk, policy: pol, records: records, writer: w, key: key,
		sources:  source.New(cfg.Sources),
		familiar: familiarity.New(cfg.Familiarity, key, records),
		campaign: campaign.New(cfg.Campaign),
		tracker:  incident.New(cfg.Incidents),
		creds:    newCredentials(cfg, key),
		orders:   newOrderSignals(cfg.Orders),
		wall:     func() time.Time { return time.Now().UTC() },
	}
}

// UseGeo makes the engine look up each event's country and autonomous
// system, so familiarity also covers them. Call it before the first event.
func (e *Engine) UseGeo(g Geo) { e.geo = g }

// outage is how the engine answers while shared state is out of reach.
type outage struct {
	closed  bool        // fail closed: policy fact Guard.Degraded
	hubDown func() bool // the hot layer is out of reach; nil: none
}

// UseOutage makes the engine answer events whose account records cannot
// be read (shared records out of reach, writes journaled), without
// familiarity, instead of failing them. With closed, such events and all
// events while hubDown reports true have the policy fact Guard.Degraded.
// Call it before the first event.
func (e *Engine) UseOutage(closed bool, hubDown func() bool) {
	e.outage = &outage{closed: closed, hubDown: hubDown}
}

// UseFactors makes challenges offer only the methods each user enrolled.
// Call it before the first event.
func (e *Engine) UseFactors(f Factors) { e.factors = f }

// ChallengeSettings returns how the engine makes challenges.
func (e *Engine) ChallengeSettings() ChallengeSettings {
	return ChallengeSettings{TTL: e.cfg.ChallengeTTL, Methods: append([]string(nil), e.cfg.ChallengeMethods...), MaxAttempts: e.cfg.ChallengeMaxAttempts}
}

// Assess assesses one event and returns once its record is durable.
func (e *Engine) Assess(ctx context.Context, ev event.Event) (Result, error) {
	rs, err := e.AssessBatch(ctx, []event.Event{ev})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// AssessBatch assesses events in order and writes all their records in
// one durable write.
func (e *Engine) AssessBatch(ctx context.Context, evs []event.Event) ([]Result, error) {
	out := make([]Result, len(evs))
	var b store.Batch
	received := time.Now().UTC()
	for i := range evs {
		r, err := e.assess(ctx, &evs[i], received, &b, nil)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	if err := e.writer.Write(ctx, b); err != nil {
		return nil, fmt.Errorf("recording events: %w", err)
	}
	e.publish(evs, out, received)
	return out, nil
}

func loginHash(login string) uint64 {
	if login == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(login))
	return h.Sum64() | 1
}

// assess assesses one event into b. origin is nil for an event sent to
// this instance; for a peer's event (Apply) it is the peer's result, which
// stands: only the detectors and the open incidents learn from it.
func (e *Engine) assess(ctx context.Context, ev *event.Event, received time.Time, b *store.Batch, origin *Result) (Result, error) {
	now := e.clock.At(ev.OccurredAt)
	keys := source.KeysOf(ev.Context)
	fctx := familiarity.Context{Device: ev.Context.DeviceID, Network: keys.Prefix, Agent: familiarity.AgentFamily(ev.Context.UserAgent)}
	var place geo.Info
	if e.geo != nil {
		place = e.geo.Lookup(ev.Context.IP)
		fctx.Country = place.Country
		if place.ASN != 0 {
			fctx.ASN = strconv.FormatUint(uint64(place.ASN), 10)
		}
	}

	var facts familiarity.Facts
	unread := false // the account's records could not be read
	if origin != nil {
		facts = origin.facts
	} else if ev.User.ID != "" {
		f, err := e.familiar.Assess(ctx, ev.User.ID, fctx, now)
		if err != nil {
			if e.outage == nil {
				return Result{}, err
			}
			unread = true // answer without familiarity
		}
		facts = f
	}

	succeeded, failed := ev.Type == event.LoginSucceeded, ev.Type == event.LoginFailed
	unknown := ev.UnknownAccount()
	var src source.Stats
	var camp campaign.State
	if succeeded || failed {
		src = e.sources.Observe(keys, now, window.Obs{Failed: failed, Unknown: unknown, Succeeded: succeeded, Login: loginHash(ev.Login)})
		camp = e.campaign.Observe(now, campaign.Obs{
			Failed: failed, Unknown: unknown,
			UnfamiliarSucceeded: succeeded && facts.HasHistory && !facts.Familiar(),
		})
	} else {
		src = e.sources.Peek(keys, now)
		camp = e.campaign.Tick(now)
	}
	e.campaignTransition(camp, b)
	incID := ""
	if camp.Active {
		incID = e.tracker.OpenID()
	}

	hints := bot.Inspect(ev.Context.UserAgent, ev.Context.AcceptLanguage, ev.Context.Headers)
	in := policy.Input{
		Event: policy.EventFacts{
			Type: string(ev.Type), IsLogin: ev.Type.IsLogin(), Attempt: ev.Type == event.LoginAttempt,
			Succeeded: succeeded, Failed: failed, UnknownAccount: unknown,
			HasDevice: ev.Context.DeviceID != "", MFAMethod: ev.Properties.Method,
		},
		IP: sourceFacts(src.IP), Prefix: sourceFacts(src.Prefix), Device: sourceFacts(src.Device),
		UserAgent: sourceFacts(src.UserAgent), Fingerprint: sourceFacts(src.Fingerprint),
		Account: policy.AccountFacts{
			Known: ev.User.ID != "", HasHistory: facts.HasHistory, Logins: facts.Logins,
			DeviceKnown: facts.DeviceKnown, NetworkKnown: facts.NetworkKnown, AgentKnown: facts.AgentKnown,
			CountryKnown: facts.CountryKnown, ASNKnown: facts.ASNKnown, Familiar: facts.Familiar(),
			MFAFailures: facts.MFAFailures,
		},
		Campaign: policy.CampaignFacts{Active: camp.Active, IncidentID: incID, Metric: camp.Metric.String()},
		Bot:      policy.BotFacts{AutomationUA: hints.AutomationUA, Tool: hints.Tool, MissingHeaders: hints.MissingHeaders},
		Geo:      policy.GeoFacts{Country: place.Country, ASN: int(place.ASN), ASOrg: place.ASOrg},
	}
	if !camp.Active {
		in.Campaign.Metric = ""
	}
	if o := e.outage; o != nil && o.closed {
		in.Guard.Degraded = unread || (o.hubDown != nil && o.hubDown())
	}
	sprayed, err := e.credentialFacts(ev, now, &in, b)
	if err != nil {
		return Result{}, err
	}
	e.orders.sessionFacts(ev, now, &in)
	oc, err := e.orderFacts(ctx, ev, now, &in)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if origin != nil {
		res = Result{EventID: origin.EventID, Decision: origin.Decision, Risk: origin.Risk, Reasons: origin.Reasons}
	} else {
		pr, err := e.policy.Evaluate(&in)
		if err != nil {
			return Result{}, fmt.Errorf("evaluating policy: %w", err)
		}
		res = Result{
			EventID: incident.NewID("ev", received), Decision: pr.Decision, Risk: pr.Risk,
			Reasons: pr.Reasons, Rules: pr.Rules, facts: facts,
		}
	}
	if res.Reasons == nil {
		res.Reasons = []policy.Reason{}
	}
	if origin == nil && res.Decision == policy.Review && ev.Type == event.OrderAttempt && ev.Properties.Order != nil {
		res.ReviewID = incident.NewID("rv", received)
	}

	if origin == nil && res.Decision == policy.Challenge && ev.User.ID != "" {
		methods := e.cfg.ChallengeMethods
		if e.factors != nil {
			enrolled, err := e.factors.Methods(ctx, ev.User.ID, methods)
			switch {
			case err == nil:
				methods = enrolled
			case e.outage == nil:
				return Result{}, fmt.Errorf("listing step-up methods: %w", err)
			default:
				// Shared records out of reach: offer what is configured;
				// the answer is checked against the factors once they can
				// be read.
			}
		}
		ch := store.Challenge{
			ID: incident.NewID("ch", received), UserID: ev.User.ID, SessionID: ev.SessionID,
			Purpose: string(ev.Type), Methods: methods, State: store.ChallengePending,
			CreatedAt: now, ExpiresAt: now.Add(e.cfg.ChallengeTTL), EventID: res.EventID, IncidentID: incID,
			DeviceID: ev.Context.DeviceID, UserAgent: ev.Context.UserAgent,
		}
		if ev.Context.IP.IsValid() {
			ch.IP = ev.Context.IP.String()
		}
		res.Challenge = &ch
		b.Challenges = append(b.Challenges, ch)
	}

	// Attribute campaign-like login traffic to the open incident.
	if incID != "" && (succeeded || failed) && (unknown || !facts.Familiar()) {
		res.IncidentID = incID
		hit := incident.Hit{
			Account: ev.Account(), Known: ev.User.ID != "", Succeeded: succeeded,
			IP: keys.IP, Prefix: keys.Prefix, UserAgent: ev.Context.UserAgent, Outcome: outcome(ev.Type, res.Decision),
		}
		if a, ok := e.tracker.Record(hit, now); ok {
			b.IncidentAccounts = append(b.IncidentAccounts, a)
		}
		e.maybeSaveIncident(now, b)
	}
	e.credentialOutcome(ev, sprayed, in.Credential, keys, unknown || !facts.Familiar(), now, &res, b)
	if origin != nil {
		e.replaySideEffects(ctx, ev, now, &in, origin, b)
		return res, nil
	}

	if !unread {
		passed, err := e.sideEffects(ctx, ev, fctx, now, res, b)
		if err != nil {
			return Result{}, err
		}
		res.passed = passed
	}
	if err := e.orderSideEffects(ctx, ev, now, &in, res, oc, b); err != nil {
		return Result{}, err
	}
	if err := e.notifyOwner(ctx, ev, now, received, &in, res, b); err != nil {
		return Result{}, err
	}
	b.Audit = append(b.Audit, e.audit(ev, received, res, ev.Account()))
	return res, nil
}

func outcome(t event.Type, d policy.Decision) string {
	switch {
	case d == policy.Deny:
		return store.OutcomeDenied
	case t == event.LoginFailed:
		return "failed"
	case d == policy.Challenge || d == policy.Review:
		return store.OutcomeChallenged
	}
	return store.OutcomeAllowed
}

// campaignTransition opens or closes the incident as the campaign state
// changes.
func (e *Engine) campaignTransition(st campaign.State, b *store.Batch) {
	switch {
	case st.Opened:
		inc := e.tracker.Open(incident.KindCredentialStuffing, st.Since)
		first := e.claimIncident(e.tracker, &inc)
		b.Incidents = append(b.Incidents, inc)
		if first {
			b.Notifications = append(b.Notifications, e.notes.IncidentOpened(inc, e.wall())...)
		}
		e.mu.Lock()
		e.lastIncSave = st.Since
		e.mu.Unlock()
	case st.Closed:
		if inc, ok := e.tracker.Close(st.Until); ok {
			b.Incidents = append(b.Incidents, inc)
			if e.releaseIncident(inc) {
				b.Notifications = append(b.Notifications, e.notes.IncidentClosed(inc, e.wall())...)
			}
		}
	}
}

// maybeSaveIncident writes the open incident's counters at most once per
// second of event time; Flush writes them on demand.
func (e *Engine) maybeSaveIncident(now time.Time, b *store.Batch) {
	e.mu.Lock()
	due := now.Sub(e.lastIncSave) >= time.Second
	if due {
		e.lastIncSave = now
	}
	e.mu.Unlock()
	if !due {
		return
	}
	if inc, ok := e.tracker.Snapshot(); ok {
		b.Incidents = append(b.Incidents, inc)
	}
}

// sideEffects learns from the event; passed reports an mfa.succeeded
// that passed its challenge.
func (e *Engine) sideEffects(ctx context.Context, ev *event.Event, fctx familiarity.Context, now time.Time, res Result, b *store.Batch) (passed bool, err error) {
	uid := ev.User.ID
	switch ev.Type {
	case event.LoginSucceeded:
		if res.Decision == policy.Allow {
			p, err := e.familiar.Learn(ctx, uid, fctx, now)
			if err != nil {
				return false, err
			}
			appendProfile(b, p)
		}
	case event.PasswordChanged:
		if res.Decision == policy.Deny {
			break // refused (e.g. a breached password): the old one stands
		}
		p, err := e.familiar.PasswordChanged(ctx, uid, now)
		if err != nil {
			return false, err
		}
		appendProfile(b, p)
	case event.Registration:
		if res.Decision == policy.Deny {
			break // refused (e.g. a breached password): nothing to learn
		}
		p, err := e.familiar.Learn(ctx, uid, fctx, now)
		if err != nil {
			return false, err
		}
		appendProfile(b, p)
	case event.MFASucceeded:
		// SMS and voice codes are weak factors (phishable, SIM-swappable;
		// NIST SP 800-63B: restricted): passing one neither passes the
		// guard's challenge, which asked for a strong factor, nor makes the
		// context familiar. The decision says so (mfa.weak_factor).
		weak := policy.WeakMFAMethod(ev.Properties.Method)
		if ch, ok, err := e.challengeOf(ctx, ev, now); err != nil {
			return false, err
		} else if ok && !weak {
			passed = true
			ch.State = store.ChallengePassed
			b.Challenges = append(b.Challenges, ch)
			if a, ok := e.tracker.PassChallenge(uid, now); ok {
				b.IncidentAccounts = append(b.IncidentAccounts, a)
			}
		}
		if !weak {
			p, err := e.familiar.Learn(ctx, uid, fctx, now)
			if err != nil {
				return false, err
			}
			appendProfile(b, p)
		}
	case event.MFAFailed:
		if ch, ok, err := e.challengeOf(ctx, ev, now); err != nil {
			return false, err
		} else if ok {
			ch.Attempts++
			if ch.Attempts >= e.cfg.ChallengeMaxAttempts {
				ch.State = store.ChallengeLocked
			}
			b.Challenges = append(b.Challenges, ch)
		}
		p, err := e.familiar.MFAFailed(ctx, uid, now)
		if err != nil {
			return false, err
		}
		b.Profiles = append(b.Profiles, p)
	}
	return passed, nil
}

// challengeOf returns the pending, unexpired challenge an mfa.* event
// answers, if it names one of this user's.
func (e *Engine) challengeOf(ctx context.Context, ev *event.Event, now time.Time) (store.Challenge, bool, error) {
	id := ev.Properties.ChallengeID
	if id == "" {
		return store.Challenge{}, false, nil
	}
	ch, err := e.records.GetChallenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Challenge{}, false, nil
	}
	if err != nil {
		return store.Challenge{}, false, fmt.Errorf("loading challenge: %w", err)
	}
	if ch.UserID != ev.User.ID || ch.State != store.ChallengePending || !now.Before(ch.ExpiresAt) {
		return store.Challenge{}, false, nil
	}
	return ch, true, nil
}

func (e *Engine) audit(ev *event.Event, received time.Time, res Result, account string) store.AuditRecord {
	rec := store.AuditRecord{
		EventID: res.EventID, ReceivedAt: received, OccurredAt: ev.OccurredAt, Type: string(ev.Type),
		Account: account, Login: ev.Login, IP: ev.Context.IP.String(), SessionID: ev.SessionID,
		RequestID: ev.RequestID, Decision: string(res.Decision), Risk: res.Risk, IncidentID: res.IncidentID,
	}
	for _, r := range res.Reasons {
		rec.Reasons = append(rec.Reasons, r.Code)
	}
	if res.Challenge != nil {
		rec.ChallengeID = res.Challenge.ID
	}
	if ev.Credential.HasPassword {
		m := hmac.New(sha256.New, e.key)
		m.Write([]byte("password-sha1\x00"))
		m.Write(ev.Credential.PasswordSHA1[:])
		rec.PasswordHMAC = m.Sum(nil)[:16]
	}
	if data, err := ev.MarshalRedacted(); err == nil {
		rec.Event = data
	}
	return rec
}

func sourceFacts(s window.Stats) policy.SourceFacts {
	return policy.SourceFacts{
		Attempts1m: s.Attempts1m, Attempts10m: s.Attempts10m, Attempts1h: s.Attempts1h,
		Failures10m: s.Failures10m, Failures1h: s.Failures1h, Unknown1h: s.Unknown1h,
		Successes1h: s.Successes1h, DistinctLogins1h: s.DistinctLogins1h,
		FailureRatio: s.FailureRatio(), UnknownRatio: s.UnknownRatio(),
	}
}

// Tick moves the campaign detector to the clock's now, closing a campaign
// whose traffic stopped. Serve calls it periodically.
func (e *Engine) Tick(ctx context.Context) error {
	var b store.Batch
	e.campaignTransition(e.campaign.Tick(e.clock.Now()), &b)
	e.sprayTransition(e.creds.spray.Tick(e.clock.Now()), &b)
	if b.Empty() {
		return nil
	}
	return e.writer.Write(ctx, b)
}

// Flush writes the open incidents' current counters.
func (e *Engine) Flush(ctx context.Context) error {
	var b store.Batch
	for _, t := range []*incident.Tracker{e.tracker, e.creds.tracker} {
		if inc, ok := t.Snapshot(); ok {
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

// Policy returns the policy in force.
func (e *Engine) Policy() *policy.Policy { return e.policy }

const (
	stateCampaign = "campaign"
	stateIncident = "incident"
)

// Save persists what the engine learned that is not written per event
// (the campaign baseline, the open incident's state), for a restart.
func (e *Engine) Save(ctx context.Context) error {
	if err := e.Flush(ctx); err != nil {
		return err
	}
	if err := e.saveCredentials(ctx); err != nil {
		return err
	}
	snap, err := e.campaign.Snapshot()
	if err != nil {
		return err
	}
	if err := e.records.PutState(ctx, stateCampaign, snap); err != nil {
		return fmt.Errorf("saving campaign baseline: %w", err)
	}
	inc, err := e.tracker.Save()
	if err != nil {
		return err
	}
	if err := e.records.PutState(ctx, stateIncident, inc); err != nil {
		return fmt.Errorf("saving incident state: %w", err)
	}
	return nil
}

// Restore loads what Save persisted; a fresh store has nothing to load.
func (e *Engine) Restore(ctx context.Context) error {
	if err := e.restoreCredentials(ctx); err != nil {
		return err
	}
	snap, err := e.records.GetState(ctx, stateCampaign)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("loading campaign baseline: %w", err)
	}
	if err := e.campaign.Restore(snap); err != nil {
		return err
	}
	data, err := e.records.GetState(ctx, stateIncident)
	if errors.Is(err, store.ErrNotFound) || len(data) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading incident state: %w", err)
	}
	return e.tracker.Restore(data, func(id string) ([]store.IncidentAccount, error) {
		return e.records.ListIncidentAccounts(ctx, id)
	})
}

// appendProfile adds p to the batch unless there is nothing to write (the
// zero Profile).
func appendProfile(b *store.Batch, p store.Profile) {
	if p.Account != "" {
		b.Profiles = append(b.Profiles, p)
	}
}

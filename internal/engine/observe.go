package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/bot"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/source"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/signal/window"
)

// observation is what the observe phase found about one event: the facts
// the policy decides on, and what the later phases need.
type observation struct {
	now    time.Time
	keys   source.Keys
	fctx   familiarity.Context
	place  geo.Info
	facts  familiarity.Facts
	unread bool // the account's records could not be read
	in     policy.Input
	spray  spray.Result
	order  familiarity.OrderContext // what to learn if the order is allowed
	// trans are the incidents the detectors opened or closed.
	trans transitions
	// replay, when set, is what the audit record of an event replayed
	// after a restart kept (recover.go).
	replay *replayFacts
	// subjects are the event's federation subjects, hashed once
	// (federation.go).
	subjects subjects
}

// newObservation starts the observation of an event assessed at now: its
// sources and the context familiarity judges.
func (e *Engine) newObservation(ev *event.Event, now time.Time) observation {
	keys := source.KeysOf(ev.Context)
	obs := observation{now: now, keys: keys}
	obs.fctx = familiarity.Context{
		Device: ev.Context.DeviceID, Network: keys.Prefix, Agent: familiarity.AgentFamily(ev.Context.UserAgent),
		Language: familiarity.LanguageOf(ev.Context.AcceptLanguage),
	}
	if e.geo != nil {
		obs.place = e.geo.Lookup(ev.Context.IP)
		obs.fctx.Country = obs.place.Country
		if obs.place.ASN != 0 {
			obs.fctx.ASN = strconv.FormatUint(uint64(obs.place.ASN), 10)
		}
	}
	return obs
}

// accountFacts sets how familiar the event's context is to its account.
// An account whose records could not be read is marked unread and judged
// without familiarity while the engine rides out an outage.
func (e *Engine) accountFacts(ctx context.Context, ev *event.Event, obs *observation) error {
	if ev.User.ID == "" {
		return nil
	}
	f, err := e.familiar.Assess(ctx, ev.User.ID, obs.fctx, obs.now)
	if err != nil && e.outage == nil {
		return err
	}
	f.NetworkSeenInShop = e.networks.Seen(obs.fctx.Network)
	// A network seen is in a range seen (a snapshot from before ranges
	// were learned knows the networks only).
	f.RangeSeenInShop = f.NetworkSeenInShop || e.networks.Seen(obs.keys.Range)
	obs.facts, obs.unread = f, err != nil
	return nil
}

// observe feeds the event to the detectors and gathers the facts the
// policy decides on, into obs (newObservation, with the account's
// familiarity: this instance's own from accountFacts, or what the instance
// that assessed the event found).
func (e *Engine) observe(ctx context.Context, ev *event.Event, obs *observation) error {
	now := obs.now
	peer := e.peerFacts(ev, obs)
	// A failure from a peer's campaign source, or for a login on a peer's
	// combo list, weighs more in the campaign detector.
	weigh := peer.CampaignSource || peer.ComboListed && ev.Type == event.LoginFailed
	src, camp := e.observeSources(ev, now, obs.keys, obs.facts, weigh)
	e.campaignTransition(camp, &obs.trans)
	incID := ""
	if camp.Active {
		incID = e.tracker.OpenID()
	}
	obs.in = policyInput(ev, now, obs.facts, src, camp, incID, obs.place)
	obs.in.Peer = peer
	if o := e.outage; o != nil && o.Closed {
		obs.in.Guard.Degraded = obs.unread || (o.HubDown != nil && o.HubDown())
	}
	var err error
	if obs.spray, err = e.credentialFacts(ctx, ev, obs); err != nil {
		return err
	}
	e.orders.sessionFacts(ev, now, &obs.in)
	if takeoverSign(ev, &obs.in) {
		e.campaignTransition(e.campaign.Sign(now), &obs.trans)
	}
	if obs.order, err = e.orderFacts(ctx, ev, now, &obs.in); err != nil {
		return err
	}
	return nil
}

// observeSources counts a login at its sources and in the campaign
// detector (more for a source a peer's campaign used); other events only
// read them.
func (e *Engine) observeSources(ev *event.Event, now time.Time, keys source.Keys, facts familiarity.Facts, peer bool) (source.Stats, campaign.State) {
	o, ok := loginObs(ev)
	if !ok {
		return e.sources.Peek(keys, now), e.campaign.Tick(now)
	}
	src := e.sources.Observe(keys, now, o)
	camp := e.campaign.Observe(now, campaign.Obs{
		Failed: o.Failed, Unknown: o.Unknown, Succeeded: o.Succeeded,
		UnfamiliarSucceeded: o.Succeeded && facts.HasHistory && !facts.Familiar(),
		Stranger:            strangerOf(o.Succeeded, facts),
		Peer:                peer,
	})
	return src, camp
}

// takeoverSign reports whether ev is a contact change in a session a
// stranger opened and was let into without a step-up: what a crew does
// with an account it got into (campaign.TakeoverSign). A session that was
// challenged is not one: the shop keeps it out until the step-up passes.
func takeoverSign(ev *event.Event, in *policy.Input) bool {
	return ev.Type == event.ProfileUpdated && in.Session.Known && in.Session.Stranger && in.Session.LoginDecision == string(policy.Allow)
}

// strangerOf classes a login for the campaign detector's strangers test.
func strangerOf(succeeded bool, f familiarity.Facts) campaign.Stranger {
	if !succeeded || !f.RangeSeenInShop {
		// A stranger from an address block no owner used is
		// campaign-unseen-range's: counted here, a crew abroad would
		// have every stranger of the shop stepped up
		// (campaign-strangers) while its own are anyway.
		return campaign.NotStranger
	}
	return campaign.StrangerOf(f.Logins, f.Familiar(), f.NetworkSeenInShop, f.Grade.NewAgent, f.Grade.NewLanguage)
}

// loginObs is what the sources count of a login; ok is false for other
// events, which they do not count.
func loginObs(ev *event.Event) (window.Obs, bool) {
	succeeded, failed := ev.Type == event.LoginSucceeded, ev.Type == event.LoginFailed
	if !succeeded && !failed {
		return window.Obs{}, false
	}
	return window.Obs{Failed: failed, Unknown: ev.UnknownAccount(), Succeeded: succeeded, Login: loginHash(ev.Login)}, true
}

// policyInput is the policy's view of an event and its sources.
func policyInput(ev *event.Event, now time.Time, facts familiarity.Facts, src source.Stats, camp campaign.State, incID string, place geo.Info) policy.Input {
	hints := bot.Inspect(ev.Context.UserAgent, ev.Context.AcceptLanguage, ev.Context.Headers)
	in := policy.Input{
		Event: policy.EventFacts{
			Type: string(ev.Type), IsLogin: ev.Type.IsLogin(), Attempt: ev.Type == event.LoginAttempt,
			Succeeded: ev.Type == event.LoginSucceeded, Failed: ev.Type == event.LoginFailed, UnknownAccount: ev.UnknownAccount(),
			HasDevice: ev.Context.DeviceID != "", MFAMethod: ev.Properties.Method,
		},
		IP: sourceFacts(src.IP), Prefix: sourceFacts(src.Prefix), Device: sourceFacts(src.Device),
		UserAgent: sourceFacts(src.UserAgent), Fingerprint: sourceFacts(src.Fingerprint),
		Account: policy.AccountFacts{
			Known: ev.User.ID != "", HasHistory: facts.HasHistory, Logins: facts.Logins,
			DeviceKnown: facts.DeviceKnown, NetworkKnown: facts.NetworkKnown, AgentKnown: facts.AgentKnown,
			CountryKnown: facts.CountryKnown, ASNKnown: facts.ASNKnown, Familiar: facts.Familiar(),
			MFAFailures: facts.MFAFailures, ChallengesAbandoned: facts.ChallengesAbandoned, LanguageKnown: facts.LanguageKnown,
			NewBrowserFamily: facts.Grade.NewAgent, NewLanguage: facts.Grade.NewLanguage,
			UnusualHour: facts.Grade.UnusualHour, Strangeness: facts.Grade.Strangeness,
			ContextMismatch: facts.HasHistory && facts.Grade.Mismatch,
		},
		Network:  policy.NetworkFacts{SeenInShop: facts.NetworkSeenInShop, RangeSeenInShop: facts.RangeSeenInShop},
		Campaign: policy.CampaignFacts{Active: camp.Active, IncidentID: incID},
		Bot:      policy.BotFacts{AutomationUA: hints.AutomationUA, Tool: hints.Tool, MissingHeaders: hints.MissingHeaders},
		Geo:      policy.GeoFacts{Country: place.Country, ASN: int(place.ASN), ASOrg: place.ASOrg},
	}
	if camp.Active {
		in.Campaign.Metric = camp.Metric.String()
		in.Campaign.Strangers = camp.Strangers
		in.Campaign.FirstLogins = camp.FirstLogins
	}
	if !facts.LastLogin.IsZero() {
		in.Account.DaysSinceLogin = math.Max(now.Sub(facts.LastLogin).Hours()/24, 0)
	}
	return in
}

func sourceFacts(s window.Stats) policy.SourceFacts {
	return policy.SourceFacts{
		Attempts1m: s.Attempts1m, Attempts10m: s.Attempts10m, Attempts1h: s.Attempts1h,
		Failures10m: s.Failures10m, Failures1h: s.Failures1h, Unknown1h: s.Unknown1h,
		Successes1h: s.Successes1h, DistinctLogins1h: s.DistinctLogins1h,
		FailureRatio: s.FailureRatio(), UnknownRatio: s.UnknownRatio(),
	}
}

func loginHash(login string) uint64 {
	if login == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(login))
	return h.Sum64() | 1
}

// credentialFacts fills obs.in.Credential: the breach count of the
// event's password (login.succeeded, registration, password.changed) and
// how many accounts it failed on site-wide (logins). It opens or closes
// the password_spraying incident as the spray detector says.
func (e *Engine) credentialFacts(ctx context.Context, ev *event.Event, obs *observation) (spray.Result, error) {
	c := e.creds
	now, in, t := obs.now, &obs.in, &obs.trans
	var r spray.Result
	if !ev.Credential.HasPassword {
		r.State = c.spray.Tick(now)
		e.sprayTransition(r.State, t)
		return r, nil
	}
	f := &in.Credential
	f.Present = true
	switch ev.Type {
	case event.LoginSucceeded, event.Registration, event.PasswordChanged:
		n, ok, err := e.breachCount(ev, obs.replay)
		if err != nil {
			return r, fmt.Errorf("checking breached passwords: %w", err)
		}
		f.Breached, f.BreachCount = ok, int(n)
	}
	digest, known := obs.replay.sprayDigest(c.spray.KeyID())
	if ev.Type.IsLogin() && known {
		acct := ev.Login
		if acct == "" {
			acct = ev.User.ID
		}
		r = c.spray.Observe(now, spray.Obs{SHA1: ev.Credential.PasswordSHA1, Digest: digest, Account: loginHash(acct), Failed: ev.Type == event.LoginFailed})
		f.SprayAccounts, f.Sprayed = r.Accounts, r.Hot
	} else {
		r.State = c.spray.Tick(now)
	}
	f.SprayActive = r.State.Active
	e.sprayTransition(r.State, t)
	return r, nil
}

// sessionFacts fills in how the event's session began.
func (os *orderSignals) sessionFacts(ev *event.Event, now time.Time, in *policy.Input) {
	st, ok := os.sessions.Get(ev.SessionID)
	if !ok || (ev.User.ID != "" && st.UserID != ev.User.ID) {
		return
	}
	in.Session = policy.SessionFacts{
		Known: true, LoginDecision: st.LoginDecision, LoginRisk: st.LoginRisk, Unfamiliar: st.Unfamiliar, Stranger: st.Stranger,
		Challenged: st.Challenged, ChallengePassed: st.ChallengePassed, WeakFactor: st.WeakFactor,
		MinutesSinceLogin: now.Sub(st.LoginAt).Minutes(),
	}
}

// orderFacts fills in the facts of an order.attempt and returns what to
// learn if the order is allowed.
func (e *Engine) orderFacts(ctx context.Context, ev *event.Event, now time.Time, in *policy.Input) (familiarity.OrderContext, error) {
	o := ev.Properties.Order
	if ev.Type != event.OrderAttempt || o == nil {
		return familiarity.OrderContext{}, nil
	}
	oc := orderContext(o)
	f := e.orders.staticFacts(o)
	of, err := e.familiar.AssessOrder(ctx, ev.User.ID, oc)
	if err != nil {
		return oc, err
	}
	f.FirstOrder = of.Orders == 0
	if f.Pickup {
		f.NewPickupStore = oc.PickupStore == "" || !of.StoreKnown
	} else {
		f.NewAddress = o.Shipping.NewForUser || (oc.Address != "" && !of.AddressKnown)
	}
	f.NewPayment = o.Payment.NewForUser || (oc.Payment != "" && !of.PaymentKnown && !f.FirstOrder)
	e.orders.contactChanges(&f, of.Changes, now)

	risky := (in.Session.Known && in.Session.Unfamiliar && !in.Session.ChallengePassed) || !in.Account.Familiar || f.NewAddress
	e.orders.crossAccount(&f, ev, oc, risky, now)
	in.Order = f
	return oc, nil
}

// staticFacts are the facts of an order that need no history: its value,
// items, delivery and payment.
func (os *orderSignals) staticFacts(o *event.Order) policy.OrderFacts {
	f := policy.OrderFacts{
		Present: true, Amount: o.Amount, Currency: o.Currency,
		Pickup:                  isPickup(o.Delivery),
		CarrierBilling:          o.Payment.Method == payCarrier,
		ConvenienceStorePayment: o.Payment.Method == payConvenience,
		HoursSinceContactChange: -1,
	}
	for _, it := range o.Items {
		if slices.ContainsFunc(os.cfg.RiskySKUs, func(p string) bool { ok, _ := path.Match(p, it.SKU); return ok }) {
			f.RiskyItem = true
		}
	}
	if limit, ok := os.cfg.HighValue[o.Currency]; ok && o.Amount >= limit {
		f.HighValue = true
	}
	f.HighValue = f.HighValue || f.RiskyItem
	return f
}

// contactChanges fills in how recently the account's contact data changed.
func (os *orderSignals) contactChanges(f *policy.OrderFacts, changes map[string]time.Time, now time.Time) {
	for field, at := range changes {
		age := now.Sub(at)
		if age < 0 || age >= os.cfg.ContactCooldown {
			continue
		}
		f.ContactChangedRecently = true
		if field == "email" {
			f.EmailChangedRecently = true
		}
		if h := age.Hours(); f.HoursSinceContactChange < 0 || h < f.HoursSinceContactChange {
			f.HoursSinceContactChange = h
		}
	}
}

// crossAccount counts the order at its drop point and its items' surges.
// A home address shared by several accounts is a drop point. A convenience
// store serves many honest customers, so only orders from risky contexts
// count there. Recipient names are not counted: common names are shared
// by many honest accounts.
func (os *orderSignals) crossAccount(f *policy.OrderFacts, ev *event.Event, oc familiarity.OrderContext, risky bool, now time.Time) {
	f.DropPointAccounts = os.drops.Observe(oc.Address, ev.User.ID, now)
	if risky {
		f.DropPointAccounts = max(f.DropPointAccounts, os.drops.Observe(oc.PickupStore, ev.User.ID, now))
	}
	for _, it := range ev.Properties.Order.Items {
		st := os.surge.Observe(it.SKU, risky, now)
		if st.Surging && st.RiskyShare >= f.SurgeRiskyShare {
			f.Surge, f.SurgeRiskyShare = true, st.RiskyShare
		}
	}
}

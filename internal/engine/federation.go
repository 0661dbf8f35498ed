package engine

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/policy"
)

// PeerFacts answers what other shops' guards reported (package
// federation's Store).
type PeerFacts interface {
	Lookup(kind federation.Kind, subject string, now time.Time) federation.Match
}

// Publisher tells the federation's peers what this guard's incidents
// learned (package ssf). It is called from Tick, with facts whose records
// are durable, deduplicated; an error leaves them to the next tick.
type Publisher interface {
	Publish(ctx context.Context, facts []federation.Fact) error
}

// Federation connects the engine to the guards of other shops: what they
// reported becomes policy facts (policy.Input.Peer) and weighs in the
// campaign detector, and what this guard's incidents learn is published.
type Federation struct {
	Key       federation.Key    // the federation's key for subjects; required
	Config    federation.Config // subjects and TTLs
	Facts     PeerFacts         // nil: nothing received is looked up
	Publisher Publisher         // nil: nothing is told
}

// Hash domains of the subjects: the same at every guard of a federation.
const (
	domainLogin       = "login"
	domainAgent       = "user-agent"
	domainFingerprint = "client-fingerprint"
	domainPassword    = "password-sha1"
	domainAddress     = "address"
	domainPickup      = "pickup-store"
)

// Confidences of the facts this guard tells, by what backs them.
const (
	confCompromised = 0.9 // a correct password in a campaign
	confListed      = 0.7 // a login a campaign tried
	confSource      = 0.8 // a prefix a campaign failed from, twice or more
	confAgent       = 0.3 // a browser cluster: owners use the same browsers
	confTool        = 0.8 // an automation user agent
	confDrop        = 0.7 // an order held during a campaign
	confSprayed     = 0.8
	minSourceHits   = 2  // failures from a prefix before it is told
	minAgentHits    = 20 // failures from a user agent or fingerprint before it is told
	peerWeighFrom   = 0.5
)

// fedState is the engine's federation: the peers' facts it reads and the
// facts its incidents learned, kept until told.
type fedState struct {
	Federation
	hash    *federation.Hasher // Key's, for the subjects
	mu      sync.Mutex
	told    map[fedKey]*toldFact // bounded by Config.Max
	dirty   []fedKey             // changed since the last publication
	victims map[string]string    // user id → login subject of accounts told compromised; bounded
	byInc   map[string]*toldInc  // what was published per incident; bounded
	// resets are the victims whose owner changed the password, login
	// subject → user id, forgotten once the change is durable; bounded.
	resets map[string]string
	// lead is what unfamiliar failures taught while no incident was open,
	// the newest last (at most leadMax): a campaign is detected some
	// minutes in, and its first attempts are told with the incident.
	lead    []federation.Fact
	leadInc string // the incident the lead was told with
}

// The lead-up of an incident told with it.
const (
	leadMax    = 4096
	leadWindow = 15 * time.Minute
)

type fedKey struct {
	kind    federation.Kind
	subject string
}

// toldInc is what was published of one incident: how many facts, and to
// which peers when the publisher says (Recipients).
type toldInc struct {
	facts int
	peers []string
}

// maxToldIncidents bounds the incidents whose publications are counted.
const maxToldIncidents = 1024

// Recipients is implemented by a Publisher that knows which peers its
// publications go to (those whose sending is on): each incident then
// lists the peers it told.
type Recipients interface {
	Recipients() []string
}

// toldLocked counts n facts published for incident inc, to peers.
func (f *fedState) toldLocked(inc string, n int, peers []string) {
	t := f.byInc[inc]
	if t == nil {
		if len(f.byInc) >= maxToldIncidents {
			clear(f.byInc) // a bounded, best-effort count
		}
		t = &toldInc{}
		f.byInc[inc] = t
	}
	t.facts += n
	for _, p := range peers {
		if !slices.Contains(t.peers, p) && len(t.peers) < 64 {
			t.peers = append(t.peers, p)
		}
	}
}

// toldFact is a fact as this guard knows it, and what of it was told.
type toldFact struct {
	fact      federation.Fact
	sentCount int
	sentAt    time.Time
	dirty     bool
}

func newFedState(f *Federation) *fedState {
	if f == nil {
		return nil
	}
	return &fedState{Federation: *f, hash: federation.NewHasher(f.Key), told: map[fedKey]*toldFact{}, victims: map[string]string{}, resets: map[string]string{},
		byInc: map[string]*toldInc{}}
}

// loginSubject is how a login is named in the facts this guard tells.
func (f *fedState) loginSubject(login string) (string, string) {
	if f.Config.Subjects == federation.SubjectEmail {
		return login, federation.SubjectEmail
	}
	return f.hash.Hash(domainLogin, login), federation.SubjectLoginHash
}

// subjects are an event's subjects in the federation's keyed hashes,
// each hashed at most once per event: peerFacts looks them up and tell
// publishes them. The zero value has none hashed yet.
type subjects struct {
	login, agent, fingerprint, password, drop memo
}

// memo is one subject, hashed the first time it is asked for.
type memo struct {
	subject string
	done    bool
}

func (m *memo) get(hash func() string) string {
	if !m.done {
		m.subject, m.done = hash(), true
	}
	return m.subject
}

// hashOf is value hashed in domain, or "" for an empty value.
func (f *fedState) hashOf(domain, value string) string {
	if value == "" {
		return ""
	}
	return f.hash.Hash(domain, value)
}

// eventLoginSubject is loginSubject of the event's login, hashed once
// per event.
func (f *fedState) eventLoginSubject(ev *event.Event, obs *observation) (string, string) {
	if f.Config.Subjects == federation.SubjectEmail {
		return loginOf(ev), federation.SubjectEmail
	}
	return f.loginHash(ev, obs), federation.SubjectLoginHash
}

// loginHash is the event's login hashed, whatever the federation's
// subjects: peers may name logins either way.
func (f *fedState) loginHash(ev *event.Event, obs *observation) string {
	return obs.subjects.login.get(func() string { return f.hashOf(domainLogin, loginOf(ev)) })
}

func (f *fedState) agentSubject(ev *event.Event, obs *observation) string {
	return obs.subjects.agent.get(func() string { return f.hashOf(domainAgent, ev.Context.UserAgent) })
}

func (f *fedState) fingerprintSubject(ev *event.Event, obs *observation) string {
	return obs.subjects.fingerprint.get(func() string { return f.hashOf(domainFingerprint, ev.Context.ClientFingerprint) })
}

func (f *fedState) passwordSubject(ev *event.Event, obs *observation) string {
	return obs.subjects.password.get(func() string {
		sha1 := ev.Credential.PasswordSHA1
		return f.hash.Hash(domainPassword, hex.EncodeToString(sha1[:]))
	})
}

// dropSubject is the drop point of the event's order: its pickup store,
// else its shipping address; "" for an event without an order.
func (f *fedState) dropSubject(ev *event.Event, obs *observation) string {
	return obs.subjects.drop.get(func() string {
		o := ev.Properties.Order
		if o == nil {
			return ""
		}
		oc := orderContext(o)
		if oc.PickupStore != "" {
			return f.hash.Hash(domainPickup, oc.PickupStore)
		}
		return f.hashOf(domainAddress, oc.Address)
	})
}

func loginOf(ev *event.Event) string {
	if ev.Login != "" {
		return ev.Login
	}
	return ev.User.Email
}

// peerFacts looks up what peers reported about the event: its login,
// source, password or order's drop point.
func (e *Engine) peerFacts(ev *event.Event, obs *observation) policy.PeerFacts {
	var pf policy.PeerFacts
	f := e.fed
	if f == nil || f.Facts == nil {
		return pf
	}
	now := obs.now
	var peers []string
	take := func(m federation.Match) bool {
		for _, p := range m.Peers {
			if !slices.Contains(peers, p) {
				peers = append(peers, p)
			}
		}
		pf.Confidence = max(pf.Confidence, m.Confidence)
		return m.Found()
	}
	lookup := func(kind federation.Kind, subject string) federation.Match {
		if subject == "" {
			return federation.Match{}
		}
		return f.Facts.Lookup(kind, subject, now)
	}
	look := func(kind federation.Kind, subject string) bool { return take(lookup(kind, subject)) }
	if ev.Type.IsLogin() {
		if login := loginOf(ev); login != "" {
			h := f.loginHash(ev, obs)
			pf.CredentialCompromised = look(federation.CredentialCompromised, h) || look(federation.CredentialCompromised, login)
			pf.ComboListed = look(federation.ComboListed, h) || look(federation.ComboListed, login)
		}
		pf.CampaignPrefix = look(federation.CampaignSource, obs.keys.Prefix)
		// A browser cluster counts only when a peer is confident of it:
		// owners use the same browsers as crews.
		for _, subject := range []string{f.agentSubject(ev, obs), f.fingerprintSubject(ev, obs)} {
			if m := lookup(federation.CampaignFingerprint, subject); m.Confidence >= peerWeighFrom {
				pf.CampaignFingerprint = take(m) || pf.CampaignFingerprint
			}
		}
		pf.CampaignSource = pf.CampaignPrefix || pf.CampaignFingerprint
		if ev.Credential.HasPassword {
			pf.SprayedPassword = look(federation.SprayedPassword, f.passwordSubject(ev, obs))
		}
	}
	if ev.Type == event.OrderAttempt && ev.Properties.Order != nil {
		pf.DropPoint = look(federation.DropPoint, f.dropSubject(ev, obs))
	}
	pf.Peers = len(peers)
	if pf.Peers == 0 {
		pf.Confidence = 0
	}
	return pf
}

// tell appends to dst the facts an assessed event teaches the
// federation: the logins, sources and passwords of the incident it was
// attributed to (and, when an incident opens, of its lead-up), an order
// held during a campaign, and an owner's reset after a compromise. They
// are published once the event is durable.
func (e *Engine) tell(dst []federation.Fact, ev *event.Event, obs *observation, res Result) []federation.Fact {
	f := e.fed
	if f == nil || f.Publisher == nil {
		return dst
	}
	w := &facts{dst: dst, inc: res.IncidentID, now: obs.now, cfg: f.Config}
	failed := ev.Type == event.LoginFailed
	if w.inc == "" && failed && (ev.UnknownAccount() || !obs.facts.Familiar()) {
		lead := facts{now: obs.now, cfg: f.Config}
		e.tellLogin(&lead, ev, obs, false)
		f.remember(lead.dst)
	}
	if w.inc != "" {
		w.dst = f.leadUp(w.dst, w.inc, obs.now)
		if failed || ev.Type == event.LoginSucceeded {
			e.tellLogin(w, ev, obs, true)
		}
	}
	if obs.spray.Hot && ev.Credential.HasPassword {
		w.add(federation.SprayedPassword, f.passwordSubject(ev, obs), federation.SubjectHash, confSprayed)
	}
	e.tellAccount(w, ev, obs, res)
	return w.dst
}

// facts collects the facts of one event.
type facts struct {
	dst []federation.Fact
	inc string
	now time.Time
	cfg federation.Config
}

// add adds a fact of kind about subject, unless the subject is empty.
func (w *facts) add(kind federation.Kind, subject, format string, conf float64) {
	if subject != "" {
		w.dst = append(w.dst, federation.Fact{Kind: kind, Subject: subject, SubjectFormat: format, Incident: w.inc,
			Count: 1, FirstSeen: w.now, LastSeen: w.now, Confidence: conf, Expires: w.now.Add(w.cfg.TTL(kind))})
	}
}

// tellLogin tells a campaign's login: the login (on the combo list; taken
// over when its password was correct and inIncident), and the sources of
// a failure.
func (e *Engine) tellLogin(w *facts, ev *event.Event, obs *observation, inIncident bool) {
	f := e.fed
	if loginOf(ev) != "" {
		subject, format := f.eventLoginSubject(ev, obs)
		w.add(federation.ComboListed, subject, format, confListed)
		if inIncident && ev.Type == event.LoginSucceeded && ev.User.ID != "" {
			w.add(federation.CredentialCompromised, subject, format, confCompromised)
			f.victim(ev.User.ID, subject)
		}
	}
	if ev.Type != event.LoginFailed {
		return
	}
	w.add(federation.CampaignSource, obs.keys.Prefix, federation.SubjectPrefix, confSource)
	conf := confAgent
	if obs.in.Bot.AutomationUA { // bot.Inspect's, read once for the policy
		conf = confTool
	}
	w.add(federation.CampaignFingerprint, f.agentSubject(ev, obs), federation.SubjectHash, conf)
	w.add(federation.CampaignFingerprint, f.fingerprintSubject(ev, obs), federation.SubjectHash, conf)
}

// tellAccount tells an order held during a campaign (its drop point) and
// an owner's reset after a compromise.
func (e *Engine) tellAccount(w *facts, ev *event.Event, obs *observation, res Result) {
	f := e.fed
	if ev.Type == event.OrderAttempt && ev.Properties.Order != nil && res.Decision != policy.Allow &&
		obs.in.Campaign.IncidentID != "" && !obs.in.Session.ChallengePassed {
		w.inc = obs.in.Campaign.IncidentID
		w.add(federation.DropPoint, f.dropSubject(ev, obs), federation.SubjectHash, confDrop)
	}
	if ev.Type == event.PasswordChanged && res.Decision != policy.Deny {
		if subject, ok := f.changed(ev.User.ID); ok {
			w.add(federation.CredentialChanged, subject, f.subjectFormat(), confCompromised)
		}
	}
}

// remember keeps facts of a failure outside any incident as a possible
// lead-up.
func (f *fedState) remember(facts []federation.Fact) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if over := len(f.lead) + len(facts) - leadMax; over > 0 {
		f.lead = append(f.lead[:0], f.lead[min(over, len(f.lead)):]...)
	}
	f.lead = append(f.lead, facts...)
}

// leadUp appends, the first time incident inc is seen, the lead-up facts
// of the last leadWindow, told with it.
func (f *fedState) leadUp(dst []federation.Fact, inc string, now time.Time) []federation.Fact {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leadInc == inc {
		return dst
	}
	f.leadInc = inc
	for _, x := range f.lead {
		if now.Sub(x.LastSeen) <= leadWindow {
			x.Incident = inc
			dst = append(dst, x)
		}
	}
	f.lead = f.lead[:0]
	return dst
}

func (f *fedState) subjectFormat() string {
	if f.Config.Subjects == federation.SubjectEmail {
		return federation.SubjectEmail
	}
	return federation.SubjectLoginHash
}

// victim remembers the login subject of an account told compromised, for
// the credential_changed its owner's reset will tell.
func (f *fedState) victim(uid, subject string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.victims) >= f.Config.Max() {
		for k := range f.victims { // drop any one: a bounded, best-effort memory
			delete(f.victims, k)
			break
		}
	}
	f.victims[uid] = subject
}

// changed returns the login subject of an account told compromised
// whose owner changed its password. The account is forgotten once the
// change is durable (learned), not before: a change whose write failed is
// told when the shop sends it again.
func (f *fedState) changed(uid string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.victims[uid]
	if ok {
		if len(f.resets) >= f.Config.Max() {
			clear(f.resets) // best-effort: a victim kept is told changed again
		}
		f.resets[s] = uid
	}
	return s, ok
}

// SessionsRevoked tells the federation that an operator ended the
// sessions of the accounts userIDs (a forced password reset), those of
// them whose login an incident told compromised. It is published at the
// next tick.
func (e *Engine) SessionsRevoked(userIDs []string) {
	f := e.fed
	if f == nil || f.Publisher == nil {
		return
	}
	now := e.clock.Now()
	var facts []federation.Fact
	f.mu.Lock()
	for _, uid := range userIDs {
		if s, ok := f.victims[uid]; ok {
			facts = append(facts, federation.Fact{Kind: federation.SessionRevoked, Subject: s, SubjectFormat: f.subjectFormat(),
				Count: 1, FirstSeen: now, LastSeen: now, Confidence: confCompromised, Expires: now.Add(f.Config.TTL(federation.SessionRevoked))})
		}
	}
	f.mu.Unlock()
	f.learned(facts)
}

// resetLocked forgets the victim whose login is subject: the change of its
// password is durable, and the password no longer the stolen one.
func (f *fedState) resetLocked(subject string) {
	if uid, ok := f.resets[subject]; ok {
		delete(f.victims, uid)
		delete(f.resets, subject)
	}
}

// learned merges facts of durable events into what is to be told.
func (f *fedState) learned(facts []federation.Fact) {
	if f == nil || len(facts) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range facts {
		if x.Kind == federation.CredentialChanged {
			f.resetLocked(x.Subject)
		}
		k := fedKey{x.Kind, x.Subject}
		t, ok := f.told[k]
		if !ok {
			if len(f.told) >= f.Config.Max() {
				f.evictLocked()
			}
			t = &toldFact{fact: x}
			f.told[k] = t
		} else {
			t.fact.Count += x.Count
			t.fact.LastSeen = later(t.fact.LastSeen, x.LastSeen)
			t.fact.Expires = later(t.fact.Expires, x.Expires)
			t.fact.Confidence = max(t.fact.Confidence, x.Confidence)
			if x.Incident != "" {
				t.fact.Incident = x.Incident
			}
		}
		if !t.dirty {
			t.dirty = true
			f.dirty = append(f.dirty, k)
		}
	}
}

// evictLocked drops a tenth of the facts known, those seen last longest
// ago.
func (f *fedState) evictLocked() {
	all := make([]fedKey, 0, len(f.told))
	for k := range f.told {
		all = append(all, k)
	}
	slices.SortFunc(all, func(a, b fedKey) int { return f.told[a].fact.LastSeen.Compare(f.told[b].fact.LastSeen) })
	for _, k := range all[:max(len(all)/10, 1)] {
		delete(f.told, k)
	}
	f.dirty = slices.DeleteFunc(f.dirty, func(k fedKey) bool { return f.told[k] == nil })
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// due returns the facts to publish at now: each new one once it has
// enough behind it, a known one again when its count doubled or half its
// TTL passed since it was told.
func (f *fedState) due(now time.Time) []federation.Fact {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []federation.Fact
	keep := f.dirty[:0]
	for _, k := range f.dirty {
		t := f.told[k]
		if t == nil {
			continue
		}
		switch {
		case t.fact.Count < minHits(k.kind, t.fact.Confidence):
			keep = append(keep, k) // not enough behind it yet
			continue
		case t.sentCount == 0, t.fact.Count >= 2*t.sentCount, now.Sub(t.sentAt) >= f.Config.TTL(k.kind)/2:
			out = append(out, t.fact)
			t.sentCount, t.sentAt = t.fact.Count, now
		}
		t.dirty = false
	}
	f.dirty = keep
	return out
}

// minHits is how many sightings a fact of kind needs before it is told.
func minHits(kind federation.Kind, conf float64) int {
	switch {
	case kind == federation.CampaignSource:
		return minSourceHits
	case kind == federation.CampaignFingerprint && conf < confTool:
		return minAgentHits
	}
	return 1
}

// publishFacts publishes the facts due at now; on failure they are due
// again at the next tick.
func (e *Engine) publishFacts(ctx context.Context, now time.Time) error {
	f := e.fed
	if f == nil || f.Publisher == nil {
		return nil
	}
	facts := f.due(now)
	if len(facts) == 0 {
		return nil
	}
	if err := f.Publisher.Publish(ctx, facts); err != nil {
		f.unsent(facts)
		return fmt.Errorf("publishing facts to the federation: %w", err)
	}
	var peers []string
	if r, ok := f.Publisher.(Recipients); ok {
		peers = r.Recipients()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range facts {
		f.toldLocked(x.Incident, 1, peers)
	}
	return nil
}

// unsent marks facts whose publication failed as due again.
func (f *fedState) unsent(facts []federation.Fact) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range facts {
		k := fedKey{x.Kind, x.Subject}
		if t := f.told[k]; t != nil {
			t.sentCount, t.sentAt = 0, time.Time{}
			if !t.dirty {
				t.dirty = true
				f.dirty = append(f.dirty, k)
			}
		}
	}
}

// Told returns how many facts were published for incident id, and to
// which peers when the publisher says (Recipients); 0 when federation is
// off or nothing was told.
func (e *Engine) Told(incidentID string) (facts int, peers []string) {
	if e.fed == nil {
		return 0, nil
	}
	e.fed.mu.Lock()
	defer e.fed.mu.Unlock()
	t := e.fed.byInc[incidentID]
	if t == nil {
		return 0, nil
	}
	return t.facts, slices.Clone(t.peers)
}

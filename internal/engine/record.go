package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/store"
)

// pending is what the events of one batch have learned that is not
// written yet: later events of the batch read it before the store.
type pending struct {
	received time.Time                        // when the batch arrived
	verified bool                             // the guard's step-up verified its answers (RecordAnswer)
	contacts map[string]notify.ContactHistory // by user id
	// obs and learned are the current event's, for its record.
	obs     observation
	learned learned
}

// learned is what the detectors learned from a decided event: the records
// that change with it.
type learned struct {
	profiles  []store.Profile         // familiarity profiles
	accounts  []store.IncidentAccount // accounts the open incidents reached
	incidents []store.Incident        // open incidents' counters, when due
	challenge *store.Challenge        // the challenge an mfa.* event answered, changed
	contacts  contactsUpdate
}

// contactsUpdate is the account's contact history as the event left it.
type contactsUpdate struct {
	owner    bool // the event owes its owner notices: h is loaded
	h        notify.ContactHistory
	oldEmail string // the address on file before the event
	changed  bool   // the event changed the address on file
	write    bool   // h is new or changed: write it
}

// learn applies a decided event to the engine's state: the open incidents
// attribute it, the account's familiarity and sessions learn from it, and
// its owner's contact history follows it. It returns the records that
// changed and sets res's incident.
func (e *Engine) learn(ctx context.Context, ev *event.Event, obs *observation, res *Result, pend *pending) (learned, error) {
	var l learned
	e.attribute(ev, obs, res, &l)
	if !obs.unread {
		if err := e.learnAccount(ctx, ev, obs, res, &l, pend.verified); err != nil {
			return l, err
		}
	}
	if err := e.learnOrder(ctx, ev, obs, *res, &l); err != nil {
		return l, err
	}
	c, err := e.learnContacts(ctx, ev, obs, pend)
	l.contacts = c
	return l, err
}

// attribute adds campaign-like login traffic to the open incidents: the
// credential-stuffing campaign's, and the password-spraying one's for
// logins with a password being sprayed, or a correct breached password
// while the spraying goes on (a spray reaches its first accounts before
// its password counts as sprayed).
func (e *Engine) attribute(ev *event.Event, obs *observation, res *Result, l *learned) {
	succeeded, failed := ev.Type == event.LoginSucceeded, ev.Type == event.LoginFailed
	door := deniedAtDoor(ev, res.Decision)
	if !succeeded && !failed && !door {
		return
	}
	if door {
		e.countAtDoor(ev, obs)
	}
	unfamiliar := ev.UnknownAccount() || !obs.facts.Familiar() || door
	hit := incident.Hit{
		Account: ev.Account(), Known: ev.User.ID != "", Succeeded: succeeded,
		IP: obs.keys.IP, Prefix: obs.keys.Prefix, UserAgent: ev.Context.UserAgent, Outcome: outcome(ev.Type, res.Decision),
	}
	if id := obs.in.Campaign.IncidentID; id != "" && unfamiliar {
		res.IncidentID = id
		e.tracked(e.tracker, &e.mu, &e.lastIncSave, hit, obs.now, l)
	}
	cf := obs.in.Credential
	if !(obs.spray.Hot || succeeded && cf.SprayActive && cf.Breached) || !unfamiliar {
		return
	}
	c := e.creds
	id := c.tracker.OpenID()
	if id == "" {
		return
	}
	if res.IncidentID == "" {
		res.IncidentID = id
	}
	e.tracked(c.tracker, &c.mu, &c.lastSave, hit, obs.now, l)
}

// tracked records hit in t's open incident, and the incident's counters
// at most once per t.SaveEvery of event time (lastSave, guarded by mu);
// with l nil, it replays a hit on record (incident.Tracker.Replay).
func (e *Engine) tracked(t *incident.Tracker, mu interface {
	Lock()
	Unlock()
}, lastSave *time.Time, hit incident.Hit, now time.Time, l *learned) {
	if l == nil { // a hit on record already, replayed after a restart
		t.Replay(hit, now)
		return
	}
	if a, ok := t.Record(hit, now); ok {
		l.accounts = append(l.accounts, a)
	}
	mu.Lock()
	due := now.Sub(*lastSave) >= t.SaveEvery()
	if due {
		*lastSave = now
	}
	mu.Unlock()
	if !due {
		return
	}
	if inc, ok := e.incidentSnapshot(t); ok {
		l.incidents = append(l.incidents, inc)
	}
}

// learnAccount learns the account's good contexts and failed step-ups,
// and applies an answer to a challenge.
func (e *Engine) learnAccount(ctx context.Context, ev *event.Event, obs *observation, res *Result, l *learned, verified bool) error {
	uid, now := ev.User.ID, obs.now
	var p familiarity.Record
	var err error
	switch ev.Type {
	case event.LoginSucceeded:
		if res.Decision == policy.Allow {
			p, err = e.familiar.Learn(ctx, uid, obs.fctx, now)
		}
		e.learnNetwork(ev, obs, *res)
	case event.PasswordChanged, event.Registration:
		// A refused one (e.g. a breached password): nothing to learn, the
		// old password stands.
		if res.Decision == policy.Deny {
			break
		}
		if ev.Type == event.PasswordChanged {
			p, err = e.familiar.PasswordChanged(ctx, uid, now)
		} else {
			p, err = e.familiar.Learn(ctx, uid, obs.fctx, now)
		}
	case event.MFASucceeded:
		p, err = e.passChallenge(ctx, ev, obs, res, l, verified)
		e.learnNetwork(ev, obs, *res)
	case event.MFAFailed:
		p, err = e.failChallenge(ctx, ev, obs, res, l)
	}
	if err != nil {
		return err
	}
	if p.Account != "" {
		l.profiles = append(l.profiles, store.Profile(p))
	}
	return nil
}

// passChallenge applies an mfa.succeeded. SMS and voice codes are weak
// factors (phishable, SIM-swappable; NIST SP 800-63B: restricted): passing
// one neither passes the guard's challenge, which asked for a strong
// factor, nor makes the context familiar. The decision says so
// (mfa.weak_factor). A challenge the guard verifies (the guard has a
// step-up and the challenge offers methods) passes only with an answer
// its step-up verified; a shop's own report passes only a challenge left
// to the shop (no methods), so that a leaked events key cannot pass the
// guard's challenges.
func (e *Engine) passChallenge(ctx context.Context, ev *event.Event, obs *observation, res *Result, l *learned, verified bool) (familiarity.Record, error) {
	weak := policy.WeakMFAMethod(ev.Properties.Method)
	ch, open, err := e.challengeOf(ctx, ev, obs.now)
	if err != nil {
		return familiarity.Record{}, err
	}
	res.answered = ch
	// The guard's to verify (it has a step-up and the challenge offers
	// methods), yet reported by the shop.
	guards := e.factors != nil && ch != nil && len(ch.Methods) > 0 && !verified
	if open && !weak && !guards {
		res.passed = true
		passed := *ch
		passed.State = store.ChallengePassed
		l.challenge, res.answered = &passed, &passed
		if a, ok := e.tracker.PassChallenge(ev.User.ID, obs.now); ok {
			l.accounts = append(l.accounts, a)
		}
	}
	if weak || guards {
		return familiarity.Record{}, nil
	}
	return e.familiar.Learn(ctx, ev.User.ID, obs.fctx, obs.now)
}

// failChallenge applies an mfa.failed: a wrong answer counts against the
// challenge, locking it after the last allowed one, and against the
// account. One for a challenge that expired counts once: as its
// abandonment, here or by the guard's sweep, whichever comes first.
func (e *Engine) failChallenge(ctx context.Context, ev *event.Event, obs *observation, res *Result, l *learned) (familiarity.Record, error) {
	ch, open, err := e.challengeOf(ctx, ev, obs.now)
	if err != nil {
		return familiarity.Record{}, err
	}
	res.answered = ch
	if open {
		failed := *ch
		failed.Attempts++
		if failed.Attempts >= e.challenges.MaxAttempts {
			failed.State = store.ChallengeLocked
		}
		l.challenge, res.answered = &failed, &failed
	}
	if ch != nil && !open && ch.State == store.ChallengePending {
		return e.reportAbandoned(ctx, ch, obs, res, l)
	}
	if ch != nil && ch.State == store.ChallengeExpired {
		// The guard's sweep counted it as abandoned already, or it was
		// answered after its expiry (no wrong answer): once is enough.
		return familiarity.Record{}, nil
	}
	return e.familiar.MFAFailed(ctx, ev.User.ID, obs.now)
}

// challengeOf returns the challenge an mfa.* event names, if it is one of
// this user's, and whether it is open (pending and unexpired).
func (e *Engine) challengeOf(ctx context.Context, ev *event.Event, now time.Time) (*store.Challenge, bool, error) {
	id := ev.Properties.ChallengeID
	if id == "" {
		return nil, false, nil
	}
	ch, err := e.records.GetChallenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("loading challenge: %w", err)
	}
	if ch.UserID != ev.User.ID {
		return nil, false, nil
	}
	return &ch, ch.State == store.ChallengePending && now.Before(ch.ExpiresAt), nil
}

// learnOrder carries logins and step-ups into sessions, and learns from
// contact changes and allowed orders.
func (e *Engine) learnOrder(ctx context.Context, ev *event.Event, obs *observation, res Result, l *learned) error {
	uid, now := ev.User.ID, obs.now
	var p familiarity.Record
	var err error
	switch ev.Type {
	case event.LoginSucceeded:
		e.orders.sessions.Login(ev.SessionID, sessionOf(uid, now, &obs.in, res))
		return nil
	case event.MFASucceeded:
		e.stepUpSessions(ctx, ev)
		return nil
	case event.ProfileUpdated:
		p, err = e.familiar.ContactChanged(ctx, uid, ev.Properties.Fields, now)
	case event.OrderAttempt:
		if res.Decision != policy.Allow || ev.Properties.Order == nil {
			return nil
		}
		p, err = e.familiar.LearnOrder(ctx, uid, obs.order, now)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	l.profiles = append(l.profiles, store.Profile(p))
	return nil
}

// stepUpSessions marks the session an mfa.succeeded is about as having
// passed a step-up, or a weak one.
func (e *Engine) stepUpSessions(ctx context.Context, ev *event.Event) {
	sid := e.stepUpSession(ctx, ev)
	if policy.WeakMFAMethod(ev.Properties.Method) {
		e.orders.sessions.Weak(sid)
	} else {
		e.orders.sessions.Pass(sid)
	}
}

// learnContacts tracks the account's email addresses, for the notices
// its owner is owed: a new device or network login, a contact change,
// every order — on the addresses on file before any recent change, so an
// attacker who changes the email cannot silence it.
func (e *Engine) learnContacts(ctx context.Context, ev *event.Event, obs *observation, pend *pending) (contactsUpdate, error) {
	var c contactsUpdate
	uid := ev.User.ID
	if e.notes == nil || uid == "" {
		return c, nil
	}
	if ev.User.Email == "" && ev.Type != event.ProfileUpdated && ev.Type != event.OrderAttempt && !unfamiliarLogin(ev, &obs.in) {
		return c, nil
	}
	h, ok := pend.contacts[uid]
	if !ok {
		var err error
		if h, err = e.loadContacts(ctx, uid); err != nil {
			return c, err
		}
	}
	c.owner, c.oldEmail = true, h.Email
	c.changed = ev.User.Email != "" && h.Observe(ev.User.Email, obs.now)
	c.h = h
	if h.Email != c.oldEmail { // the first address seen, or a change
		c.write = true
		if pend.contacts == nil {
			pend.contacts = map[string]notify.ContactHistory{}
		}
		pend.contacts[uid] = h
	}
	return c, nil
}

// unfamiliarLogin reports a login from a device or network the account
// has not used: its owner is told.
func unfamiliarLogin(ev *event.Event, in *policy.Input) bool {
	return ev.Type == event.LoginSucceeded && in.Account.HasHistory && (!in.Account.DeviceKnown || !in.Account.NetworkKnown)
}

// loadContacts returns the account's stored contact history.
func (e *Engine) loadContacts(ctx context.Context, userID string) (notify.ContactHistory, error) {
	c, err := e.records.GetContacts(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notify.ContactHistory{}, nil
	case err != nil:
		return notify.ContactHistory{}, fmt.Errorf("loading contact history: %w", err)
	}
	return notify.HistoryOf(c), nil
}

// record appends to dst every record the event's decision writes: the
// incidents its detectors opened or closed, the challenge made or
// answered, what the detectors learned, a held order's review, the
// notices owed and the audit record. It does no I/O.
func (e *Engine) record(dst store.Batch, ev *event.Event, obs *observation, res Result, l learned, received time.Time) store.Batch {
	dst = obs.trans.record(dst, e.notes, received)
	if res.Challenge != nil {
		dst.Challenges = append(dst.Challenges, *res.Challenge)
	}
	if l.challenge != nil {
		dst.Challenges = append(dst.Challenges, *l.challenge)
	}
	dst.IncidentAccounts = append(dst.IncidentAccounts, l.accounts...)
	dst.Incidents = append(dst.Incidents, l.incidents...)
	dst.Profiles = append(dst.Profiles, l.profiles...)
	if rv, ok := review(ev, obs, res); ok {
		dst.Reviews = append(dst.Reviews, rv)
	}
	if l.contacts.write {
		dst.Contacts = append(dst.Contacts, l.contacts.h.Record(ev.User.ID, obs.now))
	}
	if l.contacts.owner {
		dst.Notifications = append(dst.Notifications, e.ownerNotices(ev, obs, res, l.contacts, received)...)
	}
	rec := e.audit(ev, received, res)
	rec.Replay = e.replayRecord(ev, obs, res)
	dst.Audit = append(dst.Audit, rec)
	return dst
}

// review is the review of an order the decision held.
func review(ev *event.Event, obs *observation, res Result) (store.Review, bool) {
	o := ev.Properties.Order
	if ev.Type != event.OrderAttempt || o == nil || res.Decision != policy.Review {
		return store.Review{}, false
	}
	rv := store.Review{
		ID: res.ReviewID, EventID: res.EventID, UserID: ev.User.ID, SessionID: ev.SessionID, OrderID: o.ID,
		Amount: o.Amount, Currency: o.Currency, IncidentID: obs.in.Campaign.IncidentID,
		State: store.ReviewPending, CreatedAt: obs.now,
	}
	for _, r := range res.Reasons {
		rv.Reasons = append(rv.Reasons, r.Code)
	}
	return rv, true
}

// ownerNotices are the notices an event owes its account's owner: an
// event can owe several (an order that first carries a new address owes
// the contact change and the order).
func (e *Engine) ownerNotices(ev *event.Event, obs *observation, res Result, c contactsUpdate, received time.Time) []store.Notification {
	owner := notify.Owner{Account: ev.User.ID, Contacts: c.h}
	agent := familiarity.AgentFamily(ev.Context.UserAgent)
	ip := ""
	if ev.Context.IP.IsValid() {
		ip = ev.Context.IP.String()
	}
	var ns []store.Notification
	if ev.Type == event.ProfileUpdated || (c.changed && c.oldEmail != "") {
		cu := notify.ContactUpdate{Ref: res.EventID, At: obs.now, Fields: ev.Properties.Fields, IP: ip, Agent: agent}
		if c.changed && c.oldEmail != "" {
			cu.OldEmail, cu.NewEmail = c.oldEmail, ev.User.Email
			if len(cu.Fields) == 0 {
				cu.Fields = []string{"email"}
			}
		}
		ns = append(ns, e.notes.ContactChanged(owner, cu, received)...)
	}
	if in := &obs.in; unfamiliarLogin(ev, in) {
		ns = append(ns, e.notes.NewDeviceLogin(owner, notify.Login{
			Ref: res.EventID, At: obs.now, Decision: string(res.Decision), NewDevice: !in.Account.DeviceKnown,
			NewNetwork: !in.Account.NetworkKnown, IP: ip, Country: in.Geo.Country, Agent: agent,
		}, received)...)
	}
	if ev.Type == event.OrderAttempt && ev.Properties.Order != nil {
		ns = append(ns, e.notes.OrderPlaced(owner, notify.Order{Ref: res.EventID, At: obs.now, Decision: string(res.Decision), Order: *ev.Properties.Order}, received)...)
	}
	return ns
}

// audit is the event's audit record: the redacted event, its decision and
// a keyed digest of its password.
func (e *Engine) audit(ev *event.Event, received time.Time, res Result) store.AuditRecord {
	rec := store.AuditRecord{
		EventID: res.EventID, ReceivedAt: received, OccurredAt: ev.OccurredAt, Type: string(ev.Type),
		Account: ev.Account(), Login: ev.Login, IP: ev.Context.IP.String(), SessionID: ev.SessionID,
		RequestID: ev.RequestID, Decision: string(res.Decision), Risk: res.Risk, IncidentID: res.IncidentID,
	}
	for _, r := range res.Reasons {
		rec.Reasons = append(rec.Reasons, r.Code)
	}
	if res.Challenge != nil {
		rec.ChallengeID = res.Challenge.ID
	}
	if ev.Credential.HasPassword {
		var sum [sha256.Size]byte
		e.keyed.sum(sum[:0], "password-sha1\x00", ev.Credential.PasswordSHA1[:])
		rec.PasswordHMAC = bytes.Clone(sum[:16])
	}
	// The event is encoded in a reused buffer: the record keeps only its
	// copy of the exact size, or the sealed copy.
	buf := e.keyed.buffer()
	defer e.keyed.release(buf)
	*buf = ev.AppendRedacted((*buf)[:0])
	if e.sealer == nil {
		rec.Event = bytes.Clone(*buf)
		return rec
	}
	// What names a person stays out of the clear columns: the login is
	// in the sealed event, an unknown account's login is kept as its
	// pseudonym (a user id is the shop's own opaque key).
	rec.Login = ""
	if ev.User.ID == "" && rec.Account != "" {
		rec.Account = e.AuditAccount(rec.Account)
	}
	rec.Event = e.sealer.Seal(*buf, auditContext(rec.EventID))
	return rec
}

// AuditAccount is how the audit log names an account that is not one of
// the shop's (an unknown login) when events are sealed: a keyed
// pseudonym, so that an operator can still look the login up
// (AuditQuery.Account) without the log holding it in clear.
func (e *Engine) AuditAccount(login string) string {
	var sum [sha256.Size]byte
	e.keyed.sum(sum[:0], "audit-account\x00", []byte(login))
	out := make([]byte, 2+2*16)
	copy(out, "h:")
	hex.Encode(out[2:], sum[:16])
	return string(out)
}

// keyedHashes are HMAC-SHA256 states under the engine's key, and
// buffers for the audit record's event, reused across events.
type keyedHashes struct {
	key     []byte
	hashes  sync.Pool // of hash.Hash, keyed and reset
	buffers sync.Pool // of *[]byte
}

// sum appends the HMAC of label and data to dst.
func (k *keyedHashes) sum(dst []byte, label string, data []byte) []byte {
	m, _ := k.hashes.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, k.key)
	}
	m.Write([]byte(label))
	m.Write(data)
	dst = m.Sum(dst)
	m.Reset()
	k.hashes.Put(m)
	return dst
}

// buffer returns a buffer for an event's JSON; release gives it back.
func (k *keyedHashes) buffer() *[]byte {
	if b, ok := k.buffers.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}

func (k *keyedHashes) release(b *[]byte) {
	if cap(*b) <= 64<<10 { // an event with an order of a thousand lines: not kept
		k.buffers.Put(b)
	}
}

// auditContext binds a sealed audit event to its record.
func auditContext(eventID string) []byte { return []byte("atoguard audit event\x00" + eventID) }

// transitions are the incidents the detectors opened or closed while
// observing. Alone, an instance writes them with the event and announces
// them. With peers, the instances agree on them once the event's records
// are durable (settle): the first to claim an incident names it, the
// first to release it announces its end.
type transitions struct {
	incidents []store.Incident
	opened    []store.Incident // to announce
	closed    []store.Incident // to announce
	claims    []store.Incident // opened here, to be claimed (peers)
	releases  []store.Incident // closed here, to be released (peers)
}

// record appends the incidents and their announcements to dst; wall is
// when the announcements are due.
func (t *transitions) record(dst store.Batch, notes *notify.Planner, wall time.Time) store.Batch {
	dst.Incidents = append(dst.Incidents, t.incidents...)
	for _, inc := range t.opened {
		dst.Notifications = append(dst.Notifications, notes.IncidentOpened(inc, wall)...)
	}
	for _, inc := range t.closed {
		dst.Notifications = append(dst.Notifications, notes.IncidentClosed(inc, wall)...)
	}
	return dst
}

// track opens or closes an incident of t's as a detector's episode
// changed. It reports whether it opened one.
func (e *Engine) track(t *incident.Tracker, kind string, opened, closed bool, since, until time.Time, tr *transitions) bool {
	switch {
	case opened:
		inc := t.Open(kind, since)
		if e.peers == nil {
			tr.incidents = append(tr.incidents, inc)
			tr.opened = append(tr.opened, inc)
			return true
		}
		e.mu.Lock()
		e.unclaimed[t] = inc.ID // its counters wait for its name
		e.mu.Unlock()
		tr.claims = append(tr.claims, inc)
		return true
	case closed:
		if inc, ok := t.Close(until); ok {
			tr.incidents = append(tr.incidents, inc)
			if e.peers == nil {
				tr.closed = append(tr.closed, inc)
			} else {
				tr.releases = append(tr.releases, inc)
			}
		}
	}
	return false
}

// learnNetwork remembers shop-wide the network of a good session that
// vouches for it: a login let in from a device or a network the account
// already used, or a step-up passed with a strong factor. A stranger let
// in on a fresh network vouches for nothing: a crew's residential proxies
// share /24s, and one login let in must not make its neighbours "seen".
// Live, replayed after a restart and a peer's, so every instance knows
// the same.
func (e *Engine) learnNetwork(ev *event.Event, obs *observation, res Result) {
	switch {
	case ev.Type == event.LoginSucceeded && res.Decision == policy.Allow && obs.facts.Familiar(),
		ev.Type == event.MFASucceeded && res.passed && !policy.WeakMFAMethod(ev.Properties.Method):
		e.networks.Add(obs.fctx.Network, obs.now)
		e.networks.Add(obs.keys.Range, obs.now)
	}
}

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
)

// Peers connect the guard's instances (package hot): each instance
// publishes the events it assessed, with their decisions, and replays the
// others' through Apply, so every instance's detectors see all the
// traffic; and the instances agree on one incident per campaign.
type Peers interface {
	// Publish queues one assessed event for the other instances. It does
	// not block.
	Publish(data []byte)
	// Claim makes id, started at since, the open incident of kind unless
	// another instance claimed one first; it returns the incident in force.
	Claim(ctx context.Context, kind, id string, since time.Time) (string, time.Time, error)
	// Release ends the claim on kind's incident id; it reports whether
	// this call ended it (the first instance to close it).
	Release(ctx context.Context, kind, id string) (bool, error)
}

// peerEvent is an event as one instance tells the others: the event in
// full (the hot layer encrypts it) and what the instance found and decided.
type peerEvent struct {
	Event    peerWire
	Password []byte `json:",omitempty"` // the event's credential.password_sha1, when it had one
	Received time.Time
	EventID  string
	Decision policy.Decision
	Risk     int
	Reasons  []policy.Reason
	Facts    familiarity.Facts
	Passed   bool `json:",omitempty"` // a step-up that passed its challenge
}

// peerWire is an event.Event without its credential, which marshals as
// REDACTED and travels in peerEvent.Password.
type peerWire struct {
	Type       event.Type
	OccurredAt time.Time
	RequestID  string
	Login      string
	User       event.User
	SessionID  string
	Context    event.Context
	Properties event.Properties
}

func (w peerWire) event() event.Event {
	return event.Event{Type: w.Type, OccurredAt: w.OccurredAt, RequestID: w.RequestID, Login: w.Login,
		User: w.User, SessionID: w.SessionID, Context: w.Context, Properties: w.Properties}
}

// publish tells the other instances about events whose records are
// durable.
func (e *Engine) publish(evs []event.Event, rs []Result, received time.Time) {
	if e.peers == nil {
		return
	}
	for i := range evs {
		ev := &evs[i]
		pe := peerEvent{
			Event: peerWire{Type: ev.Type, OccurredAt: ev.OccurredAt, RequestID: ev.RequestID, Login: ev.Login,
				User: ev.User, SessionID: ev.SessionID, Context: ev.Context, Properties: ev.Properties},
			Received: received, EventID: rs[i].EventID, Decision: rs[i].Decision,
			Risk: rs[i].Risk, Reasons: rs[i].Reasons, Facts: rs[i].facts, Passed: rs[i].passed,
		}
		if evs[i].Credential.HasPassword {
			pe.Password = evs[i].Credential.PasswordSHA1[:]
		}
		data, err := json.Marshal(pe)
		if err != nil {
			continue // every field marshals; nothing to share otherwise
		}
		e.peers.Publish(data)
	}
}

// Apply replays one event another instance assessed: ApplyBatch of one.
func (e *Engine) Apply(ctx context.Context, data []byte) error {
	return e.ApplyBatch(ctx, [][]byte{data})[0]
}

// ApplyBatch replays events other instances assessed, in the stream's
// order: this instance's detectors observe each as if it had come here
// (with the familiarity the other instance found), the open incidents
// attribute it as the other instance decided, and cached familiarity of
// its account is dropped, to be read again from the shared records. Only
// what replaying changes is written (incident transitions and accounts),
// for the whole batch in one write, as AssessBatch writes its events'
// records: the other instance wrote the events' own records. It returns
// one error per event, nil for each one replayed.
func (e *Engine) ApplyBatch(ctx context.Context, batch [][]byte) []error {
	errs := make([]error, len(batch))
	var b store.Batch
	var settle transitions
	for i, data := range batch {
		var pe peerEvent
		if err := json.Unmarshal(data, &pe); err != nil {
			errs[i] = fmt.Errorf("decoding a peer's event: %w", err)
			continue
		}
		ev := pe.Event.event()
		if len(pe.Password) == len(ev.Credential.PasswordSHA1) {
			copy(ev.Credential.PasswordSHA1[:], pe.Password)
			ev.Credential.HasPassword = true
		}
		obs := e.newObservation(&ev, e.clock.At(ev.OccurredAt))
		obs.facts = pe.Facts
		if err := e.observe(ctx, &ev, &obs); err != nil {
			errs[i] = err
			continue
		}
		res := Result{EventID: pe.EventID, Decision: pe.Decision, Risk: pe.Risk, Reasons: pe.Reasons}
		l := e.replay(ctx, &ev, &obs, &res, pe.Passed)
		b = obs.trans.record(b, e.notes, e.clock.Wall())
		b.IncidentAccounts = append(b.IncidentAccounts, l.accounts...)
		b.Incidents = append(b.Incidents, l.incidents...)
		settle.claims = append(settle.claims, obs.trans.claims...)
		settle.releases = append(settle.releases, obs.trans.releases...)
	}
	err := error(nil)
	if !b.Empty() {
		err = e.writer.Write(ctx, b)
	}
	if err == nil {
		err = e.settle(ctx, &settle)
	}
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// replay applies the in-memory part of a peer's decided event: incident
// attribution, sessions and passed challenges. Cached familiarity is
// dropped, not learned, since the peer wrote what it learned.
func (e *Engine) replay(ctx context.Context, ev *event.Event, obs *observation, res *Result, passed bool) learned {
	var l learned
	e.attribute(ev, obs, res, &l)
	uid := ev.User.ID
	if uid != "" {
		e.familiar.Forget(uid)
	}
	r := *res
	r.passed = passed
	e.learnNetwork(ev, obs, r)
	switch ev.Type {
	case event.LoginSucceeded:
		e.orders.sessions.Login(ev.SessionID, sessionOf(uid, obs.now, &obs.in, *res))
	case event.MFASucceeded:
		e.stepUpSessions(ctx, ev)
		if passed && !policy.WeakMFAMethod(ev.Properties.Method) {
			if a, ok := e.tracker.PassChallenge(uid, obs.now); ok {
				l.accounts = append(l.accounts, a)
			}
		}
	}
	return l
}

// settle agrees with the other instances on the incidents t opened and
// closed, once the records that opened or closed them are durable: the
// first instance to claim an incident names it and announces it (this
// one then writes it under its name), an instance that claimed second
// adopts the first one's name and writes what it counted under it; the
// first instance to release a closed incident announces its end.
func (e *Engine) settle(ctx context.Context, t *transitions) error {
	if len(t.claims)+len(t.releases) == 0 {
		return nil
	}
	var b store.Batch
	wall := e.clock.Wall()
	for _, inc := range t.claims {
		tr := e.trackerOf(inc.Kind)
		if named, accounts, adopted := e.claim(ctx, tr, inc); adopted {
			b.Incidents = append(b.Incidents, named)
			b.IncidentAccounts = append(b.IncidentAccounts, accounts...)
		} else {
			b.Incidents = append(b.Incidents, named)
			b.Notifications = append(b.Notifications, e.notes.IncidentOpened(named, wall)...)
		}
	}
	for _, inc := range t.releases {
		if e.release(ctx, inc) {
			b.Notifications = append(b.Notifications, e.notes.IncidentClosed(inc, wall)...)
		}
	}
	if b.Empty() {
		return nil
	}
	if err := e.writer.Write(ctx, b); err != nil {
		return fmt.Errorf("recording incidents the instances agreed on: %w", err)
	}
	return nil
}

// claim asks the other instances to let inc, opened by tr, be the open
// incident of its kind. It returns the incident as it now stands and
// whether another instance's name was adopted, with the accounts counted
// so far under that name. Alone while the peers are out of reach, the
// incident keeps its own name.
func (e *Engine) claim(ctx context.Context, tr *incident.Tracker, inc store.Incident) (store.Incident, []store.IncidentAccount, bool) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	id, since, err := e.peers.Claim(cctx, inc.Kind, inc.ID, inc.StartedAt)
	e.mu.Lock()
	delete(e.unclaimed, tr)
	e.mu.Unlock()
	if err == nil && id != inc.ID {
		if adopted, accounts, ok := tr.Adopt(id, since); ok {
			return adopted, accounts, true
		}
	}
	if cur, ok := tr.Snapshot(); ok && cur.ID == inc.ID {
		return cur, nil, false
	}
	return inc, nil, false
}

// release ends the claim on a closed incident; it reports whether this
// instance is the one to announce the end.
func (e *Engine) release(ctx context.Context, inc store.Incident) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	first, err := e.peers.Release(ctx, inc.Kind, inc.ID)
	return err != nil || first
}

// trackerOf returns the tracker of incidents of kind.
func (e *Engine) trackerOf(kind string) *incident.Tracker {
	if kind == spray.IncidentKind {
		return e.creds.tracker
	}
	return e.tracker
}

// incidentSnapshot returns t's open incident unless the instances have yet to
// agree on its name.
func (e *Engine) incidentSnapshot(t *incident.Tracker) (store.Incident, bool) {
	inc, ok := t.Snapshot()
	if !ok {
		return inc, false
	}
	e.mu.Lock()
	pending := e.unclaimed[t] == inc.ID
	e.mu.Unlock()
	return inc, !pending
}

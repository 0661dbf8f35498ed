package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/source"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
)

// A restart recovers what the engine had learned when it stopped, however
// it stopped: Restore loads the last snapshot (state.go) and replays the
// audit log after it, on the times the events were assessed at. Replaying
// rebuilds the detectors and the open incidents in memory; it writes
// nothing the events' own batches wrote, only what replaying changes
// (an incident it closes) and the closing of incidents left open on
// record that no detector holds any more.

// Log is what a restart replays: the audit log and the incidents on
// record. store.Store is one; Restore replays when Deps.Records is also a
// Log, and only loads the snapshot otherwise.
type Log interface {
	ReadAudit(ctx context.Context, from store.AuditCursor, limit int) ([]store.AuditRecord, store.AuditCursor, error)
	ListIncidents(ctx context.Context, state string) ([]store.Incident, error)
	GetIncident(ctx context.Context, id string) (store.Incident, error)
}

// replayPage is how many audit records a restart reads at a time.
const replayPage = 1000

// prerollHorizon is how far before a snapshot a restart reads the audit
// log again, for the detectors no snapshot holds: the sources' velocity
// windows (an hour) and the sessions begun then.
const prerollHorizon = time.Hour

// Recovery tells what the last Restore replayed.
type Recovery struct {
	Through   time.Time // the snapshot's point: the last batch received it holds; zero: no snapshot
	Replayed  int       // events after the snapshot, replayed into every detector
	Prerolled int       // events of the hour before it, replayed into the sources and sessions
	Skipped   int       // records that could not be decoded
	Closed    int       // incidents left open on record that no detector holds, closed
}

// recovery orders the batches against the snapshots, and keeps what the
// last restart replayed.
type recovery struct {
	mu       sync.RWMutex // read: a batch being assessed; write: a snapshot being taken
	recvMu   sync.Mutex
	received time.Time // when the latest batch was received
	report   Recovery
}

// begin starts assessing a batch received at now, or a nanosecond after
// the latest batch if that was not earlier, and returns when it was
// received: no snapshot is taken until done is called (more than once is
// fine). Batches are assessed between begin and done, and written after.
func (r *recovery) begin(now time.Time) (received time.Time, done func()) {
	r.mu.RLock()
	r.recvMu.Lock()
	if !now.After(r.received) {
		now = r.received.Add(time.Nanosecond)
	}
	r.received = now
	r.recvMu.Unlock()
	var once sync.Once
	return now, func() { once.Do(r.mu.RUnlock) }
}

// hold waits for the batches being assessed and holds new ones off until
// done is called; it returns when the latest batch was received: a
// snapshot taken in between holds every batch received up to then and no
// later one.
func (r *recovery) hold() (through time.Time, done func()) {
	r.mu.Lock()
	return r.received, r.mu.Unlock
}

// advance makes batches received from now on later than t.
func (r *recovery) advance(t time.Time) {
	r.recvMu.Lock()
	if t.After(r.received) {
		r.received = t
	}
	r.recvMu.Unlock()
}

// Recovered tells what the last Restore replayed.
func (e *Engine) Recovered() Recovery {
	e.recovery.recvMu.Lock()
	defer e.recovery.recvMu.Unlock()
	return e.recovery.report
}

// replayFacts are what an event's audit record keeps for a restart
// (store.AuditRecord.Replay) besides the redacted event: what this
// instance found that the event alone does not tell. The password is kept
// only as the spray detector's keyed digest, as keyed as PasswordHMAC.
type replayFacts struct {
	At          time.Time         `json:"at"` // the time the event was assessed at
	Facts       familiarity.Facts `json:"facts"`
	Password    bool              `json:"password,omitempty"`
	Breached    bool              `json:"breached,omitempty"`
	BreachCount int               `json:"breach_count,omitempty"`
	Spray       []byte            `json:"spray,omitempty"`     // the password's spray.Digest, for logins
	SprayKey    string            `json:"spray_key,omitempty"` // the id of the key of Spray
	Passed      bool              `json:"passed,omitempty"`    // a step-up that passed its challenge
}

// replayRecord encodes the replay facts of an assessed event.
func (e *Engine) replayRecord(ev *event.Event, obs *observation, res Result) []byte {
	rp := replayFacts{At: obs.now, Facts: obs.facts, Passed: res.passed}
	if ev.Credential.HasPassword {
		cf := &obs.in.Credential
		rp.Password, rp.Breached, rp.BreachCount = true, cf.Breached, cf.BreachCount
		if ev.Type.IsLogin() {
			d, key := e.creds.spray.Digest(&ev.Credential.PasswordSHA1)
			rp.Spray, rp.SprayKey = d[:], key
		}
	}
	data, err := json.Marshal(rp)
	if err != nil {
		return nil // replay facts always marshal
	}
	return data
}

// breachCount is what the breach corpus says of the event's password, or
// what it said when a replayed event was assessed.
func (e *Engine) breachCount(ev *event.Event, rp *replayFacts) (int64, bool, error) {
	if rp != nil {
		return int64(rp.BreachCount), rp.Breached, nil
	}
	return e.creds.breached.Count(ev.Credential.PasswordSHA1)
}

// sprayDigest is the digest a replayed login's password is counted by
// (nil for a live event, counted by its SHA-1). known is false for a
// replayed event without one under the detector's key (the spray key was
// changed since): the detector cannot count it.
func (rp *replayFacts) sprayDigest(key string) (d *spray.Digest, known bool) {
	if rp == nil {
		return nil, true
	}
	if rp.SprayKey != key || len(rp.Spray) != len(spray.Digest{}) {
		return nil, false
	}
	d = new(spray.Digest)
	copy(d[:], rp.Spray)
	return d, true
}

// recover replays the audit log after through (every record when
// through is zero): the hour before it into the sources and sessions, the
// records after it into every detector and the open incidents. It then
// closes the incidents on record that no detector holds.
func (e *Engine) recover(ctx context.Context, through time.Time) error {
	log, ok := e.records.(Log)
	if !ok {
		return nil
	}
	rep := Recovery{Through: through}
	peers := e.peers
	e.peers = nil // what the replayed events opened and closed was agreed on then
	err := e.replayLog(ctx, log, through, &rep)
	e.peers = peers
	if err != nil {
		return err
	}
	if rep.Closed, err = e.closeOpen(ctx, log); err != nil {
		return err
	}
	e.recovery.recvMu.Lock()
	e.recovery.report = rep
	e.recovery.recvMu.Unlock()
	return nil
}

// replayLog replays the audit log page by page.
func (e *Engine) replayLog(ctx context.Context, log Log, through time.Time, rep *Recovery) error {
	e.recovery.advance(through)
	var from store.AuditCursor
	if !through.IsZero() {
		from.ReceivedAt = through.Add(-prerollHorizon)
	}
	for {
		page, next, err := log.ReadAudit(ctx, from, replayPage)
		if err != nil {
			return fmt.Errorf("replaying the audit log: %w", err)
		}
		var b store.Batch
		for i := range page {
			rec := &page[i]
			kept, err := e.replay1(ctx, log, rec, rec.ReceivedAt.After(through), rep)
			if err != nil {
				return fmt.Errorf("replaying event %s: %w", rec.EventID, err)
			}
			b = kept.record(b, e.notes, e.clock.Wall())
			e.recovery.advance(rec.ReceivedAt)
		}
		if !b.Empty() {
			if err := e.writer.Write(ctx, b); err != nil {
				return fmt.Errorf("replaying the audit log: %w", err)
			}
		}
		if len(page) < replayPage {
			return nil
		}
		from = next
	}
}

// replay1 replays one audit record: into the sources and sessions only
// when the snapshot holds it (pre), into everything otherwise. It returns
// the incident transitions that replaying causes and that are not on
// record, to be written.
func (e *Engine) replay1(ctx context.Context, log Log, rec *store.AuditRecord, after bool, rep *Recovery) (transitions, error) {
	ev, rp, ok := e.decodeRecord(rec)
	if !ok {
		rep.Skipped++
		return transitions{}, nil
	}
	e.clock.At(ev.OccurredAt) // the event clock moves as it did
	res := Result{EventID: rec.EventID, Decision: policy.Decision(rec.Decision), Risk: rec.Risk}
	if !after {
		rep.Prerolled++
		if o, ok := loginObs(&ev); ok {
			e.sources.Observe(source.KeysOf(ev.Context), rp.At, o)
		}
		in := policy.Input{Account: policy.AccountFacts{HasHistory: rp.Facts.HasHistory, Familiar: rp.Facts.Familiar()}}
		e.replaySession(ctx, &ev, rp.At, &in, res)
		return transitions{}, nil
	}
	rep.Replayed++
	ev.Credential.HasPassword = rp.Password
	obs := e.newObservation(&ev, rp.At)
	obs.facts, obs.replay = rp.Facts, &rp
	if err := e.observe(ctx, &ev, &obs); err != nil {
		return transitions{}, err
	}
	kept, err := e.resume(ctx, log, &obs.trans)
	if err != nil {
		return transitions{}, err
	}
	e.attribute(&ev, &obs, &res, nil)
	res.passed = rp.Passed
	e.learnNetwork(&ev, &obs, res)
	e.replaySession(ctx, &ev, rp.At, &obs.in, res)
	return kept, nil
}

// decodeRecord returns the event of an audit record and its replay facts;
// ok is false when the record cannot be replayed. A record written before
// replay facts were kept is replayed on its event time (its receipt on
// the wall clock) as an unfamiliar context without a password.
func (e *Engine) decodeRecord(rec *store.AuditRecord) (event.Event, replayFacts, bool) {
	var rp replayFacts
	if len(rec.Event) == 0 {
		return event.Event{}, rp, false
	}
	data := rec.Event
	if data[0] != '{' { // sealed (Deps.Sealer)
		if e.sealer == nil {
			return event.Event{}, rp, false
		}
		opened, _, err := e.sealer.Open(data, auditContext(rec.EventID))
		if err != nil {
			return event.Event{}, rp, false
		}
		data = opened
	}
	ev, err := event.Decode(data)
	if err != nil {
		return ev, rp, false
	}
	if len(rec.Replay) > 0 {
		if err := json.Unmarshal(rec.Replay, &rp); err != nil {
			return ev, rp, false
		}
	}
	if rp.At.IsZero() {
		rp.At = rec.ReceivedAt
		if e.clock.Mode() == clock.Event {
			rp.At = ev.OccurredAt
		}
	}
	return ev, rp, true
}

// replaySession carries a replayed login or step-up into the sessions;
// the incident rows it changed are on record already.
func (e *Engine) replaySession(ctx context.Context, ev *event.Event, now time.Time, in *policy.Input, res Result) {
	switch ev.Type {
	case event.LoginSucceeded:
		e.orders.sessions.Login(ev.SessionID, sessionOf(ev.User.ID, now, in, res))
	case event.MFASucceeded:
		e.stepUpSessions(ctx, ev)
	}
}

// resume settles the incidents a replayed event opened or closed against
// the record: an incident opened when the event was first assessed is
// continued under its id with its accounts; one closed then stays as it
// is; it returns what the record does not hold yet (an incident the
// replay closes), to be written with its announcement.
func (e *Engine) resume(ctx context.Context, log Log, tr *transitions) (transitions, error) {
	var keep transitions
	for _, inc := range tr.incidents {
		t := e.trackerOf(inc.Kind)
		switch inc.State {
		case store.IncidentOpen:
			on, ok, err := openedAt(ctx, log, inc.Kind, inc.StartedAt)
			if err != nil {
				return transitions{}, err
			}
			if ok {
				accounts, err := e.records.ListIncidentAccounts(ctx, on.ID)
				if err != nil {
					return transitions{}, fmt.Errorf("loading the accounts of incident %s: %w", on.ID, err)
				}
				t.Resume(on.ID, accounts)
				continue
			}
			keep.incidents, keep.opened = append(keep.incidents, inc), append(keep.opened, inc)
		case store.IncidentClosed:
			on, err := log.GetIncident(ctx, inc.ID)
			if err == nil && on.State == store.IncidentClosed {
				continue
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return transitions{}, fmt.Errorf("loading incident %s: %w", inc.ID, err)
			}
			keep.incidents, keep.closed = append(keep.incidents, inc), append(keep.closed, inc)
		}
	}
	return keep, nil
}

// openedAt finds the incident of kind on record that started at since.
func openedAt(ctx context.Context, log Log, kind string, since time.Time) (store.Incident, bool, error) {
	incs, err := log.ListIncidents(ctx, "")
	if err != nil {
		return store.Incident{}, false, fmt.Errorf("listing incidents: %w", err)
	}
	for _, inc := range incs {
		if inc.Kind == kind && inc.StartedAt.Equal(since) {
			return inc, true, nil
		}
	}
	return store.Incident{}, false, nil
}

// closeOrphans closes the incidents left open on record that no detector
// holds, when the engine can read them.
func (e *Engine) closeOrphans(ctx context.Context) error {
	log, ok := e.records.(Log)
	if !ok {
		return nil
	}
	_, err := e.closeOpen(ctx, log)
	return err
}

// closeOpen closes the incidents open on record that neither tracker
// holds (the snapshot and the replay ended them, or they were opened by a
// version that saved no snapshot), at their last update, and returns how
// many it closed. With peers, another instance may hold them: it closes
// none.
func (e *Engine) closeOpen(ctx context.Context, log Log) (int, error) {
	if e.peers != nil {
		return 0, nil
	}
	open, err := log.ListIncidents(ctx, store.IncidentOpen)
	if err != nil {
		return 0, fmt.Errorf("listing open incidents: %w", err)
	}
	var tr transitions
	for _, inc := range open {
		if inc.ID == e.tracker.OpenID() || inc.ID == e.creds.tracker.OpenID() {
			continue
		}
		inc.State, inc.EndedAt = store.IncidentClosed, inc.UpdatedAt
		tr.incidents, tr.closed = append(tr.incidents, inc), append(tr.closed, inc)
	}
	b := tr.record(store.Batch{}, e.notes, e.clock.Wall())
	if b.Empty() {
		return 0, nil
	}
	if err := e.writer.Write(ctx, b); err != nil {
		return 0, fmt.Errorf("closing orphaned incidents: %w", err)
	}
	return len(tr.incidents), nil
}

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
)

// stateSnapshot is where Save keeps the engine's snapshot.
const stateSnapshot = "engine"

// The states older versions saved one by one, read when there is no
// snapshot yet.
const (
	stateCampaign      = "campaign"
	stateIncident      = "incident"
	stateSpray         = "spray"
	stateSprayIncident = "incident.password_spraying"
)

// snapshot is what Save persists in one record, taken at one point of the
// stream of batches (cut): it holds every batch received up to Through
// and none received after, so a restart replays the audit log after
// Through (recover.go).
type snapshot struct {
	Through       time.Time `json:"through"` // when the last batch it holds was received; zero: none
	Now           time.Time `json:"now"`     // the engine's time then (on the event clock, the latest event time)
	Campaign      []byte    `json:"campaign"`
	Incident      []byte    `json:"incident,omitempty"`
	Spray         []byte    `json:"spray"`
	SprayIncident []byte    `json:"spray_incident,omitempty"`
	Drops         []byte    `json:"drops"`              // drop points (order.DropPoints)
	Surge         []byte    `json:"surge"`              // item surges (order.Surge)
	Networks      []byte    `json:"networks,omitempty"` // networks seen shop-wide (familiarity.Networks)
}

// IncidentState reports whether the state named name (Records.GetState,
// PutState) is an open incident's alone: one of those older versions
// saved apart from the snapshot.
func IncidentState(name string) bool {
	return name == stateIncident || name == stateSprayIncident
}

// WithoutIncidents returns value, the state the engine saves as name
// (Records.PutState), without the open incidents it holds: an engine
// that restores it learns what the detectors learned and takes up no
// campaign (a log replay warming a guard). A state that holds no incident
// is returned as it is; an incident's alone is IncidentState's.
func WithoutIncidents(name string, value []byte) ([]byte, error) {
	if name != stateSnapshot {
		return value, nil
	}
	var s snapshot
	if err := json.Unmarshal(value, &s); err != nil {
		return nil, fmt.Errorf("decoding the engine's snapshot: %w", err)
	}
	s.Incident, s.SprayIncident = nil, nil
	return json.Marshal(s)
}

// Save persists what the engine learned that is not written per event
// (the campaign baseline, the spray counts, the drop points and item
// surges, the open incidents' state),
// for a restart, as one snapshot consistent with the audit log.
func (e *Engine) Save(ctx context.Context) error {
	if err := e.Flush(ctx); err != nil {
		return err
	}
	data, err := e.snapshot()
	if err != nil {
		return err
	}
	if err := e.records.PutState(ctx, stateSnapshot, data); err != nil {
		return fmt.Errorf("saving the engine's snapshot: %w", err)
	}
	return nil
}

// snapshot encodes the detectors while no batch is being assessed.
func (e *Engine) snapshot() ([]byte, error) {
	through, done := e.recovery.hold()
	defer done()
	s := snapshot{Through: through, Now: e.clock.Now()}
	var err error
	if s.Campaign, err = e.campaign.Snapshot(); err != nil {
		return nil, err
	}
	if s.Incident, err = e.tracker.Save(); err != nil {
		return nil, err
	}
	if s.Spray, err = e.creds.spray.Snapshot(s.Now); err != nil {
		return nil, fmt.Errorf("saving spray counts: %w", err)
	}
	if s.SprayIncident, err = e.creds.tracker.Save(); err != nil {
		return nil, err
	}
	if s.Drops, err = e.orders.drops.Snapshot(s.Now); err != nil {
		return nil, fmt.Errorf("saving drop points: %w", err)
	}
	if s.Surge, err = e.orders.surge.Snapshot(); err != nil {
		return nil, fmt.Errorf("saving item surges: %w", err)
	}
	if s.Networks, err = e.networks.Snapshot(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// Restore loads the last snapshot Save persisted and replays the audit
// log after it (recover.go), so that the engine reaches the state it had
// when it stopped, however it stopped. A fresh store has nothing to load:
// the whole audit log, if any, is replayed. Call it before the engine
// takes events or peers' events.
func (e *Engine) Restore(ctx context.Context) error {
	data, err := e.records.GetState(ctx, stateSnapshot)
	switch {
	case errors.Is(err, store.ErrNotFound):
		legacy, err := e.restoreLegacy(ctx)
		switch {
		case err != nil:
			return err
		case legacy:
			// Saved by an older version: where its states stood in the
			// audit log is not known, so nothing is replayed.
			return e.closeOrphans(ctx)
		}
		return e.recover(ctx, time.Time{})
	case err != nil:
		return fmt.Errorf("loading the engine's snapshot: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding the engine's snapshot: %w", err)
	}
	if !s.Through.IsZero() {
		// On the event clock, time goes on from the snapshot's (before
		// any event, Now was the wall time: not an event time).
		e.clock.At(s.Now)
	}
	if err := e.campaign.Restore(s.Campaign); err != nil {
		return err
	}
	if err := e.restoreTrackers(ctx, s.Incident, s.SprayIncident); err != nil {
		return err
	}
	if err := e.creds.spray.Restore(s.Spray, e.clock.Now()); err != nil && !errors.Is(err, spray.ErrOtherKey) {
		return err
	}
	if err := e.orders.drops.Restore(s.Drops); err != nil {
		return err
	}
	if err := e.orders.surge.Restore(s.Surge); err != nil {
		return err
	}
	if err := e.networks.Restore(s.Networks); err != nil {
		return err
	}
	return e.recover(ctx, s.Through)
}

// restoreTrackers continues the open incidents saved, with the accounts
// on record for them.
func (e *Engine) restoreTrackers(ctx context.Context, stuffing, spraying []byte) error {
	accountsOf := func(id string) ([]store.IncidentAccount, error) { return e.records.ListIncidentAccounts(ctx, id) }
	if err := e.tracker.Restore(stuffing, accountsOf); err != nil {
		return err
	}
	return e.creds.tracker.Restore(spraying, accountsOf)
}

// restoreLegacy loads the states an older version saved one by one; it
// reports whether there were any.
func (e *Engine) restoreLegacy(ctx context.Context) (bool, error) {
	states := map[string][]byte{}
	for _, name := range []string{stateCampaign, stateIncident, stateSpray, stateSprayIncident} {
		data, err := e.records.GetState(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return false, fmt.Errorf("loading state %s: %w", name, err)
		default:
			states[name] = data
		}
	}
	if len(states) == 0 {
		return false, nil
	}
	if data := states[stateCampaign]; len(data) > 0 {
		if err := e.campaign.Restore(data); err != nil {
			return true, err
		}
	}
	if err := e.restoreTrackers(ctx, states[stateIncident], states[stateSprayIncident]); err != nil {
		return true, err
	}
	c := e.creds
	if data := states[stateSpray]; len(data) > 0 {
		if err := c.spray.Restore(data, e.clock.Now()); err != nil && !errors.Is(err, spray.ErrOtherKey) {
			return true, err
		}
	}
	// The detector's episode follows the incident: open if it is open.
	if inc, ok := c.tracker.Snapshot(); ok {
		c.spray.SetEpisode(true, inc.StartedAt, inc.UpdatedAt)
	} else {
		c.spray.SetEpisode(false, time.Time{}, time.Time{})
	}
	return true, nil
}

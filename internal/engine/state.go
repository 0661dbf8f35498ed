package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
)

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

const (
	stateSpray         = "spray"
	stateSprayIncident = "incident.password_spraying"
)

// saveCredentials persists the spray detector's counts and the state of
// the open password_spraying incident (Flush writes its counters).
func (e *Engine) saveCredentials(ctx context.Context) error {
	c := e.creds
	snap, err := c.spray.Snapshot(e.clock.Now())
	if err != nil {
		return fmt.Errorf("saving spray counts: %w", err)
	}
	if err := e.records.PutState(ctx, stateSpray, snap); err != nil {
		return fmt.Errorf("saving spray counts: %w", err)
	}
	inc, err := c.tracker.Save()
	if err != nil {
		return err
	}
	if err := e.records.PutState(ctx, stateSprayIncident, inc); err != nil {
		return fmt.Errorf("saving spraying incident: %w", err)
	}
	return nil
}

// restoreCredentials loads what saveCredentials persisted. Counts saved
// under a key that is neither the spray key nor the previous one are
// dropped.
func (e *Engine) restoreCredentials(ctx context.Context) error {
	c := e.creds
	snap, err := e.records.GetState(ctx, stateSpray)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("loading spray counts: %w", err)
	case len(snap) > 0:
		if err := c.spray.Restore(snap, e.clock.Now()); err != nil && !errors.Is(err, spray.ErrOtherKey) {
			return err
		}
	}
	data, err := e.records.GetState(ctx, stateSprayIncident)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("loading spraying incident: %w", err)
	case len(data) > 0:
		if err := c.tracker.Restore(data, func(id string) ([]store.IncidentAccount, error) {
			return e.records.ListIncidentAccounts(ctx, id)
		}); err != nil {
			return err
		}
	}
	// The detector's episode follows the incident: open if it is open.
	if inc, ok := c.tracker.Snapshot(); ok {
		c.spray.SetEpisode(true, inc.StartedAt, inc.UpdatedAt)
	} else {
		c.spray.SetEpisode(false, time.Time{}, time.Time{})
	}
	return nil
}

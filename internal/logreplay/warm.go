package logreplay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// Guard is a guard's store a replay warms (Options.Into): the accounts'
// familiarity profiles as the replay learns them, and at the end the
// detectors' baselines (the campaign detector's per-hour rates, the spray
// detector's counts). The replay's incidents stay in the report: old
// campaigns are not the guard's to act on.
type Guard interface {
	engine.Records
	engine.Writer
}

// warm are the records of a replay into a guard: profiles and baselines
// in the guard's store, the rest in the replay's memory.
type warm struct {
	*memory.Store
	guard Guard
}

func (w warm) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	return w.guard.GetProfile(ctx, account)
}

// isIncidentState reports whether a state the engine saves is an
// incident's (engine state names "incident", "incident.password_spraying").
func isIncidentState(name string) bool { return strings.HasPrefix(name, "incident") }

func (w warm) GetState(ctx context.Context, name string) ([]byte, error) {
	if isIncidentState(name) {
		return w.Store.GetState(ctx, name)
	}
	return w.guard.GetState(ctx, name)
}

func (w warm) PutState(ctx context.Context, name string, value []byte) error {
	if isIncidentState(name) {
		return w.Store.PutState(ctx, name, value)
	}
	if name == engineSnapshot {
		var err error
		if value, err = withoutIncidents(value); err != nil {
			return fmt.Errorf("warming the guard: %w", err)
		}
	}
	if err := w.guard.PutState(ctx, name, value); err != nil {
		return fmt.Errorf("warming the guard: %w", err)
	}
	return nil
}

// engineSnapshot is the state the engine's Save writes: one JSON object
// of the detectors' states, the open incidents' among them.
const engineSnapshot = "engine"

// snapshotIncidents are the snapshot's fields that hold open incidents
// (the campaign tracker's and the spray tracker's): the JSON names of the
// engine's unexported snapshot (internal/engine/state.go). TestReplayInto
// fails when the guard's snapshot still names an incident after a replay.
var snapshotIncidents = []string{"incident", "spray_incident"}

// withoutIncidents returns the engine's snapshot without its open
// incidents, so the guard does not carry on a campaign of the past.
func withoutIncidents(snapshot []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(snapshot, &fields); err != nil {
		return nil, fmt.Errorf("the engine's snapshot: %w", err)
	}
	for _, k := range snapshotIncidents {
		delete(fields, k)
	}
	return json.Marshal(fields)
}

// warmSink writes a batch's profiles into the guard and what the report
// needs into memory.
type warmSink struct {
	mem   sink
	guard Guard
}

func (s warmSink) Write(ctx context.Context, b store.Batch) error {
	if len(b.Profiles) > 0 {
		if err := s.guard.Write(ctx, store.Batch{Profiles: b.Profiles}); err != nil {
			return fmt.Errorf("warming the guard: %w", err)
		}
	}
	return s.mem.Write(ctx, b)
}

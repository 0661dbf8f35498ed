package logreplay

import (
	"context"
	"fmt"

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

func (w warm) GetState(ctx context.Context, name string) ([]byte, error) {
	if engine.IncidentState(name) {
		return w.Store.GetState(ctx, name)
	}
	return w.guard.GetState(ctx, name)
}

func (w warm) PutState(ctx context.Context, name string, value []byte) error {
	if engine.IncidentState(name) {
		return w.Store.PutState(ctx, name, value)
	}
	value, err := engine.WithoutIncidents(name, value)
	if err != nil {
		return fmt.Errorf("warming the guard: %w", err)
	}
	if err := w.guard.PutState(ctx, name, value); err != nil {
		return fmt.Errorf("warming the guard: %w", err)
	}
	return nil
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

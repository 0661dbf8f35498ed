package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/client"
	guardclock "github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/traffic"
)

// GuardProfiles is the store of a guard whose accounts' familiarity
// profiles WarmProfiles teaches: a running demo's SQLite records, which
// take other connections beside the guard's own.
type GuardProfiles interface {
	GetProfile(ctx context.Context, account string) (store.Profile, error)
	Write(ctx context.Context, b store.Batch) error
}

// WarmProfiles teaches a guard what its owners' history teaches it about
// their accounts (the devices, networks, browsers and hours of their
// good sessions), as `atoguard replay --into` does: the history runs
// through an engine of its own, on the history's own time, with the
// guard's secret key (key). Only the accounts' profiles reach the guard;
// that engine's detectors, and any incident it saw, stay in memory. So a
// guard on the wall clock learns days of owners' logins as the days they
// were, not as a burst of strangers in its live campaign detector's
// minute. The guard reads the profiles on the accounts' next events;
// no account of the history may log in at the guard meanwhile (its
// profile would be written twice at once).
func WarmProfiles(ctx context.Context, into GuardProfiles, key []byte, history []event.Event) error {
	pol, err := policy.Default()
	if err != nil {
		return err
	}
	w := warmRecords{Store: memory.New(), guard: into}
	eng, err := engine.New(engine.Config{}, engine.Deps{
		Clock: guardclock.New(guardclock.Event, nil), Policy: pol, Records: w, Writer: w, Key: key,
		Breached: engine.NoBreachCheck{},
	})
	if err != nil {
		return fmt.Errorf("warming the guard: %w", err)
	}
	var tick time.Time
	for lo := 0; lo < len(history); lo += maxBatch {
		batch := history[lo:min(lo+maxBatch, len(history))]
		if _, err := eng.AssessBatch(ctx, batch); err != nil {
			return fmt.Errorf("warming the guard: %w", err)
		}
		if last := batch[len(batch)-1].OccurredAt; last.Sub(tick) >= time.Minute {
			tick = last
			if err := eng.Tick(ctx); err != nil {
				return fmt.Errorf("warming the guard: %w", err)
			}
		}
	}
	if err := eng.Flush(ctx); err != nil {
		return fmt.Errorf("warming the guard: %w", err)
	}
	return nil
}

// warmRecords are the records of WarmProfiles' engine: the profiles in
// the guard's store, the rest in memory.
type warmRecords struct {
	*memory.Store
	guard GuardProfiles
}

func (w warmRecords) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	return w.guard.GetProfile(ctx, account)
}

func (w warmRecords) Write(ctx context.Context, b store.Batch) error {
	if len(b.Profiles) > 0 {
		if err := w.guard.Write(ctx, store.Batch{Profiles: b.Profiles}); err != nil {
			return fmt.Errorf("writing the guard's profiles: %w", err)
		}
	}
	return w.Store.Write(ctx, b)
}

// demoHistory is the warm-up of items (those before the first evaluated
// one) as events for WarmProfiles, moved in time by shift, each owner's
// correct password the demo's (passwords, by account id) as the shop
// will see it.
func demoHistory(items []item, shift time.Duration, passwords map[string]string) ([]event.Event, error) {
	var out []event.Event
	for k := range items {
		if items[k].label.Phase != traffic.PhaseWarmup {
			break
		}
		ev := items[k].ev
		ev.OccurredAt = ev.OccurredAt.Add(shift)
		if ev.Credential != nil && ev.User != nil && ev.Type == client.LoginSucceeded {
			ev.Credential = &client.Credential{PasswordSHA1: client.PasswordSHA1(passwords[ev.User.ID])}
		}
		raw, err := json.Marshal(&ev)
		if err != nil {
			return nil, fmt.Errorf("encoding warm-up event: %w", err)
		}
		dec, err := event.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("warm-up event %d: %w", k, err)
		}
		out = append(out, dec)
	}
	return out, nil
}

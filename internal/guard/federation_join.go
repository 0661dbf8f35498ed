package guard

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/ssf"
)

// federated is a guard's part in a federation: the engine's side (the
// facts peers sent, and the publisher of what its incidents learn), the
// dashboard's view of the facts, and the Shared Signals service that
// carries them. Each is nil when its half is off.
type federated struct {
	engine *engine.Federation // nil: no federation key (cfg.Federation off)
	dash   dashboard.Federation
	ssf    *ssf.Service // nil: no issuer (cfg.SSF off)
	stop   func() error // stops the service, then closes the fact store
}

// federate joins the two halves: the fact store is the Shared Signals
// receiver's sink, and the Shared Signals service is the engine's
// publisher (the engine publishes from its tick, once the facts' events
// are durable); the store follows the peers configured (followPeers).
// With federation.key_file but no ssf.issuer, peers' facts already on
// record are used and nothing is told; with an issuer but no
// key, the service serves its configuration and streams and carries
// nothing (config validation refuses peers that send or accept then).
func federate(ctx context.Context, cfg config.Config, clk *clock.Clock, opts Options, getenv func(string) string,
	log *slog.Logger) (federated, error) {
	fedEngine, facts, closeFacts, err := openFederation(cfg, clk)
	if err != nil {
		return federated{}, err
	}
	var sink ssf.Sink
	var dash dashboard.Federation
	if facts != nil {
		sink, dash = facts, facts
	}
	if opts.FactSink != nil {
		sink = opts.FactSink
	}
	if facts != nil && cfg.SSF.Enabled() {
		err = followPeers(facts, cfg.SSF, clk.Now())
	}
	var svc *ssf.Service
	stopSSF := func() error { return nil }
	if err == nil {
		svc, stopSSF, err = startFederation(ctx, cfg, clk, sink, getenv, log)
	}
	if err != nil {
		_ = closeFacts()
		return federated{}, err
	}
	if fedEngine != nil && svc != nil {
		fedEngine.Publisher = publisher{Service: svc, to: sendingPeers(cfg.SSF)}
	}
	stop := func() error {
		err := stopSSF() // the receiver stops handing facts to the store first
		if cerr := closeFacts(); err == nil {
			err = cerr
		}
		return err
	}
	return federated{engine: fedEngine, dash: dash, ssf: svc, stop: stop}, nil
}

// followPeers makes the fact store follow the peers of the configuration:
// the facts of a peer paused there are kept and not used, and those of a
// peer no longer there are dropped.
func followPeers(facts *federation.Store, c ssf.Config, now time.Time) error {
	peers := map[string]bool{} // name → paused
	for _, p := range c.Peers {
		peers[p.Name] = p.Paused
	}
	held := map[string]bool{}
	for _, ps := range facts.Peers(now) {
		held[ps.Peer] = true
		paused, ok := peers[ps.Peer]
		var err error
		switch {
		case !ok:
			err = facts.Remove(ps.Peer)
		case paused != ps.Paused:
			err = facts.Pause(ps.Peer, paused)
		}
		if err != nil {
			return fmt.Errorf("federation peer %s: %w", ps.Peer, err)
		}
	}
	for name, paused := range peers {
		if paused && !held[name] {
			if err := facts.Pause(name, true); err != nil {
				return fmt.Errorf("federation peer %s: %w", name, err)
			}
		}
	}
	return nil
}

// publisher is the Shared Signals service as the engine's Publisher, with
// the peers it tells (engine.Recipients): each incident lists them.
type publisher struct {
	*ssf.Service
	to []string
}

// Recipients returns the peers that are sent some kind of fact.
func (p publisher) Recipients() []string { return p.to }

var (
	_ engine.Publisher  = publisher{}
	_ engine.Recipients = publisher{}
)

// sendingPeers are the names of the peers, not paused, that some kind of
// fact is sent to.
func sendingPeers(c ssf.Config) []string {
	var out []string
	for _, p := range c.Peers {
		if !p.Paused && len(p.Send) > 0 {
			out = append(out, p.Name)
		}
	}
	return out
}

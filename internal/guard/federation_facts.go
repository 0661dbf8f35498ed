package guard

import (
	"path/filepath"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/federation"
)

// FederationFactsFile is the file, in the data directory, that holds the
// facts peers sent.
const FederationFactsFile = "federation-facts.jsonl"

// openFederation opens what the guard needs to defend together with
// other shops' guards (cfg.Federation): the store of facts peers sent,
// kept in the data directory, and the engine's side of it. Both are nil
// when federation is off; closeFacts closes the store (a no-op then).
// federate connects them to Shared Signals.
func openFederation(cfg config.Config, clk *clock.Clock) (fed *engine.Federation, facts *federation.Store, closeFacts func() error, err error) {
	noop := func() error { return nil }
	if !cfg.Federation.Enabled() {
		return nil, nil, noop, nil
	}
	key, err := cfg.Federation.LoadKey()
	if err != nil {
		return nil, nil, noop, err
	}
	facts, err = federation.Open(filepath.Join(cfg.Data, FederationFactsFile), cfg.Federation, clk.Now)
	if err != nil {
		return nil, nil, noop, err
	}
	fed = &engine.Federation{Key: key, Config: cfg.Federation, Facts: facts}
	return fed, facts, facts.Close, nil
}

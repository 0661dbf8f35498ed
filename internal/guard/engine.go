package guard

import (
	"log/slog"

	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/hot"
	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
)

// engineDeps are the parts the engine is built on, opened before it.
type engineDeps struct {
	clk      *clock.Clock
	pol      *policy.Policy
	records  engine.Records
	factors  store.FactorStore // what users enrolled for step-up
	writer   engine.Writer
	key      []byte // for keyed hashes
	breached *breach.Corpus
	geo      *geo.DB            // nil: no GeoIP databases
	peers    *hot.Hub           // nil: alone
	planner  *notify.Planner    // nil: no notifications
	sealer   engine.Sealer      // seals the audit log's events
	fed      *engine.Federation // nil: federation off
}

// newEngine builds the engine of cfg on d.
func newEngine(cfg config.Config, d engineDeps) (*engine.Engine, error) {
	deps := engine.Deps{
		Clock: d.clk, Policy: d.pol, Records: d.records, Writer: d.writer, Key: d.key, Breached: d.breached,
		Factors: stepup.NewEnrolled(cfg.StepUp, d.factors, stepUpMail(cfg).Host != ""),
		Sealer:  d.sealer, Federation: d.fed,
	}
	if d.geo != nil {
		deps.Geo = d.geo
	}
	if d.peers != nil {
		deps.Peers = d.peers
	}
	deps.Notifications = d.planner
	if cfg.Records != "" {
		// Shared records: answer through their outages (journal).
		deps.Outage = &engine.Outage{Closed: cfg.Hot.OnOutage == hot.FailClosed}
		if d.peers != nil {
			deps.Outage.HubDown = d.peers.Degraded
		}
	}
	return engine.New(cfg.Engine, deps)
}

// stepUpMail is the mail server email codes go through: stepup.smtp, else
// notify.smtp; no host: no email codes.
func stepUpMail(cfg config.Config) mailer.Config {
	mc := cfg.StepUp.SMTP
	if mc.Host == "" && cfg.Notify.SMTP.Host != "" {
		mc = mailer.Config{Server: cfg.Notify.SMTP}
	}
	return mc
}

// newStepUp builds step-up verification (package stepup) on the engine:
// factor keys, the mail server for email codes (stepup.smtp, else
// notify.smtp) and, with peers, their locks.
func newStepUp(cfg config.Config, clk *clock.Clock, st stepup.Store, eng *engine.Engine, keys *stepup.Keyring, key []byte,
	locker stepup.Locker, log *slog.Logger, getenv func(string) string) (*stepup.Service, error) {
	svc, err := stepup.New(cfg.StepUp, eng.ChallengeSettings(), clk, st, eng, keys, key, log)
	if err != nil {
		return nil, err
	}
	if mc := stepUpMail(cfg); mc.Host != "" {
		m, err := mailer.New(mc, getenv)
		if err != nil {
			return nil, err
		}
		svc.UseMailer(m)
	}
	if locker != nil {
		svc.UseLocker(locker)
	}
	return svc, nil
}

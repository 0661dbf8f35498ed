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
)

// engineDeps are the parts the engine is built on, opened before it.
type engineDeps struct {
	clk      *clock.Clock
	pol      *policy.Policy
	records  engine.Records
	writer   engine.Writer
	key      []byte // for keyed hashes
	breached *breach.Corpus
	geo      *geo.DB         // nil: no GeoIP databases
	peers    *hot.Hub        // nil: alone
	planner  *notify.Planner // nil: no notifications
}

// newEngine builds the engine of cfg on d. The engine's construction is
// here and in useFactors only, so that it changes in one place when the
// engine's constructor does.
func newEngine(cfg config.Config, d engineDeps) (*engine.Engine, error) {
	eng := engine.New(cfg.Engine, d.clk, d.pol, d.records, d.writer, d.key)
	eng.UseBreached(d.breached)
	if d.geo != nil {
		eng.UseGeo(d.geo)
	}
	if d.peers != nil {
		eng.UsePeers(d.peers)
	}
	if d.planner != nil {
		eng.UseNotifications(d.planner)
	}
	if cfg.Records != "" {
		// Shared records: answer through their outages (journal).
		var hubDown func() bool
		if d.peers != nil {
			hubDown = d.peers.Degraded
		}
		eng.UseOutage(cfg.Hot.OnOutage == hot.FailClosed, hubDown)
	}
	return eng, nil
}

// useFactors gives the engine the step-up service, which the engine's
// choice of methods per user asks. The service is built on the engine, so
// after it.
func useFactors(eng *engine.Engine, svc *stepup.Service) { eng.UseFactors(svc) }

// newStepUp builds step-up verification (package stepup) on the engine:
// factor keys, the mail server for email codes (stepup.smtp, else
// notify.smtp) and, with peers, their locks.
func newStepUp(cfg config.Config, clk *clock.Clock, st stepup.Store, eng *engine.Engine, keys *stepup.Keyring, key []byte,
	locker stepup.Locker, log *slog.Logger, getenv func(string) string) (*stepup.Service, error) {
	svc, err := stepup.New(cfg.StepUp, clk, st, eng, keys, key, log)
	if err != nil {
		return nil, err
	}
	mc := cfg.StepUp.SMTP
	if mc.Host == "" && cfg.Notify.SMTP.Host != "" {
		n := cfg.Notify.SMTP
		mc = mailer.Config{Host: n.Host, Port: n.Port, TLS: n.TLS, CAFile: n.CAFile, Username: n.Username,
			PasswordFile: n.PasswordFile, PasswordEnv: n.PasswordEnv, From: n.From}
	}
	if mc.Host != "" {
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

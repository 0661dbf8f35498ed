// Package simulate replays labelled shop traffic (benign owners and a
// credential-stuffing attack from internal/traffic) against the guard, in
// fast mode straight to its API on event time or in live mode through the
// reference shop's real pages, with the guard off and on, and scores and
// reports what got through.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/traffic"
)

// Modes of a simulation.
const (
	ModeFast = "fast"
	ModeLive = "live"
)

// GuardFactory starts a fresh guard on the event clock for fast mode and
// returns a client of it (events and admin scopes) and how to stop it.
type GuardFactory func(ctx context.Context) (*client.Client, func() error, error)

// Config configures a simulation.
type Config struct {
	// Name names the scenario in the report (e.g. "distributed").
	Name string
	// Scenario is the traffic to play.
	Scenario traffic.Scenario
	// Mode is ModeFast or ModeLive.
	Mode string
	// NewGuard starts the guard of a fast run. Required in fast mode.
	NewGuard GuardFactory
	// NewStack starts the shop (and guard) of a live run. Required in live mode.
	NewStack StackFactory
	// Key derives the accounts' passwords (live mode); empty means a fixed
	// key, so runs are reproducible.
	Key []byte
	// FollowUps tunes what attackers do after a takeover.
	FollowUps FollowUps
	// Step is the timeline's resolution (default 5m).
	Step time.Duration
	// Workers is how many browsers live mode runs at once (default 8).
	Workers int
	// Progress receives progress bars (stderr); nil shows none.
	Progress io.Writer
	// Command is how the run was started, for the report.
	Command string
}

// Report is the outcome of a simulation: both runs side by side and the
// timeline.
type Report struct {
	Scenario        string            `json:"scenario"`
	Mode            string            `json:"mode"`
	Seed            int64             `json:"seed"`
	From            time.Time         `json:"from"` // the evaluated span
	To              time.Time         `json:"to"`
	Events          int               `json:"events_generated"`
	Accounts        int               `json:"accounts"`
	Spec            traffic.Scenario  `json:"-"`
	Off             Summary           `json:"guard_off"`
	On              Summary           `json:"guard_on"`
	Step            string            `json:"timeline_step"`
	Timeline        []Bucket          `json:"timeline"`            // guard on
	TakeoversOffRun []int             `json:"takeovers_guard_off"` // per timeline step
	Elapsed         map[string]string `json:"-"`                   // wall time per run, for the console
	Command         string            `json:"command,omitempty"`   // how the report was made
	Notes           []string          `json:"notes"`
}

// Run plays the scenario twice, guard off then guard on, and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Mode != ModeFast && cfg.Mode != ModeLive {
		return nil, fmt.Errorf("mode %q: want fast or live", cfg.Mode)
	}
	if cfg.Mode == ModeFast && cfg.NewGuard == nil || cfg.Mode == ModeLive && cfg.NewStack == nil {
		return nil, errors.New("simulate: no guard or stack to run against")
	}
	if cfg.Step <= 0 {
		cfg.Step = 5 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if len(cfg.Key) == 0 {
		cfg.Key = []byte("atoguard simulate: reproducible demo passwords")
	}
	labeled, err := traffic.Generate(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	items, err := parseStream(labeled)
	if err != nil {
		return nil, err
	}
	accounts := population(items, cfg.Key)
	sc := cfg.Scenario
	from := sc.Start.UTC()
	dur := sc.Duration.D()
	if dur == 0 {
		dur = 24 * time.Hour
	}
	to := from.Add(dur)
	rep := &Report{Scenario: cfg.Name, Mode: cfg.Mode, Seed: sc.Seed, From: from, To: to, Events: len(items),
		Accounts: len(accounts), Spec: sc, Step: cfg.Step.String(), Elapsed: map[string]string{}, Command: cfg.Command}

	for _, on := range []bool{false, true} {
		label := map[bool]string{false: "off", true: "on"}[on]
		scr := newScorer(label, from, to, cfg.Step)
		p := newPlanner(cfg.FollowUps, sc.Seed)
		bar := newBar(cfg.Progress, len(items), fmt.Sprintf("%s, guard %-3s", cfg.Mode, label))
		started := time.Now()
		var incs []client.Incident
		switch cfg.Mode {
		case ModeFast:
			incs, err = runFastOnce(ctx, cfg, items, on, p, scr, bar)
		case ModeLive:
			incs, err = runLiveOnce(ctx, cfg, items, accounts, on, p, scr, bar)
		}
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(cfg.Progress)
		}
		if err != nil {
			return nil, fmt.Errorf("guard %s: %w", label, err)
		}
		rep.Elapsed[label] = time.Since(started).Round(100 * time.Millisecond).String()
		s := scr.finish(incs)
		if on {
			rep.On, rep.Timeline = s, scr.timeline
		} else {
			rep.Off = s
			for _, b := range scr.timeline {
				rep.TakeoversOffRun = append(rep.TakeoversOffRun, b.Takeovers)
			}
		}
	}
	rep.Notes = notes(cfg.Mode)
	return rep, nil
}

func runFastOnce(ctx context.Context, cfg Config, items []item, on bool, p *planner, sc *scorer, bar *progressbar.ProgressBar) ([]client.Incident, error) {
	progress := barFunc(bar)
	if !on {
		return nil, runFast(ctx, items, nil, p, sc, progress)
	}
	g, stop, err := cfg.NewGuard(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the guard: %w", err)
	}
	defer stop()
	if err := runFast(ctx, items, g, p, sc, progress); err != nil {
		return nil, err
	}
	incs, err := g.Incidents(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	return incs, stop()
}

func runLiveOnce(ctx context.Context, cfg Config, items []item, accounts []demoshop.SeedAccount, on bool, p *planner, sc *scorer, bar *progressbar.ProgressBar) ([]client.Incident, error) {
	st, err := cfg.NewStack(ctx, accounts, on)
	if err != nil {
		return nil, fmt.Errorf("starting the shop: %w", err)
	}
	defer st.Stop()
	if err := runLive(ctx, items, st, accounts, cfg.Key, cfg.Workers, cfg.Scenario.Seed, p, sc, barFunc(bar)); err != nil {
		return nil, err
	}
	var incs []client.Incident
	if st.Guard != nil {
		if incs, err = st.Guard.Incidents(ctx, ""); err != nil {
			return nil, fmt.Errorf("reading incidents: %w", err)
		}
	}
	return incs, st.Stop()
}

func newBar(w io.Writer, n int, desc string) *progressbar.ProgressBar {
	if w == nil {
		return nil
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	)
}

func barFunc(bar *progressbar.ProgressBar) func(int) {
	if bar == nil {
		return nil
	}
	return func(n int) { _ = bar.Add(n) }
}

func notes(mode string) []string {
	n := []string{
		"Guard off: the shop runs without atoguard; every correct password logs in. Guard on: the built-in policy.",
		"A takeover is an attacker login with a correct password. \"Allowed\" means let in without a step-up; a challenged or denied one is stopped.",
		"After a takeover the attacker changes the contact email (half of the time), then orders the iPhone X for convenience-store pickup, paid by carrier billing.",
		"Fraudulent orders accepted are the attacker's orders the guard let through (decision allow). An order held for review, challenged or denied is not accepted.",
		"The shop reports a step-up nobody answered as mfa.failed when it expires, and the guard counts it as a failed step-up: for 24 hours the owner of that account is stepped up again when logging in from a device and a network the account never used (policy rule after-failed-step-up) — mostly accounts the guard saw no login of in the warm-up. The guard cannot tell such a login from the attacker coming back with the password, so it is protection; it is still counted as friction, and the owners whose password the attack used are also shown apart.",
		"The per-IP jail column is what a fail2ban-style rule (an IP with 5 failures in 10 minutes is blocked) would have let in, for scale.",
	}
	if mode == ModeFast {
		n = append(n,
			"Fast mode sends the events straight to the guard's API on the event clock. It models a shop with working step-up: challenged owners pass it (mfa.succeeded), attackers abandon it (mfa.failed when it expires).",
		)
	} else {
		n = append(n,
			"Live mode drives the reference shop's real pages over HTTP (source addresses through trusted X-Forwarded-For from 127.0.0.1); the warm-up history goes to the guard's API directly. The shop's clock follows the simulated time in 5-second steps.",
			"The shop verifies step-ups through the guard. After the warm-up every owner who logs in that day enrols a TOTP factor through the guard's factor API (as the shop's Security page does), and a challenged owner answers the step-up page with the authenticator's code: the login still counts as challenged, and the step-up teaches the guard that device and network. Attackers, holding only the password, abandon the step-up, and the shop reports mfa.failed when it expires.",
			"Browsers run concurrently within each 5-second step, so two live runs can differ by a few counts (for instance whether an owner logs in just before or after the attacker changes the email); fast mode is exactly reproducible.",
			"The shop gives every browser a device cookie, so attack attempts carry fresh device ids even where the generated traffic had none. The shop shows a refused login like a wrong password, so live mode counts denials only for correct passwords.",
		)
	}
	return n
}

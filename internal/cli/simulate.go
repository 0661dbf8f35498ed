package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/guard"
	"github.com/atoguard/atoguard/internal/simulate"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

type simulateFlags struct {
	scenario    string
	fast        bool
	guard       string
	apiKey      string
	scale       float64
	out         string
	workers     int
	timeout     time.Duration
	emailChange float64
	noProgress  bool
	demo        string
	attackSpan  time.Duration
	scaleSet    bool
	federated   bool
}

func newSimulate(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	f := simulateFlags{}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Replay benign and attack traffic with the guard off and on, and report what got through",
		Long: `Generate a day of shop traffic — owners with their day/night rhythm, typos,
carrier NAT, new phones and orders, and a credential-stuffing attack
(burst, distributed or spray) — and play it twice, without and with the
guard, then write a report (Markdown, JSON and an SVG timeline).

--fast sends the events straight to the guard's API on the event clock: a
simulated day in seconds. Without it (live mode) the traffic drives the
reference shop's real pages over HTTP, on the shop's simulated clock.

Both start their own guard (event clock, temporary data) unless --guard
names one, which must run with --clock event; its key (--api-key or
ATOGUARD_API_KEY) needs the events and admin scopes, in live mode also
challenges and factors: live mode's owners enrol a TOTP factor through
the guard and answer the step-ups they are asked for, as fast mode's do.

--demo DIR attacks a running ` + "`atoguard demo --data DIR`" + ` instead (live mode,
on the wall clock): first the demo's guard learns the owners' history
(days of their logins, on those days' own time, as replay --into does:
their accounts' profiles are written into the guard's records in
DIR/guard, and none of it reaches the guard's live detectors), then the
scenario's attack and the owners' traffic around it go through the
shop's pages, the attack compressed into --attack-span, so the demo's
guard opens an incident you can watch on its dashboard (/ui) and in
GET /v1/incidents (behind demo --proxy, which knows the accounts by ids
and devices of its own, the owners' usual devices log in through the
proxy instead). It reads DIR/demo.json (written by the running demo),
DIR/demo.key and DIR/guard; the scale defaults to 0.1 (1,000 owners, 1,000
attack attempts for distributed), at most the demo's accounts. With
--api-key (or ATOGUARD_API_KEY) it also reports when the incident opened.
It plays once, guard on, and writes no report files. Each run adds to the
demo's data (orders, step-ups, notifications); a fresh --data starts clean.

--federated plays "two shops, one crew" in process: a crew with one combo
list hits shop A, then an hour later shop B with the same list through
partly the same proxies. Each shop has its own guard, records, keys and
owners; shop A's guard tells shop B's what its incident learned (keyed
hashes of the logins it tried, its networks, its drop points). It prints
shop B being warned by A as it happens, then shop B alone and federated
side by side. The scenario is the built-in two-shop day unless
--scenario names a file; --scale applies.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.apiKey == "" {
				f.apiKey = getenv("ATOGUARD_API_KEY")
			}
			f.scaleSet = cmd.Flags().Changed("scale")
			if f.federated {
				return runSimulateFederated(cmd.Context(), f, cmd.Flags().Changed("scenario"), stdout)
			}
			if f.demo != "" {
				return runSimulateDemo(cmd.Context(), f, stdout, stderr)
			}
			if cmd.Flags().Changed("attack-span") {
				return errors.New("--attack-span needs --demo")
			}
			return runSimulate(cmd.Context(), f, os.Args, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "distributed", "burst, distributed, spray, or a scenario file (internal/traffic YAML)")
	fl.BoolVar(&f.fast, "fast", false, "send events straight to the guard API on the event clock (default: live, through the shop's pages)")
	fl.StringVar(&f.guard, "guard", "", "URL of a running guard (--clock event) instead of an in-process one")
	fl.StringVar(&f.apiKey, "api-key", "", "API key of --guard, or with --demo of the demo's guard to time the incident (default $ATOGUARD_API_KEY)")
	fl.Float64Var(&f.scale, "scale", 1, "scale owners, sources and attempts by this factor (e.g. 0.1 for a quick run)")
	fl.StringVar(&f.out, "out", "docs/simulation", "directory for the report (SCENARIO-MODE.md, .json, .svg)")
	fl.IntVar(&f.workers, "workers", 8, "live mode: browsers run at once")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fl.Float64Var(&f.emailChange, "email-change", 0.5, "share of takeovers in which the attacker changes the contact email before ordering")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bars on stderr")
	fl.StringVar(&f.demo, "demo", "", "attack the running atoguard demo whose data directory is `DIR` (e.g. ./atoguard-demo) through its shop's pages")
	fl.DurationVar(&f.attackSpan, "attack-span", time.Minute, "with --demo: the wall time the attack is played in")
	fl.BoolVar(&f.federated, "federated", false, "play two shops, one crew: shop B warned by shop A's guard, alone and federated")
	return cmd
}

// runSimulateDemo plays the scenario against a running demo.
func runSimulateDemo(ctx context.Context, f simulateFlags, stdout, stderr io.Writer) error {
	if f.fast || f.guard != "" {
		return errors.New("--demo drives the demo's shop and guard: leave out --fast and --guard")
	}
	if f.attackSpan < time.Second || f.attackSpan > time.Hour {
		return fmt.Errorf("--attack-span %v: want between 1s and 1h", f.attackSpan)
	}
	sc, err := simulate.LoadScenario(f.scenario)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	st, err := findDemo(ctx, f.demo)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(filepath.Join(f.demo, "demo.key"))
	if err != nil {
		return fmt.Errorf("reading the demo's password key: %w", err)
	}
	if !f.scaleSet {
		f.scale = min(0.1, float64(st.Accounts)/float64(max(1, sc.Owners.Accounts)))
	}
	if !(f.scale > 0 && f.scale <= 10) {
		return fmt.Errorf("--scale %v: want a factor above 0, at most 10", f.scale)
	}
	if !(f.emailChange >= 0 && f.emailChange <= 1) {
		return fmt.Errorf("--email-change %v: want a share between 0 and 1", f.emailChange)
	}
	sc = simulate.Scale(sc, f.scale)
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("scenario %s at scale %v:\n%w", f.scenario, f.scale, err)
	}
	if sc.Owners.Accounts > st.Accounts {
		return fmt.Errorf("scenario %s at scale %v has %d owners, the demo in %s only %d accounts: use --scale %.2g or less",
			f.scenario, f.scale, sc.Owners.Accounts, f.demo, st.Accounts, float64(st.Accounts)/float64(max(1, sc.Owners.Accounts))*f.scale)
	}
	target := simulate.DemoTarget{ShopURL: st.ShopURL, Accounts: st.Accounts, Key: key, CampaignReady: st.CampaignReady}
	if !st.Proxy {
		// Behind the proxy the guard knows the owners by the proxy's
		// account ids and device cookies: they log in through it instead.
		records, guardKey, err := openDemoGuard(ctx, f.demo)
		if err != nil {
			return err
		}
		defer records.Close()
		target.Profiles, target.GuardKey = records, guardKey
	}
	if f.apiKey != "" {
		if target.Guard, err = client.New(client.Config{BaseURL: st.GuardURL, APIKey: f.apiKey, Timeout: time.Minute, FailMode: client.FailOpen}); err != nil {
			return err
		}
	}
	cfg := simulate.DemoConfig{
		Name: strings.TrimSuffix(filepath.Base(f.scenario), filepath.Ext(f.scenario)), Scenario: sc, Target: target,
		AttackSpan: f.attackSpan, Workers: f.workers, FollowUps: simulate.FollowUps{EmailChange: f.emailChange}, Status: stdout,
	}
	if f.emailChange == 0 {
		cfg.FollowUps.EmailChange = 1e-9
	}
	if !f.noProgress {
		cfg.Progress = stderr
	}
	fmt.Fprintf(stdout, "scenario %s at scale %v against the demo in %s: shop %s, guard %s\nwatch it on the dashboard: %s/ui/\n",
		cfg.Name, f.scale, f.demo, st.ShopURL, st.GuardURL, st.GuardURL)
	res, err := simulate.RunDemo(ctx, cfg)
	if err != nil {
		return err
	}
	printDemoSummary(stdout, res, st.GuardURL)
	return nil
}

// openDemoGuard opens the records of the demo's guard (SQLite in
// DIR/guard, which take other connections beside the running guard's)
// and its secret key: the warm-up history teaches the guard the owners'
// profiles there.
func openDemoGuard(ctx context.Context, dir string) (*sqlite.Store, []byte, error) {
	data := filepath.Join(dir, "guard")
	key, err := os.ReadFile(filepath.Join(data, config.SecretKeyFileName))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the demo guard's secret key: %w", err)
	}
	st, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the demo guard's records: %w", err)
	}
	return st, key, nil
}

func printDemoSummary(w io.Writer, r *simulate.DemoResult, guardURL string) {
	s := r.Summary
	hm := func(t time.Time) string { return t.Local().Format("15:04:05") }
	fmt.Fprintf(w, "simulated time ran %.0f times faster than the clock; the attack from %s to %s (took %s in all)\n",
		r.Speed, hm(r.AttackStart), hm(r.AttackEnd), r.Took.Round(time.Second))
	row := func(name string, v any) { fmt.Fprintf(w, "  %-48s %8v\n", name, v) }
	row("attacker login attempts", s.AttackerAttempts)
	row("attacker logins with a valid password", s.AttackerValid)
	row("takeovers allowed without step-up", s.TakeoversAllowed)
	row("fraudulent orders accepted", s.FraudOrdersAccepted)
	row("owners' correct-password logins", s.OwnerLogins)
	row("owners' logins challenged or denied", s.OwnerChallenged+s.OwnerDenied)
	switch {
	case !r.Asked:
		fmt.Fprintf(w, "incident: see %s/ui/ or GET %s/v1/incidents (give --api-key to have it timed here)\n", guardURL, guardURL)
	case r.Incident == nil:
		fmt.Fprintln(w, "incident: none opened")
	case r.AlreadyOpen:
		fmt.Fprintf(w, "incident: %s, opened at %s by earlier traffic, was still open and took the attack in; %d accounts targeted\n",
			r.Incident.ID, hm(r.Incident.StartedAt), r.Incident.AccountsTargeted)
	default:
		fmt.Fprintf(w, "incident: %s opened at %s, %s after the attack started; %d accounts targeted, %d compromised passwords to reset\n",
			r.Incident.ID, hm(r.Incident.StartedAt), s.IncidentAfter, r.Incident.AccountsTargeted, r.Incident.AccountsCompromised)
	}
	if r.Asked {
		printDemoOpened(w, r)
	}
}

// printDemoOpened lists every incident the run opened, the attack's and
// any other, with when it started: one before the attack is false (the
// demo's own owners opened it) and must show.
func printDemoOpened(w io.Writer, r *simulate.DemoResult) {
	hm := func(t time.Time) string { return t.Local().Format("15:04:05.0") }
	fmt.Fprintf(w, "incidents this run opened: %d (warm-up from %s, owners' traffic from %s, attack from %s)\n",
		len(r.Opened), hm(r.Started), hm(r.EvalStart), hm(r.AttackStart))
	for _, inc := range r.Opened {
		when := "during the attack"
		switch {
		case inc.StartedAt.Before(r.EvalStart):
			when = "during the warm-up, before the attack: FALSE INCIDENT"
		case inc.StartedAt.Before(r.AttackStart.Add(-time.Second)):
			when = "during the owners' traffic, before the attack: FALSE INCIDENT"
		case inc.StartedAt.After(r.AttackEnd.Add(time.Second)):
			when = "after the attack"
		}
		fmt.Fprintf(w, "  %s %s started %s, %s; %d accounts targeted, %d compromised\n",
			inc.ID, inc.Kind, hm(inc.StartedAt), when, inc.AccountsTargeted, inc.AccountsCompromised)
	}
	if n := len(r.OpenedBefore()); n > 0 {
		fmt.Fprintf(w, "%d incident(s) opened before the attack: the demo's own owners were taken for a crew\n", n)
	}
}

func runSimulate(ctx context.Context, f simulateFlags, args []string, stdout, stderr io.Writer) error {
	sc, err := simulate.LoadScenario(f.scenario)
	if err != nil {
		return err
	}
	if !(f.scale > 0 && f.scale <= 10) {
		return fmt.Errorf("--scale %v: want a factor above 0, at most 10", f.scale)
	}
	if !(f.emailChange >= 0 && f.emailChange <= 1) {
		return fmt.Errorf("--email-change %v: want a share between 0 and 1", f.emailChange)
	}
	if f.guard != "" && f.apiKey == "" {
		return errors.New("--guard needs --api-key or ATOGUARD_API_KEY")
	}
	sc = simulate.Scale(sc, f.scale)
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("scenario %s at scale %v:\n%w", f.scenario, f.scale, err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	name := strings.TrimSuffix(filepath.Base(f.scenario), filepath.Ext(f.scenario))
	cfg := simulate.Config{
		Name: name, Scenario: sc, Mode: simulate.ModeLive, Workers: f.workers,
		FollowUps: simulate.FollowUps{EmailChange: f.emailChange},
	}
	if f.emailChange == 0 {
		cfg.FollowUps.EmailChange = 1e-9 // zero means the default: make "never" explicit
	}
	if !f.noProgress {
		cfg.Progress = stderr
	}
	tmp, err := os.MkdirTemp("", "atoguard-simulate-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	newGuard := func(ctx context.Context) (*client.Client, func() error, error) {
		if f.guard != "" {
			c, err := client.New(client.Config{BaseURL: f.guard, APIKey: f.apiKey, Timeout: time.Minute, FailMode: client.FailOpen})
			return c, func() error { return nil }, err
		}
		return inProcessGuard(ctx, tmp, log)
	}
	if f.fast {
		cfg.Mode = simulate.ModeFast
		cfg.NewGuard = newGuard
	} else {
		cfg.NewStack = stackFactory(tmp, newGuard, log)
	}
	cfg.Command = commandLine(args)
	rep, err := simulate.Run(ctx, cfg)
	if err != nil {
		return err
	}
	files, err := rep.WriteFiles(f.out, name+"-"+cfg.Mode)
	if err != nil {
		return err
	}
	printSummary(stdout, rep, files)
	return nil
}

// commandLine is how the report says it was made.
func commandLine(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return "atoguard " + strings.Join(args[1:], " ")
}

// inProcessGuard starts a guard on the event clock in a fresh directory
// under tmp, with a random key of every scope.
func inProcessGuard(ctx context.Context, tmp string, log *slog.Logger) (*client.Client, func() error, error) {
	dir, err := os.MkdirTemp(tmp, "guard-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating the guard's directory: %w", err)
	}
	cfg := config.Default()
	cfg.Data, cfg.Clock, cfg.Listen = dir, "event", "127.0.0.1:0"
	cfg.Synchronous = "NORMAL" // throwaway data: survive a crash of the process, not of the machine
	key := randomSecret("agk_sim_")
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listening for the guard: %w", err)
	}
	g, err := guard.Start(context.WithoutCancel(ctx), cfg, guard.Options{Log: log, Listener: ln, BootstrapKey: key})
	if err != nil {
		return nil, nil, err
	}
	stop := g.Stop
	c, err := client.New(client.Config{BaseURL: g.URL(), APIKey: key, Timeout: time.Minute, FailMode: client.FailOpen})
	if err != nil {
		stop()
		return nil, nil, err
	}
	return c, stop, nil
}

// stackFactory starts, for each live run, a fresh shop (and guard) in a
// directory under tmp. The accounts' passwords are hashed once (argon2id
// at the demo cost) and stored into each run's shop.
func stackFactory(tmp string, newGuard simulate.GuardFactory, log *slog.Logger) simulate.StackFactory {
	var (
		mu     sync.Mutex
		hashed []demoshop.Account
	)
	hasher := demoshop.Argon2id{P: demoshop.DemoParams}
	return func(ctx context.Context, seeds []demoshop.SeedAccount, guardOn bool) (*simulate.Stack, error) {
		mu.Lock()
		defer mu.Unlock()
		if hashed == nil {
			var err error
			if hashed, err = demoshop.HashSeeds(ctx, hasher, seeds, time.Now()); err != nil {
				return nil, err
			}
		}
		dir, err := os.MkdirTemp(tmp, "shop-")
		if err != nil {
			return nil, fmt.Errorf("creating the shop's directory: %w", err)
		}
		st, err := demoshop.OpenStore(ctx, filepath.Join(dir, "shop.db"))
		if err != nil {
			return nil, err
		}
		if err := st.SeedAccounts(ctx, hashed); err != nil {
			st.Close()
			return nil, err
		}
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		stack := &simulate.Stack{SetTime: func(t time.Time) { now.Store(t.UnixNano()) }}
		stopGuard := func() error { return nil }
		var guard demoshop.Guard
		var stepUp demoshop.StepUp
		if guardOn {
			c, stop, err := newGuard(ctx)
			if err != nil {
				st.Close()
				return nil, err
			}
			stack.Guard, guard, stopGuard = c, c, stop
			// Step-ups verified by the guard; the owners enrol TOTP.
			stepUp, stack.OwnersEnrolTOTP = demoshop.GuardStepUp{Client: c}, true
		}
		shop, err := demoshop.New(demoshop.Options{
			Store: st, Secret: []byte(randomSecret("")), Guard: guard, StepUp: stepUp, Hasher: hasher, Log: log,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Now:            func() time.Time { return time.Unix(0, now.Load()).UTC() },
		})
		if err != nil {
			stopGuard()
			st.Close()
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stopGuard()
			st.Close()
			return nil, fmt.Errorf("listening for the shop: %w", err)
		}
		ss := serveShop(ln, shop.Handler(), log)
		stack.ShopURL = ss.URL
		stack.Sweep = shop.Sweep
		var once sync.Once
		var stopErr error
		stack.Stop = func() error {
			once.Do(func() {
				stopErr = errors.Join(ss.stop(), stopGuard(), st.Close())
			})
			return stopErr
		}
		return stack, nil
	}
}

func printSummary(w io.Writer, r *simulate.Report, files []string) {
	off, on := r.Off, r.On
	fmt.Fprintf(w, "scenario %s, %s mode: %d events, %d accounts (guard off %s, guard on %s)\n",
		r.Scenario, r.Mode, r.Events, r.Accounts, r.Elapsed["off"], r.Elapsed["on"])
	fmt.Fprintf(w, "%-52s %12s %12s\n", "", "guard off", "guard on")
	row := func(name string, a, b any) { fmt.Fprintf(w, "%-52s %12v %12v\n", name, a, b) }
	row("attacker login attempts", off.AttackerAttempts, on.AttackerAttempts)
	row("attacker logins with a valid password", off.AttackerValid, on.AttackerValid)
	row("takeovers allowed without step-up", off.TakeoversAllowed, on.TakeoversAllowed)
	row("fraudulent orders accepted", off.FraudOrdersAccepted, on.FraudOrdersAccepted)
	row("owners' logins challenged or denied", off.OwnerChallenged+off.OwnerDenied, on.OwnerChallenged+on.OwnerDenied)
	row("owners' correct-password logins", off.OwnerLogins, on.OwnerLogins)
	inc := "none"
	if on.IncidentAfter != "" {
		inc = on.IncidentAfter
	}
	row("time from the attack's start to the incident", "-", inc)
	for _, c := range r.Checks() {
		mark := "met"
		if !c.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(w, "  [%s] %s: %s\n", mark, c.Target, c.Got)
	}
	fmt.Fprintf(w, "report: %s\n", strings.Join(files, ", "))
}

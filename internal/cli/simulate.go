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

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/shopclient"
	"github.com/atoguard/atoguard/internal/simulate"
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
ATOGUARD_API_KEY) needs the events and admin scopes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.apiKey == "" {
				f.apiKey = getenv("ATOGUARD_API_KEY")
			}
			return runSimulate(cmd.Context(), f, os.Args, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "distributed", "burst, distributed, spray, or a scenario file (internal/traffic YAML)")
	fl.BoolVar(&f.fast, "fast", false, "send events straight to the guard API on the event clock (default: live, through the shop's pages)")
	fl.StringVar(&f.guard, "guard", "", "URL of a running guard (--clock event) instead of an in-process one")
	fl.StringVar(&f.apiKey, "api-key", "", "API key of --guard (default $ATOGUARD_API_KEY)")
	fl.Float64Var(&f.scale, "scale", 1, "scale owners, sources and attempts by this factor (e.g. 0.1 for a quick run)")
	fl.StringVar(&f.out, "out", "docs/simulation", "directory for the report (SCENARIO-MODE.md, .json, .svg)")
	fl.IntVar(&f.workers, "workers", 8, "live mode: browsers run at once")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fl.Float64Var(&f.emailChange, "email-change", 0.5, "share of takeovers in which the attacker changes the contact email before ordering")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bars on stderr")
	return cmd
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
	newGuard := func(ctx context.Context) (*shopclient.Client, func() error, error) {
		if f.guard != "" {
			c, err := shopclient.New(shopclient.Config{BaseURL: f.guard, APIKey: f.apiKey, Timeout: time.Minute, FailMode: shopclient.FailOpen})
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
func inProcessGuard(ctx context.Context, tmp string, log *slog.Logger) (*shopclient.Client, func() error, error) {
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
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, err := startGuard(gctx, cfg, key, ln, log)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			stopErr = g.Wait()
		})
		return stopErr
	}
	c, err := shopclient.New(shopclient.Config{BaseURL: g.URL, APIKey: key, Timeout: time.Minute, FailMode: shopclient.FailOpen})
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
		if guardOn {
			c, stop, err := newGuard(ctx)
			if err != nil {
				st.Close()
				return nil, err
			}
			stack.Guard, guard, stopGuard = c, c, stop
		}
		shop, err := demoshop.New(demoshop.Options{
			Store: st, Secret: []byte(randomSecret("")), Guard: guard, Hasher: hasher, Log: log,
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

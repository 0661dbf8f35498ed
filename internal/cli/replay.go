package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/logreplay"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

type replayFlags struct {
	config   string
	policy   string
	out      string
	emit     string
	emitJSON bool
	jail     string
	banFor   time.Duration
	workers  int
	into     string
	keyFile  string
}

// replayGCPercent is the garbage collector's target during a replay,
// unless GOGC is set: the live heap is bounded, and collecting it less
// often saves about a quarter of the CPU for about twice the memory.
const replayGCPercent = 400

func newReplay(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay FILE... --config replay.yaml",
		Short: "Replay a shop's access or auth logs through the engine: were we already hit?",
		Long: `Read a shop's existing logs — nginx/Apache access logs (combined, or a
log_format / LogFormat string) or JSON lines of an auth log — through the
engine on event time, in one pass, and report the campaigns they hold:
when, how many attempts from how many IPs and networks, the top sources,
and the successful logins from the campaign's sources (from an access log:
time, IP and user agent, to map to accounts in the shop's records).

FILEs may be globs, gzip files (told by their bytes) or - for stdin; files
are read oldest first (by their first line). The report is printed in
short (each incident with its first successful logins) and written to
--out as replay.md, replay.json and replay.svg.
--emit writes a list to stdout instead of the summary: ips, prefixes,
accounts, logins (the successful logins from campaign sources: time, IP,
login, incident and user agent, tab-separated; --json for a JSON array
of any of these four), fail2ban (fail2ban-client banip commands) or
crowdsec-decisions (for cscli decisions import -i FILE).
--into warms a stopped guard's store with what the replay learned: the
accounts' familiarity (JSON auth logs) and the campaign detector's
per-hour baseline, so the guard starts warm. --into DATA is SQLite in a
guard's data directory (its key DATA/secret.key); --into postgres://...
the PostgreSQL records guards share (records: in their configuration),
with --secret-key-file naming their secret_key_file (a password is
better in PGPASSWORD than in the URL).

` + "`atoguard replay example`" + ` prints a starting configuration;
` + "`atoguard replay check FILE`" + ` validates one.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if getenv("GOGC") == "" {
				defer debug.SetGCPercent(debug.SetGCPercent(replayGCPercent))
			}
			return runReplay(cmd, f, args, cmd.InOrStdin(), stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "replay configuration (YAML; see `atoguard replay example`)")
	fl.StringVar(&f.policy, "policy", "", "policy file (default: the built-in policy with the replay's rules)")
	fl.StringVar(&f.out, "out", "atoguard-replay", "directory for replay.md, replay.json and replay.svg (empty: none)")
	fl.StringVar(&f.emit, "emit", "", "write a list to stdout: "+strings.Join(logreplay.Emits, "|"))
	fl.BoolVar(&f.emitJSON, "json", false, "with --emit ips|prefixes|accounts|logins: a JSON array")
	fl.StringVar(&f.jail, "jail", "atoguard", "with --emit fail2ban: the jail")
	fl.DurationVar(&f.banFor, "ban-for", 24*time.Hour, "with --emit crowdsec-decisions: the decisions' duration")
	fl.IntVar(&f.workers, "workers", 0, "parsers (default: one per core)")
	fl.StringVar(&f.into, "into", "", "a stopped guard's store to warm with the profiles and baselines learned: its data directory (SQLite) or a postgres:// URL")
	fl.StringVar(&f.keyFile, "secret-key-file", "", "with --into: the guard's secret key (default: DATA/secret.key; needed with a postgres:// URL)")
	_ = cmd.MarkFlagRequired("config")
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a replay configuration, reporting every problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := logreplay.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: ok, format %s, %d requests mapped to events\n", args[0], c.Format, len(c.Requests))
			return nil
		},
	}, &cobra.Command{
		Use:   "example",
		Short: "Print a starting configuration for a combined access log",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			_, err := io.WriteString(stdout, logreplay.ExampleConfig)
			return err
		},
	})
	return cmd
}

func runReplay(cmd *cobra.Command, f replayFlags, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := logreplay.Load(f.config)
	if err != nil {
		return err
	}
	if f.emit != "" && !slices.Contains(logreplay.Emits, f.emit) {
		return fmt.Errorf("--emit %q: want one of %s", f.emit, strings.Join(logreplay.Emits, ", "))
	}
	if f.keyFile != "" && f.into == "" {
		return errors.New("--secret-key-file is for --into: the guard whose key it is")
	}
	ins, err := logreplay.Inputs(args, stdin)
	if err != nil {
		return err
	}
	opt := logreplay.Options{Workers: f.workers}
	if f.policy != "" {
		if opt.Policy, err = policy.Load(f.policy); err != nil {
			return err
		}
	}
	if f.into != "" {
		g, key, err := openGuard(cmd.Context(), f.into, f.keyFile)
		if err != nil {
			return err
		}
		defer g.Close()
		opt.Into, opt.Key = g, key
	}
	bar := newReplayBar(stderr)
	opt.Progress = bar.update
	rep, err := logreplay.Run(cmd.Context(), cfg, ins, opt)
	bar.finish()
	if err != nil {
		return err
	}
	if f.out != "" {
		files, err := rep.WriteFiles(f.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "report: %s\n", strings.Join(files, ", "))
	}
	if f.emit != "" {
		fmt.Fprint(stderr, rep.Summary())
		return rep.Emit(stdout, f.emit, logreplay.EmitOptions{JSON: f.emitJSON, Jail: f.jail, Duration: f.banFor})
	}
	fmt.Fprint(stdout, rep.Summary())
	return nil
}

// guardStore is the store --into warms.
type guardStore interface {
	logreplay.Guard
	Close() error
}

var (
	_ guardStore = (*sqlite.Store)(nil)
	_ guardStore = (*postgres.Store)(nil)
)

// openGuard opens the store --into names, SQLite in a data directory or
// PostgreSQL at a postgres:// URL, and the guard's secret key: keyFile,
// else secret.key in the data directory.
func openGuard(ctx context.Context, into, keyFile string) (guardStore, []byte, error) {
	url := strings.HasPrefix(into, "postgres://") || strings.HasPrefix(into, "postgresql://")
	if !url && strings.Contains(into, "=") {
		if _, err := os.Stat(into); err != nil {
			return nil, nil, fmt.Errorf("--into %q: a data directory or a postgres:// URL (a key=value connection string is not taken)", into)
		}
	}
	if keyFile == "" {
		if url {
			return nil, nil, errors.New("--into postgres://...: the guards' shared secret key is needed: --secret-key-file (their secret_key_file)")
		}
		keyFile = filepath.Join(into, config.SecretKeyFileName)
	}
	key, err := config.ReadSecretKey(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("--into: the guard's secret key (start the guard once, or give --secret-key-file): %w", err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--into: %w", err)
	}
	var st guardStore
	if url {
		st, err = postgres.Open(ctx, into, postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, into, sqlite.Options{})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--into: %w", err)
	}
	return st, key, nil
}

// replayBar shows lines replayed and their rate on stderr when it is a
// terminal; elsewhere it is silent.
type replayBar struct {
	bar *progressbar.ProgressBar
	w   io.Writer
}

func newReplayBar(stderr io.Writer) *replayBar {
	b := &replayBar{}
	if fi, ok := stderr.(*os.File); ok {
		if st, err := fi.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.w = stderr
			b.bar = progressbar.NewOptions64(-1,
				progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("replaying"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("lines"),
				progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSpinnerType(14),
			)
		}
	}
	return b
}

func (b *replayBar) update(_, lines int64) {
	if b.bar != nil {
		_ = b.bar.Set64(lines)
	}
}

func (b *replayBar) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
	}
}

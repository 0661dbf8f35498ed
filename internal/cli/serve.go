package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/guard"
)

func newServe(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var cfgPath string
	flags := config.Default()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the guard: HTTP API and metrics on the embedded store",
		Long: `Run the guard. With no --config it uses the built-in policy and the
embedded SQLite store under --data. ATOGUARD_API_KEY=<secret> in the
environment makes that secret a key with every scope.

Several instances act as one guard when they share PostgreSQL for their
records (records: postgres://..., or ATOGUARD_RECORDS) and Redis for their
detectors (hot.url: redis://..., or ATOGUARD_HOT_URL), with the same
secret_key_file and factor keys; see the README, "Several instances".

With --tls-cert-file and --tls-key-file (tls.cert_file, tls.key_file) it
serves HTTPS (TLS 1.2 at least) and picks up a renewed pair written over
those files within seconds, without a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			if cfgPath != "" {
				c, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				cfg = c
			}
			// Flags given on the command line win over the file.
			fl := cmd.Flags()
			if fl.Changed("listen") {
				cfg.Listen = flags.Listen
			}
			if fl.Changed("data") {
				cfg.Data = flags.Data
			}
			if fl.Changed("clock") {
				cfg.Clock = flags.Clock
			}
			if fl.Changed("policy") {
				cfg.Policy = flags.Policy
			}
			if fl.Changed("tls-cert-file") {
				cfg.TLS.CertFile = flags.TLS.CertFile
			}
			if fl.Changed("tls-key-file") {
				cfg.TLS.KeyFile = flags.TLS.KeyFile
			}
			if v := getenv("ATOGUARD_RECORDS"); v != "" {
				cfg.Records = v
			}
			if v := getenv("ATOGUARD_HOT_URL"); v != "" {
				cfg.Hot.URL = v
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			return serve(cmd.Context(), cfg, getenv("ATOGUARD_API_KEY"), stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "YAML configuration file (see README)")
	f.StringVar(&flags.Listen, "listen", flags.Listen, "address to listen on")
	f.StringVar(&flags.Data, "data", flags.Data, "data directory (SQLite store, secret key)")
	f.StringVar(&flags.Clock, "clock", flags.Clock, "wall, or event: each event's occurred_at is the time (replay, simulation, tests)")
	f.StringVar(&flags.Policy, "policy", "", "policy file (default: the built-in policy)")
	f.StringVar(&flags.TLS.CertFile, "tls-cert-file", "", "PEM certificate (chain) to serve HTTPS with; reloaded when it changes (tls.cert_file)")
	f.StringVar(&flags.TLS.KeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file (tls.key_file)")
	return cmd
}

func serve(ctx context.Context, cfg config.Config, bootstrap string, stdout, stderr io.Writer) error {
	log := newLogger(cfg.LogFormat, stderr)
	g, err := guard.Start(ctx, cfg, guard.Options{Log: log, BootstrapKey: bootstrap})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "atoguard listening on %s (clock %s, data %s)\n", g.URL(), g.Mode(), cfg.Data)
	if bootstrap == "" {
		log.Warn("ATOGUARD_API_KEY is not set: only keys made with `atoguard keys create` are accepted")
	}
	return g.Wait()
}

// newLogger returns the logger of log_format (text or json) on w.
func newLogger(format string, w io.Writer) *slog.Logger {
	var handler slog.Handler = slog.NewTextHandler(w, nil)
	if format == "json" {
		handler = slog.NewJSONHandler(w, nil)
	}
	return slog.New(handler)
}

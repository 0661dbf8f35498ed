package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/guard"
	"github.com/atoguard/atoguard/internal/proxy"
)

func newProxy(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var cfgPath, upstream, listen, guardURL, apiKey string
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Guard a shop that changes no code: a reverse proxy in front of it",
		Long: `Run a reverse proxy in front of an unmodified shop. It reads the shop's
login, registration, password, profile and checkout requests as the
configuration describes them (see the README, "Without changing your shop"),
asks the guard, and applies its decisions at the edge: a denied login gets
the shop's own failure answer, a challenged login's session cookies are held
until the proxy's step-up page passes (passkey, authenticator app, email
code, recovery code), a held order never reaches the shop. Owners signed in
through it add passkeys and authenticator apps at /.atoguard/security (the
prefix is configurable). Every other request passes through untouched.

With no guard.url in the configuration (or --guard) the guard runs
in-process on guard.data; with one, ATOGUARD_API_KEY (guard.api_key_env)
or --api-key is its key (the variable is better: a flag shows in the
process list).
Without --config the shop has a form login at POST /login.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := proxy.Default()
			if cfgPath != "" {
				c, err := proxy.Load(cfgPath)
				if err != nil {
					return err
				}
				cfg = c
			}
			fl := cmd.Flags()
			if fl.Changed("upstream") || cfg.Upstream == "" {
				cfg.Upstream = upstream
			}
			if fl.Changed("listen") {
				cfg.Listen = listen
			}
			if fl.Changed("guard") {
				cfg.Guard.URL = guardURL
			}
			if apiKey != "" {
				env, name := getenv, cfg.Guard.APIKeyEnv
				getenv = func(k string) string {
					if k == name {
						return apiKey
					}
					return env(k)
				}
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid proxy configuration:\n%w", err)
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("listening: %w", err)
			}
			return runProxy(cmd.Context(), cfg, ln, getenv, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "proxy configuration file (YAML)")
	f.StringVar(&upstream, "upstream", "http://127.0.0.1:9000", "the shop")
	f.StringVar(&listen, "listen", ":8443", "address to serve on")
	f.StringVar(&guardURL, "guard", "", "a guard elsewhere (its base URL) instead of one in-process")
	f.StringVar(&apiKey, "api-key", "", "the guard's API key: the remote guard's with --guard, else the in-process guard's bootstrap key (default: $ATOGUARD_API_KEY)")
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a proxy configuration file, reporting every problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := proxy.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: ok, %d routes\n", args[0], len(c.Routes))
			for _, kind := range []string{proxy.Login, proxy.Registration, proxy.PasswordChange, proxy.ProfileChange, proxy.Checkout} {
				if r, ok := c.Routes[kind]; ok {
					fmt.Fprintf(stdout, "  %-16s %s %s (fail %s)\n", kind, r.Method, r.Path, r.Fail)
				}
			}
			return nil
		},
	})
	return cmd
}

// runProxy serves the proxy of cfg on ln until ctx is done, with the
// guard of cfg.Guard: remote, or started here.
func runProxy(ctx context.Context, cfg proxy.Config, ln net.Listener, getenv func(string) string, stdout, stderr io.Writer) error {
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	up, err := url.Parse(cfg.Upstream)
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	guardURL, key := cfg.Guard.URL, getenv(cfg.Guard.APIKeyEnv)
	if guardURL == "" {
		// The guard outlives the proxy's shutdown: the requests still
		// in flight while the server drains are answered.
		gctx, gcancel := context.WithCancel(context.WithoutCancel(ctx))
		defer gcancel()
		g, err := startProxyGuard(gctx, cfg.Guard, log, getenv)
		if err != nil {
			return err
		}
		defer func() { gcancel(); _ = g.Wait() }()
		guardURL, key = g.URL(), g.key
	} else if key == "" {
		return fmt.Errorf("guard.url is set but %s is empty (or give --api-key)", cfg.Guard.APIKeyEnv)
	}
	client, err := shopclient.New(shopclient.Config{BaseURL: guardURL, APIKey: key, Timeout: cfg.Guard.Timeout, Retries: -1})
	if err != nil {
		return err
	}
	p, err := proxy.New(cfg, proxy.Options{Upstream: up, Guard: client, Log: log})
	if err != nil {
		return err
	}
	go p.Run(ctx)
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "atoguard proxy on %s in front of %s (guard %s)\n", loopbackURL(ln.Addr()), cfg.Upstream, guardURL)
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// proxyGuard is a guard started in-process for the proxy, on loopback,
// with a key of its own.
type proxyGuard struct {
	*guard.Guard
	key string
}

func startProxyGuard(ctx context.Context, gc proxy.GuardConfig, log *slog.Logger, getenv func(string) string) (*proxyGuard, error) {
	cfg := config.Default()
	if gc.Config != "" {
		c, err := config.Load(gc.Config)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if gc.Config == "" || cfg.Data == config.Default().Data {
		cfg.Data = gc.Data
	}
	cfg.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("guard configuration:\n%w", err)
	}
	key := getenv(gc.APIKeyEnv)
	if key == "" {
		key = randomSecret("agk_proxy_")
	}
	g, err := guard.Start(ctx, cfg, guard.Options{Log: log, BootstrapKey: key, Getenv: getenv})
	if err != nil {
		return nil, err
	}
	return &proxyGuard{Guard: g, key: key}, nil
}

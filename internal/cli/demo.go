package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/guard"
	"github.com/atoguard/atoguard/internal/simulate"
	"github.com/atoguard/atoguard/internal/stepup"
)

type demoFlags struct {
	data           string
	guardListen    string
	shopListen     string
	accounts       int
	comboLines     int
	reuse          float64
	unknown        float64
	failMode       string
	trustedProxies string
	learn          time.Duration
	policy         string
	proxy          bool
}

func newDemo(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	f := demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the guard and the reference shop on localhost, seeded, ready to attack",
		Long: `Run the guard and the reference phone shop on localhost. The shop is
seeded with thousands of accounts, and a leaked combo list is written beside
it in which some real accounts reuse their password. The command prints the
URLs, an API key with every scope, and how to fire the attack. Ctrl-C stops
both. The guard runs on the wall clock; ATOGUARD_API_KEY, when set, is the
key (else a random one is made for this run).

With --proxy the shop makes no call to the guard at all: it runs on a
private loopback port, and atoguard proxy serves --shop-listen in front of
it, reading the login and registration forms and applying the guard's
decisions at the edge (its own step-up page, its security page for
passkeys and authenticator apps under /.atoguard/).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), f, getenv("ATOGUARD_API_KEY"), stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "./atoguard-demo", "data directory: the guard's store, the shop's database, the combo list")
	fl.StringVar(&f.guardListen, "guard-listen", "127.0.0.1:8080", "address of the guard's API")
	fl.StringVar(&f.shopListen, "shop-listen", "127.0.0.1:8081", "address of the shop")
	fl.IntVar(&f.accounts, "accounts", 5000, "accounts to seed the shop with (first start only)")
	fl.IntVar(&f.comboLines, "combo-lines", 2000, "lines of the leaked combo list (first start only)")
	fl.Float64Var(&f.reuse, "reuse", 0.2, "share of the combo list that are real accounts with their real (reused) password")
	fl.Float64Var(&f.unknown, "unknown", 0.45, "share of the combo list that name no account of the shop")
	fl.StringVar(&f.failMode, "fail-mode", "open", "what the shop does when the guard does not answer: open (allow) or closed (step up)")
	fl.StringVar(&f.trustedProxies, "trusted-proxies", "127.0.0.1/32,::1/128", "peers whose X-Forwarded-For the shop believes (CIDR list)")
	fl.StringVar(&f.policy, "policy", "", "the guard's policy file (default: the built-in policy)")
	fl.BoolVar(&f.proxy, "proxy", false, "run the shop without its own guard calls, behind atoguard proxy on --shop-listen (a shop that changes no code)")
	fl.DurationVar(&f.learn, "learn", time.Minute, "traffic the guard's campaign detector learns before it may open a campaign (serve's default is 15m)")
	return cmd
}

func randomSecret(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// demoKey returns the key the demo derives its accounts' passwords from,
// made on first start.
func demoKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "demo.key")
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key = []byte(randomSecret(""))
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("writing demo key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading demo key: %w", err)
	}
	return key, nil
}

// shopServer serves a shop on a listener until stopped.
type shopServer struct {
	URL  string
	srv  *http.Server
	done chan error
}

func serveShop(ln net.Listener, h http.Handler, log *slog.Logger) *shopServer {
	s := &shopServer{
		URL: "http://" + ln.Addr().String(), done: make(chan error, 1),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s
}

func (s *shopServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// check checks the sizes and shares of the flags.
func (f demoFlags) check() error {
	if f.accounts < 1 || f.accounts > 1_000_000 || f.comboLines < 1 || f.comboLines > 10_000_000 {
		return errors.New("--accounts and --combo-lines must be between 1 and a million (ten million for lines)")
	}
	if f.reuse < 0 || f.unknown < 0 || f.reuse+f.unknown > 1 {
		return errors.New("--reuse and --unknown are shares: each at least 0, together at most 1")
	}
	return nil
}

func runDemo(ctx context.Context, f demoFlags, apiKey string, stdout, stderr io.Writer) error {
	proxies, err := demoshop.ParseTrustedProxies(f.trustedProxies)
	if err != nil {
		return err
	}
	mode, err := client.ParseFailMode(f.failMode)
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if apiKey == "" {
		apiKey = randomSecret("agk_demo_")
	}
	started := time.Now()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The guard, on the wall clock, in DATA/guard.
	cfg := config.Default()
	cfg.Data = filepath.Join(f.data, "guard")
	cfg.Listen = f.guardListen
	cfg.Engine.Campaign.Learn = f.learn
	// The shop listens first: the guard's owner notifications go to its
	// webhook receiver, signed with a secret the two share in DATA.
	// sln is the shop's public address: the shop's own, or with --proxy
	// the proxy's, in front of the shop on a private port.
	sln, err := net.Listen("tcp", f.shopListen)
	if err != nil {
		return fmt.Errorf("listening for the shop: %w", err)
	}
	defer sln.Close() // a no-op once the shop has served and stopped
	shopLn, err := demoShopListener(f.proxy, sln)
	if err != nil {
		return err
	}
	defer shopLn.Close()
	shopURL := loopbackURL(shopLn.Addr())
	hookSecret, hookSecretFile, err := demoHookSecret(f.data)
	if err != nil {
		return err
	}
	cfg.Notify = demoNotify(shopURL, hookSecretFile)
	cfg.Policy = f.policy
	cfg.StepUp.WebAuthn = demoWebAuthn(sln.Addr())
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("guard configuration:\n%w", err)
	}
	op, err := demoOperator(ctx, cfg.Data, f.data, os.Getenv(stepup.EnvFactorKey))
	if err != nil {
		return err
	}
	gln, err := net.Listen("tcp", f.guardListen)
	if err != nil {
		return fmt.Errorf("listening for the guard: %w", err)
	}
	g, err := guard.Start(ctx, cfg, guard.Options{Log: log, Listener: gln, BootstrapKey: apiKey})
	if err != nil {
		return err
	}
	guardUp := time.Now()
	defer func() {
		cancel()
		_ = g.Wait()
	}()

	guard, err := client.New(client.Config{BaseURL: g.URL(), APIKey: apiKey, FailMode: mode})
	if err != nil {
		return err
	}
	st, err := demoshop.OpenStore(ctx, filepath.Join(f.data, "shop.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := demoKey(f.data)
	if err != nil {
		return err
	}
	shopOpts := demoshop.Options{
		Store: st, Secret: []byte(randomSecret("")), Guard: guard, Hasher: demoshop.Argon2id{P: demoshop.DemoParams},
		TrustedProxies: proxies, StepUp: demoshop.GuardStepUp{Client: guard}, Log: log, HookSecret: hookSecret, PublicURL: loopbackURL(sln.Addr()),
	}
	if f.proxy { // a shop that knows nothing of the guard
		shopOpts.Guard, shopOpts.StepUp = nil, nil
	}
	shop, err := demoshop.New(shopOpts)
	if err != nil {
		return err
	}
	accounts := simulate.DemoAccounts(f.accounts, key)
	comboPath := filepath.Join(f.data, "combo-list.txt")
	n, combo, err := seedDemo(ctx, f, st, shop, accounts, key, comboPath)
	if err != nil {
		return err
	}
	ss := serveShop(shopLn, shop.Handler(), log)
	public, proxyDone := ss, (<-chan error)(nil)
	if f.proxy {
		ps, err := serveDemoProxy(ctx, sln, ss.URL, f.trustedProxies, guard, log)
		if err != nil {
			_ = ss.stop()
			return err
		}
		defer func() { _ = ps.stop() }()
		public, proxyDone = ps, ps.done
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); shop.Run(ctx, 30*time.Second) }()
	defer func() {
		_ = ss.stop()
		cancel() // stops the sweeps, then the guard
		wg.Wait()
	}()

	if n == 0 {
		n = len(accounts)
	}
	// demo.json tells `atoguard simulate --demo` where this demo runs.
	removeState, err := writeDemoState(f.data, demoState{
		Started: started.UTC(), GuardURL: loopbackURL(gln.Addr()), ShopURL: public.URL, Accounts: n,
		ForwardedFromLoopback: forwardedFromLoopback(proxies, sln.Addr()),
		CampaignReady:         campaignReady(guardUp, cfg.TickEvery, f.learn).UTC(), Proxy: f.proxy,
	})
	if err != nil {
		return err
	}
	defer removeState()
	printDemo(stdout, shellQuote(f.data), public.URL, g.URL(), apiKey, comboPath, combo, n, accounts[0], shop, time.Since(started))
	if f.proxy {
		fmt.Fprintf(stdout, `
Behind atoguard proxy: the shop at %s makes no call to the guard. The proxy
reads its login and registration forms, denies at the door, holds a
challenged login's session cookies until its own step-up page passes, and
serves second factors for signed-in owners at http://localhost:%s/.atoguard/security
(instead of the shop's Security page).
`, ss.URL, public.URL[strings.LastIndex(public.URL, ":")+1:])
	}
	fmt.Fprintf(stdout, `
Operator dashboard: %s/ui/   (sign in as %s / %s with a TOTP code:
  oathtool --totp -b %s   or add the secret to an authenticator app; kept in %s)
`, g.URL(), op.Name, op.Password, op.TOTPSecret, filepath.Join(f.data, "operator.txt"))

	select {
	case <-ctx.Done():
	case err := <-ss.done:
		if err != nil {
			return fmt.Errorf("serving the shop: %w", err)
		}
	case err := <-proxyDone:
		if err != nil {
			return fmt.Errorf("serving the proxy: %w", err)
		}
	}
	fmt.Fprintln(stdout, "stopping the demo")
	return nil
}

// seedDemo seeds the shop and writes the combo list on the first start;
// it returns how many accounts the shop has (0 on the first start) and
// what the list holds (zero after the first start).
func seedDemo(ctx context.Context, f demoFlags, st *demoshop.Store, shop *demoshop.Shop, accounts []demoshop.SeedAccount,
	key []byte, comboPath string) (int, simulate.ComboStats, error) {
	var combo simulate.ComboStats
	n, err := st.CountAccounts(ctx)
	if err != nil || n > 0 {
		return n, combo, err
	}
	if err := shop.Seed(ctx, accounts); err != nil {
		return 0, combo, fmt.Errorf("seeding the shop: %w", err)
	}
	out, err := os.OpenFile(comboPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, combo, fmt.Errorf("writing the combo list: %w", err)
	}
	combo, err = simulate.WriteComboList(out, accounts, f.comboLines, f.reuse, f.unknown, key, uint64(time.Now().UnixNano()))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return 0, combo, err
}

func printDemo(w io.Writer, dataDir, shopURL, guardURL, apiKey, comboPath string, combo simulate.ComboStats, accounts int,
	sample demoshop.SeedAccount, shop *demoshop.Shop, took time.Duration) {
	port := shopURL[strings.LastIndex(shopURL, ":")+1:]
	host := strings.TrimPrefix(shopURL[:strings.LastIndex(shopURL, ":")], "http://")
	cookie, token := shop.FormSession()
	fmt.Fprintf(w, `atoguard demo is running (started in %s).

  Shop          %s/   (%d accounts)
  Mail outbox   %s/outbox   (every mail the shop sent, atoguard's owner notifications included)
  Guard API     %s   (clock wall)
  API key       %s   (every scope; send it as Authorization: Bearer)
  Try an owner  %s / %s

`, took.Round(100*time.Millisecond), shopURL, accounts, shopURL, guardURL, apiKey, sample.Email, sample.Password)
	fmt.Fprintf(w, "Second factors: log in at http://localhost:%s/ (passkeys need that name, not an address) and open\n  Security: a passkey, an authenticator app, recovery codes; a challenged login or order then asks for one.\n\n", port)
	if combo.Lines > 0 {
		fmt.Fprintf(w, "Leaked combo list: %s\n  %d lines: %d real accounts with their reused password, %d real accounts with a wrong one, %d unknown\n\n",
			comboPath, combo.Lines, combo.Valid, combo.WrongPassword, combo.Unknown)
	} else {
		fmt.Fprintf(w, "Leaked combo list: %s (written at the first start)\n\n", comboPath)
	}
	// hydra wants the headers (H=) before the failure condition (F=).
	form := fmt.Sprintf("/login:login=^USER^&password=^PASS^&csrf_token=%s:H=Cookie\\: %s=%s", token, demoshop.SessionCookieName, cookie)
	fmt.Fprintf(w, `Fire the attack with hydra (apt-get install hydra), a session's form token given as an attacker would copy it:
  hydra -C %s -s %s -t 4 %s http-post-form '%s:F=login-failed'
The guard denies hydra's own user agent. Posing as a browser does not help it: one address trying
many accounts is denied too, and the traffic opens an incident (the campaign detector learns the
shop's normal traffic for its first minute, see --learn):
  hydra -C %s -s %s -t 4 %s http-post-form '%s:H=User-Agent\: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36:H=Accept-Language\: ja-JP:F=login-failed'

Watch the guard:
  curl -s -H 'Authorization: Bearer %s' %s/v1/incidents
  curl -s %s/metrics | grep atoguard_decisions_total

Attack this demo (distributed credential stuffing through the shop's pages, about two minutes;
the incident shows on the dashboard's overview chart within seconds of the attack's start):
  go run ./cmd/atoguard simulate --scenario distributed --demo %s
  (with --api-key and the key above it also says when the incident opened)

Replay the 2018 attack on simulated time, guard off and on, with a report:
  go run ./cmd/atoguard simulate --scenario distributed --fast

Ctrl-C stops the demo.
`, comboPath, port, host, form, comboPath, port, host, form, apiKey, guardURL, guardURL, dataDir)
}

// Package demoshop is atoguard's reference shop: a small phone shop with
// accounts, a catalog, cart and checkout, account settings, order history
// and a mail outbox, which reports its logins, registrations, profile
// changes and orders to the guard through the public client (package client) and acts on the
// decisions.
package demoshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
)

// Guard assesses the shop's events. *client.Client is one; it returns
// its fail mode's decision along with the error when the guard gives none.
type Guard interface {
	Assess(ctx context.Context, ev client.Event) (client.Result, error)
}

var _ Guard = (*client.Client)(nil)

// ErrStepUpUnavailable is what a StepUp returns when it cannot verify any
// second factor.
var ErrStepUpUnavailable = errors.New("step-up verification is not available")

// StepUp verifies the second factor of a challenge the guard issued. The
// guard's own step-up endpoints (POST /v1/challenges/{id}/verify) are the
// intended implementation.
type StepUp interface {
	// Verify checks code for the challenge; passed reports the outcome.
	Verify(ctx context.Context, challengeID, method, code string) (passed bool, err error)
}

// NoStepUp is the StepUp of a shop that cannot verify second factors yet:
// every Verify fails with ErrStepUpUnavailable.
type NoStepUp struct{}

// Verify implements StepUp.
func (NoStepUp) Verify(context.Context, string, string, string) (bool, error) {
	return false, ErrStepUpUnavailable
}

// Options configure a Shop. Store and Secret are required; every other
// zero value is documented.
type Options struct {
	// Store is the shop's storage. Required.
	Store *Store
	// Secret keys the CSRF tokens: 32 bytes or more. Required.
	Secret []byte
	// Guard assesses events; nil means no guard: every decision is allow
	// (the "guard off" side of a simulation).
	Guard Guard
	// StepUp verifies second factors; nil means NoStepUp.
	StepUp StepUp
	// Hasher hashes passwords; nil means argon2id at ProductionParams.
	Hasher PasswordHasher
	// TrustedProxies are the direct peers whose X-Forwarded-For is
	// believed. Empty: none, the peer address is the client.
	TrustedProxies []netip.Prefix
	// SecureCookies marks cookies Secure even on plain HTTP (behind a
	// proxy that terminates TLS). Over TLS they always are.
	SecureCookies bool
	// Now is the shop's clock; nil means time.Now. The simulator drives it.
	Now func() time.Time
	// Log receives errors (never passwords); nil discards.
	Log *slog.Logger
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// StepUpTTL is how long a step-up waits when the guard gives no
	// expiry (default 5m); after it the login counts as abandoned.
	StepUpTTL time.Duration
	// HookSecret is the key the guard signs its webhooks with (POST
	// /hooks/atoguard); empty: the shop takes no webhooks.
	HookSecret []byte
	// PublicURL is the shop's address in links it mails, e.g.
	// http://127.0.0.1:8081; empty: the Host of the request that sent them.
	PublicURL string
}

// Shop is the reference shop. It is safe for concurrent use.
type Shop struct {
	opts   Options
	store  *Store
	secret []byte
	guard  Guard
	stepUp StepUp
	hasher PasswordHasher
	dummy  string // hash of a random password: checked for unknown accounts
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*pageTemplate
	mux    *http.ServeMux
	// orderSteps are the orders waiting for a step-up (orderstepup.go).
	orderSteps orderSteps
}

// New returns a shop.
func New(opts Options) (*Shop, error) {
	if opts.Store == nil {
		return nil, errors.New("demoshop: no store")
	}
	if len(opts.Secret) < 32 {
		return nil, errors.New("demoshop: secret shorter than 32 bytes")
	}
	s := &Shop{opts: opts, store: opts.Store, secret: opts.Secret, guard: opts.Guard, stepUp: opts.StepUp,
		hasher: opts.Hasher, log: opts.Log, now: opts.Now}
	if s.stepUp == nil {
		s.stepUp = NoStepUp{}
	}
	if s.hasher == nil {
		s.hasher = Argon2id{ProductionParams}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.SessionTTL <= 0 {
		s.opts.SessionTTL = 12 * time.Hour
	}
	if s.opts.StepUpTTL <= 0 {
		s.opts.StepUpTTL = 5 * time.Minute
	}
	var err error
	if s.dummy, err = s.hasher.Hash(randomToken(16)); err != nil {
		return nil, fmt.Errorf("demoshop: hashing the dummy password: %w", err)
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Handler returns the shop's HTTP handler.
func (s *Shop) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	pages := securityHeaders(s.withVisit(cop.Handler(s.checkCSRF(s.mux))))
	// The guard's webhooks carry a signature, not a session or form token.
	root := http.NewServeMux()
	root.Handle("POST "+HookPath, securityHeaders(http.HandlerFunc(s.receiveHook)))
	root.Handle("/", pages)
	return root
}

func (s *Shop) routes() {
	m := http.NewServeMux()
	m.Handle("GET /static/", http.FileServerFS(staticFS))
	m.Handle("GET /static/passkey.js", passkeyjs.Handler())
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	m.HandleFunc("GET /{$}", s.catalogPage)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)
	m.HandleFunc("GET /register", s.registerPage)
	m.HandleFunc("POST /register", s.register)
	m.HandleFunc("GET /stepup", s.stepUpPage)
	m.HandleFunc("POST /stepup/verify", s.stepUpVerify)
	m.HandleFunc("POST /stepup/cancel", s.stepUpCancel)
	m.HandleFunc("GET /account", s.accountPage)
	m.HandleFunc("POST /account", s.updateAccount)
	m.HandleFunc("GET /orders", s.ordersPage)
	m.HandleFunc("GET /cart", s.cartPage)
	m.HandleFunc("POST /cart/add", s.cartAdd)
	m.HandleFunc("POST /cart/remove", s.cartRemove)
	m.HandleFunc("GET /checkout", s.checkoutPage)
	m.HandleFunc("POST /checkout", s.checkout)
	m.HandleFunc("GET /outbox", s.outboxPage)
	s.securityRoutes(m)    // security.go: factor enrolment, passkey step-up
	s.orderStepUpRoutes(m) // orderstepup.go: step-up at checkout
	m.HandleFunc("GET /not-me/{token}", s.notMePage)
	m.HandleFunc("POST /not-me/{token}", s.notMe)
	m.HandleFunc("GET /reset-password/{token}", s.resetPage)
	m.HandleFunc("POST /reset-password/{token}", s.resetPassword)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "error.html", errorPage{Status: "not-found", JA: "ページが見つかりません。", EN: "Page not found."})
	})
	s.mux = m
}

// NormalizeEmail is how the shop compares emails and logins: Unicode NFKC
// (full-width letters become ASCII), lower case, trimmed.
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
}

// forwardedHeaders are the request headers the shop forwards to the guard
// as context.headers.
var forwardedHeaders = []string{
	"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
	"sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user", "accept",
}

// event starts an event about the current request.
func (s *Shop) event(r *http.Request, typ string) client.Event {
	v := visitOf(r)
	ev := client.Event{
		Type:       typ,
		OccurredAt: s.now().UTC(),
		RequestID:  randomHex("req-", 8),
		Context: client.Context{
			IP:             v.ip.String(),
			UserAgent:      limit(r.UserAgent(), 1024),
			AcceptLanguage: limit(r.Header.Get("Accept-Language"), 256),
			DeviceID:       v.device,
		},
	}
	for _, h := range forwardedHeaders {
		if val := r.Header.Get(h); val != "" {
			if ev.Context.Headers == nil {
				ev.Context.Headers = map[string]string{}
			}
			ev.Context.Headers[h] = limit(val, 1024)
		}
	}
	return ev
}

func limit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !isRuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 || b < 0x80 }

// assess reports ev to the guard. Without a guard every decision is allow.
func (s *Shop) assess(ctx context.Context, ev client.Event) client.Result {
	if s.guard == nil {
		return client.Result{Decision: client.Allow}
	}
	res, err := s.guard.Assess(ctx, ev)
	if err != nil {
		s.log.Warn("guard gave no decision; using the fail mode", "event", ev.Type, "decision", res.Decision, "err", err)
	}
	return res
}

// Sweep reports the step-ups that were abandoned (expired without an
// answer) as mfa.failed and forgets expired sessions. Call it now and then
// (the demo does every 30 seconds; the simulator as its clock moves).
func (s *Shop) Sweep(ctx context.Context) error {
	now := s.now()
	expired, err := s.store.expiredPending(ctx, now)
	if err != nil {
		return err
	}
	for _, se := range expired {
		ev := client.Event{
			Type: client.MFAFailed, OccurredAt: now.UTC(), RequestID: randomHex("req-", 8),
			User: &client.User{ID: se.AccountID}, SessionID: se.PublicID,
			// The abandoning client is gone; the context is the login's.
			Context:    client.Context{IP: se.IP, DeviceID: se.DeviceID},
			Properties: &client.Properties{ChallengeID: se.Challenge, Reason: "abandoned"},
		}
		s.assess(ctx, ev)
		if err := s.store.deleteSession(ctx, se.Hash); err != nil {
			return err
		}
	}
	return nil
}

// Run calls Sweep every interval until ctx is done.
func (s *Shop) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("sweeping step-ups", "err", err)
			}
		}
	}
}

// fail answers an internal error: a generic page, the cause in the log.
func (s *Shop) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, "エラーが発生しました / Something went wrong\n")
}

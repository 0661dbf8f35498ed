// Package dashboard serves the operators' web UI under /ui: sign-in with a
// password and a TOTP code, server-side sessions, CSRF tokens on every
// form, a strict Content-Security-Policy, and pages for open incidents,
// the accounts they reached (with bulk actions the shop is told of by
// signed webhook), held orders and the policy in force.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/store"
)

// Engine is what the dashboard reads from the engine.
type Engine interface {
	// Flush writes the open incidents' current counters.
	Flush(ctx context.Context) error
	// Rates returns the campaign detector's current rates and baseline.
	Rates() []campaign.Rate
	// Tests returns where the detector's slower tests (sequential,
	// strangers, first logins) stand against their thresholds.
	Tests() []campaign.Rate
	// Policy returns the policy in force.
	Policy() *policy.Policy
}

// Federation is what the dashboard shows of the guards of other shops
// (package federation's Store): the live facts received, per peer.
type Federation interface {
	Peers(now time.Time) []federation.PeerSummary
}

// Teller is what an Engine that is federated (engine.Engine) adds: how
// many facts an incident told the federation and to which peers (when
// known), and telling it that an operator ended accounts' sessions (a
// forced password reset).
type Teller interface {
	Told(incidentID string) (facts int, peers []string)
	SessionsRevoked(userIDs []string)
}

// Records are the stored records the dashboard reads and the review
// decisions it writes.
type Records interface {
	ListIncidents(ctx context.Context, state string) ([]store.Incident, error)
	GetIncident(ctx context.Context, id string) (store.Incident, error)
	ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error)
	store.ReviewStore
	store.DecisionCounter
	ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
	// ContactStore reads the owners' contact histories the engine keeps,
	// for the addresses bulk actions name.
	store.ContactStore
	// Write enqueues the notifications of bulk actions in the outbox.
	Write(ctx context.Context, b store.Batch) error
	// ListNotifications shows how far the bulk actions' delivery got.
	ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error)
}

// Operators finds operators and records the TOTP steps they used: the
// part of store.OperatorStore that sign-in needs.
type Operators interface {
	GetOperator(ctx context.Context, name string) (store.Operator, error)
	// AdvanceOperatorTOTP records step as the last accepted one if it is
	// greater than the stored one; false when it is not (a replay).
	AdvanceOperatorTOTP(ctx context.Context, name string, step int64) (bool, error)
}

// Opener opens a sealed operator TOTP secret (stepup.Keyring).
type Opener interface {
	Open(sealed, context []byte) (plaintext []byte, stale bool, err error)
}

// Clock tells the dashboard the time (clock.Clock).
type Clock interface {
	// Now is the guard's time, which stamps the rates chart's samples and
	// the bulk actions: event time under --clock event.
	Now() time.Time
	// Wall is the wall time whatever the guard's clock: sessions, sign-in
	// limits, TOTP codes, decisions on held orders.
	Wall() time.Time
}

// Deps are what the dashboard serves from, given at construction; all are
// required.
type Deps struct {
	Log       *slog.Logger
	Clock     Clock
	Engine    Engine
	Records   Records
	Operators Operators
	Opener    Opener // opens the operators' sealed TOTP secrets
	// Federation, when set, shows the facts peers sent on the overview
	// and what each incident told them; nil: federation off (optional).
	Federation Federation
}

// Config tunes the dashboard. Zero values take defaults.
type Config struct {
	SessionIdle time.Duration // a session unused this long ends (default 30m)
	SessionMax  time.Duration // a session ends this long after sign-in (default 12h)
	// SecureCookies says the dashboard's public URL is https behind a
	// TLS-terminating proxy: cookies are Secure and HSTS is sent on plain
	// HTTP requests too; requests over TLS always get both.
	SecureCookies bool
	// LoginPerMinute is how many sign-in attempts one IP address, and
	// separately one operator name, may make per minute (default 5,
	// with a burst of the same size).
	LoginPerMinute int
	// TrustedProxies are the reverse proxies in front of the dashboard:
	// from them, the client address is read from X-Forwarded-For (the
	// nearest hop that is not a trusted proxy). Empty: the peer address.
	TrustedProxies []netip.Prefix
	// Notify is the guard's notify section. The incident page's bulk
	// actions (force password reset, notify owners, freeze orders) go to
	// the webhooks that take their kinds (action.*); the zero value, or
	// no such webhook, turns them off.
	Notify notify.Config
}

// Server is the dashboard.
type Server struct {
	cfg     Config
	log     *slog.Logger
	eng     Engine
	records Records
	ops     Operators
	opener  Opener
	clock   Clock
	history history
	planner *notify.Planner // nil: no bulk actions
	fed     Federation      // nil: federation off

	sessions *sessions
	limiter  *loginLimiter
	pages    map[string]*template.Template
	assets   http.Handler
	mux      *http.ServeMux
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// New returns the dashboard of cfg on deps, or an error when a dependency
// is missing.
func New(cfg Config, deps Deps) (*Server, error) {
	for _, d := range []struct {
		name    string
		missing bool
	}{{"logger", deps.Log == nil}, {"clock", deps.Clock == nil}, {"engine", deps.Engine == nil},
		{"records", deps.Records == nil}, {"operators", deps.Operators == nil}, {"opener", deps.Opener == nil}} {
		if d.missing {
			return nil, fmt.Errorf("dashboard: no %s", d.name)
		}
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.LoginPerMinute <= 0 {
		cfg.LoginPerMinute = 5
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	var planner *notify.Planner
	if cfg.Notify.Enabled() {
		if planner, err = notify.NewPlanner(cfg.Notify); err != nil {
			return nil, err
		}
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, fmt.Errorf("dashboard assets: %w", err)
	}
	s := &Server{
		cfg: cfg, log: deps.Log, eng: deps.Engine, records: deps.Records, ops: deps.Operators, opener: deps.Opener, clock: deps.Clock, fed: deps.Federation,
		planner:  planner,
		sessions: newSessions(cfg.SessionIdle, cfg.SessionMax),
		limiter:  newLoginLimiter(cfg.LoginPerMinute, maxLimiters),
		pages:    pages,
		assets:   http.StripPrefix("/ui/assets/", http.FileServerFS(sub)),
		mux:      http.NewServeMux(),
	}
	h := func(f handlerFunc) http.Handler { return s.adapt(f) }
	auth := func(f handlerFunc) http.Handler { return s.adapt(s.requireSession(f)) }
	s.mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusSeeOther))
	s.mux.Handle("GET /ui/{$}", auth(s.overview))
	s.mux.Handle("GET /ui/login", h(s.loginPage))
	s.mux.Handle("POST /ui/login", h(s.login))
	s.mux.Handle("POST /ui/logout", auth(s.logout))
	s.mux.Handle("GET /ui/incidents/{id}", auth(s.incidentPage))
	s.mux.Handle("GET /ui/incidents/{id}/accounts.csv", auth(s.incidentCSV))
	s.mux.Handle("POST /ui/incidents/{id}/actions", auth(s.bulkAct))
	s.mux.Handle("GET /ui/reviews", auth(s.reviewsPage))
	s.mux.Handle("POST /ui/reviews/{id}", auth(s.decideReview))
	s.mux.Handle("GET /ui/policy", auth(s.policyPage))
	s.mux.Handle("GET /ui/accounts/{account}", auth(s.accountPage))
	s.mux.Handle("GET /ui/rates.json", auth(s.ratesJSON))
	s.mux.Handle("GET /ui/assets/", http.HandlerFunc(s.serveAsset))
	s.mux.Handle("/ui/", h(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{status: http.StatusNotFound, msg: "no such page / ページがありません"}
	}))
	return s, nil
}

// Handler returns the dashboard's handler; it serves paths under /ui.
func (s *Server) Handler() http.Handler { return s.securityHeaders(s.mux) }

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	s.assets.ServeHTTP(w, r)
}

// contentSecurityPolicy allows nothing but the dashboard's own scripts,
// styles and images: no inline script or style, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// hsts is the Strict-Transport-Security of a dashboard on https: a year.
const hsts = "max-age=31536000"

// securityHeaders sets the headers every dashboard response carries; HSTS
// when the dashboard is on https (served over TLS, or SecureCookies).
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.secure(r) {
			h.Set("Strict-Transport-Security", hsts)
		}
		if !isAsset(r) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func isAsset(r *http.Request) bool {
	return len(r.URL.Path) > len("/ui/assets/") && r.URL.Path[:len("/ui/assets/")] == "/ui/assets/"
}

// httpError is an error with the status and the text shown to the
// operator; cause is logged, never shown.
type httpError struct {
	status int
	msg    string
	cause  error
}

func writeJSONBody(w http.ResponseWriter, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, _ = w.Write(data)
	return nil
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.cause }

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt turns a handlerFunc into an http.Handler: an *httpError is shown
// with its status; any other error becomes a 500 whose cause is logged.
func (s *Server) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: http.StatusInternalServerError, msg: "internal error / 内部エラー", cause: err}
		}
		level := slog.LevelInfo
		if he.status >= 500 {
			level = slog.LevelError
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", he.status}
		if he.cause != nil {
			attrs = append(attrs, "cause", he.cause.Error())
		}
		s.log.Log(r.Context(), level, "dashboard request failed", attrs...)
		s.render(w, r, he.status, "error", map[string]any{"Status": he.status, "Message": he.msg})
	})
}

// Package api serves atoguard's HTTP API (docs/api.md): API keys with
// scopes, strict validation answered with RFC 9457 problem JSON, events,
// incidents, health and Prometheus metrics.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/incidentview"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
)

// Assessor assesses events.
type Assessor interface {
	AssessBatch(ctx context.Context, evs []event.Event) ([]engine.Result, error)
	Flush(ctx context.Context) error
	OpenIncidents() int
	SourceSizes() map[string]int
}

// Records are the stored records the API reads.
type Records interface {
	KeyStore
	ListIncidents(ctx context.Context, state string) ([]store.Incident, error)
	GetIncident(ctx context.Context, id string) (store.Incident, error)
	ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error)
	store.ReviewStore
	Ping(ctx context.Context) error
}

// Config tunes the API. Zero values take defaults.
type Config struct {
	MaxBodyBytes int64  `yaml:"max_body_bytes"` // default 64 KiB
	MaxBatch     int    `yaml:"max_batch"`      // events per batch, default 1000
	BootstrapKey string `yaml:"-"`              // ATOGUARD_API_KEY: a key with every scope
	// QuotaPerSecond limits each API key to this many /v1 requests per
	// second (a batch counts once); over it the answer is 429 with
	// Retry-After. Zero: unlimited.
	QuotaPerSecond float64 `yaml:"quota_per_second"`
	QuotaBurst     int     `yaml:"quota_burst"` // requests allowed at once (default: one second's worth)
	// MaxBatchBodyBytes bounds the body of /v1/events:batch, sized so
	// that a full batch fits (default 4 KiB per event of max_batch).
	MaxBatchBodyBytes int64 `yaml:"max_batch_body_bytes"`
	// RangePerSecond limits each client address to this many /range
	// requests per second (default 20, burst twice that), so padded
	// answers cannot starve the event API.
	RangePerSecond float64 `yaml:"range_per_second"`
	// InternalToken, when set, lets a request with "Authorization: Bearer
	// <token>" read /metrics and the components of /readyz from anywhere;
	// without it they are served to loopback clients only (others get
	// 403, and /readyz its status alone). Set it from a file or the
	// environment (ATOGUARD_INTERNAL_TOKEN), not in the config file.
	InternalToken string `yaml:"-"`
	// MaxFutureSkew is how far ahead of the guard's wall clock an event's
	// occurred_at may lie (a shop's clock running fast); an event further
	// ahead is refused with 400. Default 5m.
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
}

// DefaultMaxFutureSkew is what Config.MaxFutureSkew 0 means.
const DefaultMaxFutureSkew = 5 * time.Minute

// Server is the HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	engine  Assessor
	records Records
	keys    *keyring
	quota   *quotas
	ready   func() bool
	wall    func() time.Time
	mux     *router
	stepup  *stepup.Service // nil: no step-up routes
	health  []HealthCheck
	// recordsOptional: an unreachable store degrades /readyz (journaled)
	recordsOptional bool

	events    *prometheus.CounterVec
	decisions *prometheus.CounterVec
	latency   prometheus.Histogram
}

// Deps are what the API serves from, given at construction. Log, Engine
// and Records are required; the rest are optional.
type Deps struct {
	Log     *slog.Logger
	Engine  Assessor
	Records Records
	// Ready reports whether the guard takes events (for /readyz); nil
	// means always.
	Ready func() bool
	// Wall is the guard's wall clock, which no event's occurred_at may
	// lie more than Config.MaxFutureSkew ahead of; nil means time.Now.
	Wall func() time.Time
	// StepUp serves the step-up challenge and factor enrolment endpoints
	// of docs/api.md; nil: those routes answer 404.
	StepUp *stepup.Service
	// Ranges answers GET /range/{prefix} like the Pwned Passwords
	// k-anonymity API (no API key, like that API), so HIBP clients can
	// point at the guard; nil: the route answers 404.
	Ranges breach.Ranger
	// Health are the parts the guard can answer without (Redis joining
	// the instances, the journal standing in for PostgreSQL): when one's
	// check says it is not ok, /readyz answers 200 with status "degraded"
	// and the part's detail.
	Health []HealthCheck
	// Collectors are more metrics served on /metrics with the API's own
	// (the journal's, Redis's, the notification dispatcher's).
	Collectors []prometheus.Collector
	// Routes are more routes served with the API's (the Shared Signals
	// endpoints of package ssf).
	Routes []Route
	// RecordsOptional makes an unreachable store degrade /readyz instead
	// of failing it: the guard journals its records meanwhile (package
	// journal).
	RecordsOptional bool
}

// Route is a route another package serves through the API. With Scope
// set, only a request whose API key carries that scope reaches Serve
// (401 or 403 problem JSON otherwise, the key's quota applying), which is
// given the key's name; without, Serve gets every request and "".
type Route struct {
	Pattern string // http.ServeMux pattern with a method
	Scope   string
	Serve   func(w http.ResponseWriter, r *http.Request, keyName string)
}

// HealthCheck is a part of the guard /readyz reports on; one that is not
// ok leaves the guard answering, degraded.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) (ok bool, detail any)
}

// New returns the API server of cfg on deps, or an error when a required
// dependency is missing.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case deps.Log == nil:
		return nil, errors.New("api: no logger")
	case deps.Engine == nil:
		return nil, errors.New("api: no engine")
	case deps.Records == nil:
		return nil, errors.New("api: no records")
	}
	ready := deps.Ready
	if ready == nil {
		ready = func() bool { return true }
	}
	log, eng, records := deps.Log, deps.Engine, deps.Records
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxBatchBodyBytes <= 0 {
		cfg.MaxBatchBodyBytes = max(cfg.MaxBodyBytes, int64(cfg.MaxBatch)*4<<10)
	}
	if cfg.RangePerSecond <= 0 {
		cfg.RangePerSecond = 20
	}
	if cfg.MaxFutureSkew <= 0 {
		cfg.MaxFutureSkew = DefaultMaxFutureSkew
	}
	wall := deps.Wall
	if wall == nil {
		wall = time.Now
	}
	s := &Server{
		cfg: cfg, log: log, engine: eng, records: records, ready: ready, wall: wall,
		health: deps.Health, recordsOptional: deps.RecordsOptional,
		keys:  newKeyring(cfg.BootstrapKey, records),
		quota: newQuotas(cfg.QuotaPerSecond, cfg.QuotaBurst),
		mux:   newRouter(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atoguard_events_total", Help: "Events assessed, by type.",
		}, []string{"type"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atoguard_decisions_total", Help: "Decisions given, by decision.",
		}, []string{"decision"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "atoguard_assess_duration_seconds", Help: "Time to assess and durably record an event request.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.events, s.decisions, s.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "atoguard_open_incidents", Help: "Incidents open now."},
			func() float64 { return float64(eng.OpenIncidents()) }),
	)
	reg.MustRegister(deps.Collectors...)
	reg.MustRegister(&sizeCollector{eng: eng, desc: prometheus.NewDesc("atoguard_source_keys", "Keys held per kind of source (bounded).", []string{"kind"}, nil)})

	h := func(f handlerFunc) http.Handler { return adapt(log, f) }
	s.mux.Handle("POST /v1/events", h(s.requireScope(store.ScopeEvents, s.postEvent)))
	s.mux.Handle("POST /v1/events:batch", h(s.requireScope(store.ScopeEvents, s.postBatch)))
	s.mux.Handle("GET /v1/incidents", h(s.requireScope(store.ScopeAdmin, s.listIncidents)))
	s.mux.Handle("GET /v1/incidents/{id}", h(s.requireScope(store.ScopeAdmin, s.getIncident)))
	s.mux.Handle("GET /v1/incidents/{id}/accounts", h(s.requireScope(store.ScopeAdmin, s.incidentAccounts)))
	s.mux.Handle("GET /v1/reviews", h(s.requireScope(store.ScopeAdmin, s.listReviews)))
	s.mux.Handle("GET /v1/reviews/{id}", h(s.requireScope(store.ScopeAdmin, s.getReview)))
	s.mux.Handle("POST /v1/reviews/{id}", h(s.requireScope(store.ScopeAdmin, s.decideReview)))
	s.mux.Handle("/", h(func(w http.ResponseWriter, r *http.Request) error {
		return problem(http.StatusNotFound, "not-found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_ = writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.Handle("GET /readyz", h(s.readyz))
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	s.mux.Handle("GET /metrics", h(func(w http.ResponseWriter, r *http.Request) error {
		if !s.internal(r) {
			return problem(http.StatusForbidden, "forbidden", "metrics are served to loopback clients or with the internal token")
		}
		metrics.ServeHTTP(w, r)
		return nil
	}))
	s.serveProfiles()
	if deps.Ranges != nil {
		s.serveRanges(deps.Ranges)
	}
	for _, rt := range deps.Routes {
		s.serveRoute(rt)
	}
	if deps.StepUp != nil {
		s.serveStepUp(deps.StepUp)
	}
	return s, nil
}

// serveRoute serves rt (Deps.Routes).
func (s *Server) serveRoute(rt Route) {
	if rt.Scope == "" {
		s.mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) { rt.Serve(w, r, "") })
		return
	}
	s.mux.Handle(rt.Pattern, adapt(s.log, s.requireScope(rt.Scope, func(w http.ResponseWriter, r *http.Request) error {
		key, _ := r.Context().Value(ctxKey{}).(store.APIKey)
		rt.Serve(w, r, key.Name)
		return nil
	})))
}

// serveRanges answers GET /range/{prefix} from src (Deps.Ranges).
func (s *Server) serveRanges(src breach.Ranger) {
	rh := &breach.RangeHandler{Source: src}
	perIP := newQuotas(s.cfg.RangePerSecond, int(2*s.cfg.RangePerSecond))
	s.mux.Handle("GET /range/{prefix}", adapt(s.log, func(w http.ResponseWriter, r *http.Request) error {
		if wait := perIP.take(peerAddr(r), time.Now()); wait > 0 {
			p := problem(http.StatusTooManyRequests, "rate-limited", fmt.Sprintf("over %g range requests per second from this address", s.cfg.RangePerSecond))
			p.RetryAfter = int(math.Ceil(wait.Seconds()))
			return p
		}
		err := rh.Serve(w, r)
		if re, ok := breach.IsRequestError(err); ok {
			p := problem(http.StatusBadRequest, "invalid-field", re.Detail)
			p.Field = re.Field
			return p
		}
		return err
	}))
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.mux }

type sizeCollector struct {
	eng  Assessor
	desc *prometheus.Desc
}

func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range c.eng.SourceSizes() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), kind)
	}
}

type componentStatus struct {
	Status string `json:"status"` // ok or degraded
	Detail any    `json:"detail,omitempty"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if !s.ready() {
		return problem(http.StatusServiceUnavailable, "not-ready", "starting")
	}
	status := "ready"
	var parts map[string]componentStatus
	if err := s.records.Ping(ctx); err != nil {
		if !s.recordsOptional {
			p := problem(http.StatusServiceUnavailable, "not-ready", "store unreachable")
			p.Cause = err
			return p
		}
		status = "degraded"
		parts = map[string]componentStatus{"records": {Status: "degraded", Detail: "store unreachable; records are journaled locally"}}
	}
	for _, h := range s.health {
		ok, detail := h.Check(ctx)
		if parts == nil {
			parts = map[string]componentStatus{}
		}
		cs := componentStatus{Status: "ok", Detail: detail}
		if !ok {
			cs.Status, status = "degraded", "degraded"
		}
		parts[h.Name] = cs
	}
	body := map[string]any{"status": status}
	if parts != nil && s.internal(r) {
		body["components"] = parts
	}
	return writeJSON(w, http.StatusOK, body)
}

// readBody enforces the content type and the body limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return s.readBodyUpTo(w, r, s.cfg.MaxBodyBytes)
}

// readBodyUpTo enforces the content type and the body limit limit.
func (s *Server) readBodyUpTo(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" { // the common case, without parsing
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Type must be application/json")
		}
	}
	data, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, problem(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("body is larger than %d bytes", limit))
	case err != nil:
		return nil, problem(http.StatusBadRequest, "invalid-body", "reading body: "+err.Error())
	}
	return data, nil
}

// readAll is io.ReadAll with a first buffer of the announced length
// (when it is within limit), so that a body is read in one allocation.
func readAll(r io.Reader, announced, limit int64) ([]byte, error) {
	if announced <= 0 || announced > limit {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, announced+1) // +1: room to see the end without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than announced: grow as io.ReadAll does
		}
	}
}

func invalid(err error) error {
	var fe *event.FieldError
	if errors.As(err, &fe) {
		p := problem(http.StatusBadRequest, "invalid-field", fe.Detail)
		p.Field = fe.Field
		if fe.Field == "" {
			p.Type = "about:blank#invalid-json"
		}
		return p
	}
	return problem(http.StatusBadRequest, "invalid-json", err.Error())
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	ev, err := event.Decode(data)
	if err == nil {
		err = ev.CheckFuture(s.wall(), s.cfg.MaxFutureSkew)
	}
	if err != nil {
		return invalid(err)
	}
	rs, err := s.assess(r.Context(), []event.Event{ev})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resultJSON(rs[0]))
}

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBodyUpTo(w, r, s.cfg.MaxBatchBodyBytes)
	if err != nil {
		return err
	}
	// Every event is checked before any is assessed: one bad event
	// refuses its request, never a write shared with other requests.
	evs, err := event.DecodeBatch(data, s.cfg.MaxBatch)
	if err == nil {
		err = event.CheckBatchFuture(evs, s.wall(), s.cfg.MaxFutureSkew)
	}
	if err != nil {
		return invalid(err)
	}
	rs, err := s.assess(r.Context(), evs)
	if err != nil {
		return err
	}
	out := make([]result, len(rs))
	for i := range rs {
		out[i] = resultJSON(rs[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

func (s *Server) assess(ctx context.Context, evs []event.Event) ([]engine.Result, error) {
	start := time.Now()
	rs, err := s.engine.AssessBatch(ctx, evs)
	if err != nil {
		p := problem(http.StatusServiceUnavailable, "not-ready", "the event could not be recorded; retry")
		p.RetryAfter = 1
		p.Cause = err
		return nil, p
	}
	s.latency.Observe(time.Since(start).Seconds())
	for i := range rs {
		s.events.WithLabelValues(string(evs[i].Type)).Inc()
		s.decisions.WithLabelValues(string(rs[i].Decision)).Inc()
	}
	return rs, nil
}

type result struct {
	EventID    string     `json:"event_id"`
	Decision   string     `json:"decision"`
	Risk       int        `json:"risk"`
	Reasons    any        `json:"reasons"`
	Challenge  *challenge `json:"challenge,omitempty"`
	IncidentID string     `json:"incident_id,omitempty"`
	ReviewID   string     `json:"review_id,omitempty"` // decision review: the held order's review
	Actions    []string   `json:"actions,omitempty"`   // e.g. require_password_change
}

type challenge struct {
	ID        string    `json:"id"`
	Methods   []string  `json:"methods"`
	ExpiresAt time.Time `json:"expires_at"`
}

func resultJSON(r engine.Result) result {
	out := result{EventID: r.EventID, Decision: string(r.Decision), Risk: r.Risk, Reasons: r.Reasons, IncidentID: r.IncidentID, ReviewID: r.ReviewID, Actions: r.Actions}
	if r.Challenge != nil {
		out.Challenge = &challenge{ID: r.Challenge.ID, Methods: r.Challenge.Methods, ExpiresAt: r.Challenge.ExpiresAt}
	}
	return out
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) error {
	state := r.URL.Query().Get("state")
	if state != "" && state != store.IncidentOpen && state != store.IncidentClosed {
		p := problem(http.StatusBadRequest, "invalid-field", "state must be open or closed")
		p.Field = "state"
		return p
	}
	if err := s.engine.Flush(r.Context()); err != nil {
		return fmt.Errorf("flushing incident: %w", err)
	}
	incs, err := s.records.ListIncidents(r.Context(), state)
	if err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	out := make([]incidentview.Incident, len(incs))
	for i := range incs {
		out[i] = incident.View(incs[i])
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) incident(ctx context.Context, id string) (store.Incident, error) {
	if err := s.engine.Flush(ctx); err != nil {
		return store.Incident{}, fmt.Errorf("flushing incident: %w", err)
	}
	inc, err := s.records.GetIncident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Incident{}, problem(http.StatusNotFound, "not-found", fmt.Sprintf("no incident %q", id))
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("loading incident: %w", err)
	}
	return inc, nil
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) error {
	inc, err := s.incident(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, incident.View(inc))
}

type accountJSON struct {
	Account   string    `json:"account"`
	Known     bool      `json:"known"`
	Outcome   string    `json:"outcome"`
	Attempts  int64     `json:"attempts"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

func (s *Server) incidentAccounts(w http.ResponseWriter, r *http.Request) error {
	inc, err := s.incident(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	accts, err := s.records.ListIncidentAccounts(r.Context(), inc.ID)
	if err != nil {
		return fmt.Errorf("listing incident accounts: %w", err)
	}
	out := make([]accountJSON, len(accts))
	for i, a := range accts {
		out[i] = accountJSON{a.Account, a.Known, a.Outcome, a.Attempts, a.FirstSeen, a.LastSeen}
	}
	return writeJSON(w, http.StatusOK, out)
}

// internal reports whether r may read the guard's internals (/metrics,
// the components of /readyz): from a loopback client, or with the
// internal token.
func (s *Server) internal(r *http.Request) bool {
	if a, err := netip.ParseAddr(peerAddr(r)); err == nil && a.Unmap().IsLoopback() {
		return true
	}
	if s.cfg.InternalToken == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.cfg.InternalToken)) == 1
}

// peerAddr is the address of the connection's peer.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

const (
	bootstrapSecret = "boot-secret-for-tests"
	eventsSecret    = "agk_events_only_secret"
	adminSecret     = "agk_admin_only_secret"
	disabledSecret  = "agk_disabled_secret"
	// passwordSHA1 is the SHA-1 of "password", as a shop would send it.
	passwordSHA1 = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// lockedBuffer is a bytes.Buffer safe for the server's log and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a real API server on a real engine and the memory store.
type fixture struct {
	handler http.Handler
	store   *memory.Store
	ready   *atomic.Bool
	log     *lockedBuffer
}

type options struct {
	cfg     api.Config
	writer  engine.Writer // nil: the memory store
	records api.Records   // nil: the memory store
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	st := memory.New()
	ctx := context.Background()
	for _, k := range []struct {
		id, name, secret string
		scopes           []string
		disabled         bool
	}{
		{"key_events", "shop", eventsSecret, []string{store.ScopeEvents}, false},
		{"key_admin", "ops", adminSecret, []string{store.ScopeAdmin}, false},
		{"key_disabled", "old", disabledSecret, []string{store.ScopeEvents, store.ScopeAdmin}, true},
	} {
		sum := sha256.Sum256([]byte(k.secret))
		if err := st.PutKey(ctx, store.APIKey{ID: k.id, Name: k.name, Hash: sum[:], Scopes: k.scopes, CreatedAt: t0, Disabled: k.disabled}); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	var w engine.Writer = st
	if o.writer != nil {
		w = o.writer
	}
	var records api.Records = st
	if o.records != nil {
		records = o.records
	}
	eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: st, Writer: w, Key: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	logBuf := &lockedBuffer{}
	srv, err := api.New(o.cfg, api.Deps{Log: slog.New(slog.NewTextHandler(logBuf, nil)), Engine: eng, Records: records, Ready: ready.Load})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{handler: validated(t, srv.Handler()), store: st, ready: &ready, log: logBuf}
}

type request struct {
	method, path string
	headers      map[string]string
	body         string
}

// do serves one request; a nil headers map means a JSON body sent with the
// bootstrap key.
func (f *fixture) do(t *testing.T, r request) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	h := r.headers
	if h == nil {
		h = map[string]string{"Authorization": "Bearer " + bootstrapSecret, "Content-Type": "application/json"}
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func bearer(secret string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "application/json"}
}

type obj = map[string]any

// baseEvent is a well-formed login.succeeded event.
func baseEvent() obj {
	return obj{
		"type":        "login.succeeded",
		"occurred_at": t0.Format(time.RFC3339),
		"request_id":  "req-1",
		"login":       "Taro.Yamada@Example.jp",
		"user":        obj{"id": "u-1042", "email": "taro.yamada@example.jp"},
		"session_id":  "s-77aa",
		"context": obj{
			"ip":              "203.0.113.7",
			"user_agent":      "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
			"accept_language": "ja-JP,ja;q=0.9",
			"device_id":       "d-5f0c9e",
		},
	}
}

// eventJSON returns baseEvent changed by edit, as JSON.
func eventJSON(edit func(m obj)) string {
	m := baseEvent()
	if edit != nil {
		edit(m)
	}
	return mustJSON(m)
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

func batchJSON(events ...string) string {
	raw := make([]json.RawMessage, len(events))
	for i, e := range events {
		raw[i] = json.RawMessage(e)
	}
	return mustJSON(obj{"events": raw})
}

type problemJSON struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

func TestErrors(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{MaxBodyBytes: 2048, MaxBatchBodyBytes: 2048, MaxBatch: 3, BootstrapKey: bootstrapSecret}})
	jsonOnly := map[string]string{"Content-Type": "application/json"}
	boot := bearer(bootstrapSecret)
	good := eventJSON(nil)

	tests := []struct {
		name    string
		req     request
		status  int
		typ     string // suffix after about:blank#
		field   string
		noEcho  string // must not appear in the body (case-insensitive)
		wantLog bool
	}{
		{name: "no authorization", req: request{"POST", "/v1/events", jsonOnly, good}, status: 401, typ: "unauthorized"},
		{name: "not bearer", req: request{"POST", "/v1/events", map[string]string{"Authorization": "Basic " + bootstrapSecret, "Content-Type": "application/json"}, good}, status: 401, typ: "unauthorized"},
		{name: "empty bearer", req: request{"POST", "/v1/events", map[string]string{"Authorization": "Bearer   ", "Content-Type": "application/json"}, good}, status: 401, typ: "unauthorized"},
		{name: "unknown key", req: request{"POST", "/v1/events", bearer("agk_nobody"), good}, status: 401, typ: "unauthorized", noEcho: "agk_nobody"},
		{name: "disabled key", req: request{"POST", "/v1/events", bearer(disabledSecret), good}, status: 401, typ: "unauthorized"},
		{name: "events key lists incidents", req: request{"GET", "/v1/incidents", bearer(eventsSecret), ""}, status: 403, typ: "forbidden"},
		{name: "events key reads incident accounts", req: request{"GET", "/v1/incidents/inc_x/accounts", bearer(eventsSecret), ""}, status: 403, typ: "forbidden"},
		{name: "admin key posts event", req: request{"POST", "/v1/events", bearer(adminSecret), good}, status: 403, typ: "forbidden"},
		{name: "admin key posts batch", req: request{"POST", "/v1/events:batch", bearer(adminSecret), batchJSON(good)}, status: 403, typ: "forbidden"},
		{name: "text/plain", req: request{"POST", "/v1/events", map[string]string{"Authorization": "Bearer " + bootstrapSecret, "Content-Type": "text/plain"}, good}, status: 415, typ: "unsupported-media-type"},
		{name: "no content type", req: request{"POST", "/v1/events", map[string]string{"Authorization": "Bearer " + bootstrapSecret}, good}, status: 415, typ: "unsupported-media-type"},
		{name: "json with charset", req: request{"POST", "/v1/events", map[string]string{"Authorization": "Bearer " + bootstrapSecret, "Content-Type": "application/json; charset=utf-8"}, "{"}, status: 400, typ: "invalid-json"},
		{name: "body too large", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["context"].(obj)["user_agent"] = strings.Repeat("a", 4000) })}, status: 413, typ: "body-too-large"},
		{name: "batch too large", req: request{"POST", "/v1/events:batch", boot, batchJSON(good, eventJSON(func(m obj) { m["context"].(obj)["user_agent"] = strings.Repeat("a", 1000) }), eventJSON(func(m obj) { m["context"].(obj)["user_agent"] = strings.Repeat("b", 1000) }))}, status: 413, typ: "body-too-large"},
		{name: "invalid json", req: request{"POST", "/v1/events", boot, `{"type": "login.succeeded",`}, status: 400, typ: "invalid-json"},
		{name: "empty body", req: request{"POST", "/v1/events", boot, ""}, status: 400, typ: "invalid-json"},
		{name: "not an object", req: request{"POST", "/v1/events", boot, `[1, 2]`}, status: 400, typ: "invalid-json"},
		{name: "trailing data", req: request{"POST", "/v1/events", boot, good + ` {}`}, status: 400, typ: "invalid-json"},
		{name: "syntax error does not echo", req: request{"POST", "/v1/events", boot, `{"type": "login.succeeded", "credential": {"password_sha1": hunter2}}`}, status: 400, typ: "invalid-json", noEcho: "hunter2"},
		{name: "unknown event type", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["type"] = "login.teleported" })}, status: 400, typ: "invalid-field", field: "type"},
		{name: "missing type", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { delete(m, "type") })}, status: 400, typ: "invalid-field", field: "type"},
		{name: "bad ip", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["context"].(obj)["ip"] = "203.0.113.300" })}, status: 400, typ: "invalid-field", field: "context.ip"},
		{name: "missing ip", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { delete(m["context"].(obj), "ip") })}, status: 400, typ: "invalid-field", field: "context.ip"},
		{name: "missing context", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { delete(m, "context") })}, status: 400, typ: "invalid-field", field: "context"},
		{name: "bad time", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["occurred_at"] = "25/11/2026 10:00" })}, status: 400, typ: "invalid-field", field: "occurred_at"},
		{name: "time without zone", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["occurred_at"] = "2026-11-25T10:00:00" })}, status: 400, typ: "invalid-field", field: "occurred_at"},
		{name: "time beyond the stores", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["occurred_at"] = "2999-01-01T00:00:00Z" })}, status: 400, typ: "invalid-field", field: "occurred_at"},
		{name: "time an hour ahead of the guard", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["occurred_at"] = time.Now().Add(time.Hour).Format(time.RFC3339) })}, status: 400, typ: "invalid-field", field: "occurred_at"},
		{name: "batch with a time ahead of the guard", req: request{"POST", "/v1/events:batch", boot, batchJSON(good, eventJSON(func(m obj) { m["occurred_at"] = time.Now().Add(time.Hour).Format(time.RFC3339) }))}, status: 400, typ: "invalid-field", field: "events[1].occurred_at"},
		{name: "number for string", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["login"] = 5 })}, status: 400, typ: "invalid-field", field: "login"},
		{name: "object for string", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["context"].(obj)["user_agent"] = obj{"a": 1} })}, status: 400, typ: "invalid-field", field: "context.user_agent"},
		{name: "string for object", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["user"] = "u-1042" })}, status: 400, typ: "invalid-field", field: "user"},
		{name: "unknown top-level field", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["colour"] = "blue" })}, status: 400, typ: "invalid-field", field: "colour"},
		{name: "unknown nested field", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["context"].(obj)["ipv4"] = "1.2.3.4" })}, status: 400, typ: "invalid-field", field: "context.ipv4"},
		{name: "clear password refused", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["password"] = "hunter2" })}, status: 400, typ: "invalid-field", field: "password", noEcho: "hunter2"},
		{name: "bad password digest not echoed", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["credential"] = obj{"password_sha1": "hunter2hunter2hunter2hunter2hunter2hunte"} })}, status: 400, typ: "invalid-field", field: "credential.password_sha1", noEcho: "hunter2"},
		{name: "login.succeeded without user.id", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { delete(m, "user") })}, status: 400, typ: "invalid-field", field: "user.id"},
		{name: "login.failed without login", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["type"] = "login.failed"; delete(m, "login") })}, status: 400, typ: "invalid-field", field: "login"},
		{name: "order.attempt without order", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["type"] = "order.attempt" })}, status: 400, typ: "invalid-field", field: "properties.order"},
		{name: "profile.updated without fields", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["type"] = "profile.updated" })}, status: 400, typ: "invalid-field", field: "properties.fields"},
		{name: "mfa.failed without user", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["type"] = "mfa.failed"; delete(m, "user") })}, status: 400, typ: "invalid-field", field: "user.id"},
		{name: "bad failure reason", req: request{"POST", "/v1/events", boot, eventJSON(func(m obj) { m["type"] = "login.failed"; m["properties"] = obj{"reason": "forgot"} })}, status: 400, typ: "invalid-field", field: "properties.reason"},
		{name: "batch with a bad event", req: request{"POST", "/v1/events:batch", boot, batchJSON(good, eventJSON(func(m obj) { m["context"].(obj)["ip"] = "not-an-ip" }))}, status: 400, typ: "invalid-field", field: "events[1].context.ip"},
		{name: "batch with a bad type", req: request{"POST", "/v1/events:batch", boot, batchJSON(good, good, eventJSON(func(m obj) { m["type"] = 7 }))}, status: 400, typ: "invalid-field", field: "events[2].type"},
		{name: "batch over max", req: request{"POST", "/v1/events:batch", boot, batchJSON(good, good, good, good)}, status: 400, typ: "invalid-field", field: "events"},
		{name: "empty batch", req: request{"POST", "/v1/events:batch", boot, `{"events": []}`}, status: 400, typ: "invalid-field", field: "events"},
		{name: "batch without events", req: request{"POST", "/v1/events:batch", boot, `{}`}, status: 400, typ: "invalid-field", field: "events"},
		{name: "batch of a single event", req: request{"POST", "/v1/events:batch", boot, good}, status: 400, typ: "invalid-field", field: "context"},
		{name: "unknown incident", req: request{"GET", "/v1/incidents/inc_nope", boot, ""}, status: 404, typ: "not-found"},
		{name: "accounts of unknown incident", req: request{"GET", "/v1/incidents/inc_nope/accounts", boot, ""}, status: 404, typ: "not-found"},
		{name: "bogus incident state", req: request{"GET", "/v1/incidents?state=bogus", boot, ""}, status: 400, typ: "invalid-field", field: "state"},
		{name: "unknown v1 route", req: request{"GET", "/v1/nothing-here", boot, ""}, status: 404, typ: "not-found"},
		{name: "unknown v1 route without key", req: request{"POST", "/v1/teleport", jsonOnly, "{}"}, status: 404, typ: "not-found"},
		{name: "wrong method on events", req: request{"GET", "/v1/events", boot, ""}, status: 404, typ: "not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.req)
			if rec.Code >= 500 {
				t.Fatalf("status %d for bad input; body %s", rec.Code, rec.Body)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/problem+json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			body := rec.Body.String()
			var got problemJSON
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q is not problem JSON: %v", body, err)
			}
			want := problemJSON{
				Type: "about:blank#" + tt.typ, Title: http.StatusText(tt.status), Status: tt.status,
				Detail: got.Detail, Field: tt.field,
			}
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			if got.Detail == "" {
				t.Error("detail is empty")
			}
			if tt.field != "" && !strings.HasPrefix(got.Detail, tt.field) {
				t.Errorf("detail %q does not name the field %q", got.Detail, tt.field)
			}
			if tt.noEcho != "" && strings.Contains(strings.ToLower(body), strings.ToLower(tt.noEcho)) {
				t.Errorf("body repeats %q: %s", tt.noEcho, body)
			}
		})
	}
	if n, err := f.store.CountAudit(context.Background()); err != nil || n != 0 {
		t.Errorf("CountAudit after rejected requests = %d, %v; want 0", n, err)
	}
}

type resultJSON struct {
	EventID   string          `json:"event_id"`
	Decision  string          `json:"decision"`
	Risk      *int            `json:"risk"`
	Reasons   json.RawMessage `json:"reasons"`
	Challenge *struct {
		ID        string    `json:"id"`
		Methods   []string  `json:"methods"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"challenge"`
	IncidentID string `json:"incident_id"`
}

func (r resultJSON) reasonCodes(t *testing.T) []string {
	t.Helper()
	var rs []policy.Reason
	if err := json.Unmarshal(r.Reasons, &rs); err != nil {
		t.Fatalf("reasons %s: %v", r.Reasons, err)
	}
	codes := []string{}
	for _, x := range rs {
		codes = append(codes, x.Code)
	}
	return codes
}

// checkResult checks the shape every event answer has.
func checkResult(t *testing.T, r resultJSON) {
	t.Helper()
	if !strings.HasPrefix(r.EventID, "ev_") {
		t.Errorf("event_id = %q, want ev_...", r.EventID)
	}
	switch r.Decision {
	case "allow", "challenge", "deny", "review":
	default:
		t.Errorf("decision = %q", r.Decision)
	}
	if r.Risk == nil || *r.Risk < 0 || *r.Risk > 100 {
		t.Errorf("risk = %v, want 0-100", r.Risk)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(r.Reasons), []byte("[")) {
		t.Errorf("reasons = %s, want an array", r.Reasons)
	}
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	return v
}

func TestPostEvent(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	tests := []struct {
		name         string
		headers      map[string]string
		body         string
		wantDecision string
		wantReasons  []string
	}{
		{"bootstrap key, first login", bearer(bootstrapSecret), eventJSON(nil), "allow", []string{}},
		{"events key, same device", bearer(eventsSecret), eventJSON(func(m obj) { m["occurred_at"] = t0.Add(time.Minute).Format(time.RFC3339) }), "allow", []string{}},
		{"new device noted", bearer(eventsSecret), eventJSON(func(m obj) {
			m["occurred_at"] = t0.Add(2 * time.Minute).Format(time.RFC3339)
			m["context"].(obj)["device_id"] = "d-other"
			m["context"].(obj)["ip"] = "198.51.100.9"
		}), "allow", []string{"account.new_device", "account.new_network"}},
		{"automation denied", bearer(eventsSecret), eventJSON(func(m obj) {
			m["type"] = "login.attempt"
			m["context"].(obj)["user_agent"] = "python-requests/2.32"
		}), "deny", []string{"bot.automation_ua"}},
		{"charset parameter accepted", map[string]string{"Authorization": "Bearer " + eventsSecret, "Content-Type": "application/json; charset=utf-8"}, eventJSON(func(m obj) {
			m["type"] = "password.reset_requested"
		}), "allow", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, request{"POST", "/v1/events", tt.headers, tt.body})
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			got := decodeJSON[resultJSON](t, rec)
			checkResult(t, got)
			if got.Decision != tt.wantDecision {
				t.Errorf("decision = %q, want %q", got.Decision, tt.wantDecision)
			}
			if diff := cmp.Diff(tt.wantReasons, got.reasonCodes(t)); diff != "" {
				t.Errorf("reason codes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostBatchKeepsOrder(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	body := batchJSON(
		eventJSON(func(m obj) { m["request_id"] = "r-0" }),
		eventJSON(func(m obj) {
			m["request_id"] = "r-1"
			m["type"] = "login.attempt"
			m["context"].(obj)["user_agent"] = "curl/8.5.0"
		}),
		eventJSON(func(m obj) {
			m["request_id"] = "r-2"
			m["type"] = "login.failed"
			delete(m, "user")
			m["login"] = "nobody@example.jp"
			m["properties"] = obj{"reason": "unknown_account"}
		}),
	)
	rec := f.do(t, request{"POST", "/v1/events:batch", bearer(eventsSecret), body})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	got := decodeJSON[struct {
		Results []resultJSON `json:"results"`
	}](t, rec)
	var decisions []string
	for _, r := range got.Results {
		checkResult(t, r)
		decisions = append(decisions, r.Decision)
	}
	if diff := cmp.Diff([]string{"allow", "deny", "allow"}, decisions); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}

	// The audit log ties each result to its event: same order.
	audit, err := f.store.ListAudit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byRequest := map[string]string{}
	for _, a := range audit {
		byRequest[a.RequestID] = a.EventID
	}
	var gotIDs, wantIDs []string
	for i, r := range got.Results {
		gotIDs = append(gotIDs, r.EventID)
		wantIDs = append(wantIDs, byRequest["r-"+strconv.Itoa(i)])
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("event ids by position (-audit +results):\n%s", diff)
	}
}

func TestBootstrapKeyHasEveryScope(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	tests := []struct {
		key        string
		method     string
		path, body string
		want       int
	}{
		{bootstrapSecret, "POST", "/v1/events", eventJSON(nil), 200},
		{bootstrapSecret, "POST", "/v1/events:batch", batchJSON(eventJSON(nil)), 200},
		{bootstrapSecret, "GET", "/v1/incidents", "", 200},
		{bootstrapSecret, "GET", "/v1/incidents?state=open", "", 200},
		{bootstrapSecret, "GET", "/v1/incidents?state=closed", "", 200},
		{adminSecret, "GET", "/v1/incidents", "", 200},
		{eventsSecret, "POST", "/v1/events", eventJSON(nil), 200},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.key[:8], func(t *testing.T) {
			rec := f.do(t, request{tt.method, tt.path, bearer(tt.key), tt.body})
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.method == "GET" {
				if got := strings.TrimSpace(rec.Body.String()); got != "[]" {
					t.Errorf("incidents = %s, want []", got)
				}
			}
		})
	}
	// Without a bootstrap key configured, its secret is just unknown.
	g := newFixture(t, options{})
	if rec := g.do(t, request{"GET", "/v1/incidents", bearer(bootstrapSecret), ""}); rec.Code != 401 {
		t.Errorf("no bootstrap configured: status %d, want 401", rec.Code)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret, InternalToken: "internal-token"}})
	if rec := f.do(t, request{"POST", "/v1/events", nil, eventJSON(nil)}); rec.Code != 200 {
		t.Fatalf("posting event: %d %s", rec.Code, rec.Body)
	}
	tests := []struct {
		name     string
		ready    bool
		path     string
		want     int
		contains []string
	}{
		{"healthz", true, "/healthz", 200, []string{`"status":"ok"`}},
		{"healthz while starting", false, "/healthz", 200, []string{`"status":"ok"`}},
		{"readyz", true, "/readyz", 200, []string{`"status":"ready"`}},
		{"readyz not ready", false, "/readyz", 503, []string{`"type":"about:blank#not-ready"`}},
		{"metrics", true, "/metrics", 200, []string{
			`atoguard_events_total{type="login.succeeded"} 1`,
			`atoguard_decisions_total{decision="allow"} 1`,
			"atoguard_assess_duration_seconds_bucket",
			"atoguard_assess_duration_seconds_count 1",
			"atoguard_open_incidents 0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.ready.Store(tt.ready)
			rec := f.do(t, request{"GET", tt.path, map[string]string{"Authorization": "Bearer internal-token"}, ""})
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			for _, s := range tt.contains {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("body lacks %q:\n%s", s, rec.Body)
				}
			}
		})
	}
}

// failingRecords is the memory store with a broken key lookup and ping.
type failingRecords struct {
	*memory.Store
}

func (failingRecords) KeyByHash(context.Context, []byte) (store.APIKey, error) {
	return store.APIKey{}, errors.New("key database on fire")
}

func (failingRecords) Ping(context.Context) error { return errors.New("key database on fire") }

// failingWriter is an engine.Writer whose disk is gone.
type failingWriter struct{}

func (failingWriter) Write(context.Context, store.Batch) error {
	return errors.New("disk on fire at /var/lib/atoguard")
}

func TestUnavailableIsNot500(t *testing.T) {
	const cause = "on fire"
	tests := []struct {
		name string
		opts options
		req  request
	}{
		{"event write fails", options{cfg: api.Config{BootstrapKey: bootstrapSecret}, writer: failingWriter{}},
			request{"POST", "/v1/events", nil, eventJSON(func(m obj) { m["credential"] = obj{"password_sha1": passwordSHA1} })}},
		{"batch write fails", options{cfg: api.Config{BootstrapKey: bootstrapSecret}, writer: failingWriter{}},
			request{"POST", "/v1/events:batch", nil, batchJSON(eventJSON(nil), eventJSON(nil))}},
		{"key store fails", options{records: failingRecords{memory.New()}},
			request{"POST", "/v1/events", bearer(eventsSecret), eventJSON(nil)}},
		{"store unreachable", options{records: failingRecords{memory.New()}},
			request{"GET", "/readyz", map[string]string{}, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			rec := f.do(t, tt.req)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503; body %s", rec.Code, rec.Body)
			}
			var got problemJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Type != "about:blank#not-ready" || got.Status != 503 {
				t.Errorf("problem = %+v, want type about:blank#not-ready, status 503", got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if _, ok := tt.opts.writer.(failingWriter); ok {
				if ra := rec.Header().Get("Retry-After"); ra != "1" {
					t.Errorf("Retry-After = %q, want 1", ra)
				}
			}
			if strings.Contains(rec.Body.String(), cause) {
				t.Errorf("body leaks the cause: %s", rec.Body)
			}
			if !strings.Contains(f.log.String(), cause) {
				t.Errorf("log lacks the cause:\n%s", f.log)
			}
			if strings.Contains(strings.ToLower(f.log.String()), strings.ToLower(passwordSHA1)) {
				t.Errorf("log holds the password digest:\n%s", f.log)
			}
		})
	}
}

func TestPasswordNeverReachesAudit(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	bodies := []string{
		eventJSON(func(m obj) { m["credential"] = obj{"password_sha1": passwordSHA1} }),
		eventJSON(func(m obj) {
			m["type"] = "login.failed"
			m["occurred_at"] = t0.Add(time.Second).Format(time.RFC3339)
			m["credential"] = obj{"password_sha1": strings.ToLower(passwordSHA1)}
			m["properties"] = obj{"reason": "bad_password"}
		}),
	}
	for _, b := range bodies {
		if rec := f.do(t, request{"POST", "/v1/events", nil, b}); rec.Code != 200 {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
	}
	recs, err := f.store.ListAudit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(bodies) {
		t.Fatalf("%d audit records, want %d", len(recs), len(bodies))
	}
	digest, _ := hex.DecodeString(passwordSHA1)
	var hmacs [][]byte
	for _, r := range recs {
		if len(r.Event) == 0 {
			t.Fatalf("audit record %s has no event JSON", r.EventID)
		}
		all := strings.ToLower(fmt.Sprintf("%+v %s", r, r.Event))
		if strings.Contains(all, strings.ToLower(passwordSHA1)) {
			t.Errorf("audit record %s holds the password digest: %s", r.EventID, r.Event)
		}
		if bytes.Contains(r.Event, digest) || bytes.Contains(r.PasswordHMAC, digest[:8]) {
			t.Errorf("audit record %s holds the raw digest", r.EventID)
		}
		if bytes.Contains(r.Event, []byte("credential")) || bytes.Contains(r.Event, []byte("REDACTED")) {
			t.Errorf("audit event keeps a credential: %s", r.Event)
		}
		if len(r.PasswordHMAC) == 0 {
			t.Errorf("audit record %s has no PasswordHMAC", r.EventID)
		}
		if bytes.Equal(r.PasswordHMAC, digest) || bytes.Equal(r.PasswordHMAC, digest[:len(r.PasswordHMAC)]) {
			t.Errorf("PasswordHMAC is the digest")
		}
		hmacs = append(hmacs, r.PasswordHMAC)
	}
	// One password, one mark: upper and lower case hex are the same digest.
	if !bytes.Equal(hmacs[0], hmacs[1]) {
		t.Errorf("PasswordHMACs differ for the same password: %x, %x", hmacs[0], hmacs[1])
	}
}

// TestIncidentEndToEnd learns normal traffic for half an hour of event
// time, then runs a credential-stuffing burst and a stolen login through
// the API.
func TestIncidentEndToEnd(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret, InternalToken: "internal-token"}})
	f.postBenignLogins(t)
	start := t0.Add(30 * time.Minute)
	inBurst := f.postStuffingBurst(t, start)
	f.postStolenLogin(t, start, inBurst)
	inc := f.checkOpenIncident(t, start, inBurst)
	f.checkIncidentAccounts(t, inc)

	// The metrics see the open incident; a remote client needs the
	// internal token to read them.
	if rec := f.do(t, request{"GET", "/metrics", map[string]string{}, ""}); rec.Code != http.StatusForbidden {
		t.Errorf("metrics to a remote client without the token: %d, want 403", rec.Code)
	}
	rec := f.do(t, request{"GET", "/metrics", map[string]string{"Authorization": "Bearer internal-token"}, ""})
	if !strings.Contains(rec.Body.String(), "atoguard_open_incidents 1") {
		t.Errorf("metrics lack atoguard_open_incidents 1")
	}
	// So are the runtime's profiles.
	if rec := f.do(t, request{"GET", "/debug/pprof/heap", map[string]string{}, ""}); rec.Code != http.StatusForbidden {
		t.Errorf("heap profile to a remote client without the token: %d, want 403", rec.Code)
	}
	if rec := f.do(t, request{"GET", "/debug/pprof/heap", map[string]string{"Authorization": "Bearer internal-token"}, ""}); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		t.Errorf("heap profile with the token: %d, %d bytes; want 200 and a profile", rec.Code, rec.Body.Len())
	}
}

// userLoginEvent is user i's successful login at at, from its own device
// and network.
func userLoginEvent(i int, at time.Time) obj {
	return obj{
		"type": "login.succeeded", "occurred_at": at.Format(time.RFC3339Nano),
		"login": fmt.Sprintf("user%d@example.jp", i), "user": obj{"id": fmt.Sprintf("u-%d", i)},
		"session_id": fmt.Sprintf("s-%d-%d", i, at.Unix()),
		"context": obj{
			"ip": fmt.Sprintf("198.18.%d.10", i), "device_id": fmt.Sprintf("d-%d", i),
			"user_agent":      "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
			"accept_language": "ja-JP,ja;q=0.9",
		},
	}
}

// postBatch sends evs to /v1/events:batch and returns the results.
func (f *fixture) postBatch(t *testing.T, evs []obj) []resultJSON {
	t.Helper()
	raw := make([]string, len(evs))
	for i, e := range evs {
		raw[i] = mustJSON(e)
	}
	rec := f.do(t, request{"POST", "/v1/events:batch", bearer(eventsSecret), batchJSON(raw...)})
	if rec.Code != 200 {
		t.Fatalf("batch: status %d, body %s", rec.Code, rec.Body)
	}
	out := decodeJSON[struct {
		Results []resultJSON `json:"results"`
	}](t, rec)
	return out.Results
}

// postBenignLogins sends 300 good logins over 30 minutes from t0, each
// user from its own device: all are allowed, none is in an incident.
func (f *fixture) postBenignLogins(t *testing.T) {
	t.Helper()
	const users = 20
	var benign []obj
	for n := range 300 {
		benign = append(benign, userLoginEvent(n%users, t0.Add(time.Duration(n)*6*time.Second)))
	}
	for i := 0; i < len(benign); i += 100 {
		for _, r := range f.postBatch(t, benign[i:i+100]) {
			if r.Decision != "allow" || r.IncidentID != "" {
				t.Fatalf("benign login: decision %q, incident %q", r.Decision, r.IncidentID)
			}
		}
	}
}

// postStuffingBurst sends 200 failed logins for unknown accounts from many
// IPs in 50 seconds from start, and returns the incident they were
// attributed to.
func (f *fixture) postStuffingBurst(t *testing.T, start time.Time) string {
	t.Helper()
	var burst []obj
	for n := range 200 {
		burst = append(burst, obj{
			"type": "login.failed", "occurred_at": start.Add(time.Duration(n) * 250 * time.Millisecond).Format(time.RFC3339Nano),
			"login": fmt.Sprintf("victim%d@example.jp", n), "properties": obj{"reason": "unknown_account"},
			"context": obj{
				"ip":              fmt.Sprintf("203.0.%d.%d", 100+n%40, 1+n/40),
				"user_agent":      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
				"accept_language": "en-US,en;q=0.9",
			},
		})
	}
	var inBurst string
	for i := 0; i < len(burst); i += 50 {
		for _, r := range f.postBatch(t, burst[i:i+50]) {
			if r.IncidentID != "" {
				inBurst = r.IncidentID
			}
		}
	}
	if inBurst == "" {
		t.Fatal("no burst event was attributed to an incident")
	}
	return inBurst
}

// postStolenLogin sends u-3's password, used from a new device and a new
// network during the burst: it is challenged as part of incident inBurst.
func (f *fixture) postStolenLogin(t *testing.T, start time.Time, inBurst string) {
	t.Helper()
	stolen := userLoginEvent(3, start.Add(55*time.Second))
	stolen["context"].(obj)["ip"] = "192.0.2.77"
	stolen["context"].(obj)["device_id"] = "d-attacker"
	// the crew's own browser and language: during a campaign only a
	// context with little that matches the owner's is stepped up
	stolen["context"].(obj)["user_agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
	stolen["context"].(obj)["accept_language"] = "en-US,en;q=0.9"
	rec := f.do(t, request{"POST", "/v1/events", bearer(eventsSecret), mustJSON(stolen)})
	if rec.Code != 200 {
		t.Fatalf("stolen login: status %d, body %s", rec.Code, rec.Body)
	}
	res := decodeJSON[resultJSON](t, rec)
	checkResult(t, res)
	if res.Decision != "challenge" {
		t.Errorf("stolen login: decision %q, want challenge; body %s", res.Decision, rec.Body)
	}
	if codes := res.reasonCodes(t); len(codes) == 0 || codes[0] != "campaign.active" {
		t.Errorf("stolen login: reasons %v, want campaign.active first", codes)
	}
	if res.Challenge == nil || !strings.HasPrefix(res.Challenge.ID, "ch_") || len(res.Challenge.Methods) == 0 ||
		!res.Challenge.ExpiresAt.After(start) {
		t.Errorf("stolen login: challenge %+v, want an id, methods and a future expiry", res.Challenge)
	}
	if res.IncidentID != inBurst {
		t.Errorf("stolen login: incident %q, want %q", res.IncidentID, inBurst)
	}
}

// incidentJSON is an incident as GET /v1/incidents lists it.
type incidentJSON struct {
	ID               string          `json:"id"`
	Kind             string          `json:"kind"`
	State            string          `json:"state"`
	StartedAt        time.Time       `json:"started_at"`
	EndedAt          *time.Time      `json:"ended_at"`
	Attempts         int64           `json:"attempts"`
	DistinctIPs      int64           `json:"distinct_ips"`
	AccountsTargeted int64           `json:"accounts_targeted"`
	Compromised      int64           `json:"accounts_compromised"`
	TopSources       json.RawMessage `json:"top_sources"`
}

// checkOpenIncident checks the burst's incident inBurst is the one open
// incident, with one account targeted and compromised, and returns it.
func (f *fixture) checkOpenIncident(t *testing.T, start time.Time, inBurst string) incidentJSON {
	t.Helper()
	admin := bearer(adminSecret)
	rec := f.do(t, request{"GET", "/v1/incidents?state=open", admin, ""})
	if rec.Code != 200 {
		t.Fatalf("incidents: status %d, body %s", rec.Code, rec.Body)
	}
	incs := decodeJSON[[]incidentJSON](t, rec)
	if len(incs) != 1 {
		t.Fatalf("open incidents = %d, want 1: %s", len(incs), rec.Body)
	}
	inc := incs[0]
	if inc.ID != inBurst || inc.State != "open" || inc.EndedAt != nil || inc.Attempts <= 0 || inc.DistinctIPs <= 1 ||
		inc.StartedAt.Before(start) || !bytes.HasPrefix(inc.TopSources, []byte("[")) {
		t.Errorf("incident = %+v (top sources %s)", inc, inc.TopSources)
	}
	if inc.Compromised != 1 || inc.AccountsTargeted != 1 {
		t.Errorf("incident accounts targeted %d, compromised %d; want 1, 1", inc.AccountsTargeted, inc.Compromised)
	}
	if rec := f.do(t, request{"GET", "/v1/incidents?state=closed", admin, ""}); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("closed incidents = %s, want []", rec.Body)
	}
	if rec := f.do(t, request{"GET", "/v1/incidents/" + inc.ID, admin, ""}); rec.Code != 200 || !strings.Contains(rec.Body.String(), inc.ID) {
		t.Errorf("GET incident: %d %s", rec.Code, rec.Body)
	}
	return inc
}

// incidentAccountJSON is an account as GET /v1/incidents/{id}/accounts
// lists it.
type incidentAccountJSON struct {
	Account  string `json:"account"`
	Known    bool   `json:"known"`
	Outcome  string `json:"outcome"`
	Attempts int64  `json:"attempts"`
}

// checkIncidentAccounts checks inc's accounts: the burst's unknown
// victims and u-3, challenged, each with an outcome and attempts.
func (f *fixture) checkIncidentAccounts(t *testing.T, inc incidentJSON) {
	t.Helper()
	rec := f.do(t, request{"GET", "/v1/incidents/" + inc.ID + "/accounts", bearer(adminSecret), ""})
	if rec.Code != 200 {
		t.Fatalf("incident accounts: status %d, body %s", rec.Code, rec.Body)
	}
	accts := decodeJSON[[]incidentAccountJSON](t, rec)
	if len(accts) < 2 {
		t.Fatalf("incident accounts = %s, want the victims and u-3", rec.Body)
	}
	got := map[string]incidentAccountJSON{}
	for _, a := range accts {
		if a.Outcome == "" || a.Attempts <= 0 {
			t.Errorf("account %+v has no outcome or attempts", a)
		}
		got[a.Account] = a
	}
	if diff := cmp.Diff(incidentAccountJSON{Account: "u-3", Known: true, Outcome: "challenged", Attempts: 1}, got["u-3"]); diff != "" {
		t.Errorf("stolen account (-want +got):\n%s", diff)
	}
	if a, ok := got["victim199@example.jp"]; !ok || a.Known {
		t.Errorf("last burst account = %+v, %v; want an unknown account", a, ok)
	}
	if int64(len(accts)) > inc.Attempts {
		t.Errorf("%d accounts but only %d attempts", len(accts), inc.Attempts)
	}
}

func TestQuota(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret, QuotaPerSecond: 0.001, QuotaBurst: 2}})
	var codes []int
	for i := 0; i < 3; i++ {
		rec := f.do(t, request{"POST", "/v1/events", bearer(bootstrapSecret), eventJSON(nil)})
		codes = append(codes, rec.Code)
		if rec.Code == http.StatusTooManyRequests {
			if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("429 without a Retry-After: %q", ra)
			}
			if !strings.Contains(rec.Body.String(), "about:blank#rate-limited") {
				t.Errorf("429 body %s", rec.Body)
			}
		}
	}
	if diff := cmp.Diff([]int{200, 200, 429}, codes); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	// Another key has its own quota.
	if rec := f.do(t, request{"POST", "/v1/events", bearer(eventsSecret), eventJSON(nil)}); rec.Code != http.StatusOK {
		t.Errorf("second key: %d, want 200", rec.Code)
	}
}

// pingless is the memory store whose server cannot be reached.
type pingless struct{ *memory.Store }

func (pingless) Ping(context.Context) error { return errors.New("connection refused") }

// TestReadyzDegraded: parts the guard answers without (the journal
// standing in for the records, Redis) make /readyz say degraded, 200.
// TestFullBatchFits: with the default limits, a batch of max_batch
// ordinary events fits its body limit (before: 1,000 events could not fit
// the 64 KiB limit of a single event).
func TestFullBatchFits(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	evs := make([]string, 1000)
	for i := range evs {
		evs[i] = eventJSON(func(m obj) { m["request_id"] = fmt.Sprintf("req-%d", i) })
	}
	body := batchJSON(evs...)
	if len(body) <= 64<<10 {
		t.Fatalf("the batch is only %d bytes: it proves nothing", len(body))
	}
	if rec := f.do(t, request{"POST", "/v1/events:batch", nil, body}); rec.Code != 200 {
		t.Errorf("a full batch of %d bytes: %d %s", len(body), rec.Code, rec.Body.String()[:min(200, rec.Body.Len())])
	}
}

// TestNotFoundIsProblemJSON: every unknown route answers problem JSON,
// inside /v1 and out.
func TestNotFoundIsProblemJSON(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	for _, path := range []string{"/v1/nothing", "/nothing", "/ui-not/x"} {
		rec := f.do(t, request{"GET", path, map[string]string{}, ""})
		if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(rec.Body.String(), "about:blank#not-found") {
			t.Errorf("GET %s: %d %s %s, want 404 problem JSON", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

func TestReadyzDegraded(t *testing.T) {
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		recordsDown bool
		redisUp     bool
		want        []string
	}{
		{"all up", false, true, []string{`"status":"ready"`, `"redis":{"status":"ok"`}},
		{"redis down", false, false, []string{`"status":"degraded"`, `"redis":{"status":"degraded","detail":"away"}`}},
		{"records down", true, true, []string{`"status":"degraded"`, `"records":{"status":"degraded"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			var records api.Records = st
			if tc.recordsDown {
				records = pingless{st}
			}
			eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: st, Writer: st, Key: bytes.Repeat([]byte{7}, 32)})
			if err != nil {
				t.Fatal(err)
			}
			redis := func(context.Context) (bool, any) {
				if tc.redisUp {
					return true, nil
				}
				return false, "away"
			}
			srv, err := api.New(api.Config{}, api.Deps{Log: slog.New(slog.DiscardHandler), Engine: eng, Records: records,
				RecordsOptional: true, Health: []api.HealthCheck{{Name: "redis", Check: redis}}})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/readyz", nil)
			req.RemoteAddr = "127.0.0.1:40000" // the components are for loopback clients
			validated(t, srv.Handler()).ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			for _, w := range tc.want {
				if !strings.Contains(rec.Body.String(), w) {
					t.Errorf("body %s lacks %s", rec.Body, w)
				}
			}
			outside := httptest.NewRecorder()
			validated(t, srv.Handler()).ServeHTTP(outside, httptest.NewRequest("GET", "/readyz", nil)) // from 192.0.2.1
			if strings.Contains(outside.Body.String(), "components") {
				t.Errorf("a remote client sees the components: %s", outside.Body)
			}
		})
	}
}

// TestNewRequiresDeps: a missing required dependency is an error, not a
// panic at the first request.
func TestNewRequiresDeps(t *testing.T) {
	st := memory.New()
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: st, Writer: st, Key: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for name, deps := range map[string]api.Deps{
		"logger":  {Engine: eng, Records: st},
		"engine":  {Log: log, Records: st},
		"records": {Log: log, Engine: eng},
	} {
		if _, err := api.New(api.Config{}, deps); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without a %s: %v, want an error naming it", name, err)
		}
	}
	if _, err := api.New(api.Config{}, api.Deps{Log: log, Engine: eng, Records: st}); err != nil {
		t.Errorf("with every required dependency: %v", err)
	}
}

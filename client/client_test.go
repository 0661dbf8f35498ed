package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testEvent = Event{
	Type:       LoginSucceeded,
	OccurredAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	Login:      "taro@example.jp",
	User:       &User{ID: "u-1"},
	Context:    Context{IP: "203.0.113.7", UserAgent: "Mozilla/5.0", DeviceID: "d-1"},
	Credential: &Credential{PasswordSHA1: PasswordSHA1("password")},
}

// newTest returns a client of srv whose waits are recorded, not slept.
func newTest(t *testing.T, srv *httptest.Server, mode FailMode) (*Client, *[]time.Duration) {
	t.Helper()
	c, err := New(Config{BaseURL: srv.URL, APIKey: "k", FailMode: mode, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return c, &waits
}

func TestAssessSendsTheContract(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/events" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer k" {
			t.Errorf("Authorization %q", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
		var got map[string]any
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"type": "login.succeeded", "occurred_at": "2026-11-25T10:00:00Z", "login": "taro@example.jp",
			"user":       map[string]any{"id": "u-1"},
			"context":    map[string]any{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "device_id": "d-1"},
			"credential": map[string]any{"password_sha1": "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"event_id":"ev_1","decision":"challenge","risk":80,"reasons":[{"code":"campaign.active","detail":"x"}],
			"challenge":{"id":"ch_1","methods":["totp"],"expires_at":"2026-11-25T10:05:00Z"},"incident_id":"inc_1",
			"actions":["require_password_change"]}`)
	}))
	defer srv.Close()
	c, _ := newTest(t, srv, FailOpen)
	got, err := c.Assess(context.Background(), testEvent)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{EventID: "ev_1", Decision: Challenge, Risk: 80, Reasons: []Reason{{"campaign.active", "x"}},
		Challenge:  &ChallengeOffer{ID: "ch_1", Methods: []string{"totp"}, ExpiresAt: time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)},
		IncidentID: "inc_1", Actions: []string{ActionRequirePasswordChange}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestAssessRetries503HonouringRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
			io.WriteString(w, `{"type":"about:blank#not-ready","title":"Service Unavailable","status":503,"detail":"retry"}`)
			return
		}
		io.WriteString(w, `{"event_id":"ev_2","decision":"allow","risk":0,"reasons":[]}`)
	}))
	defer srv.Close()
	c, waits := newTest(t, srv, FailClosed)
	got, err := c.Assess(context.Background(), testEvent)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision != Allow || got.Fallback || got.EventID != "ev_2" {
		t.Errorf("result %+v", got)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, *waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestAssessFailModes(t *testing.T) {
	always503 := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30") // capped by MaxRetryWait
		w.WriteHeader(503)
	}
	slow := func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond) // past the client's 200 ms timeout
	}
	badRequest := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(400)
		io.WriteString(w, `{"type":"about:blank#invalid-field","title":"Bad Request","status":400,"detail":"context.ip is not an IP address","field":"context.ip"}`)
	}
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		mode      FailMode
		want      string
		wantCalls int32
		wantWaits int
		check     func(t *testing.T, err error)
	}{
		{"503 fail-open", always503, FailOpen, Allow, 3, 2, func(t *testing.T, err error) {
			var p *ProblemError
			if !errors.Is(err, ErrUnavailable) || !errors.As(err, &p) || p.Status != 503 || p.RetryAfter != 30*time.Second {
				t.Errorf("err %v", err)
			}
		}},
		{"503 fail-closed", always503, FailClosed, Challenge, 3, 2, nil},
		{"timeout fail-open", slow, FailOpen, Allow, 1, 0, func(t *testing.T, err error) {
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err %v", err)
			}
		}},
		{"timeout fail-closed", slow, FailClosed, Challenge, 1, 0, nil},
		{"400 is not retried", badRequest, FailClosed, Challenge, 1, 0, func(t *testing.T, err error) {
			var p *ProblemError
			if !errors.As(err, &p) || p.Field != "context.ip" || p.Type != "about:blank#invalid-field" || errors.Is(err, ErrUnavailable) {
				t.Errorf("err %#v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tt.handler(w, r)
			}))
			defer srv.Close()
			c, waits := newTest(t, srv, tt.mode)
			got, err := c.Assess(context.Background(), testEvent)
			if err == nil {
				t.Fatal("no error")
			}
			if got.Decision != tt.want || !got.Fallback {
				t.Errorf("result %+v, want the fallback %s", got, tt.want)
			}
			if n := calls.Load(); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
			if len(*waits) != tt.wantWaits {
				t.Errorf("waits %v, want %d", *waits, tt.wantWaits)
			}
			for _, w := range *waits {
				if w > 2*time.Second {
					t.Errorf("waited %v, more than MaxRetryWait", w)
				}
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func TestAssessUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, mode := range []FailMode{FailOpen, FailClosed} {
		c, err := New(Config{BaseURL: "http://" + addr, APIKey: "k", FailMode: mode, Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.sleep = func(context.Context, time.Duration) error { return nil }
		got, err := c.Assess(context.Background(), testEvent)
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%v: err %v, want ErrUnavailable", mode, err)
		}
		if want := c.Fallback(); got.Decision != want.Decision || !got.Fallback {
			t.Errorf("%v: result %+v", mode, got)
		}
	}
}

func TestAssessBatchAndIncidents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/events:batch":
			var b struct{ Events []Event }
			if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Events) != 2 {
				t.Errorf("batch: %v, %d events", err, len(b.Events))
			}
			io.WriteString(w, `{"results":[{"event_id":"a","decision":"allow"},{"event_id":"b","decision":"deny"}]}`)
		case "/v1/incidents":
			if r.URL.Query().Get("state") != "open" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			io.WriteString(w, `[{"id":"inc_1","state":"open","started_at":"2026-11-25T10:00:10Z","ended_at":null,"attempts":12}]`)
		}
	}))
	defer srv.Close()
	c, _ := newTest(t, srv, FailOpen)
	rs, err := c.AssessBatch(context.Background(), []Event{testEvent, testEvent})
	if err != nil || len(rs) != 2 || rs[1].Decision != Deny {
		t.Errorf("AssessBatch = %+v, %v", rs, err)
	}
	incs, err := c.Incidents(context.Background(), "open")
	if err != nil || len(incs) != 1 || incs[0].Attempts != 12 || incs[0].EndedAt != nil {
		t.Errorf("Incidents = %+v, %v", incs, err)
	}
}

func TestAssessRawSplitsBigBatches(t *testing.T) {
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) > 1000 {
			t.Errorf("request of %d bytes, limit 1000", len(body))
		}
		var b struct{ Events []json.RawMessage }
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b.Events))
		var res []string
		for range b.Events {
			res = append(res, `{"decision":"allow"}`)
		}
		io.WriteString(w, `{"results":[`+strings.Join(res, ",")+`]}`)
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, APIKey: "k", MaxBodyBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(testEvent) // about 250 bytes
	evs := make([]json.RawMessage, 10)
	for i := range evs {
		evs[i] = ev
	}
	rs, err := c.AssessRaw(context.Background(), evs)
	if err != nil || len(rs) != 10 {
		t.Fatalf("AssessRaw = %d results, %v", len(rs), err)
	}
	if len(sizes) < 3 {
		t.Errorf("requests of %v events: want the batch split", sizes)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"junk":                          0,
		"Wed, 25 Nov 2026 10:00:05 GMT": 5 * time.Second,
		"Wed, 25 Nov 2026 09:00:00 GMT": 0,
	}
	for in, want := range tests {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{BaseURL: "127.0.0.1:8080", APIKey: "k"}, {BaseURL: "http://127.0.0.1:8080"}, {BaseURL: "ftp://x", APIKey: "k"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if m, err := ParseFailMode("closed"); err != nil || m != FailClosed {
		t.Errorf("ParseFailMode(closed) = %v, %v", m, err)
	}
	if _, err := ParseFailMode("ajar"); err == nil {
		t.Error("ParseFailMode(ajar) accepted")
	}
}

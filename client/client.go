// Package client is atoguard's Go client: a shop reports its events
// (logins, registrations, profile changes, orders) over the HTTP API and
// gets back a decision for each, runs step-up challenges, enrols factors
// and verifies the signatures of webhook notifications, with timeouts,
// bounded retries and a fail-open or fail-closed mode of the shop's
// choosing. It uses the standard library only.
//
// Fail mode: when the guard gives no decision (unreachable, timed out,
// still 503 after the retries, or a problem answer), Assess returns the
// decision of the client's FailMode — allow (FailOpen) or challenge
// (FailClosed) — with Result.Fallback set, and also the error that caused
// it, so the shop can act on the decision and log the error. Nothing here
// ever sends or logs a clear-text password; PasswordSHA1 is computed in
// memory.
//
// The contract this client speaks is docs/api.md and docs/openapi.yaml in
// the atoguard repository.
package client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FailMode is what Assess answers when the guard gives no decision.
type FailMode int

const (
	// FailOpen allows the action when the guard is unavailable: logins keep
	// working during a guard outage, unprotected.
	FailOpen FailMode = iota
	// FailClosed asks for a step-up (challenge) when the guard is
	// unavailable: safer, at the cost of friction during an outage.
	FailClosed
)

// String names the mode as flags and logs spell it.
func (m FailMode) String() string {
	if m == FailClosed {
		return "closed"
	}
	return "open"
}

// ParseFailMode reads "open" or "closed".
func ParseFailMode(s string) (FailMode, error) {
	switch s {
	case "open", "":
		return FailOpen, nil
	case "closed":
		return FailClosed, nil
	}
	return 0, fmt.Errorf("fail mode %q: want open or closed", s)
}

// ErrUnavailable is wrapped by the error Assess returns when the guard
// could not be reached or kept answering 503 or 429.
var ErrUnavailable = errors.New("guard unavailable")

// ProblemError is an RFC 9457 problem answer of the guard.
type ProblemError struct {
	Status     int
	Type       string // e.g. about:blank#invalid-field
	Title      string
	Detail     string
	Field      string        // the offending field of a 400, e.g. context.ip
	RetryAfter time.Duration // from Retry-After, when given
}

func (e *ProblemError) Error() string {
	msg := fmt.Sprintf("guard answered %d %s", e.Status, e.Type)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Config configures a Client. Zero values take the defaults given.
type Config struct {
	// BaseURL is the guard's address, e.g. http://127.0.0.1:8080. Required.
	BaseURL string
	// APIKey is a key with the events scope (admin for Incidents). Required.
	APIKey string
	// FailMode is the decision when the guard gives none (default FailOpen).
	FailMode FailMode
	// Timeout bounds each HTTP attempt (default 2s); the caller's context
	// bounds the whole call, retries included.
	Timeout time.Duration
	// Retries is how many times a 503, a 429 or a refused connection is
	// retried (default 2; negative: never).
	Retries int
	// MaxRetryWait caps one wait between attempts, whatever Retry-After
	// says (default 2s).
	MaxRetryWait time.Duration
	// HTTPClient sends the requests (default: a client of its own that
	// keeps connections to the guard open).
	HTTPClient *http.Client
	// MaxBodyBytes bounds one batch request (default 64 KiB, the guard's
	// default api.max_body_bytes).
	MaxBodyBytes int
}

// Client talks to one guard. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	now  func() time.Time
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", cfg.BaseURL)
	}
	if cfg.APIKey == "" {
		return nil, errors.New("client: API key is empty")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 2 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: tr}
	}
	return &Client{cfg: cfg, base: u, http: hc, now: time.Now, sleep: sleepCtx}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FailMode reports the client's fail mode.
func (c *Client) FailMode() FailMode { return c.cfg.FailMode }

// Fallback returns the Result of the client's fail mode.
func (c *Client) Fallback() Result {
	d := Allow
	if c.cfg.FailMode == FailClosed {
		d = Challenge
	}
	return Result{Decision: d, Fallback: true}
}

// Assess reports one event and returns the guard's decision. It always
// returns a usable Result: when the guard gives no decision, the result is
// the fail mode's (Fallback set) and err says why — it wraps ErrUnavailable
// for an unreachable or overloaded guard, or is a *ProblemError.
func (c *Client) Assess(ctx context.Context, ev Event) (Result, error) {
	body, err := json.Marshal(&ev)
	if err != nil {
		return c.Fallback(), fmt.Errorf("encoding event: %w", err)
	}
	var r Result
	if err := c.do(ctx, http.MethodPost, "/v1/events", body, &r, 1<<20); err != nil {
		return c.Fallback(), err
	}
	return r, nil
}

// AssessBatch reports up to 1,000 events in one request and returns their
// results in order. It has no fallback: tools (replay, simulation) use it,
// and they want the error.
func (c *Client) AssessBatch(ctx context.Context, evs []Event) ([]Result, error) {
	return c.AssessRaw(ctx, marshalAll(evs))
}

// AssessRaw is AssessBatch for events already encoded as JSON objects. It
// splits them into as many requests as the guard's limits need (1,000
// events, MaxBodyBytes) and answers in order.
func (c *Client) AssessRaw(ctx context.Context, evs []json.RawMessage) ([]Result, error) {
	out := make([]Result, 0, len(evs))
	for len(evs) > 0 {
		n, size := 0, len(`{"events":[]}`)
		for n < len(evs) && n < 1000 && (n == 0 || size+len(evs[n])+1 <= c.cfg.MaxBodyBytes) {
			size += len(evs[n]) + 1
			n++
		}
		rs, err := c.assessRaw(ctx, evs[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		evs = evs[n:]
	}
	return out, nil
}

func (c *Client) assessRaw(ctx context.Context, evs []json.RawMessage) ([]Result, error) {
	body, err := json.Marshal(map[string][]json.RawMessage{"events": evs})
	if err != nil {
		return nil, fmt.Errorf("encoding events: %w", err)
	}
	var out struct {
		Results []Result `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/events:batch", body, &out, 64<<20); err != nil {
		return nil, err
	}
	if len(out.Results) != len(evs) {
		return nil, fmt.Errorf("guard answered %d results for %d events", len(out.Results), len(evs))
	}
	return out.Results, nil
}

func marshalAll(evs []Event) []json.RawMessage {
	out := make([]json.RawMessage, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil { // Event has only marshalable fields
			panic(err)
		}
		out[i] = b
	}
	return out
}

// Incidents lists the guard's incidents; state is "open", "closed" or ""
// for all. It needs a key with the admin scope.
func (c *Client) Incidents(ctx context.Context, state string) ([]Incident, error) {
	path := "/v1/incidents"
	if state != "" {
		path += "?state=" + url.QueryEscape(state)
	}
	var out []Incident
	if err := c.do(ctx, http.MethodGet, path, nil, &out, 16<<20); err != nil {
		return nil, err
	}
	return out, nil
}

// do sends one request, retrying 503, 429 and refused connections, and
// decodes a 200 answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any, limit int64) error {
	var last error
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, method, path, body, out, limit)
		if err == nil {
			return nil
		}
		last = err
		if wait < 0 || attempt >= c.cfg.Retries || ctx.Err() != nil {
			break
		}
		if err := c.sleep(ctx, min(wait, c.cfg.MaxRetryWait)); err != nil {
			break
		}
	}
	var p *ProblemError
	if errors.As(last, &p) && p.Status != http.StatusServiceUnavailable && p.Status != http.StatusTooManyRequests {
		return last
	}
	if errors.Is(last, ErrUnavailable) {
		return last
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, last)
}

// once makes one attempt. wait >= 0 means the error may be retried after
// that long; -1 means it may not.
func (c *Client) once(ctx context.Context, method, path string, body []byte, out any, limit int64) (wait time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, c.base.String()+path, rd)
	if err != nil {
		return -1, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			// Nothing was sent: safe to retry.
			return 100 * time.Millisecond, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return -1, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return -1, fmt.Errorf("%w: reading answer: %w", ErrUnavailable, err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return 0, nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return -1, fmt.Errorf("decoding answer: %w", err)
		}
		return 0, nil
	}
	p := &ProblemError{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	var body9457 struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Field  string `json:"field"`
	}
	if json.Unmarshal(data, &body9457) == nil {
		p.Type, p.Detail, p.Field = body9457.Type, body9457.Detail, body9457.Field
		if body9457.Title != "" {
			p.Title = body9457.Title
		}
	}
	p.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
		wait := p.RetryAfter
		if wait <= 0 {
			wait = 200 * time.Millisecond
		}
		return wait, p
	}
	return -1, p
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 3600)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// PasswordSHA1 returns the SHA-1 of password in upper-case hex, as
// credential.password_sha1 takes it. It keeps nothing.
func PasswordSHA1(password string) string {
	sum := sha1.Sum([]byte(password))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

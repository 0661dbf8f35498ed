package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// rangeServer is the API with the range route, on the built-in list
// merged with an index of the given Pwned Passwords lines.
func rangeServer(t *testing.T, lines ...string) http.Handler {
	t.Helper()
	return rangeServerWith(t, api.Config{}, lines...)
}

// rangeServerWith is rangeServer with the API configured as cfg says.
func rangeServerWith(t *testing.T, cfg api.Config, lines ...string) http.Handler {
	t.Helper()
	dir := t.TempDir()
	if len(lines) > 0 {
		p := filepath.Join(dir, "pwned.txt")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\r\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := breach.Import(context.Background(), filepath.Join(dir, "idx"), []string{p}, breach.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	corpus, err := breach.OpenCorpus(filepath.Join(dir, "idx"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { corpus.Close() })
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: st, Writer: st,
		Key: bytes.Repeat([]byte{7}, 32), Breached: corpus})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(cfg, api.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Engine: eng, Records: st, Ranges: corpus})
	if err != nil {
		t.Fatal(err)
	}
	return validated(t, srv.Handler())
}

func get(t *testing.T, h http.Handler, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

// TestRangeEndpoint checks GET /range/{prefix} byte for byte against the
// Pwned Passwords API's documented answer format: SUFFIX:COUNT lines,
// uppercase, sorted, CRLF between lines, text/plain, no API key needed.
func TestRangeEndpoint(t *testing.T) {
	h := rangeServer(t,
		"21BD12DC183F740EE76F27B78EB39C8AD972A757:52579", // "P@ssw0rd", from the HIBP documentation
		"21bd10018a45c4d1def81644b54ab7f969b88d65:1",
		"21BD100D4F6E8FA6EECAD2A3AA415EEC418D38EC:2",
	)
	resp, body := get(t, h, "/range/21bd1", nil)
	want := "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n2DC183F740EE76F27B78EB39C8AD972A757:52579"
	if resp.StatusCode != 200 || body != want {
		t.Errorf("GET /range/21bd1 = %d\n%q\nwant\n%q", resp.StatusCode, body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}

	// "password" (SHA-1 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8) is in the
	// built-in list: its suffix and count are among the lines of 5BAA6.
	_, body = get(t, h, "/range/5BAA6", nil)
	es, _ := breach.Builtin().Range(0x5BAA6)
	wantBody, _ := breach.AppendRange(nil, es, 0, nil)
	if body != string(wantBody) {
		t.Errorf("GET /range/5BAA6 = %q, want %q", body, wantBody)
	}
	if !strings.Contains("\r\n"+body+"\r\n", "\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:10000\r\n") {
		t.Errorf("GET /range/5BAA6 has no entry for \"password\": %q", body)
	}

	_, padded := get(t, h, "/range/5BAA6", map[string]string{"Add-Padding": "true"})
	lines := strings.Split(padded, "\r\n")
	if n := len(lines); n < 800 || n > 1000 || !slices.IsSorted(lines) {
		t.Errorf("padded answer: %d lines, sorted: %v", n, slices.IsSorted(lines))
	}
	for _, l := range strings.Split(body, "\r\n") {
		if !slices.Contains(lines, l) {
			t.Errorf("padded answer lacks the real line %q", l)
		}
	}
}

func TestRangeBadPrefix(t *testing.T) {
	h := rangeServer(t)
	for path, field := range map[string]string{"/range/5BAA": "prefix", "/range/XYZ12": "prefix", "/range/5BAA6?mode=ntlm": "mode"} {
		resp, body := get(t, h, path, nil)
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(body, `"type":"about:blank#invalid-field"`) || !strings.Contains(body, `"field":"`+field+`"`) {
			t.Errorf("GET %s = %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// decisionJSON is the part of an event answer these tests read.
type decisionJSON struct {
	Decision string   `json:"decision"`
	Actions  []string `json:"actions"`
}

// TestBreachedPasswordAnswers checks the answers for a breached password:
// a login is allowed and asks for a password change, a registration is
// refused.
func TestBreachedPasswordAnswers(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}}) // the engine's default corpus: the built-in list
	login := f.do(t, request{method: "POST", path: "/v1/events", body: eventJSON(func(m obj) {
		m["credential"] = obj{"password_sha1": passwordSHA1}
	})})
	got := decodeJSON[decisionJSON](t, login)
	if diff := cmp.Diff([]string{"require_password_change"}, got.Actions); diff != "" || got.Decision != "allow" {
		t.Errorf("login with \"password\": %s, actions (-want +got):\n%s", got.Decision, diff)
	}
	reg := f.do(t, request{method: "POST", path: "/v1/events", body: eventJSON(func(m obj) {
		m["type"] = "registration"
		delete(m, "session_id")
		m["credential"] = obj{"password_sha1": passwordSHA1}
	})})
	got = decodeJSON[decisionJSON](t, reg)
	if got.Decision != "deny" || got.Actions != nil {
		t.Errorf("registration with \"password\": %s %v, want deny and no actions", got.Decision, got.Actions)
	}
	if !strings.Contains(reg.Body.String(), `"code":"credential.breached"`) {
		t.Errorf("registration answer without credential.breached: %s", reg.Body.String())
	}
}

// TestRangeRateLimitedPerAddress: one address cannot pipeline padded
// range answers without end (before: 300 connections starved the event
// API); another address is served meanwhile.
func TestRangeRateLimitedPerAddress(t *testing.T) {
	// One request every two seconds, a burst of one: however slow the
	// machine, back-to-back requests outrun it.
	h := rangeServerWith(t, api.Config{RangePerSecond: 0.5})
	limited := 0
	for range 100 {
		resp, _ := get(t, h, "/range/5BAA6", map[string]string{"Add-Padding": "true"})
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited < 90 {
		t.Errorf("%d of 100 back-to-back requests from one address limited, want nearly all past the burst of 1", limited)
	}
	req := httptest.NewRequest(http.MethodGet, "/range/5BAA6", nil)
	req.RemoteAddr = "198.51.100.9:4000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("another address: %d, want 200", rec.Code)
	}
}

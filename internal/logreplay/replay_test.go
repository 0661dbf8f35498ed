package logreplay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// truth is the ground truth scripts/genaccesslog wrote beside the log.
type truth struct {
	BenignIPs         int       `json:"benign_ips"`
	BurstIP           string    `json:"burst_ip"`
	BurstStart        time.Time `json:"burst_start"`
	CampaignStart     time.Time `json:"campaign_start"`
	CampaignEnd       time.Time `json:"campaign_end"`
	CampaignIPs       []string  `json:"campaign_ips"`
	CampaignSuccesses []struct {
		Time time.Time `json:"time"`
		IP   string    `json:"ip"`
	} `json:"campaign_successes"`
}

func loadTestConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := Load("testdata/replay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// replayTestLog replays the generated log (see testdata/README.md).
func replayTestLog(t *testing.T) *Report {
	t.Helper()
	ins, err := Inputs([]string{"testdata/access.log.gz"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), loadTestConfig(t), ins, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReplayGenerated replays the generated log (see testdata/README.md)
// and checks the report against its truth: the burst and the campaign are
// incidents, the campaign's successful logins are listed, and few of the
// shop's own IPs are named.
func TestReplayGenerated(t *testing.T) {
	var tr truth
	data, err := os.ReadFile("testdata/truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatal(err)
	}
	rep := replayTestLog(t)
	if got, want := len(rep.Incidents), 2; got != want {
		t.Fatalf("incidents: got %d, want %d (burst and campaign):\n%s", got, want, rep.Summary())
	}
	burst, camp := rep.Incidents[0], rep.Incidents[1]
	near := func(name string, got, want time.Time, within time.Duration) {
		if d := got.Sub(want); d < 0 || d > within {
			t.Errorf("%s: got %v, want within %v after %v", name, got, within, want)
		}
	}
	near("burst incident start", burst.Start, tr.BurstStart, 2*time.Minute)
	near("campaign incident start", camp.Start, tr.CampaignStart, 5*time.Minute)
	near("campaign incident end", camp.End, tr.CampaignEnd, 15*time.Minute)
	if camp.DistinctIPs < int64(len(tr.CampaignIPs))*9/10 {
		t.Errorf("campaign distinct IPs: got %d, want about %d", camp.DistinctIPs, len(tr.CampaignIPs))
	}

	listed := map[string]bool{}
	for _, l := range rep.Logins {
		listed[l.IP+"@"+l.Time.UTC().Format(time.RFC3339)] = true
	}
	caught := 0
	for _, h := range tr.CampaignSuccesses {
		if listed[h.IP+"@"+h.Time.UTC().Truncate(time.Second).Format(time.RFC3339)] {
			caught++
		}
	}
	if got, want := caught, len(tr.CampaignSuccesses)*9/10; got < want {
		t.Errorf("campaign's successful logins listed: got %d of %d, want at least %d", got, len(tr.CampaignSuccesses), want)
	}
	// The summary quotes the campaign's first successful logins.
	first := rep.Logins[slices.IndexFunc(rep.Logins, func(l Login) bool { return l.Incident == camp.ID })]
	sum := rep.Summary()
	if want := fmt.Sprintf("  login %s from %s, %s\n", rep.at(first.Time), first.IP, first.UserAgent); !strings.Contains(sum, want) ||
		!strings.Contains(sum, "more (all in replay.md and replay.json, or --emit logins)") {
		t.Errorf("summary: got\n%s\nwant the campaign's first login quoted, %q", sum, want)
	}

	named := map[string]bool{}
	for _, s := range rep.Sources {
		named[s.IP] = true
	}
	if !named[tr.BurstIP] {
		t.Errorf("the burst's IP %s is not named", tr.BurstIP)
	}
	campIPs, benign := 0, 0
	inCampaign := map[string]bool{}
	for _, ip := range tr.CampaignIPs {
		inCampaign[ip] = true
		if named[ip] {
			campIPs++
		}
	}
	for ip := range named {
		if !inCampaign[ip] && ip != tr.BurstIP {
			benign++
		}
	}
	if got, want := campIPs, len(tr.CampaignIPs)*9/10; got < want {
		t.Errorf("campaign IPs named: got %d, want at least %d", got, want)
	}
	if got, want := benign, tr.BenignIPs/200; got > want {
		t.Errorf("benign IPs named: got %d of %d, want at most %d", got, tr.BenignIPs, want)
	}
}

// line writes a combined log line.
func line(ip string, t time.Time, method, path string, status int) string {
	return fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d 0 "-" "Mozilla/5.0"`, ip, t.Format("02/Jan/2006:15:04:05 -0700"), method, path, status)
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func run(t *testing.T, cfg Config, logs ...string) *Report {
	t.Helper()
	var ins []Input
	for i, l := range logs {
		ins = append(ins, Input{Name: fmt.Sprint("log", i), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(l)), nil }})
	}
	rep, err := Run(context.Background(), cfg, ins, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestOutOfOrder checks that lines out of order within the slack are
// replayed in order, and that a jump backwards past it is reported and
// replayed, not fatal.
func TestOutOfOrder(t *testing.T) {
	cfg := loadTestConfig(t)
	for _, tc := range []struct {
		name      string
		offsets   []time.Duration // of each line from t0, in file order
		wantJumps int64
		wantLate  int64
	}{
		{"in order", []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, 0, 0},
		{"within the slack", []time.Duration{0, 90 * time.Second, 10 * time.Second, 100 * time.Second, 30 * time.Second}, 0, 0},
		{"a jump backwards", []time.Duration{0, 10 * time.Minute, 11 * time.Minute, time.Minute, 2 * time.Minute, 12 * time.Minute}, 1, 2},
		{"two jumps", []time.Duration{10 * time.Minute, 0, 20 * time.Minute, time.Minute}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for i, off := range tc.offsets {
				b.WriteString(line(fmt.Sprintf("192.0.2.%d", i+1), t0.Add(off), "POST", "/login", 200) + "\n")
			}
			rep := run(t, cfg, b.String())
			if got, want := rep.Events["login.failed"], int64(len(tc.offsets)); got != want {
				t.Errorf("failed logins: got %d, want %d", got, want)
			}
			if rep.ClockJumps != tc.wantJumps || rep.LateLines != tc.wantLate {
				t.Errorf("jumps, late lines: got %d, %d, want %d, %d", rep.ClockJumps, rep.LateLines, tc.wantJumps, tc.wantLate)
			}
			if len(rep.Jumps) != int(tc.wantJumps) {
				t.Errorf("jumps listed: got %d, want %d", len(rep.Jumps), tc.wantJumps)
			}
		})
	}
}

// TestMalformed checks that malformed lines are counted and quoted, and
// the rest replayed.
func TestMalformed(t *testing.T) {
	log := strings.Join([]string{
		line("192.0.2.1", t0, "POST", "/login", 302),
		"garbage",
		line("192.0.2.1", t0, "POST", "/login", 200),
		`192.0.2.999 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"`,
		"",
		line("192.0.2.2", t0, "GET", "/", 200),
	}, "\r\n")
	rep := run(t, loadTestConfig(t), log)
	if rep.Lines != 6 || rep.Malformed != 2 || rep.Browse != 1 || rep.Events["login.succeeded"] != 1 || rep.Events["login.failed"] != 1 {
		t.Fatalf("got %d lines, %d malformed, %d browse, events %v", rep.Lines, rep.Malformed, rep.Browse, rep.Events)
	}
	if got, want := len(rep.MalformedExamples), 2; got != want {
		t.Fatalf("examples: got %d, want %d", got, want)
	}
	if e := rep.MalformedExamples[0]; e.Line != 2 || e.Text != "garbage" || e.Input != "log0" {
		t.Errorf("first example: got %+v", e)
	}
}

// TestInputs checks gzip, stdin and globs, and that files are read oldest
// first.
func TestInputs(t *testing.T) {
	dir := t.TempDir()
	older := line("192.0.2.1", t0, "POST", "/login", 200) + "\n" + line("192.0.2.1", t0.Add(time.Second), "POST", "/login", 302) + "\n"
	newer := line("192.0.2.2", t0.Add(time.Hour), "POST", "/login", 200) + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(older))
	zw.Close()
	// access.log.1.gz is older than access.log, yet sorts after it.
	if err := os.WriteFile(filepath.Join(dir, "access.log.1.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "access.log"), []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	ins, err := Inputs([]string{filepath.Join(dir, "access.log*"), "-"}, strings.NewReader(line("192.0.2.3", t0.Add(2*time.Hour), "POST", "/login", 200)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var lines int64
	rep, err := Run(context.Background(), loadTestConfig(t), ins, Options{Progress: func(_, n int64) { lines = n }})
	if err != nil {
		t.Fatal(err)
	}
	if lines != 4 {
		t.Errorf("progress: got %d lines, want 4", lines)
	}
	if rep.Events["login.failed"] != 3 || rep.Events["login.succeeded"] != 1 || rep.ClockJumps != 0 {
		t.Errorf("got events %v, %d jumps", rep.Events, rep.ClockJumps)
	}
	if got, want := rep.Inputs[0], filepath.Join(dir, "access.log.1.gz"); got != want {
		t.Errorf("first input: got %s, want %s", got, want)
	}
	if _, err := Inputs([]string{filepath.Join(dir, "nothing*")}, nil); err == nil {
		t.Error("a pattern matching nothing: no error")
	}
}

func TestEmit(t *testing.T) {
	rep := &Report{
		Sources:  []Source{{IP: "192.0.2.7", Prefix: "192.0.2.0/24", Reason: "source.ip_velocity"}, {IP: "198.51.100.1", Prefix: "198.51.100.0/24", Reason: "bot.automation_ua"}, {IP: "192.0.2.9", Prefix: "192.0.2.0/24"}},
		Accounts: []Account{{Account: "b"}, {Account: "a"}, {Account: "b"}},
		Logins: []Login{
			{Time: t0, IP: "192.0.2.7", UserAgent: "Mozilla/5.0\tX", Incident: "inc_1"},
			{Time: t0.Add(time.Second), IP: "192.0.2.9", Login: "u1", UserAgent: "curl/8", Incident: "inc_1"},
		},
	}
	for _, tc := range []struct {
		what string
		o    EmitOptions
		want string
	}{
		{"ips", EmitOptions{}, "192.0.2.7\n198.51.100.1\n192.0.2.9\n"},
		{"prefixes", EmitOptions{}, "192.0.2.0/24\n198.51.100.0/24\n"},
		{"prefixes", EmitOptions{JSON: true}, `["192.0.2.0/24","198.51.100.0/24"]` + "\n"},
		{"accounts", EmitOptions{}, "a\nb\n"},
		{"logins", EmitOptions{}, "2026-11-25T10:00:00Z\t192.0.2.7\t-\tinc_1\tMozilla/5.0 X\n2026-11-25T10:00:01Z\t192.0.2.9\tu1\tinc_1\tcurl/8\n"},
		{"logins", EmitOptions{JSON: true}, `[{"time":"2026-11-25T10:00:00Z","ip":"192.0.2.7","user_agent":"Mozilla/5.0\tX","incident":"inc_1","decision":"","reasons":null},` +
			`{"time":"2026-11-25T10:00:01Z","ip":"192.0.2.9","user_agent":"curl/8","login":"u1","incident":"inc_1","decision":"","reasons":null}]` + "\n"},
		{"fail2ban", EmitOptions{Jail: "shop"}, "fail2ban-client set shop banip 192.0.2.7 198.51.100.1 192.0.2.9\n"},
	} {
		var b bytes.Buffer
		if err := rep.Emit(&b, tc.what, tc.o); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != tc.want {
			t.Errorf("emit %s: got %q, want %q", tc.what, got, tc.want)
		}
	}
	var b bytes.Buffer
	if err := rep.Emit(&b, "crowdsec-decisions", EmitOptions{Duration: 4 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	var ds []map[string]string
	if err := json.Unmarshal(b.Bytes(), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0]["value"] != "192.0.2.7" || ds[0]["scope"] != "ip" || ds[0]["type"] != "ban" || ds[0]["duration"] != "4h" {
		t.Errorf("crowdsec decisions: got %v", ds)
	}
	many := &Report{}
	for i := range 150 {
		many.Sources = append(many.Sources, Source{IP: fmt.Sprintf("192.0.2.%d", i)})
	}
	b.Reset()
	if err := many.Emit(&b, "fail2ban", EmitOptions{}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 2 || len(strings.Fields(lines[1])) != 4+50 {
		t.Errorf("fail2ban, 150 addresses: got %d lines, want 2 (100 and 50 addresses)", len(lines))
	}
	if err := rep.Emit(&b, "iptables", EmitOptions{}); err == nil {
		t.Error("unknown emit: no error")
	}
}

// TestFutureLog checks that a log running past the machine's clock
// replays as it would in the past: the engine's time is the log's, not
// held back at today's (the live guard's limit on timestamps ahead of the
// wall clock).
func TestFutureLog(t *testing.T) {
	f, err := os.Open("testdata/access.log.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// Five years on: the same days of the same months.
	future := strings.ReplaceAll(string(data), "/2026:", "/2031:")
	past, rep := replayTestLog(t), run(t, loadTestConfig(t), future)
	if got, want := rep.From.Year(), 2031; got != want {
		t.Fatalf("replayed from %v, want the year %d", rep.From, want)
	}
	if got, want := len(rep.Incidents), len(past.Incidents); got != want {
		t.Fatalf("incidents: got %d, want %d as in the past:\n%s", got, want, rep.Summary())
	}
	for i, inc := range rep.Incidents {
		p := past.Incidents[i]
		if inc.End.IsZero() || !inc.Start.Equal(p.Start.AddDate(5, 0, 0)) || !inc.End.Equal(p.End.AddDate(5, 0, 0)) {
			t.Errorf("incident %d: got %v to %v, want five years after %v to %v", i, inc.Start, inc.End, p.Start, p.End)
		}
	}
	if got, want := len(rep.Sources), len(past.Sources); got != want {
		t.Errorf("sources named: got %d, want %d as in the past", got, want)
	}
}

// TestSourcesPastTheCap checks that the sources named past max_listed are
// counted once each, not once a login.
func TestSourcesPastTheCap(t *testing.T) {
	all := replayTestLog(t)
	cfg := loadTestConfig(t)
	cfg.MaxListed = 100
	ins, err := Inputs([]string{"testdata/access.log.gz"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	capped, err := Run(context.Background(), cfg, ins, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len(all.Sources))
	if got := int64(len(capped.Sources)) + capped.SourcesOverflow; len(capped.Sources) != 100 || got < want*98/100 || got > want*102/100 {
		t.Errorf("named sources with 100 listed: got %d listed + %d more, want 100 + about %d", len(capped.Sources), capped.SourcesOverflow, want-100)
	}
	if sum := capped.Summary(); !strings.Contains(sum, "(100 listed; about ") {
		t.Errorf("summary: got\n%s\nwant the listed and the rest apart", sum)
	}
}

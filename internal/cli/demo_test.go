package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/cli"
)

type demo struct {
	stdout, stderr *lockedBuffer
	done           chan int
	cancel         context.CancelFunc
	shopURL        string
	guardURL       string
}

const demoKey = "demo-test-api-key"

// startDemo runs `atoguard demo` with a small shop and waits for its
// banner.
func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	d := &demo{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan int, 1),
		guardURL: "http://" + freeAddr(t), shopURL: "http://" + freeAddr(t)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	getenv := func(k string) string {
		if k == "ATOGUARD_API_KEY" {
			return demoKey
		}
		return ""
	}
	all := append([]string{"demo", "--data", t.TempDir(), "--guard-listen", strings.TrimPrefix(d.guardURL, "http://"),
		"--shop-listen", strings.TrimPrefix(d.shopURL, "http://")}, args...)
	go func() { d.done <- cli.Main(ctx, all, d.stdout, d.stderr, getenv) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			t.Error("demo did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d.stdout.String(), "Ctrl-C stops the demo") {
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("demo exited with %d\nstdout: %s\nstderr: %s", code, d.stdout, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo not up after 30 s\nstderr: %s", d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

func (d *demo) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		d.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop within 20 s")
		return -1
	}
}

func getBody(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// metric returns the value of one Prometheus sample line.
func metric(t *testing.T, text, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

func TestDemoStartsSeedsAndStops(t *testing.T) {
	d := startDemo(t, "--accounts", "300", "--combo-lines", "50")
	out := d.stdout.String()
	for _, want := range []string{d.shopURL + "/", d.guardURL, demoKey, "user000001@example.jp", "combo-list.txt", "hydra -C", "simulate --scenario distributed --fast"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if m := regexp.MustCompile(`(\d+) lines: (\d+) real accounts with their reused password`).FindStringSubmatch(out); m == nil || m[1] != "50" || m[2] != "10" {
		t.Errorf("combo list summary: %v", m)
	}
	if body := getBody(t, d.shopURL+"/", ""); !strings.Contains(body, "iPhone X") {
		t.Error("the shop's catalog has no iPhone X")
	}
	if body := getBody(t, d.guardURL+"/readyz", ""); !strings.Contains(body, "ready") {
		t.Errorf("guard readyz: %s", body)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("demo exited with %d\nstderr: %s", code, d.stderr)
	}
	if !strings.Contains(d.stdout.String(), "stopping the demo") {
		t.Errorf("stdout: %s", d.stdout)
	}
}

// TestHydraAgainstTheDemo: a real attack tool that nobody here wrote,
// hydra, runs a combo list against the demo shop's login form over
// loopback. Every try reaches the guard (correct passwords included) and
// the guard denies them all (automation user agent), finds no password
// for hydra, and opens an incident.
func TestHydraAgainstTheDemo(t *testing.T) {
	hydra, err := exec.LookPath("hydra")
	if err != nil {
		t.Skip("hydra is not installed: apt-get install hydra (.ci/run installs it)")
	}
	// --learn 1s: a fresh guard may open a campaign at once.
	d := startDemo(t, "--accounts", "200", "--combo-lines", "40", "--learn", "1s")
	out := d.stdout.String()
	m := regexp.MustCompile(`hydra -C (\S+) -s (\d+) -t 4 (\S+) http-post-form '([^']+)'`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no hydra command in the banner:\n%s", out)
	}
	combo, port, host, form := m[1], m[2], m[3], m[4]
	valid := countValid(t, combo, d)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hydra, "-C", combo, "-s", port, "-t", "4", "-w", "10", host, "http-post-form", form)
	cmd.Dir = t.TempDir() // hydra writes hydra.restore in its working directory
	res, err := cmd.CombinedOutput()
	t.Logf("hydra:\n%s", res)
	if err != nil {
		t.Fatalf("hydra: %v", err)
	}
	if !strings.Contains(string(res), "0 valid password found") {
		t.Errorf("hydra found passwords through the guard")
	}

	metrics := getBody(t, d.guardURL+"/metrics", "")
	if got := metric(t, metrics, `atoguard_events_total{type="login.succeeded"}`); int(got) != valid {
		t.Errorf("the guard saw %v correct passwords, the combo list has %d", got, valid)
	}
	tried := metric(t, metrics, `atoguard_events_total{type="login.succeeded"}`) + metric(t, metrics, `atoguard_events_total{type="login.failed"}`)
	if denied := metric(t, metrics, `atoguard_decisions_total{decision="deny"}`); tried != 40 || denied != 40 {
		t.Errorf("the guard saw %v tries and denied %v, want 40 and 40", tried, denied)
	}
	var incs []struct {
		State    string `json:"state"`
		Attempts int    `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(getBody(t, d.guardURL+"/v1/incidents", demoKey)), &incs); err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].State != "open" || incs[0].Attempts < 20 {
		t.Errorf("incidents %+v, want one open", incs)
	}
}

// countValid returns how many combo-list lines carry a right password, as
// the banner says, after checking the file has the lines it announced.
func countValid(t *testing.T, combo string, d *demo) int {
	t.Helper()
	m := regexp.MustCompile(`(\d+) lines: (\d+) real accounts with their reused password`).FindStringSubmatch(d.stdout.String())
	if m == nil {
		t.Fatal("no combo list summary")
	}
	f, err := os.Open(combo)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if strconv.Itoa(n) != m[1] {
		t.Fatalf("combo list has %d lines, banner says %s", n, m[1])
	}
	v, _ := strconv.Atoi(m[2])
	if filepath.Base(combo) != "combo-list.txt" || v == 0 {
		t.Fatalf("combo %s, %d valid", combo, v)
	}
	return v
}

func TestSimulateCommand(t *testing.T) {
	for _, mode := range []string{"fast", "live"} {
		t.Run(mode, func(t *testing.T) {
			out := t.TempDir()
			// Fast mode at a fifth of the scenario, where the campaign
			// detector sees the attack; live mode smaller, for the plumbing.
			args := []string{"simulate", "--scenario", "distributed", "--scale", "0.03", "--out", out, "--no-progress"}
			if mode == "fast" {
				args = append(args, "--fast")
				args[4] = "0.2"
			}
			code, stdout, stderr := run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			for _, want := range []string{"takeovers allowed without step-up", "time from the attack's start to the incident", "report: "} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, ext := range []string{".md", ".json", ".svg"} {
				if _, err := os.Stat(filepath.Join(out, "distributed-"+mode+ext)); err != nil {
					t.Error(err)
				}
			}
			var rep struct {
				Off struct {
					Valid     int `json:"attacker_valid_credentials"`
					Takeovers int `json:"takeovers_allowed"`
				} `json:"guard_off"`
				On struct {
					Valid     int     `json:"attacker_valid_credentials"`
					Takeovers int     `json:"takeovers_allowed"`
					Events    int     `json:"events_assessed"`
					Incidents int     `json:"incidents"`
					After     float64 `json:"time_to_incident_seconds"`
				} `json:"guard_on"`
			}
			data, _ := os.ReadFile(filepath.Join(out, "distributed-"+mode+".json"))
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Off.Valid == 0 || rep.Off.Takeovers != rep.Off.Valid {
				t.Errorf("guard off: %d of %d valid credentials taken over", rep.Off.Takeovers, rep.Off.Valid)
			}
			if rep.On.Events == 0 || rep.On.Valid != rep.Off.Valid || rep.On.Takeovers > rep.On.Valid {
				t.Errorf("guard on: %+v", rep.On)
			}
			if mode == "fast" && (rep.On.Takeovers*20 > rep.On.Valid || rep.On.Incidents == 0 || rep.On.After > 300) {
				t.Errorf("guard on, fast: %d of %d taken over, %d incidents, the first %v s after the attack started",
					rep.On.Takeovers, rep.On.Valid, rep.On.Incidents, rep.On.After)
			}
		})
	}
	if code, _, stderr := run(t, "simulate", "--scenario", "tsunami"); code != 1 || !strings.Contains(stderr, "burst, distributed, spray") {
		t.Errorf("unknown scenario: %d %s", code, stderr)
	}
}

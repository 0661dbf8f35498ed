package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
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
	data           string
}

const demoKey = "demo-test-api-key"

// startDemo runs `atoguard demo` with a small shop and waits for its
// banner.
func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	d := &demo{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan int, 1),
		guardURL: "http://" + freeAddr(t), shopURL: "http://" + freeAddr(t), data: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	getenv := func(k string) string {
		if k == "ATOGUARD_API_KEY" {
			return demoKey
		}
		return ""
	}
	all := append([]string{"demo", "--data", d.data, "--guard-listen", strings.TrimPrefix(d.guardURL, "http://"),
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
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(d.stdout.String(), "Ctrl-C stops the demo") {
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("demo exited with %d\nstdout: %s\nstderr: %s", code, d.stdout, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo not up after 2 minutes\nstderr: %s", d.stderr)
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
	var d *demo
	var valid int
	for attempt := 1; ; attempt++ {
		// --learn 1s: a fresh guard may open a campaign at once.
		d = startDemo(t, "--accounts", "200", "--combo-lines", "40", "--learn", "1s")
		out := d.stdout.String()
		m := regexp.MustCompile(`hydra -C (\S+) -s (\d+) -t 4 (\S+) http-post-form '([^']+)'`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no hydra command in the banner:\n%s", out)
		}
		valid = countValid(t, m[1], d)
		res, unreached := tryHydra(t, hydra, m)
		if unreached && attempt == 1 {
			// Once, on a machine loaded with the race detector, a
			// hydra worker gave up on its connection: the guard's
			// counts are then short of hydra's 40 tries. Once more, on
			// a fresh demo.
			t.Logf("hydra could not reach the demo shop; once more on a fresh demo")
			d.stop(t)
			continue
		}
		if unreached {
			t.Fatalf("hydra could not reach the demo shop twice:\n%s", res)
		}
		if !strings.Contains(res, "0 valid password found") {
			t.Errorf("hydra found passwords through the guard")
		}
		break
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

// runHydra runs the banner's hydra command, m its combo list, port, host
// and form, and returns what hydra printed.
func runHydra(t *testing.T, hydra string, m []string) string {
	t.Helper()
	res, unreached := tryHydra(t, hydra, m)
	if unreached {
		t.Fatalf("hydra could not reach the target:\n%s", res)
	}
	return res
}

// tryHydra is runHydra, but reports (unreached) when hydra gave up on a
// connection ("could not be connected") instead of failing the test.
func tryHydra(t *testing.T, hydra string, m []string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hydra, "-C", m[1], "-s", m[2], "-t", "4", "-w", "10", m[3], "http-post-form", m[4])
	cmd.Dir = t.TempDir() // hydra writes hydra.restore in its working directory
	res, err := cmd.CombinedOutput()
	t.Logf("hydra:\n%s", res)
	if err != nil && strings.Contains(string(res), "could not be connected") {
		return string(res), true
	}
	if err != nil {
		t.Fatalf("hydra: %v", err)
	}
	return string(res), false
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
					Valid      int     `json:"attacker_valid_credentials"`
					Takeovers  int     `json:"takeovers_allowed"`
					Events     int     `json:"events_assessed"`
					Incidents  int     `json:"incidents"`
					After      float64 `json:"time_to_incident_seconds"`
					Challenged int     `json:"owner_logins_challenged"`
					Passed     int     `json:"owner_step_ups_passed"`
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
			// Owners have a factor (live: TOTP enrolled through the guard)
			// and pass the step-ups they are asked for.
			if rep.On.Passed != rep.On.Challenged {
				t.Errorf("guard on: owners passed %d of %d step-ups", rep.On.Passed, rep.On.Challenged)
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

// TestSimulateAgainstTheDemo is issue 6's newcomer path: `atoguard demo`,
// then `atoguard simulate --scenario distributed --demo DIR` drives the
// running demo shop's pages, and the demo's own guard opens an incident
// (GET /v1/incidents) seconds after the attack started.
func TestSimulateAgainstTheDemo(t *testing.T) {
	d := startDemo(t, "--accounts", "400", "--combo-lines", "50", "--learn", "1s")
	if !strings.Contains(d.stdout.String(), "simulate --scenario distributed --demo "+d.data) {
		t.Errorf("the banner does not say how to attack the demo:\n%s", d.stdout)
	}
	path := filepath.Join(d.data, "demo.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("demo.json mode %v, want 0600", fi.Mode().Perm())
	}
	var st struct {
		GuardURL string `json:"guard_url"`
		ShopURL  string `json:"shop_url"`
		Accounts int    `json:"accounts"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.GuardURL != d.guardURL || st.ShopURL != d.shopURL || st.Accounts != 400 || strings.Contains(string(data), demoKey) {
		t.Errorf("demo.json: %s", data)
	}

	getenv := func(k string) string {
		if k == "ATOGUARD_API_KEY" {
			return demoKey
		}
		return ""
	}
	var out, errb lockedBuffer
	started := time.Now()
	code := cli.Main(context.Background(), []string{"simulate", "--scenario", "distributed", "--demo", d.data,
		"--scale", "0.03", "--attack-span", "10s", "--no-progress"}, &out, &errb, getenv)
	t.Logf("simulate took %s:\n%s", time.Since(started).Round(time.Second), out.String())
	if code != 0 {
		t.Fatalf("simulate exited with %d\nstderr: %s", code, errb.String())
	}
	m := regexp.MustCompile(`incident: (\S+) opened at \S+, (\S+) after the attack started`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("simulate reports no incident:\n%s", out.String())
	}
	if after, err := time.ParseDuration(m[2]); err != nil || after > 10*time.Second {
		t.Errorf("incident %s after the attack started, want within seconds", m[2])
	}
	var incs []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Attempts int    `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(getBody(t, d.guardURL+"/v1/incidents", demoKey)), &incs); err != nil {
		t.Fatal(err)
	}
	if len(incs) == 0 || incs[0].ID != m[1] || incs[0].Attempts < 50 {
		t.Errorf("the demo's guard lists incidents %+v, want %s with the attack's attempts", incs, m[1])
	}
	// The incident opens within a second of the attack's start; what got
	// in before it is a few at most.
	valid := regexp.MustCompile(`attacker logins with a valid password\s+(\d+)\n`).FindStringSubmatch(out.String())
	allowed := regexp.MustCompile(`takeovers allowed without step-up\s+(\d+)\n`).FindStringSubmatch(out.String())
	if valid == nil || allowed == nil {
		t.Fatalf("no takeover figures:\n%s", out.String())
	}
	if v, a := atoi(t, valid[1]), atoi(t, allowed[1]); v == 0 || a*5 > v {
		t.Errorf("%d of %d stolen-password logins let in", a, v)
	}

	if code := d.stop(t); code != 0 {
		t.Fatalf("demo exited with %d", code)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("demo.json left behind after the demo stopped: %v", err)
	}
	code, _, stderr := run(t, "simulate", "--demo", d.data)
	if code != 1 || !strings.Contains(stderr, "no running demo in "+d.data) || !strings.Contains(stderr, "atoguard demo --data") {
		t.Errorf("simulate against a stopped demo: %d %s", code, stderr)
	}
}

func TestSimulateDemoErrors(t *testing.T) {
	empty := t.TempDir()
	stale := t.TempDir()
	// A demo that crashed leaves its demo.json behind; nothing answers.
	state := `{"version": 1, "pid": 1, "started_at": "2026-11-25T20:00:00Z", "guard_url": "http://` + freeAddr(t) +
		`", "shop_url": "http://` + freeAddr(t) + `", "accounts": 300, "forwarded_from_loopback": true}`
	if err := os.WriteFile(filepath.Join(stale, "demo.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--demo", empty}, "no running demo in " + empty + ": it is not a demo's data directory"},
		{[]string{"--demo", stale}, "does not answer"},
		{[]string{"--demo", stale, "--fast"}, "leave out --fast and --guard"},
		{[]string{"--attack-span", "5s"}, "--attack-span needs --demo"},
	} {
		code, _, stderr := run(t, append([]string{"simulate"}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("simulate %v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDemoBehindTheProxy: `demo --proxy` runs the reference shop with no
// guard calls of its own behind atoguard proxy. An owner logs in through
// the proxy with the shop's own form and session; hydra, firing the combo
// list at the same address, finds no password: the guard denies its user
// agent at the door, so not one of its tries reaches the shop's password
// check, and an incident opens.
func TestDemoBehindTheProxy(t *testing.T) {
	d := startDemo(t, "--accounts", "200", "--combo-lines", "40", "--learn", "1s", "--proxy")
	out := d.stdout.String()
	owner := regexp.MustCompile(`Try an owner  (\S+) / (\S+)`).FindStringSubmatch(out)
	if owner == nil {
		t.Fatalf("no owner in the banner:\n%s", out)
	}
	// The owner, with the shop's own form and token.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: asBrowser{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, login := page(c.Get(d.shopURL + "/login"))
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(login)
	if token == nil {
		t.Fatalf("no form token on the login page:\n%s", login)
	}
	resp, body := page(c.PostForm(d.shopURL+"/login", url.Values{"login": {owner[1]}, "password": {"wrong"}, "csrf_token": {token[1]}}))
	if resp.StatusCode != 200 || !strings.Contains(body, `data-status="login-failed"`) {
		t.Errorf("a wrong password through the proxy: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = page(c.PostForm(d.shopURL+"/login", url.Values{"login": {owner[1]}, "password": {owner[2]}, "csrf_token": {token[1]}}))
	if resp.StatusCode != 303 || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "shop_session=") {
		t.Fatalf("the owner's login through the proxy: %d %v", resp.StatusCode, resp.Header)
	}
	if _, body := page(c.Get(d.shopURL + "/account")); !strings.Contains(body, owner[1]) {
		t.Errorf("the owner's account page through the proxy lacks %s", owner[1])
	}
	if _, body := page(c.Get(d.shopURL + "/.atoguard/security")); !strings.Contains(body, `id="passkey-register"`) {
		t.Errorf("the proxy's security page for the signed-in owner:\n%s", body)
	}

	hydra, err := exec.LookPath("hydra")
	if err != nil {
		t.Skip("hydra is not installed: apt-get install hydra (.ci/run installs it)")
	}
	m := regexp.MustCompile(`hydra -C (\S+) -s (\d+) -t 4 (\S+) http-post-form '([^']+)'`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no hydra command in the banner:\n%s", out)
	}
	if res := runHydra(t, hydra, m); !strings.Contains(res, "0 valid password found") {
		t.Errorf("hydra found passwords through the proxy")
	}
	metrics := getBody(t, d.guardURL+"/metrics", "")
	// The owner's two tries and hydra's 40 were asked about at the door.
	if got := metric(t, metrics, `atoguard_events_total{type="login.attempt"}`); got != 42 {
		t.Errorf("the guard saw %v login attempts, want 42", got)
	}
	if got := metric(t, metrics, `atoguard_events_total{type="login.succeeded"}`); got != 1 {
		t.Errorf("the guard saw %v logins succeed, want the owner's alone", got)
	}
	var incs []struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(getBody(t, d.guardURL+"/v1/incidents", demoKey)), &incs); err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].State != "open" {
		t.Errorf("incidents %+v, want one open", incs)
	}
}

// asBrowser sends requests with a browser's headers: the guard denies Go's
// own user agent at login.
type asBrowser struct{}

func (asBrowser) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36")
	r.Header.Set("Accept-Language", "ja-JP,ja;q=0.9")
	r.Header.Set("Accept", "text/html")
	return http.DefaultTransport.RoundTrip(r)
}

// TestSimulateDemoListsEveryIncident: the run's output lists every
// incident the guard opened during it, with its start time, those before
// the attack (the demo's own owners taken for a crew) marked false, so a
// false incident cannot hide behind the attack's; and at this scale
// (3,000 owners, whose warm-up history is days of logins) there is none.
func TestSimulateDemoListsEveryIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a demo of 3000 accounts")
	}
	d := startDemo(t, "--accounts", "3000", "--combo-lines", "50", "--learn", "1s")
	getenv := func(k string) string {
		if k == "ATOGUARD_API_KEY" {
			return demoKey
		}
		return ""
	}
	var out, errb lockedBuffer
	code := cli.Main(context.Background(), []string{"simulate", "--scenario", "distributed", "--demo", d.data,
		"--scale", "0.3", "--attack-span", "10s", "--no-progress"}, &out, &errb, getenv)
	t.Logf("simulate:\n%s", out.String())
	if code != 0 {
		t.Fatalf("simulate exited with %d\nstderr: %s", code, errb.String())
	}
	var incs []struct {
		ID        string    `json:"id"`
		StartedAt time.Time `json:"started_at"`
	}
	if err := json.Unmarshal([]byte(getBody(t, d.guardURL+"/v1/incidents", demoKey)), &incs); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`incidents this run opened: (\d+) \(warm-up from \S+, owners' traffic from \S+, attack from (\S+)\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("simulate does not list the incidents it opened:\n%s", out.String())
	}
	if got, want := atoi(t, m[1]), len(incs); got != want || want == 0 {
		t.Errorf("simulate lists %d incidents, the guard has %d", got, want)
	}
	for _, inc := range incs {
		line := regexp.MustCompile(`(?m)^  ` + inc.ID + ` \S+ started (\S+), ([^;]+);`).FindStringSubmatch(out.String())
		if line == nil {
			t.Errorf("incident %s is not listed", inc.ID)
			continue
		}
		if want := inc.StartedAt.Local().Format("15:04:05.0"); line[1] != want {
			t.Errorf("incident %s listed as started %s, want %s", inc.ID, line[1], want)
		}
		attack, err := time.ParseInLocation("15:04:05.0", m[2], time.Local)
		if err != nil {
			t.Fatal(err)
		}
		clock := func(x time.Time) time.Duration {
			return time.Duration(x.Hour())*time.Hour + time.Duration(x.Minute())*time.Minute + time.Duration(x.Second())*time.Second + time.Duration(x.Nanosecond())
		}
		before := clock(inc.StartedAt.Local()) < clock(attack)-time.Second
		if false_ := strings.Contains(line[2], "FALSE INCIDENT"); false_ != before {
			t.Errorf("incident %s started %s, attack %s: listed %q", inc.ID, line[1], m[2], line[2])
		}
		if before {
			t.Errorf("incident %s started %s, before the attack (%s): the demo's own owners opened it", inc.ID, line[1], m[2])
		}
	}
	if strings.Contains(out.String(), "FALSE INCIDENT") || strings.Contains(out.String(), "opened before the attack") {
		t.Errorf("simulate lists a false incident:\n%s", out.String())
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("demo exited with %d", code)
	}
}

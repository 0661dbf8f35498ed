package guard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
	"github.com/atoguard/atoguard/internal/traffic"
)

// crashChildEnv names the data directory of a guard that this test binary
// runs as a child process, to be killed.
const crashChildEnv = "ATOGUARD_CRASH_CHILD_DATA"

// TestCrashChild is the child: it serves a guard on the event clock on the
// data directory in crashChildEnv, prints its URL and serves until it is
// killed. Run alone it does nothing.
func TestCrashChild(t *testing.T) {
	data := os.Getenv(crashChildEnv)
	if data == "" {
		t.Skip("run by TestKill9 as a child process")
	}
	cfg := config.Default()
	cfg.Data, cfg.Listen, cfg.Clock = data, "127.0.0.1:0", string(clock.Event)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := Start(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), BootstrapKey: multiBootstrap})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("URL %s\n", g.URL())
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// serveChild starts a guard in a child process on data and returns it
// with its URL.
func serveChild(t *testing.T, data string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+data)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(60 * time.Second):
		t.Fatalf("the child guard did not start:\n%s", logs)
	}
	return nil, ""
}

// crashDecision is what TestKill9 compares of one answer.
type crashDecision struct {
	Decision string `json:"decision"`
	Risk     int    `json:"risk"`
	Reasons  []struct {
		Code string `json:"code"`
	} `json:"reasons"`
	IncidentID string `json:"incident_id"`
}

func (d crashDecision) String() string {
	codes := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		codes[i] = r.Code
	}
	return fmt.Sprintf("%s %d [%s] incident=%v", d.Decision, d.Risk, strings.Join(codes, ","), d.IncidentID != "")
}

// TestKill9 sends a scenario's events to `atoguard serve` in a child
// process, kills it with SIGKILL at three points (before any periodic save:
// everything the detectors learned is only in the audit log), restarts it
// on the same data directory and checks that every answer and incident is
// the one a guard that was never killed gives.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five guards")
	}
	f, err := os.Open("../engine/testdata/scenarios/burst/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	labeled, err := traffic.ReadJSONL(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	run := func(kills []int) ([]string, []store.Incident) {
		data := t.TempDir()
		cmd, url := serveChild(t, data)
		var got []string
		for i := range labeled {
			if slices.Contains(kills, i) {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL: no save, no drain
					t.Fatal(err)
				}
				_ = cmd.Wait()
				cmd, url = serveChild(t, data)
			}
			var d crashDecision
			if code := call(t, "POST", url+"/v1/events", labeled[i].Event, &d); code != 200 {
				t.Fatalf("event %d: %d", i, code)
			}
			got = append(got, d.String())
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		st, err := sqlite.Open(context.Background(), data, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		incs, err := st.ListIncidents(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(incs, func(a, b store.Incident) int { return a.StartedAt.Compare(b.StartedAt) })
		return got, incs
	}
	whole, wholeIncs := run(nil)
	// Once before the attack, and twice in it: right after the incident
	// opened, and a hundred events later.
	first := slices.IndexFunc(whole, func(d string) bool { return strings.HasSuffix(d, "incident=true") })
	if first < 0 {
		t.Fatal("no incident in the uninterrupted run")
	}
	kills := []int{first / 2, first + 1, first + 101}
	got, gotIncs := run(kills)
	differ := 0
	for i := range whole {
		if got[i] != whole[i] {
			differ++
			if differ <= 10 {
				t.Errorf("event %d: %s after kill -9 at events %v, %s never killed", i, got[i], kills, whole[i])
			}
		}
	}
	t.Logf("%d events, killed before events %v: %d answers differ", len(labeled), kills, differ)
	type inc struct {
		Kind, State        string
		StartedAt, EndedAt time.Time
	}
	view := func(incs []store.Incident) []inc {
		out := make([]inc, len(incs))
		for i, in := range incs {
			out[i] = inc{in.Kind, in.State, in.StartedAt, in.EndedAt}
		}
		return out
	}
	if !slices.Equal(view(wholeIncs), view(gotIncs)) {
		t.Errorf("incidents after kill -9: %+v, never killed: %+v", view(gotIncs), view(wholeIncs))
	}
	data, _ := json.Marshal(view(gotIncs))
	t.Logf("incidents: %s", data)
}

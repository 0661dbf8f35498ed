package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/traffic"
)

// saveEvery is how many events pass between the periodic saves of the
// crash test: the guard saves once a minute.
const saveEvery = 173

// decided is what the crash test compares of one decision.
type decided struct {
	Decision string
	Risk     int
	Reasons  string
	Incident bool // attributed to an incident
}

// crashRun is one run of a scenario's events on one store: uninterrupted,
// or killed before some events and restarted.
type crashRun struct {
	decisions []decided
	incidents []store.Incident
	restarts  []Recovery
}

// runWithCrashes assesses the events on a fresh store, saving every
// saveEvery events, and before each event index in crashes drops the
// engine without saving and starts a new one on the same store (as a
// kill -9 and a restart would). With replay false the new engine only
// loads the snapshot, as the guard did before it replayed the audit log.
func runWithCrashes(t *testing.T, labeled []traffic.Labeled, crashes []int, replay bool) crashRun {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	var run crashRun
	start := func() *Engine {
		if replay {
			return newEngine(t, "", st)
		}
		return newEngine(t, "", snapshotOnly{st})
	}
	e := start()
	for i := range labeled {
		if slices.Contains(crashes, i) {
			e = start()
			if err := e.Restore(ctx); err != nil {
				t.Fatalf("restoring before event %d: %v", i, err)
			}
			run.restarts = append(run.restarts, e.Recovered())
		}
		_, r := assessLabeled(ctx, t, e, labeled[i], i)
		codes := make([]string, len(r.Reasons))
		for j, rs := range r.Reasons {
			codes[j] = rs.Code
		}
		run.decisions = append(run.decisions, decided{string(r.Decision), r.Risk, strings.Join(codes, ","), r.IncidentID != ""})
		if (i+1)%saveEvery == 0 {
			if err := e.Save(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Save(ctx); err != nil {
		t.Fatal(err)
	}
	incs, err := st.ListIncidents(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(incs, func(a, b store.Incident) int { return a.StartedAt.Compare(b.StartedAt) })
	run.incidents = incs
	return run
}

// snapshotOnly hides the audit log from an engine: it loads its snapshot
// and replays nothing.
type snapshotOnly struct{ st *memory.Store }

func (s snapshotOnly) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	return s.st.GetProfile(ctx, account)
}
func (s snapshotOnly) GetChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return s.st.GetChallenge(ctx, id)
}
func (s snapshotOnly) GetContacts(ctx context.Context, userID string) (store.Contacts, error) {
	return s.st.GetContacts(ctx, userID)
}
func (s snapshotOnly) ListIncidentAccounts(ctx context.Context, id string) ([]store.IncidentAccount, error) {
	return s.st.ListIncidentAccounts(ctx, id)
}
func (s snapshotOnly) GetState(ctx context.Context, name string) ([]byte, error) {
	return s.st.GetState(ctx, name)
}
func (s snapshotOnly) PutState(ctx context.Context, name string, v []byte) error {
	return s.st.PutState(ctx, name, v)
}
func (s snapshotOnly) Write(ctx context.Context, b store.Batch) error { return s.st.Write(ctx, b) }

// comparableIncident is an incident as the crash test compares it: its id is
// drawn at random when it opens, and the sketches of its sources restart
// empty (DistinctIPs, DistinctPrefixes and TopSources are estimates).
type comparableIncident struct {
	Kind, State                     string
	StartedAt, EndedAt              time.Time
	Attempts, Targeted, Compromised int64
}

func comparableIncidents(incs []store.Incident) []comparableIncident {
	out := make([]comparableIncident, len(incs))
	for i, in := range incs {
		out[i] = comparableIncident{Kind: in.Kind, State: in.State, StartedAt: in.StartedAt, EndedAt: in.EndedAt,
			Attempts: in.Attempts, Targeted: in.AccountsTargeted, Compromised: in.AccountsCompromised}
	}
	return out
}

// differing counts the decisions of got that differ from want's.
func differing(want, got []decided) int {
	n := 0
	for i := range want {
		if want[i] != got[i] {
			n++
		}
	}
	return n
}

// TestCrashRecovery kills the engine at random points of scenarios, after
// its last periodic save, restarts it on the same store and checks that it
// decides every later event and ends with the incidents exactly as an
// uninterrupted engine does. It logs what a restart that only loads the
// snapshot gets wrong, for comparison.
func TestCrashRecovery(t *testing.T) {
	scenarios := []string{"burst", "spray", "distributed"}
	if testing.Short() || raceOn {
		scenarios = scenarios[:1]
	}
	for _, name := range scenarios {
		t.Run(name, func(t *testing.T) {
			labeled := loadCase(t, "testdata/scenarios/"+name)
			whole := runWithCrashes(t, labeled, nil, true)
			rng := rand.New(rand.NewPCG(uint64(len(labeled)), 16))
			rounds := [][]int{crashesAfterIncident(whole, labeled)}
			for range 2 {
				crashes := make([]int, 4)
				for i := range crashes {
					crashes[i] = 1 + rng.IntN(len(labeled)-1)
				}
				slices.Sort(crashes)
				rounds = append(rounds, crashes)
			}
			for _, crashes := range rounds {
				t.Run(fmt.Sprintf("crashes before events %v", crashes), func(t *testing.T) {
					checkCrashes(t, labeled, whole, crashes)
				})
			}
		})
	}
}

// crashesAfterIncident are crashes right after the first event of the
// uninterrupted run attributed to an incident and the tenth after it,
// when the incident opened after the last save.
func crashesAfterIncident(whole crashRun, labeled []traffic.Labeled) []int {
	first := slices.IndexFunc(whole.decisions, func(d decided) bool { return d.Incident })
	if first < 0 {
		return []int{len(labeled) / 2}
	}
	return []int{first + 1, min(first+11, len(labeled)-1)}
}

// checkCrashes runs the events with crashes before the events at crashes
// and compares the decisions and incidents with the uninterrupted run.
func checkCrashes(t *testing.T, labeled []traffic.Labeled, whole crashRun, crashes []int) {
	got := runWithCrashes(t, labeled, crashes, true)
	before := runWithCrashes(t, labeled, crashes, false)
	replayed := 0
	for _, r := range got.restarts {
		replayed += r.Replayed
	}
	incDiff := func(r crashRun) bool {
		return !cmp.Equal(comparableIncidents(whole.incidents), comparableIncidents(r.incidents))
	}
	t.Logf("%d events, %d replayed after the snapshots; decisions differing from the uninterrupted run: %d with replay, %d with the snapshot only; incidents (open) %d (%d) uninterrupted, %d (%d) with replay, %d (%d) with the snapshot only; incidents differ with replay: %v, with the snapshot only: %v",
		len(labeled), replayed, differing(whole.decisions, got.decisions), differing(whole.decisions, before.decisions),
		len(whole.incidents), countOpen(whole.incidents), len(got.incidents), countOpen(got.incidents),
		len(before.incidents), countOpen(before.incidents), incDiff(got), incDiff(before))
	for i := range whole.decisions {
		if whole.decisions[i] != got.decisions[i] {
			t.Errorf("event %d: decided %+v after the crashes, %+v uninterrupted", i, got.decisions[i], whole.decisions[i])
		}
	}
	if d := cmp.Diff(comparableIncidents(whole.incidents), comparableIncidents(got.incidents)); d != "" {
		t.Errorf("incidents after the crashes differ (-uninterrupted +crashed):\n%s", d)
	}
}

func countOpen(incs []store.Incident) int {
	n := 0
	for _, in := range incs {
		if in.State == store.IncidentOpen {
			n++
		}
	}
	return n
}

// TestRestoreClosesOrphanedIncidents checks that an incident left open on
// record that no detector holds after a restart is closed at its last
// update, and that one the snapshot holds stays open.
func TestRestoreClosesOrphanedIncidents(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)
	orphan := store.Incident{ID: "inc_orphan", Kind: "credential_stuffing", State: store.IncidentOpen,
		StartedAt: at, UpdatedAt: at.Add(time.Minute), Attempts: 40}
	tests := []struct {
		name  string
		saved bool // a snapshot holds the incident
		want  string
	}{
		{"no snapshot holds it", false, store.IncidentClosed},
		{"the snapshot holds it", true, store.IncidentOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memory.New()
			if err := st.Write(ctx, store.Batch{Incidents: []store.Incident{orphan}}); err != nil {
				t.Fatal(err)
			}
			if tt.saved {
				first := newEngine(t, "", st)
				first.tracker.Open(orphan.Kind, orphan.StartedAt)
				first.tracker.Resume(orphan.ID, nil)
				if err := first.Save(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e := newEngine(t, "", st)
			if err := e.Restore(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetIncident(ctx, orphan.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.want {
				t.Errorf("incident %s after the restart, want %s", got.State, tt.want)
			}
			if tt.want == store.IncidentClosed && !got.EndedAt.Equal(orphan.UpdatedAt) {
				t.Errorf("closed at %v, want its last update %v", got.EndedAt, orphan.UpdatedAt)
			}
			if n := e.Recovered().Closed; (n == 1) != (tt.want == store.IncidentClosed) {
				t.Errorf("Recovered().Closed = %d", n)
			}
		})
	}
}

// TestRestoreKeepsEventTime checks that on the event clock a restart goes
// on from the snapshot's event time, and that a snapshot taken before any
// event does not set the event time to the wall time it then had.
func TestRestoreKeepsEventTime(t *testing.T) {
	ctx := context.Background()
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	login := func(at time.Time) event.Event {
		return decode(t, `{"type": "login.failed", "occurred_at": %q, "login": "taro@example.jp", "context": {"ip": "203.0.113.7"}}`,
			at.Format(time.RFC3339Nano))
	}
	tests := []struct {
		name   string
		before []time.Time // events assessed before the save
		after  time.Time   // the event assessed after the restart
		want   time.Time   // the engine's now then
	}{
		{"saved before any event", nil, old, old},
		{"saved after events", []time.Time{old.Add(time.Hour)}, old, old.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memory.New()
			first := newEngine(t, "", st)
			for _, at := range tt.before {
				if _, err := first.Assess(ctx, login(at)); err != nil {
					t.Fatal(err)
				}
			}
			if err := first.Save(ctx); err != nil {
				t.Fatal(err)
			}
			e := newEngine(t, "", st)
			if err := e.Restore(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Assess(ctx, login(tt.after)); err != nil {
				t.Fatal(err)
			}
			if got := e.clock.Now(); !got.Equal(tt.want) {
				t.Errorf("now = %v, want %v", got, tt.want)
			}
		})
	}
}

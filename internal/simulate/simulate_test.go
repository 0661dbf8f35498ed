package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/traffic"
)

// small returns a built-in scenario at a small scale with a short warm-up.
func small(t *testing.T, name string, scale float64) traffic.Scenario {
	t.Helper()
	sc, err := LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	sc = Scale(sc, scale)
	sc.Warmup = traffic.Duration(24 * time.Hour)
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	return sc
}

// oracle is a fake guard that knows which requests are the attacker's
// (by request id) and challenges every correct password among them. It
// checks that events arrive in time order and that follow-ups come after
// their cause.
type oracle struct {
	t        *testing.T
	attacker map[string]bool
	mu       sync.Mutex
	last     time.Time
	byType   map[string]int
	batches  int
	maxSpan  time.Duration
}

func newOracle(t *testing.T, sc traffic.Scenario) *oracle {
	evs, err := traffic.Generate(sc)
	if err != nil {
		t.Fatal(err)
	}
	o := &oracle{t: t, attacker: map[string]bool{}, byType: map[string]int{}}
	for _, e := range evs {
		if e.Label.Actor == traffic.ActorAttacker {
			var ev client.Event
			if err := json.Unmarshal(e.Event, &ev); err != nil {
				t.Fatal(err)
			}
			o.attacker[ev.RequestID] = true
		}
	}
	return o
}

func (o *oracle) AssessRaw(_ context.Context, raws []json.RawMessage) ([]client.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches++
	out := make([]client.Result, len(raws))
	var first time.Time
	for i, raw := range raws {
		var ev client.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		if ev.OccurredAt.Before(o.last) {
			o.t.Errorf("event %s at %v after one at %v", ev.Type, ev.OccurredAt, o.last)
		}
		o.last = ev.OccurredAt
		if i == 0 {
			first = ev.OccurredAt
		}
		o.maxSpan = max(o.maxSpan, ev.OccurredAt.Sub(first))
		o.byType[ev.Type]++
		out[i] = client.Result{EventID: fmt.Sprint(i), Decision: client.Allow}
		if ev.Type == client.LoginSucceeded && o.attacker[ev.RequestID] {
			out[i] = client.Result{Decision: client.Challenge,
				Challenge: &client.ChallengeOffer{ID: "ch_" + ev.RequestID, ExpiresAt: ev.OccurredAt.Add(5 * time.Minute)}}
		}
	}
	return out, nil
}

func (o *oracle) count(typ string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byType[typ]
}

// runFastWith runs one fast pass over sc against g (nil: guard off).
func runFastWith(t *testing.T, sc traffic.Scenario, g Assessor) Summary {
	t.Helper()
	labeled, err := traffic.Generate(sc)
	if err != nil {
		t.Fatal(err)
	}
	items, err := parseStream(labeled)
	if err != nil {
		t.Fatal(err)
	}
	from := sc.Start
	scr := newScorer("x", from, from.Add(sc.Duration.D()), 5*time.Minute)
	if err := runFast(context.Background(), items, g, newPlanner(FollowUps{}, sc.Seed), scr, nil); err != nil {
		t.Fatal(err)
	}
	return scr.finish(nil)
}

// TestFastScoring checks the scoring itself on every built-in scenario at
// a small scale: with the guard off every valid credential is a takeover
// and an accepted fraudulent order; a guard that challenges exactly the
// stolen logins lets none in, and the attacker gives up each step-up.
func TestFastScoring(t *testing.T) {
	for _, name := range Scenarios {
		t.Run(name, func(t *testing.T) {
			sc := small(t, name, 0.05)
			off := runFastWith(t, sc, nil)
			if off.AttackerValid == 0 || off.AttackerAttempts == 0 || off.OwnerLogins == 0 {
				t.Fatalf("nothing to score: %+v", off)
			}
			if off.TakeoversAllowed != off.AttackerValid || off.TakeoverAllowedRate != 1 {
				t.Errorf("guard off: %d takeovers of %d valid credentials", off.TakeoversAllowed, off.AttackerValid)
			}
			if off.FraudOrdersAttempted != off.AttackerValid || off.FraudOrdersAccepted != off.AttackerValid ||
				off.FraudValueAccepted != int64(off.AttackerValid)*131800 {
				t.Errorf("guard off: fraudulent orders %d attempted, %d accepted, ¥%d; want one per takeover",
					off.FraudOrdersAttempted, off.FraudOrdersAccepted, off.FraudValueAccepted)
			}
			if off.EmailChanges == 0 && off.AttackerValid >= 10 || off.EmailChanges > off.AttackerValid {
				t.Errorf("guard off: %d email changes for %d takeovers", off.EmailChanges, off.AttackerValid)
			}
			if off.OwnerChallenged+off.OwnerDenied != 0 || off.OwnerOrdersStopped != 0 || off.Events != 0 {
				t.Errorf("guard off: friction %d, orders stopped %d, events %d", off.OwnerChallenged+off.OwnerDenied, off.OwnerOrdersStopped, off.Events)
			}
			if off.AttackStart.Before(sc.Start) || !off.AttackEnd.After(off.AttackStart) {
				t.Errorf("attack span %v – %v", off.AttackStart, off.AttackEnd)
			}

			o := newOracle(t, sc)
			on := runFastWith(t, sc, o)
			if on.AttackerValid != off.AttackerValid || on.AttackerAttempts != off.AttackerAttempts {
				t.Errorf("the runs saw different attacks: %+v vs %+v", on, off)
			}
			if on.TakeoversAllowed != 0 || on.TakeoversChallenged != on.AttackerValid || on.FraudOrdersAttempted != 0 || on.EmailChanges != 0 {
				t.Errorf("perfect guard: %d allowed, %d challenged of %d, %d orders, %d email changes",
					on.TakeoversAllowed, on.TakeoversChallenged, on.AttackerValid, on.FraudOrdersAttempted, on.EmailChanges)
			}
			if n := o.count(client.MFAFailed); n != on.AttackerValid {
				t.Errorf("%d abandoned step-ups reported, want %d", n, on.AttackerValid)
			}
			gen, _ := traffic.Generate(sc)
			if on.Events != len(gen)+on.AttackerValid {
				t.Errorf("events assessed %d, want the %d generated and %d step-ups given up", on.Events, len(gen), on.AttackerValid)
			}
			if o.maxSpan >= minDelay {
				t.Errorf("a batch spans %v, want less than %v", o.maxSpan, minDelay)
			}
		})
	}
}

func TestScorerJailAndFriction(t *testing.T) {
	from := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	sc := newScorer("on", from, from.Add(time.Hour), 5*time.Minute)
	atk := traffic.Label{Actor: traffic.ActorAttacker, Phase: traffic.PhaseEval, AccountExists: true}
	at := from
	login := func(typ string, l traffic.Label, user, out string) {
		at = at.Add(time.Second)
		ev := &client.Event{Type: typ, OccurredAt: at, Context: client.Context{IP: "198.51.100.1"}}
		if user != "" {
			ev.User = &client.User{ID: user}
		}
		sc.login(ev, l, out)
	}
	for range 5 {
		login(client.LoginFailed, atk, "u-9", outAllow)
	}
	valid := atk
	valid.ValidCredential = true
	login(client.LoginSucceeded, valid, "u-1", outAllow)     // jailed IP: the jail would stop it
	login(client.LoginSucceeded, valid, "u-2", outChallenge) // stopped
	owner := traffic.Label{Actor: traffic.ActorOwner, Phase: traffic.PhaseEval, AccountExists: true}
	login(client.LoginSucceeded, owner, "u-1", outChallenge) // the owner of a stolen account
	sc.stepUpPassed(owner)                                   // … who passes the step-up
	sc.stepUpPassed(traffic.Label{Actor: traffic.ActorOwner, Phase: traffic.PhaseWarmup})
	login(client.LoginSucceeded, owner, "u-3", outAllow)
	login(client.LoginSucceeded, owner, "u-4", outFailed) // live mode: refused
	s := sc.finish(nil)
	want := Summary{Guard: "on", AttackerAttempts: 7, AttackerValid: 2, TakeoversAllowed: 1, TakeoversChallenged: 1,
		TakeoverAllowedRate: 0.5, PerIPJailTakeovers: 0, OwnerLogins: 3, OwnerChallenged: 1, OwnerDenied: 1,
		OwnerFrictionRate: 0.6667, OwnersStopped: 2, OwnerLoginsStolen: 1, OwnerFrictionStolen: 1, OwnerStepUpsPassed: 1,
		AttackStart: from.Add(time.Second), AttackEnd: from.Add(7 * time.Second)}
	if s != want {
		t.Errorf("summary\n got %+v\nwant %+v", s, want)
	}
	if b := sc.timeline[0]; b.Logins != 10 || b.Failures != 5 || b.Unknown != 0 || b.Takeovers != 1 || b.Challenged != 2 || b.Denied != 1 || b.Allowed != 2 {
		t.Errorf("bucket %+v", b)
	}
}

// liveStack starts a shop (without the guard: the fake one below) for
// live-mode tests.
func liveStack(t *testing.T, decide func(ev client.Event) string) (StackFactory, *atomic.Int64) {
	var orders atomic.Int64
	return func(ctx context.Context, accts []demoshop.SeedAccount, guardOn bool) (*Stack, error) {
		st, err := demoshop.OpenStore(ctx, "")
		if err != nil {
			return nil, err
		}
		var now atomic.Int64
		var g demoshop.Guard
		if guardOn {
			g = fakeGuard(decide)
		}
		shop, err := demoshop.New(demoshop.Options{
			Store: st, Secret: bytes.Repeat([]byte("s"), 32), Guard: g, Hasher: demoshop.Argon2id{P: demoshop.TestParams},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Now:            func() time.Time { return time.Unix(0, now.Load()).UTC() },
		})
		if err != nil {
			return nil, err
		}
		if err := shop.Seed(ctx, accts); err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: shop.Handler()}
		go srv.Serve(ln)
		return &Stack{
			ShopURL: "http://" + ln.Addr().String(),
			SetTime: func(t time.Time) { now.Store(t.UnixNano()) },
			Sweep:   shop.Sweep,
			Stop: func() error {
				for _, a := range accts {
					os, _ := st.Orders(context.Background(), a.ID)
					for _, o := range os {
						if o.Status == demoshop.StatusAccepted {
							orders.Add(1)
						}
					}
				}
				return errors.Join(srv.Close(), st.Close())
			},
		}, nil
	}, &orders
}

type fakeGuard func(ev client.Event) string

func (f fakeGuard) Assess(_ context.Context, ev client.Event) (client.Result, error) {
	return client.Result{Decision: f(ev)}, nil
}

// TestLiveThroughTheShop drives the real shop pages: with the guard off
// every stolen password logs in and orders the phone; with a guard that
// steps up every correct password from an attacker address, none does.
func TestLiveThroughTheShop(t *testing.T) {
	sc := small(t, "distributed", 0.02)
	sc.Warmup = 0
	// Attackers come from addresses outside the owners' first octets; the
	// fake guard recognises them by the forwarded address the shop reports.
	attackerIPs := map[string]bool{}
	labeled, err := traffic.Generate(sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range labeled {
		var ev client.Event
		_ = json.Unmarshal(l.Event, &ev)
		if l.Label.Actor == traffic.ActorAttacker {
			attackerIPs[ev.Context.IP] = true
		}
	}
	var heard sync.Map
	factory, orders := liveStack(t, func(ev client.Event) string {
		heard.Store(ev.Type, true)
		if ev.Type == client.LoginSucceeded && attackerIPs[ev.Context.IP] {
			return client.Challenge
		}
		return client.Allow
	})
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Config{Name: "distributed", Scenario: sc, Mode: ModeLive, NewStack: factory, Workers: 4, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	off, on := rep.Off, rep.On
	if off.AttackerValid == 0 || off.TakeoversAllowed != off.AttackerValid || off.FraudOrdersAccepted != off.AttackerValid {
		t.Errorf("guard off: %d valid, %d takeovers, %d fraudulent orders accepted", off.AttackerValid, off.TakeoversAllowed, off.FraudOrdersAccepted)
	}
	if on.TakeoversAllowed != 0 || on.TakeoversChallenged != on.AttackerValid || on.FraudOrdersAttempted != 0 {
		t.Errorf("guard on: %d allowed, %d challenged of %d, %d orders", on.TakeoversAllowed, on.TakeoversChallenged, on.AttackerValid, on.FraudOrdersAttempted)
	}
	// With the guard off, owners whose email the attacker changed cannot log in.
	if on.OwnerChallenged != 0 || off.OwnerLogins+off.OwnerLockedOut != on.OwnerLogins || on.OwnerLogins == 0 || on.OwnerLockedOut != 0 {
		t.Errorf("owners: %d challenged, %d+%d locked out / %d logins", on.OwnerChallenged, off.OwnerLogins, off.OwnerLockedOut, on.OwnerLogins)
	}
	if off.OwnerDenied != 0 {
		t.Errorf("guard off: %d owners refused", off.OwnerDenied)
	}
	// The shop itself accepted every order the scoring counts.
	accepted := int64(off.FraudOrdersAccepted + off.OwnerOrders - off.OwnerOrdersStopped + on.OwnerOrders - on.OwnerOrdersStopped)
	if got := orders.Load(); got != accepted {
		t.Errorf("the shops accepted %d orders, the scoring counts %d", got, accepted)
	}
	for _, typ := range []string{client.LoginSucceeded, client.LoginFailed, client.MFAFailed} {
		if _, ok := heard.Load(typ); !ok {
			t.Errorf("the guard never heard %s", typ)
		}
	}
	if !strings.Contains(progress.String(), "live, guard on") {
		t.Errorf("no progress bar: %q", progress.String())
	}
}

func TestReportFiles(t *testing.T) {
	sc := small(t, "burst", 0.05)
	rep, err := Run(context.Background(), Config{Name: "burst", Scenario: sc, Mode: ModeFast,
		NewGuard: func(context.Context) (*client.Client, func() error, error) {
			return nil, nil, errors.New("no guard here")
		}})
	if err == nil || !strings.Contains(err.Error(), "no guard here") {
		t.Fatalf("Run with a failing guard: %v, %v", rep, err)
	}
	// Score a guard-off pass into a report by hand, then write it.
	off := runFastWith(t, sc, nil)
	rep = &Report{Scenario: "burst", Mode: ModeFast, From: sc.Start, To: sc.Start.Add(sc.Duration.D()), Spec: sc, Off: off, On: off,
		Timeline: newScorer("on", sc.Start, sc.Start.Add(sc.Duration.D()), 5*time.Minute).timeline, Notes: notes(ModeFast)}
	dir := t.TempDir()
	files, err := rep.WriteFiles(dir, "burst-fast")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("files %v", files)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "burst-fast.md"))
	for _, want := range []string{"## Guard off and on", "takeovers allowed", "fraudulent orders accepted", "![timeline", "burst-fast.svg", "An order held for review"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	var back Report
	data, _ := os.ReadFile(filepath.Join(dir, "burst-fast.json"))
	if err := json.Unmarshal(data, &back); err != nil || back.Off.AttackerValid != off.AttackerValid {
		t.Errorf("json: %v, %+v", err, back.Off)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "burst-fast.svg"))
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
	}
	if !bytes.Contains(svg, []byte("<polyline")) || !bytes.Contains(svg, []byte("guard off: ")) {
		t.Error("svg lacks its lines or legend")
	}
}

func TestComboList(t *testing.T) {
	key := []byte("k")
	accts := DemoAccounts(100, key)
	var buf bytes.Buffer
	st, err := WriteComboList(&buf, accts, 60, 0.2, 0.5, key, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st != (ComboStats{Lines: 60, Valid: 12, WrongPassword: 18, Unknown: 30}) {
		t.Errorf("stats %+v", st)
	}
	pw := map[string]string{}
	for _, a := range accts {
		pw[a.Email] = a.Password
	}
	var valid, wrong, unknown int
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		login, pass, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(pass, ":") {
			t.Fatalf("line %q", line)
		}
		switch real, known := pw[login]; {
		case !known:
			unknown++
		case real == pass:
			valid++
		default:
			wrong++
		}
	}
	if valid != 12 || wrong != 18 || unknown != 30 {
		t.Errorf("valid %d, wrong %d, unknown %d", valid, wrong, unknown)
	}
	if accts[0].Email != "user000001@example.jp" || accts[0].ID != "u-000001" || len(accts[0].Password) < 12 {
		t.Errorf("account %+v", accts[0])
	}
	if OwnerPassword(key, "u-1") == OwnerPassword([]byte("other"), "u-1") {
		t.Error("passwords do not depend on the key")
	}
}

func TestScenariosAndScale(t *testing.T) {
	for _, name := range Scenarios {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(sc.Attacks) != 1 || sc.Attacks[0].Kind != name {
			t.Errorf("%s: attacks %+v", name, sc.Attacks)
		}
		s := Scale(sc, 0.1)
		if s.Owners.Accounts != sc.Owners.Accounts/10 || s.Attacks[0].SourceIPs < 1 || sc.Attacks[0].SourceIPs == s.Attacks[0].SourceIPs && sc.Attacks[0].SourceIPs > 10 {
			t.Errorf("%s scaled: %+v", name, s)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s scaled: %v", name, err)
		}
	}
	if _, err := LoadScenario("tsunami"); err == nil || !strings.Contains(err.Error(), "burst, distributed, spray") {
		t.Errorf("unknown scenario: %v", err)
	}
	if got := population([]item{{ev: client.Event{Type: client.LoginSucceeded, User: &client.User{ID: "u-1", Email: "a@example.jp"},
		Credential: &client.Credential{PasswordSHA1: client.PasswordSHA1("123456")}}}}, []byte("k")); len(got) != 1 || got[0].Password != "123456" {
		t.Errorf("a sprayed account's password: %+v", got)
	}
}

func TestDemoEmailAndNetwork(t *testing.T) {
	for _, c := range []struct {
		id, want string
		ok       bool
	}{
		{"u-000001", "user000001@example.jp", true},
		{"u-012345", "user012345@example.jp", true},
		{"u-000000", "", false},
		{"u-12345", "", false},
		{"x-000001", "", false},
	} {
		if got, ok := DemoEmail(c.id); got != c.want || ok != c.ok {
			t.Errorf("DemoEmail(%q) = %q, %v; want %q, %v", c.id, got, ok, c.want, c.ok)
		}
	}
	for ip, want := range map[string]string{
		"203.0.113.7": "203.0.113.0/24", "::ffff:203.0.113.7": "203.0.113.0/24",
		"2001:db8:1:2:3::4": "2001:db8:1:2::/64", "bogus": "bogus",
	} {
		if got := networkOf(ip); got != want {
			t.Errorf("networkOf(%q) = %q, want %q", ip, got, want)
		}
	}
}

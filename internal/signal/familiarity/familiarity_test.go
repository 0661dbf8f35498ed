package familiarity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type fakeLoader map[string]Record

func (f fakeLoader) LoadProfile(_ context.Context, account string) (Record, error) {
	p, ok := f[account]
	if !ok {
		return Record{}, ErrNoProfile
	}
	return p, nil
}

var t0 = time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)

func TestAssess(t *testing.T) {
	home := Context{Device: "d-1", Network: "203.0.113.0/24", Agent: "Chrome/Windows", Country: "JP", ASN: "2516"}
	tests := []struct {
		name  string
		learn []Context
		probe Context
		want  Facts
	}{
		{"no history", nil, home, Facts{}},
		{"same context", []Context{home}, home, Facts{HasHistory: true, Logins: 1, DeviceKnown: true, NetworkKnown: true, AgentKnown: true, CountryKnown: true, ASNKnown: true}},
		{"new phone at home", []Context{home}, Context{Device: "d-2", Network: home.Network, Agent: "Safari/iOS"},
			Facts{HasHistory: true, Logins: 1, NetworkKnown: true}},
		{"laptop on cafe wifi", []Context{home, home}, Context{Device: "d-1", Network: "198.51.100.0/24", Agent: "Chrome/Windows"},
			Facts{HasHistory: true, Logins: 2, DeviceKnown: true, AgentKnown: true}},
		{"stranger", []Context{home}, Context{Network: "192.0.2.0/24", Agent: "Chrome/Windows"},
			Facts{HasHistory: true, Logins: 1, AgentKnown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Config{}, []byte("k"), fakeLoader{})
			ctx := context.Background()
			for _, c := range tt.learn {
				if _, err := d.Learn(ctx, "u-1", c, t0); err != nil {
					t.Fatal(err)
				}
			}
			got, err := d.Assess(ctx, "u-1", tt.probe, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Facts{}, "Grade", "LastLogin")); diff != "" {
				t.Errorf("Assess mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLastLogin(t *testing.T) {
	ctx := context.Background()
	home := Context{Device: "d-1", Network: "203.0.113.0/24"}
	d := New(Config{}, []byte("k"), fakeLoader{})
	if f, err := d.Assess(ctx, "u-1", home, t0); err != nil || !f.LastLogin.IsZero() {
		t.Fatalf("no history: LastLogin %v, err %v; want zero", f.LastLogin, err)
	}
	var rec Record
	for _, at := range []time.Time{t0, t0.Add(48 * time.Hour)} {
		r, err := d.Learn(ctx, "u-1", home, at)
		if err != nil {
			t.Fatal(err)
		}
		if r.Account != "" {
			rec = r
		}
	}
	f, err := d.Assess(ctx, "u-1", home, t0.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(48 * time.Hour); !f.LastLogin.Equal(want) {
		t.Errorf("LastLogin %v, want %v", f.LastLogin, want)
	}
	// A profile of an older version has no last login of its own: the
	// latest mark stands for it.
	old := []byte(fmt.Sprintf(`{"d":[{"h":1,"f":%d,"l":%d,"n":2}],"l":2,"t":%d}`, t0.Unix(), t0.Add(5*time.Hour).Unix(), t0.Unix()))
	d2 := New(Config{}, []byte("k"), fakeLoader{"u-2": {Account: "u-2", Data: old}, "u-1": rec})
	if f, err := d2.Assess(ctx, "u-2", home, t0.Add(72*time.Hour)); err != nil || !f.LastLogin.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("older profile: LastLogin %v, err %v; want %v", f.LastLogin, err, t0.Add(5*time.Hour))
	}
}

func TestProfilePersistsThroughLoader(t *testing.T) {
	ctx := context.Background()
	d1 := New(Config{}, []byte("k"), fakeLoader{})
	rec, err := d1.Learn(ctx, "u-1", Context{Device: "d-1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Account != "u-1" || !rec.UpdatedAt.Equal(t0) {
		t.Errorf("record = %+v", rec)
	}
	// A new detector (a restart) with the stored profile knows the device.
	d2 := New(Config{}, []byte("k"), fakeLoader{"u-1": rec})
	f, err := d2.Assess(ctx, "u-1", Context{Device: "d-1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !f.DeviceKnown {
		t.Error("device learned before the restart is unknown after it")
	}
	// A different key cannot read the same hashes.
	d3 := New(Config{}, []byte("other"), fakeLoader{"u-1": rec})
	if f, _ := d3.Assess(ctx, "u-1", Context{Device: "d-1"}, t0); f.DeviceKnown {
		t.Error("device known under a different key")
	}
}

func TestBoundedMarks(t *testing.T) {
	ctx := context.Background()
	d := New(Config{MaxMarks: 4}, []byte("k"), fakeLoader{})
	for i := 0; i < 10; i++ {
		if _, err := d.Learn(ctx, "u-1", Context{Device: fmt.Sprint("d-", i)}, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range map[int]bool{0: false, 5: false, 6: true, 9: true} {
		f, _ := d.Assess(ctx, "u-1", Context{Device: fmt.Sprint("d-", i)}, t0)
		if f.DeviceKnown != want {
			t.Errorf("d-%d known = %v, want %v", i, f.DeviceKnown, want)
		}
	}
}

func TestMFAFailures(t *testing.T) {
	ctx := context.Background()
	d := New(Config{}, []byte("k"), fakeLoader{})
	for _, at := range []time.Duration{0, 20 * time.Hour, 30 * time.Hour} {
		if _, err := d.MFAFailed(ctx, "u-1", t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := d.Assess(ctx, "u-1", Context{}, t0.Add(31*time.Hour))
	if f.MFAFailures != 2 {
		t.Errorf("MFAFailures = %d, want 2 (within 24h)", f.MFAFailures)
	}
}

func TestAgentFamily(t *testing.T) {
	tests := map[string]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                         "Chrome/Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1": "Safari/iOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                   "Chrome/Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":     "Edge/macOS",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  "Firefox/Linux",
		"curl/8.5.0": "other/other",
		"":           "",
	}
	for ua, want := range tests {
		if got := AgentFamily(ua); got != want {
			t.Errorf("AgentFamily(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestOrders(t *testing.T) {
	ctx := context.Background()
	d := New(Config{}, []byte("k"), fakeLoader{})
	home := OrderContext{Address: "JP|1000001|千代田1-1", Payment: "card"}
	if _, err := d.LearnOrder(ctx, "u-1", home, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ContactChanged(ctx, "u-1", []string{"email"}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := d.AssessOrder(ctx, "u-1", OrderContext{Address: home.Address, PickupStore: "famima-1234", Payment: "carrier_billing"})
	if err != nil {
		t.Fatal(err)
	}
	want := OrderFacts{Orders: 1, AddressKnown: true, Changes: map[string]time.Time{"email": t0.Add(time.Hour)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AssessOrder (-want +got):\n%s", diff)
	}
}

func TestLearnWritesWhatIsLearnedAndCoalescesRefreshes(t *testing.T) {
	ctx := context.Background()
	d := New(Config{}, []byte("k"), fakeLoader{})
	home := Context{Device: "d-1", Network: "203.0.113.0/24"}
	steps := []struct {
		name  string
		c     Context
		after time.Duration
		write bool
	}{
		{"first login", home, 0, true},
		{"second login: the first few are each written", home, time.Minute, true},
		{"third login", home, 2 * time.Minute, true},
		{"fourth login", home, 3 * time.Minute, true},
		{"same context a minute later: a refresh", home, 4 * time.Minute, false},
		{"a new device: learned, written at once", Context{Device: "d-2", Network: home.Network}, 5 * time.Minute, true},
		{"refresh within the hour", home, 30 * time.Minute, false},
		{"refresh after an hour", home, 2 * time.Hour, true},
	}
	for _, s := range steps {
		p, err := d.Learn(ctx, "u-1", s.c, t0.Add(s.after))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Account != ""; got != s.write {
			t.Errorf("%s: write = %v, want %v", s.name, got, s.write)
		}
	}
}

package familiarity

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGrade(t *testing.T) {
	home := Context{Device: "d-1", Network: "203.0.113.0/24", Agent: "Chrome/Windows", Language: "ja-jp,ja"}
	phone := Context{Device: "d-2", Network: "198.51.100.0/24", Agent: "Safari/iOS", Language: "ja-jp,ja"}
	crew := Context{Device: "d-9", Network: "192.0.2.0/24", Agent: "Firefox/Linux", Language: "en-us,en"}
	evening := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) // 21:00 JST
	at := func(days int) time.Time { return evening.AddDate(0, 0, days) }
	tests := []struct {
		name  string
		learn []Context
		probe Context
		when  time.Time
		want  Grade
	}{
		{"no history", nil, home, at(20), Grade{Strangeness: 100}},
		{"home", []Context{home, home, home}, home, at(20), Grade{}},
		{"a new phone at home, same language", []Context{home, home, home}, Context{Device: "d-3", Network: home.Network, Agent: "Safari/iOS", Language: home.Language}, at(20),
			Grade{Strangeness: 56, NewAgent: true}},
		{"a crew on a settled account: nothing matches", []Context{home, home, home, home, home, home, home, home}, crew, at(20),
			Grade{Strangeness: 90, Mismatch: true, NewAgent: true, NewLanguage: true}}, // at the account's usual hour
		{"the same crew on a traveller's account weighs less", []Context{home, phone, {Device: "d-4", Network: "100.64.1.0/24", Agent: "Chrome/Android", Language: "ja-jp,ja"}, {Device: "d-5", Network: "100.64.2.0/24", Agent: "Edge/Windows", Language: "en-us,ja"}}, crew, at(20),
			Grade{Strangeness: 48, Mismatch: true, NewAgent: true, NewLanguage: true}},
		{"the owner's browser and language on a new device and network", []Context{home, home, home, home, home, home}, Context{Device: "d-7", Network: "192.0.2.0/24", Agent: home.Agent, Language: home.Language}, at(20).Add(time.Hour),
			Grade{Strangeness: 55}},
		{"at an hour the account never logs in", []Context{home, home, home, home, home, home}, home, at(20).Add(-10 * time.Hour),
			Grade{Strangeness: 10, UnusualHour: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Config{}, []byte("k"), fakeLoader{})
			ctx := context.Background()
			for i, c := range tt.learn {
				if _, err := d.Learn(ctx, "u-1", c, at(i).Add(time.Duration(i%4)*time.Hour)); err != nil { // 21:00-24:00 JST
					t.Fatal(err)
				}
			}
			got, err := d.Assess(ctx, "u-1", tt.probe, tt.when)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Grade); diff != "" {
				t.Errorf("grade mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLanguageOf(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "",
		"ja-JP,ja;q=0.9":                      "ja-jp,ja",
		"ja, en-US;q=0.9, en;q=0.8, fr;q=0.1": "ja,en-us,en",
		"*":                                   "",
		" EN-us ":                             "en-us",
	} {
		if got := LanguageOf(in); got != want {
			t.Errorf("LanguageOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNetworks(t *testing.T) {
	d := New(Config{}, []byte("k"), fakeLoader{})
	n := d.Networks()
	n.Add("203.0.113.0/24", t0)
	if !n.Seen("203.0.113.0/24") || n.Seen("198.51.100.0/24") || n.Seen("") {
		t.Fatal("seen wrong before rotation")
	}
	// Remembered for one to two periods after it was last seen.
	n.Add("198.51.100.0/24", t0.Add(networksPeriod))
	if !n.Seen("203.0.113.0/24") {
		t.Error("forgotten one period on")
	}
	n.Add("198.51.100.0/24", t0.Add(2*networksPeriod))
	if n.Seen("203.0.113.0/24") {
		t.Error("remembered two periods on")
	}
	data, err := n.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	m := d.Networks()
	if err := m.Restore(data); err != nil {
		t.Fatal(err)
	}
	if !m.Seen("198.51.100.0/24") || m.Seen("203.0.113.0/24") {
		t.Error("restored set differs")
	}
	if err := m.Restore([]byte(`{"gens":["AAAA",""]}`)); err == nil {
		t.Error("a truncated snapshot restored")
	}
	// About one unseen network in a thousand is reported seen with
	// 50,000 remembered in a generation.
	for i := range 50000 {
		n.Add(string(rune(i))+"/24", t0.Add(2*networksPeriod))
	}
	fp := 0
	for i := range 10000 {
		if n.Seen("x" + string(rune(i))) {
			fp++
		}
	}
	if fp > 20 {
		t.Errorf("%d of 10000 unseen networks reported seen", fp)
	}
}

package campaign

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// minutes feeds n minutes from start, each with the outcomes of obs spread
// over it, finishes the last one and returns the minute after.
func minutes(det *Detector, start time.Time, n int, obs []Obs) time.Time {
	step := time.Minute / time.Duration(len(obs)+1)
	for m := range n {
		at := start.Add(time.Duration(m) * time.Minute)
		for i, o := range obs {
			det.Observe(at.Add(time.Duration(i+1)*step), o)
		}
	}
	end := start.Add(time.Duration(n) * time.Minute)
	det.Tick(end)
	return end
}

// ownersMinute is a minute of an ordinary shop: 20 logins, 2 typos.
func ownersMinute(extra ...Obs) []Obs {
	obs := []Obs{{Failed: true}, {Failed: true}}
	for range 18 {
		obs = append(obs, Obs{Succeeded: true})
	}
	return append(obs, extra...)
}

func repeat(o Obs, n int) []Obs {
	out := make([]Obs, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// testRow is what TestTests compares of a row of Tests.
type testRow struct {
	Test, Metric string
	Open         float64 // not compared for first logins (it moves with the traffic)
	Above        bool
	Learning     bool
}

// TestTests: Tests names the slower tests with their thresholds, and a
// row stands above its threshold when the traffic it watches runs beyond
// the owners' mix; reading it changes nothing.
func TestTests(t *testing.T) {
	mismatch := Obs{Succeeded: true, UnfamiliarSucceeded: true, Stranger: StrangerMismatch}
	first := Obs{Succeeded: true, UnfamiliarSucceeded: true, Stranger: StrangerNoHistory}
	rows := func(h float64, failures, strangers, first bool) []testRow {
		return []testRow{
			{SequentialTest, "login failures", h, failures, false},
			{SequentialTest, "unknown-account failures", h, false, false},
			{StrangersTest, "correct passwords from strangers", h / 2, strangers, false},
			{FirstLoginsTest, FirstLogins, 0, first, false},
		}
	}
	learning := func(rs []testRow) []testRow {
		for i := range rs {
			rs[i].Learning = rs[i].Test != FirstLoginsTest
		}
		return rs
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		then  []Obs // each minute for 10 minutes after a day of owners
		owned bool  // whether there is that day at all
		want  []testRow
	}{
		{"fresh detector", Config{}, nil, false, learning(rows(12, false, false, false))},
		{"owners", Config{}, ownersMinute(), true, rows(12, false, false, false)},
		{"owners, H 20", Config{H: 20}, ownersMinute(), true, rows(20, false, false, false)},
		// 6 failures a minute more: under the one-minute test's bar,
		// over the sequential test's within minutes.
		{"slow crew", Config{}, ownersMinute(repeat(Obs{Failed: true}, 6)...), true, rows(12, true, false, false)},
		{"pre-checked list", Config{}, ownersMinute(mismatch), true, rows(12, false, true, false)},
		{"first logins", Config{}, ownersMinute(first), true, rows(12, false, false, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			det := New(tc.cfg)
			now := t0
			if tc.owned {
				now = minutes(det, now, 1440, ownersMinute())
				now = minutes(det, now, 10, tc.then)
			}
			before, err := det.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			ts := det.Tests()
			after, err := det.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("Tests changed the detector's state")
			}
			var got []testRow
			for _, r := range ts {
				row := testRow{r.Test, r.Metric, r.Open, r.Observed >= r.Open, r.Learning}
				if r.Test == FirstLoginsTest {
					row.Open = 0
					if want := math.Max(firstLeast, r.Expected/(1-firstCrew)); r.Open != want {
						t.Errorf("first logins open at %v, want %v (expected %v)", r.Open, want, r.Expected)
					}
				} else if r.Expected != 0 {
					t.Errorf("%s %s: expected %v, want 0", r.Test, r.Metric, r.Expected)
				}
				got = append(got, row)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Tests at %v (-want +got):\n%s\nrows: %+v", now, diff, ts)
			}
		})
	}
}

// TestRatesAreTheWindowTest: every row of Rates is the one-minute test's.
func TestRatesAreTheWindowTest(t *testing.T) {
	det := New(Config{})
	minutes(det, t0, 20, ownersMinute())
	for _, r := range det.Rates(t0.Add(20 * time.Minute)) {
		if r.Test != WindowTest {
			t.Errorf("%s: test %q, want %q", r.Metric, r.Test, WindowTest)
		}
	}
}

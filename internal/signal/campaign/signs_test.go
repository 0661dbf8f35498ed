package campaign

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestPoissonTail(t *testing.T) {
	for _, tc := range []struct {
		n        int
		mu, want float64
	}{
		{0, 1, 1},
		{1, 1, 1 - math.Exp(-1)},
		{2, 1, 1 - 2*math.Exp(-1)},
		{3, 0.5, 1 - math.Exp(-0.5)*(1+0.5+0.125)},
		{2, 0, 0},
	} {
		if got := poissonTail(tc.n, tc.mu); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("poissonTail(%d, %v) = %v, want %v", tc.n, tc.mu, got, tc.want)
		}
	}
}

// marksDay learns a day of owners at 4 logins a minute who bring their
// own marks (that are not logins: a takeover sign, Detector.Sign, or a
// challenge walked away from, Detector.Abandoned) at ownerSignsPerDay,
// then plays marks at the given offsets from noon of the next day among
// the owners' logins, and returns the first campaign opened and when.
func marksDay(t *testing.T, mark func(*Detector, time.Time) State, ownerSignsPerDay float64, signs []time.Duration) (State, time.Time) {
	t.Helper()
	det := New(Config{})
	rng := rand.New(rand.NewPCG(1, 7))
	end := t0.Add(36 * time.Hour)
	nextSign := t0
	sign := func(now time.Time) (State, bool) {
		if ownerSignsPerDay == 0 || now.Before(nextSign) {
			return State{}, false
		}
		nextSign = now.Add(time.Duration(rng.ExpFloat64() / ownerSignsPerDay * float64(24*time.Hour)))
		return mark(det, now), true
	}
	for now := t0; now.Before(end); now = now.Add(15 * time.Second) {
		if st := det.Observe(now, owners(rng)); st.Opened {
			t.Fatalf("owners opened a campaign at %v: %+v", now, st)
		}
		if st, ok := sign(now); ok && st.Opened {
			t.Fatalf("owners' own contact changes opened a campaign at %v: %+v", now, st)
		}
	}
	for _, d := range signs {
		at := end.Add(d)
		for now := end; now.Before(at); now = now.Add(15 * time.Second) {
			if st := det.Observe(now, owners(rng)); st.Opened {
				return st, now
			}
			if st, ok := sign(now); ok && st.Opened {
				return st, now
			}
		}
		end = at
		if st := mark(det, at); st.Opened {
			return st, at
		}
	}
	// A mark weighs in the strangers test once its minute is judged.
	for now := end; now.Before(end.Add(5 * time.Minute)); now = now.Add(15 * time.Second) {
		if st := det.Observe(now, owners(rng)); st.Opened {
			return st, now
		}
	}
	return State{}, time.Time{}
}

// TestMarks: takeover signs (Detector.Sign) and challenges walked away
// from (Detector.Abandoned) open a campaign of strangers when they come
// faster than the owners bring their own.
func TestMarks(t *testing.T) {
	sign, walk := (*Detector).Sign, (*Detector).Abandoned
	m := time.Minute
	for _, tc := range []struct {
		name        string
		mark        func(*Detector, time.Time) State
		ownersDaily float64         // owners' own marks a day, learned
		gaps        []time.Duration // between the crew's marks
		open        bool
	}{
		{"one sign is no campaign", sign, 0, []time.Duration{10 * m}, false},
		{"two signs within two hours on a quiet shop", sign, 0, []time.Duration{10 * m, 50 * m}, true},
		{"two signs three hours apart", sign, 0, []time.Duration{10 * m, 3 * time.Hour}, false},
		{"two signs where owners bring a dozen a day", sign, 12, []time.Duration{10 * m, 50 * m}, false},
		{"eight signs in two hours where owners bring a dozen a day", sign, 12,
			[]time.Duration{10 * m, 15 * m, 15 * m, 15 * m, 15 * m, 15 * m, 15 * m, 15 * m}, true},
		{"one walked-away challenge is no campaign", walk, 0, []time.Duration{10 * m}, false},
		{"three walked away in twenty minutes on a shop whose owners answer", walk, 0, []time.Duration{10 * m, 10 * m, 10 * m}, true},
		{"three walked away in twenty minutes where owners walk away a dozen times a day", walk, 12, []time.Duration{10 * m, 10 * m, 10 * m}, false},
		{"three walked away three hours apart", walk, 0, []time.Duration{10 * m, 3 * time.Hour, 3 * time.Hour}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, at := marksDay(t, tc.mark, tc.ownersDaily, tc.gaps)
			if st.Opened != tc.open {
				t.Fatalf("opened = %v at %v, want %v", st.Opened, at, tc.open)
			}
			if st.Opened && (st.Metric != Strangers || !st.Strangers) {
				t.Errorf("opened by %v (strangers %v), want a campaign of strangers", st.Metric, st.Strangers)
			}
		})
	}
}

// TestSignsSurviveASnapshot: a restart between two signs still opens.
func TestSignsSurviveASnapshot(t *testing.T) {
	det := New(Config{})
	rng := rand.New(rand.NewPCG(2, 7))
	now := t0
	for ; now.Before(t0.Add(24 * time.Hour)); now = now.Add(15 * time.Second) {
		det.Observe(now, owners(rng))
	}
	det.Sign(now)
	data, err := det.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	again := New(Config{})
	if err := again.Restore(data); err != nil {
		t.Fatal(err)
	}
	if st := again.Sign(now.Add(30 * time.Minute)); !st.Opened || !st.Strangers {
		t.Errorf("the second sign after a restart: %+v, want a campaign of strangers opened", st)
	}
}

// TestWalkedAwayOnAFreshInstall: before a day is learned, how often the
// owners walk away from their step-ups is unknown, and challenges walked
// away from weigh nothing.
func TestWalkedAwayOnAFreshInstall(t *testing.T) {
	det := New(Config{})
	rng := rand.New(rand.NewPCG(3, 7))
	now := t0
	for ; now.Before(t0.Add(2 * time.Hour)); now = now.Add(15 * time.Second) {
		det.Observe(now, owners(rng))
	}
	for i := range 6 {
		if st := det.Abandoned(now.Add(time.Duration(i) * time.Minute)); st.Opened {
			t.Fatalf("walked-away challenge %d opened a campaign two hours into a fresh install: %+v", i+1, st)
		}
	}
	for end := now.Add(10 * time.Minute); now.Before(end); now = now.Add(15 * time.Second) {
		if st := det.Observe(now, owners(rng)); st.Opened {
			t.Fatalf("opened at %v, two hours into a fresh install, on walked-away challenges: %+v", now, st)
		}
	}
}

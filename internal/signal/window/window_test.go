package window

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)

func h(s string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(s))
	return f.Sum64()
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestDecayedCounts(t *testing.T) {
	tests := []struct {
		name       string
		n          int           // observations
		every      time.Duration // spacing
		after      time.Duration // read this long after the last one
		obs        Obs
		want1m     float64
		want1h     float64
		wantFail1h float64
		tol        float64
	}{
		{"single", 1, 0, 0, Obs{}, 1, 1, 0, 0.001},
		{"burst of 10 failures", 10, 0, 0, Obs{Failed: true}, 10, 10, 10, 0.001},
		{"one minute later the 1m window has faded", 10, 0, time.Minute, Obs{Failed: true}, 10 / math.E, 10 * math.Exp(-1.0/60), 10 * math.Exp(-1.0/60), 0.01},
		{"steady 1/min for 10h approaches 60 per hour", 600, time.Minute, 0, Obs{}, 1.58, 60, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := New(1000)
			now := t0
			var st Stats
			for i := 0; i < tt.n; i++ {
				st = tab.Observe("ip", now, tt.obs)
				now = now.Add(tt.every)
			}
			if tt.after > 0 {
				st = tab.Peek("ip", now.Add(-tt.every).Add(tt.after))
			}
			if !near(st.Attempts1m, tt.want1m, tt.tol) || !near(st.Attempts1h, tt.want1h, tt.tol) || !near(st.Failures1h, tt.wantFail1h, tt.tol) {
				t.Errorf("got 1m=%.3f 1h=%.3f fail1h=%.3f, want %.3f %.3f %.3f", st.Attempts1m, st.Attempts1h, st.Failures1h, tt.want1m, tt.want1h, tt.wantFail1h)
			}
		})
	}
}

func TestRatios(t *testing.T) {
	tab := New(100)
	var st Stats
	for i := 0; i < 100; i++ {
		o := Obs{Succeeded: true}
		switch {
		case i%10 == 0:
			o = Obs{Failed: true, Unknown: true}
		case i%10 == 1:
			o = Obs{Failed: true}
		}
		st = tab.Observe("nat", t0.Add(time.Duration(i)*time.Second), o)
	}
	if got := st.FailureRatio(); !near(got, 0.2, 0.01) {
		t.Errorf("FailureRatio = %.3f, want 0.2", got)
	}
	if got := st.UnknownRatio(); !near(got, 0.1, 0.01) {
		t.Errorf("UnknownRatio = %.3f, want 0.1", got)
	}
	if got := (Stats{}).FailureRatio(); got != 0 {
		t.Errorf("empty FailureRatio = %v, want 0", got)
	}
}

func TestDistinctLogins(t *testing.T) {
	tests := []struct {
		name    string
		logins  int // distinct
		repeats int // each login this many times
		spacing time.Duration
		want    float64
		tol     float64
	}{
		{"one user retrying", 1, 20, time.Second, 1, 0},
		{"exact below the overflow", 12, 2, time.Second, 12, 0},
		{"exactly sixteen", 16, 1, time.Second, 16, 0},
		{"sketch above the overflow", 500, 1, time.Second, 500, 30},
		{"carrier NAT: 300 accounts over 50 minutes", 300, 1, 10 * time.Second, 300, 20},
		{"old logins leave the window", 10, 1, 10 * time.Minute, 6, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := New(100)
			now := t0
			var st Stats
			for i := 0; i < tt.logins; i++ {
				for r := 0; r < tt.repeats; r++ {
					st = tab.Observe("k", now, Obs{Login: h(fmt.Sprint("user", i))})
				}
				now = now.Add(tt.spacing)
			}
			if !near(st.DistinctLogins1h, tt.want, tt.tol) {
				t.Errorf("DistinctLogins1h = %.1f, want %.1f ± %.1f", st.DistinctLogins1h, tt.want, tt.tol)
			}
		})
	}
}

func TestBoundedKeys(t *testing.T) {
	const capacity = 6400
	tab := New(capacity)
	for i := 0; i < 100000; i++ {
		tab.Observe(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0, Obs{})
	}
	if got := tab.Len(); got > capacity {
		t.Errorf("Len = %d, want <= %d", got, capacity)
	}
	// The most recent key is still there; the first one was evicted.
	if st := tab.Peek("10.1.134.159", t0); st.Attempts1h != 1 {
		t.Errorf("recent key: Attempts1h = %v, want 1", st.Attempts1h)
	}
	if st := tab.Peek("10.0.0.0", t0); st.Attempts1h != 0 {
		t.Errorf("evicted key: Attempts1h = %v, want 0", st.Attempts1h)
	}
}

func TestOutOfOrderIsCountedWithoutAgeing(t *testing.T) {
	tab := New(10)
	tab.Observe("k", t0.Add(time.Minute), Obs{})
	st := tab.Observe("k", t0, Obs{Failed: true})
	if st.Attempts1m != 2 || st.Failures10m != 1 {
		t.Errorf("got attempts1m=%v failures10m=%v, want 2 and 1", st.Attempts1m, st.Failures10m)
	}
}

func BenchmarkObserve(b *testing.B) {
	tab := New(1 << 20)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("198.51.%d.%d", i>>8, i&255)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab.Observe(keys[i%len(keys)], t0.Add(time.Duration(i)*time.Millisecond), Obs{Failed: i%3 == 0, Login: uint64(i%97) + 1})
	}
}

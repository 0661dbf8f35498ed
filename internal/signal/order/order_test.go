package order

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 4, 0, 0, 0, time.UTC)

func TestDropPoints(t *testing.T) {
	tests := []struct {
		name     string
		accounts int
		spacing  time.Duration
		want     int
	}{
		{"one owner, many orders", 1, time.Hour, 1},
		{"a family of three", 3, time.Hour, 3},
		{"drop point: 20 accounts in a day", 20, time.Hour, 20},
		{"old orders leave the 72h window", 10, 10 * time.Hour, 8},
		{"past the exact cap", 100, time.Minute, maxAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDropPoints(1000, 72*time.Hour)
			var got int
			for i := 0; i < tt.accounts; i++ {
				got = d.Observe("JP|1000001|千代田1-1", fmt.Sprint("u-", i), t0.Add(time.Duration(i)*tt.spacing))
				if tt.name == "one owner, many orders" {
					got = d.Observe("JP|1000001|千代田1-1", "u-0", t0.Add(time.Duration(i+1)*tt.spacing))
				}
			}
			if got != tt.want {
				t.Errorf("accounts = %d, want %d", got, tt.want)
			}
		})
	}
	if n := NewDropPoints(10, time.Hour).Observe("", "u-1", t0); n != 0 {
		t.Errorf("empty key counted: %d", n)
	}
}

func TestSurge(t *testing.T) {
	tests := []struct {
		name        string
		history     int // orders per day for 7 days before
		burst       int // orders in one hour
		riskyEvery  int // every n-th burst order is risky (0: none)
		wantSurging bool
		wantRisky   float64 // minimum risky share
		maxRisky    float64
	}{
		{"steady seller", 48, 2, 0, false, 0, 0.01},
		{"launch rush of owners", 0, 300, 0, true, 0, 0.01},
		{"campaign on a steady phone", 24, 60, 1, true, 0.9, 1},
		{"busy item, ordinary hour", 480, 25, 10, false, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSurge(100, 10, 5)
			start := t0.Add(-7 * 24 * time.Hour)
			for i := 0; i < tt.history*7; i++ {
				s.Observe("iphone", false, start.Add(time.Duration(i)*7*24*time.Hour/time.Duration(tt.history*7)))
			}
			var st SurgeState
			for i := 0; i < tt.burst; i++ {
				risky := tt.riskyEvery > 0 && i%tt.riskyEvery == 0
				st = s.Observe("iphone", risky, t0.Add(time.Duration(i)*time.Hour/time.Duration(tt.burst)))
			}
			if st.Surging != tt.wantSurging {
				t.Errorf("surging = %v, want %v (%+v)", st.Surging, tt.wantSurging, st)
			}
			if st.RiskyShare < tt.wantRisky || st.RiskyShare > tt.maxRisky {
				t.Errorf("risky share %.2f, want within [%.2f, %.2f]", st.RiskyShare, tt.wantRisky, tt.maxRisky)
			}
		})
	}
}

// TestSnapshotRestore checks that drop points and item surges restored
// from a snapshot go on counting as the ones it was taken of.
func TestSnapshotRestore(t *testing.T) {
	drops, surge := NewDropPoints(1000, 72*time.Hour), NewSurge(1000, 10, 5)
	obs := func(d *DropPoints, s *Surge, i int) (int, SurgeState) {
		now := t0.Add(time.Duration(i) * 7 * time.Minute)
		key, acct, sku := fmt.Sprintf("addr-%d", i%5), fmt.Sprintf("u-%d", i%13), fmt.Sprintf("sku-%d", i%3)
		return d.Observe(key, acct, now), s.Observe(sku, i%4 == 0, now)
	}
	for i := range 200 {
		obs(drops, surge, i)
	}
	dsnap, err := drops.Snapshot(t0.Add(200 * 7 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ssnap, err := surge.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	drops2, surge2 := NewDropPoints(1000, 72*time.Hour), NewSurge(1000, 10, 5)
	if err := drops2.Restore(dsnap); err != nil {
		t.Fatal(err)
	}
	if err := surge2.Restore(ssnap); err != nil {
		t.Fatal(err)
	}
	for i := 200; i < 400; i++ {
		wantN, wantS := obs(drops, surge, i)
		gotN, gotS := obs(drops2, surge2, i)
		if gotN != wantN || gotS != wantS {
			t.Fatalf("order %d after restore: %d accounts, %+v; want %d, %+v", i, gotN, gotS, wantN, wantS)
		}
	}
}

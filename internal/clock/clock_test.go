package clock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	wall := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fixed := func() time.Time { return wall }
	e1 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	e0 := e1.Add(-time.Minute)

	tests := []struct {
		name    string
		mode    Mode
		events  []time.Time
		wantAt  []time.Time
		wantNow time.Time
	}{
		{"wall ignores event time", Wall, []time.Time{e1}, []time.Time{wall}, wall},
		{"event uses occurred_at", Event, []time.Time{e1}, []time.Time{e1}, e1},
		{"event now is the high-water mark", Event, []time.Time{e1, e0}, []time.Time{e1, e0}, e1},
		{"event clock before any event is wall", Event, nil, nil, wall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.mode, fixed)
			for i, ev := range tt.events {
				if got := c.At(ev); !got.Equal(tt.wantAt[i]) {
					t.Errorf("At(%v) = %v, want %v", ev, got, tt.wantAt[i])
				}
			}
			if got := c.Now(); !got.Equal(tt.wantNow) {
				t.Errorf("Now() = %v, want %v", got, tt.wantNow)
			}
			if got := c.Wall(); !got.Equal(wall) {
				t.Errorf("Wall() = %v, want %v", got, wall)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Wall, "wall": Wall, "event": Event} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("utc"); err == nil {
		t.Error("ParseMode(utc) succeeded, want error")
	}
}

func TestEventClockIgnoresAbsurdTimes(t *testing.T) {
	wall := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	fixed := func() time.Time { return wall }
	e1 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		maxAhead time.Duration // 0: the default
		occurred time.Time
		wantAt   time.Time
		wantNow  time.Time
	}{
		{"year 2999", 0, time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), e1, e1},
		{"an hour ahead of the wall clock", 0, wall.Add(time.Hour), e1, e1},
		{"within the default skew", 0, wall.Add(DefaultMaxAhead), wall.Add(DefaultMaxAhead), wall.Add(DefaultMaxAhead)},
		{"within a larger limit", 2 * time.Hour, wall.Add(time.Hour), wall.Add(time.Hour), wall.Add(time.Hour)},
		{"past a smaller limit", time.Second, wall.Add(time.Minute), e1, e1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Event, fixed)
			if tt.maxAhead > 0 {
				c.SetMaxAhead(tt.maxAhead)
			}
			c.At(e1)
			if got := c.At(tt.occurred); !got.Equal(tt.wantAt) {
				t.Errorf("At(%v) = %v, want %v", tt.occurred, got, tt.wantAt)
			}
			if got := c.Now(); !got.Equal(tt.wantNow) {
				t.Errorf("Now() = %v, want %v", got, tt.wantNow)
			}
		})
	}
	// Before any event, an absurd one is assessed at the wall time.
	c := New(Event, fixed)
	if got := c.At(time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(wall) {
		t.Errorf("first At(2999) = %v, want the wall time %v", got, wall)
	}
	if got := c.Now(); !got.Equal(wall) {
		t.Errorf("Now() after an absurd first event = %v, want %v", got, wall)
	}
}

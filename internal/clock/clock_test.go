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

package ids_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/ids"
)

func TestNew(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
	tests := []struct {
		name   string
		prefix string
		t      time.Time
		want   string // pattern
	}{
		{"incident", "inc", at, `^inc_019c21acec65[0-9a-f]{16}$`},
		{"notification", "ntf", at, `^ntf_019c21acec65[0-9a-f]{16}$`},
		{"the epoch", "ch", time.UnixMilli(0), `^ch_000000000000[0-9a-f]{16}$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids.New(tt.prefix, tt.t)
			if !regexp.MustCompile(tt.want).MatchString(got) {
				t.Errorf("New(%q, %v) = %q, want %s", tt.prefix, tt.t, got, tt.want)
			}
		})
	}
}

func TestNewIsUniqueAndSortsByTime(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := ids.New("ev", at)
		if seen[id] {
			t.Fatalf("New returned %q twice", id)
		}
		seen[id] = true
	}
	earlier, later := ids.New("ev", at), ids.New("ev", at.Add(time.Millisecond))
	if got, want := earlier[:len("ev_")+12] < later[:len("ev_")+12], true; got != want {
		t.Errorf("time part of %q < %q: got %v, want %v", earlier, later, got, want)
	}
}

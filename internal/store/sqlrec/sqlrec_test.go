package sqlrec_test

import (
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store/sqlrec"
)

func TestNumbered(t *testing.T) {
	tests := []struct {
		query, want string
	}{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ?", "SELECT a FROM t WHERE b = $1"},
		{"INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"SELECT * FROM t WHERE id = $1", "SELECT * FROM t WHERE id = $1"},
		{"é = ? AND ü = ?", "é = $1 AND ü = $2"},
	}
	for _, tt := range tests {
		if got := sqlrec.Numbered(tt.query); got != tt.want {
			t.Errorf("Numbered(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func TestUnixNano(t *testing.T) {
	zone := time.FixedZone("UTC+05:30", 5*3600+30*60)
	tests := []struct {
		name string
		t    time.Time
		want int64
	}{
		{"zero", time.Time{}, 0},
		{"epoch", time.Unix(0, 1), 1},
		{"zone", time.Date(2026, 3, 14, 15, 9, 26, 535897932, zone), time.Date(2026, 3, 14, 15, 9, 26, 535897932, zone).UnixNano()},
	}
	for _, tt := range tests {
		got := sqlrec.UnixNano(tt.t)
		if got != tt.want {
			t.Errorf("%s: UnixNano = %d, want %d", tt.name, got, tt.want)
		}
		if back := sqlrec.FromUnixNano(got); !back.Equal(tt.t) || (!back.IsZero() && back.Location() != time.UTC) {
			t.Errorf("%s: FromUnixNano(%d) = %v, want %v in UTC", tt.name, got, back, tt.t)
		}
	}
}

func TestCheckTimes(t *testing.T) {
	tests := []struct {
		name    string
		t       time.Time
		wantErr bool
	}{
		{"zero", time.Time{}, false},
		{"now", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"too early", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"too late", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		if err := sqlrec.CheckTimes(tt.t); (err != nil) != tt.wantErr {
			t.Errorf("%s: CheckTimes = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

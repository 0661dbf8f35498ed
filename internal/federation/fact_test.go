package federation

import (
	"testing"
	"time"
)

func TestHash(t *testing.T) {
	k, err := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := k.Hash("login", "taro@example.jp"), k.Hash("address", "taro@example.jp")
	if a == b {
		t.Errorf("domains collide: %s", a)
	}
	if got, want := len(a), 64; got != want {
		t.Errorf("len = %d, want %d", got, want)
	}
	if _, err := NewKey([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestLive(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	f := Fact{Expires: now.Add(time.Hour)}
	tests := []struct {
		at   time.Time
		want bool
	}{{now, true}, {now.Add(time.Hour), false}, {now.Add(2 * time.Hour), false}}
	for _, tt := range tests {
		if got := f.Live(tt.at); got != tt.want {
			t.Errorf("Live(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

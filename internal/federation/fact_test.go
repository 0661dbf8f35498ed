package federation

import (
	"strings"
	"sync"
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

// TestHasherIsKeyHash: the reused states give Key.Hash's answers, from
// several goroutines at once.
func TestHasherIsKeyHash(t *testing.T) {
	k := Key("0123456789abcdef0123456789abcdef")
	h := NewHasher(k)
	inputs := [][2]string{{"login", "taro@example.jp"}, {"address", "taro@example.jp"}, {"user-agent", ""}, {"", "x"},
		{"password-sha1", strings.Repeat("ab", 20)}, {"login", strings.Repeat("長い", 300)}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, in := range inputs {
					if got, want := h.Hash(in[0], in[1]), k.Hash(in[0], in[1]); got != want {
						t.Errorf("Hash(%q, %q) = %s, want %s", in[0], in[1], got, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkHash is one login's subject hashed, as Key.Hash does and as a
// Hasher does.
func BenchmarkHash(b *testing.B) {
	k := Key("0123456789abcdef0123456789abcdef")
	b.Run("key", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = k.Hash("login", "taro@example.jp")
		}
	})
	h := NewHasher(k)
	b.Run("hasher", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = h.Hash("login", "taro@example.jp")
		}
	})
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

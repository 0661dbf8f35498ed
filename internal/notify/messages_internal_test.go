package notify

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 40 * time.Second: "40s", 83 * time.Minute: "1h23m", 2 * time.Hour: "2h",
		2*time.Hour + 40*time.Second: "2h0m40s", 10 * time.Minute: "10m", 1500 * time.Millisecond: "2s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestThousandsAndMasks(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 131800: "131,800", -1234567: "-1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for in, want := range map[string]string{
		"": "", "taro@example.jp": "t***@example.jp", "山田@example.jp": "山***@example.jp", "nodomain": "***", "@x": "***",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"carrier_billing": "carrier_billing", "card 4111 1111 1111 1111": "card [redacted]",
		"visa-4111111111111111": "visa-[redacted]", "points 12345": "points 12345",
	} {
		if got := redactDigits(in); got != want {
			t.Errorf("redactDigits(%q) = %q, want %q", in, got, want)
		}
	}
	if got := clean("a\nb\r\x00c\u202e" + string(make([]byte, 0))); got != "abc" {
		t.Errorf("clean = %q, want abc", got)
	}
}

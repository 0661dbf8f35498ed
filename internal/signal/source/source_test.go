package source

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/signal/window"
)

func TestPrefix(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		if got := Prefix(netip.MustParseAddr(tt.ip)).String(); got != tt.want {
			t.Errorf("Prefix(%s) = %s, want %s", tt.ip, got, tt.want)
		}
	}
}

func TestKeysOf(t *testing.T) {
	got := KeysOf(event.Context{IP: netip.MustParseAddr("198.51.100.9"), DeviceID: "d-1", ClientFingerprint: "t13d"})
	want := Keys{IP: "198.51.100.9", Prefix: "198.51.100.0/24", Range: "198.0.0.0/8", Device: "d-1", Fingerprint: "t13d"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeysOf mismatch (-want +got):\n%s", diff)
	}
	if KeysOf(event.Context{UserAgent: "a"}).UserAgent == KeysOf(event.Context{UserAgent: "b"}).UserAgent {
		t.Error("different user agents share a key")
	}
}

func TestObserveSharesPrefixAcrossIPs(t *testing.T) {
	d := New(Config{})
	now := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)
	var st Stats
	for i := 1; i <= 30; i++ {
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		st = d.Observe(KeysOf(event.Context{IP: ip}), now, window.Obs{Failed: true, Unknown: true})
	}
	if st.IP.Attempts1m != 1 || st.Prefix.Attempts1m != 30 || st.Prefix.Unknown1h != 30 {
		t.Errorf("got ip=%v prefix=%v prefix unknown=%v, want 1, 30, 30", st.IP.Attempts1m, st.Prefix.Attempts1m, st.Prefix.Unknown1h)
	}
	if st.Device != (window.Stats{}) {
		t.Errorf("device stats without a device id: %+v", st.Device)
	}
	if got := d.Sizes()["prefix"]; got != 1 {
		t.Errorf("prefix keys = %d, want 1", got)
	}
}

package proxy

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, _ := prefixes([]string{"127.0.0.1", "10.0.0.0/8"})
	one := clientIPs{trusted: trusted, hops: 1}
	two := clientIPs{trusted: trusted, hops: 2}
	tests := []struct {
		name   string
		c      clientIPs
		remote string
		fwd    []string
		want   string
	}{
		{"peer without header", one, "203.0.113.1:5000", nil, "203.0.113.1"},
		{"untrusted peer's header is ignored", one, "203.0.113.1:5000", []string{"198.51.100.1"}, "203.0.113.1"},
		{"trusted peer", one, "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"only the last hop", one, "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", two, "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"second hop untrusted stops", two, "127.0.0.1:5000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},
		{"one hop lands on a trusted proxy", one, "127.0.0.1:5000", []string{"198.51.100.1, 10.1.2.3"}, "10.1.2.3"},
		{"garbage keeps the peer", one, "127.0.0.1:5000", []string{"not-an-ip"}, "127.0.0.1"},
		{"mapped and ports", one, "[::ffff:127.0.0.1]:5000", []string{"198.51.100.1:443"}, "198.51.100.1"},
		{"ipv6", one, "[::1]:5000", []string{"2001:db8::1"}, "::1"},
		{"broken peer", one, "nonsense", nil, "invalid IP"},
	}
	for _, tt := range tests {
		if got := tt.c.of(tt.remote, tt.fwd); got.String() != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
	_ = netip.Addr{}
}

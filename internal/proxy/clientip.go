package proxy

import (
	"net"
	"net/netip"
	"strings"
)

// clientIPs finds a request's client address: the connection's peer, or,
// when the peer is a trusted proxy, the address it forwarded.
type clientIPs struct {
	trusted []netip.Prefix
	header  string
	hops    int
}

func (c clientIPs) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the client address of a request from remoteAddr (host:port)
// with forwarded, the values of the forwarding header. From the right, up
// to hops addresses are read while the one before was a trusted proxy; a
// malformed entry stops the walk at the last address known good.
func (c clientIPs) of(remoteAddr string, forwarded []string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	ip = ip.Unmap().WithZone("")
	if len(forwarded) == 0 || !c.isTrusted(ip) {
		return ip
	}
	var hops []string
	for _, v := range forwarded {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := 0; i < c.hops && len(hops) > 0 && c.isTrusted(ip); i++ {
		last := strings.TrimSpace(hops[len(hops)-1])
		hops = hops[:len(hops)-1]
		a, err := netip.ParseAddr(last)
		if err != nil {
			if ap, perr := netip.ParseAddrPort(last); perr == nil {
				a, err = ap.Addr(), nil
			}
		}
		if err != nil {
			break
		}
		ip = a.Unmap().WithZone("")
	}
	return ip
}

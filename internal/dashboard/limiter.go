package dashboard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// loginLimiter limits sign-in attempts per IP address and, apart, per
// operator name: token buckets in two bounded maps. A full map makes room
// only by dropping a bucket that has refilled (it remembers nothing), so
// flooding new names or addresses cannot reset a bucket that is spending,
// and names never push addresses out.
type loginLimiter struct {
	limit rate.Limit
	burst int
	size  int // buckets per map

	mu    sync.Mutex
	ips   *simplelru.LRU[string, *rate.Limiter]
	names *simplelru.LRU[string, *rate.Limiter]
}

func newLoginLimiter(perMinute, size int) *loginLimiter {
	ips, _ := simplelru.NewLRU[string, *rate.Limiter](size, nil) // size > 0
	names, _ := simplelru.NewLRU[string, *rate.Limiter](size, nil)
	return &loginLimiter{limit: rate.Limit(float64(perMinute) / 60), burst: perMinute, size: size, ips: ips, names: names}
}

// allowIP spends one attempt of ip's bucket.
func (l *loginLimiter) allowIP(now time.Time, ip string) bool {
	return l.allow(l.ips, now, ip)
}

// allowName spends one attempt of the operator name's bucket.
func (l *loginLimiter) allowName(now time.Time, name string) bool {
	return l.allow(l.names, now, strings.ToLower(name))
}

func (l *loginLimiter) allow(m *simplelru.LRU[string, *rate.Limiter], now time.Time, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := m.Get(key)
	if !ok {
		if m.Len() >= l.size && !l.dropRefilledLocked(m, now) {
			return false // every bucket is spending: refuse newcomers, keep what is known
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		m.Add(key, lim)
	}
	return lim.AllowN(now, 1)
}

// dropRefilledLocked drops the least recently used bucket if it is full
// again (it remembers nothing), and reports whether it did. The oldest
// bucket has rested longest; looking only at it keeps a flood of newcomers
// from costing a scan of the whole map each.
func (l *loginLimiter) dropRefilledLocked(m *simplelru.LRU[string, *rate.Limiter], now time.Time) bool {
	k, lim, ok := m.GetOldest()
	if !ok || lim.TokensAt(now) < float64(l.burst) {
		return false
	}
	m.Remove(k)
	return true
}

// clientIP is the address a sign-in comes from: the peer, or, when the
// peer is one of the trusted proxies, the nearest address in
// X-Forwarded-For that is not one of them.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer.Unmap(), trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a hop we cannot read: stop at the last proxy we trust
		}
		if !isTrusted(a.Unmap(), trusted) {
			return a.Unmap().String()
		}
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Package source tracks login velocity per source — IP address, network
// prefix (IPv4 /24, IPv6 /64), device, user agent and client fingerprint —
// each in its own bounded window table.
package source

import (
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/signal/window"
)

// Config caps the number of keys kept per kind of source. Zero means the
// default of Defaults.
type Config struct {
	MaxIPs          int `yaml:"max_ips"`
	MaxPrefixes     int `yaml:"max_prefixes"`
	MaxDevices      int `yaml:"max_devices"`
	MaxUserAgents   int `yaml:"max_user_agents"`
	MaxFingerprints int `yaml:"max_fingerprints"`
}

// Defaults returns the caps used for zero fields: about 100 MB in all when
// every table is full.
func Defaults() Config {
	return Config{MaxIPs: 200_000, MaxPrefixes: 100_000, MaxDevices: 100_000, MaxUserAgents: 20_000, MaxFingerprints: 20_000}
}

// Keys are the source keys of one event; empty ones are not tracked.
type Keys struct {
	IP          string
	Prefix      string
	Range       string // the wide range (Range); not a window of its own
	Device      string
	UserAgent   string
	Fingerprint string
}

// KeysOf derives the source keys of an event context.
func KeysOf(c event.Context) Keys {
	k := Keys{Device: c.DeviceID, Fingerprint: c.ClientFingerprint}
	if c.IP.IsValid() {
		k.IP = c.IP.String()
		k.Prefix = Prefix(c.IP).String()
		k.Range = Range(c.IP).String()
	}
	if c.UserAgent != "" {
		f := fnv.New64a()
		f.Write([]byte(c.UserAgent))
		k.UserAgent = strconv.FormatUint(f.Sum64(), 16)
	}
	return k
}

// Prefix returns the network an address belongs to for velocity and
// familiarity: its /24 for IPv4, its /64 for IPv6.
func Prefix(ip netip.Addr) netip.Prefix { return masked(ip, 24, 64) }

// Range returns the address block an address belongs to, for the
// shop-wide set of blocks the owners use: its /8 for IPv4, its /12 for
// IPv6 — the size of the blocks IANA allocates to the regional internet
// registries, so roughly a part of the world. A block where no owner of
// the shop ever logged in is a region the shop's customers are not in,
// as a GeoIP database would tell, without one.
func Range(ip netip.Addr) netip.Prefix { return masked(ip, 8, 12) }

// masked returns ip's network of v4 bits for IPv4, v6 bits for IPv6.
func masked(ip netip.Addr, v4, v6 int) netip.Prefix {
	bits := v6
	if ip.Is4() {
		bits = v4
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Stats are the window stats of each source of an event.
type Stats struct {
	IP, Prefix, Device, UserAgent, Fingerprint window.Stats
}

// Detector holds one window table per kind of source.
type Detector struct {
	ip, prefix, device, ua, fp *window.Table
}

// New returns a detector with the given caps.
func New(cfg Config) *Detector {
	d := Defaults()
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return &Detector{
		ip:     window.New(pick(cfg.MaxIPs, d.MaxIPs)),
		prefix: window.New(pick(cfg.MaxPrefixes, d.MaxPrefixes)),
		device: window.New(pick(cfg.MaxDevices, d.MaxDevices)),
		ua:     window.New(pick(cfg.MaxUserAgents, d.MaxUserAgents)),
		fp:     window.New(pick(cfg.MaxFingerprints, d.MaxFingerprints)),
	}
}

func (d *Detector) tables(k Keys) [5]struct {
	t   *window.Table
	key string
} {
	return [5]struct {
		t   *window.Table
		key string
	}{{d.ip, k.IP}, {d.prefix, k.Prefix}, {d.device, k.Device}, {d.ua, k.UserAgent}, {d.fp, k.Fingerprint}}
}

// Observe counts one login outcome for every source of k and returns
// their stats including it.
func (d *Detector) Observe(k Keys, now time.Time, o window.Obs) Stats {
	var out [5]window.Stats
	for i, tk := range d.tables(k) {
		if tk.key != "" {
			out[i] = tk.t.Observe(tk.key, now, o)
		}
	}
	return Stats{out[0], out[1], out[2], out[3], out[4]}
}

// Peek returns the stats of every source of k without counting.
func (d *Detector) Peek(k Keys, now time.Time) Stats {
	var out [5]window.Stats
	for i, tk := range d.tables(k) {
		if tk.key != "" {
			out[i] = tk.t.Peek(tk.key, now)
		}
	}
	return Stats{out[0], out[1], out[2], out[3], out[4]}
}

// Sizes returns the number of keys held per kind, for metrics.
func (d *Detector) Sizes() map[string]int {
	return map[string]int{
		"ip": d.ip.Len(), "prefix": d.prefix.Len(), "device": d.device.Len(),
		"user_agent": d.ua.Len(), "fingerprint": d.fp.Len(),
	}
}

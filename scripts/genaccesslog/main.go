// Command genaccesslog writes a seeded nginx combined access log of a
// shop's day — ordinary traffic, a one-IP login burst and a distributed
// credential-stuffing campaign — with its ground truth beside it, for
// `atoguard replay` and the peers it is measured against.
//
//	go run ./scripts/genaccesslog -lines 1000000 -out access.log -truth truth.json
//
// With -days N it writes N consecutive days, one after the other (about
// 240 MB each at the default size), holding one day in memory: with
// -out - it streams a log of any size into a pipe.
package main

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// Truth is what the log holds, for scoring.
type Truth struct {
	Seed               uint64    `json:"seed"`
	Lines              int       `json:"lines"`
	From               time.Time `json:"from"`
	To                 time.Time `json:"to"`
	BenignIPs          int       `json:"benign_ips"`
	BenignLogins       int       `json:"benign_logins"`
	BenignFailedLogins int       `json:"benign_failed_logins"`
	BurstIP            string    `json:"burst_ip"`
	BurstStart         time.Time `json:"burst_start"`
	BurstAttempts      int       `json:"burst_attempts"`
	BurstSuccesses     []Hit     `json:"burst_successes"`
	CampaignStart      time.Time `json:"campaign_start"`
	CampaignEnd        time.Time `json:"campaign_end"`
	CampaignAttempts   int       `json:"campaign_attempts"`
	CampaignUnknown    int       `json:"campaign_unknown_accounts"`
	CampaignIPs        []string  `json:"campaign_ips"`
	CampaignSuccesses  []Hit     `json:"campaign_successes"`
	// DirectBenignLogins are the owners' logins with no page loaded before
	// them (a bookmark and a cache): they look like the campaign's.
	DirectBenignLogins int `json:"direct_benign_logins"`
}

// Hit is one successful attacker login.
type Hit struct {
	Time time.Time `json:"time"`
	IP   string    `json:"ip"`
}

type line struct {
	t int64 // unix nanoseconds
	s string
}

type gen struct {
	rng   *rand.Rand
	lines []line
	zone  *time.Location
	used  map[netip.Addr]bool
	truth Truth
}

var agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SH-M26) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Linux; Android 13; SO-51C) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
}

var crawlers = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
}

// params are the generator's flags for one day.
type params struct {
	lines, burst, attempts, ips     int
	span, burstAt, campAt, campSpan time.Duration
}

func main() {
	var (
		lines    = flag.Int("lines", 1_000_000, "about how many lines of ordinary traffic")
		seed     = flag.Uint64("seed", 15, "random seed")
		out      = flag.String("out", "access.log", "the log (gzip when it ends in .gz; - for stdout)")
		truthOut = flag.String("truth", "truth.json", "the ground truth (empty: none; with -days > 1 a JSON array, one a day)")
		day      = flag.String("day", "2026-11-25", "the day, in JST")
		days     = flag.Int("days", 1, "consecutive days, each made and written in turn (seed+1 the second day, …), so memory holds one day")
		hours    = flag.Float64("hours", 24, "hours of log from 00:00 JST")
		burst    = flag.Int("burst", 3000, "login posts of the one-IP burst, in ten minutes")
		burstAt  = flag.Duration("burst-at", 10*time.Hour+20*time.Minute, "when the burst starts, after 00:00 JST")
		attempts = flag.Int("campaign", 30000, "login posts of the distributed campaign")
		ips      = flag.Int("campaign-ips", 15000, "source IPs of the campaign")
		campAt   = flag.Duration("campaign-at", 14*time.Hour, "when the campaign starts, after 00:00 JST")
		campSpan = flag.Duration("campaign-span", 2*time.Hour, "how long the campaign lasts")
	)
	flag.Parse()
	zone := time.FixedZone("JST", 9*3600)
	d, err := time.ParseInLocation("2006-01-02", *day, zone)
	if err != nil {
		log.Fatalf("-day: %v", err)
	}
	p := params{lines: *lines, burst: *burst, attempts: *attempts, ips: *ips,
		span: time.Duration(*hours * float64(time.Hour)), burstAt: *burstAt, campAt: *campAt, campSpan: *campSpan}
	w, err := create(*out)
	if err != nil {
		log.Fatal(err)
	}
	var truths []Truth
	var total, size int
	for i := range max(*days, 1) {
		g := generate(*seed+uint64(i), d.AddDate(0, 0, i), zone, p)
		if err := g.write(w); err != nil {
			log.Fatal(err)
		}
		truths = append(truths, g.truth)
		total += len(g.lines)
		for _, l := range g.lines {
			size += len(l.s) + 1
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	if *truthOut != "" {
		var js []byte
		if len(truths) == 1 {
			js, _ = json.MarshalIndent(truths[0], "", " ")
		} else {
			js, _ = json.MarshalIndent(truths, "", " ")
		}
		if err := os.WriteFile(*truthOut, append(js, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "%d lines (%d bytes) to %s; truth in %s\n", total, size, *out, *truthOut)
}

// generate makes one day of log from d.
func generate(seed uint64, d time.Time, zone *time.Location, p params) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), zone: zone, used: map[netip.Addr]bool{}}
	g.truth.Seed = seed
	g.ordinary(d, p.span, p.lines)
	if p.burst > 0 {
		g.burst(d.Add(p.burstAt), p.burst)
	}
	if p.attempts > 0 {
		g.campaign(d.Add(p.campAt), p.campSpan, p.attempts, p.ips)
	}
	slices.SortStableFunc(g.lines, func(a, b line) int { return cmp.Compare(a.t, b.t) })
	g.truth.Lines = len(g.lines)
	g.truth.From, g.truth.To = d, d.Add(p.span)
	return g
}

// output is the log being written: a file (gzip when its name ends in
// .gz) or stdout, buffered.
type output struct {
	*bufio.Writer
	zw *gzip.Writer
	f  *os.File
}

func create(name string) (*output, error) {
	f := os.Stdout
	if name != "-" {
		var err error
		if f, err = os.Create(name); err != nil {
			return nil, err
		}
	}
	o := &output{f: f}
	var w io.Writer = f
	if strings.HasSuffix(name, ".gz") {
		o.zw = gzip.NewWriter(f)
		w = o.zw
	}
	o.Writer = bufio.NewWriterSize(w, 1<<20)
	return o, nil
}

func (o *output) Close() error {
	if err := o.Flush(); err != nil {
		return err
	}
	if o.zw != nil {
		if err := o.zw.Close(); err != nil {
			return err
		}
	}
	if o.f == os.Stdout {
		return nil
	}
	return o.f.Close()
}

// write writes the day's lines.
func (g *gen) write(w *output) error {
	for _, l := range g.lines {
		w.WriteString(l.s)
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
	}
	return nil
}

// emit adds one request line.
func (g *gen) emit(t time.Time, ip netip.Addr, method, path string, status, size int, referer, agent string) {
	if referer == "" {
		referer = "-"
	}
	s := fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"`, ip, t.In(g.zone).Format("02/Jan/2006:15:04:05 -0700"),
		method, path, status, size, referer, agent)
	g.lines = append(g.lines, line{t.UnixNano(), s})
}

// addr returns a fresh public-looking address not used by anyone else.
func (g *gen) addr() netip.Addr {
	for {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], g.rng.Uint32())
		if b[0] < 11 || b[0] > 223 || b[0] == 100 || b[0] == 127 || b[0] == 172 || b[0] == 192 || b[0] == 10 {
			continue
		}
		a := netip.AddrFrom4(b)
		if !g.used[a] {
			g.used[a] = true
			return a
		}
	}
}

// diurnal is the relative traffic of each hour of the day (JST).
var diurnal = [24]float64{4, 2.5, 1.5, 1, 1, 1.2, 2, 3.5, 5, 6, 6.5, 7, 8, 7.5, 7, 7, 7, 7.5, 8.5, 9.5, 10, 10, 8.5, 6}

// when draws a time in [d, d+span) following the diurnal curve.
func (g *gen) when(d time.Time, span time.Duration) time.Time {
	for {
		t := d.Add(time.Duration(g.rng.Int64N(int64(span))))
		if g.rng.Float64()*10 < diurnal[t.In(g.zone).Hour()] {
			return t
		}
	}
}

type owner struct {
	ip    netip.Addr
	agent string
}

// ordinary is the shop's own traffic: browsing, owners logging in and
// buying, registrations, crawlers.
func (g *gen) ordinary(d time.Time, span time.Duration, target int) {
	// A few hundred shared mobile carrier NAT addresses carry 30% of
	// the owners.
	nat := make([]netip.Addr, 300)
	for i := range nat {
		base := g.addr().As4()
		base[3] = byte(1 + i%250)
		nat[i] = netip.AddrFrom4(base)
		g.used[nat[i]] = true
	}
	owners := make([]owner, max(target/40, 50))
	for i := range owners {
		o := owner{agent: agents[g.rng.IntN(len(agents))]}
		if g.rng.Float64() < 0.3 {
			o.ip = nat[g.rng.IntN(len(nat))]
		} else {
			o.ip = g.addr()
		}
		owners[i] = o
	}
	benign := map[netip.Addr]bool{}
	for _, o := range owners {
		benign[o.ip] = true
	}
	var crawlerIPs []netip.Addr
	for range 20 {
		crawlerIPs = append(crawlerIPs, g.addr())
	}
	for len(g.lines) < target {
		t := g.when(d, span)
		switch x := g.rng.Float64(); {
		case x < 0.08:
			ip := crawlerIPs[g.rng.IntN(len(crawlerIPs))]
			g.crawl(t, ip, crawlers[g.rng.IntN(len(crawlers))])
		case x < 0.62:
			ip := g.addr()
			benign[ip] = true
			g.browse(t, ip, agents[g.rng.IntN(len(agents))], 1+g.rng.IntN(6))
		case x < 0.64:
			ip := g.addr()
			benign[ip] = true
			t = g.browse(t, ip, agents[g.rng.IntN(len(agents))], 1+g.rng.IntN(3))
			g.emit(t, ip, "GET", "/register", 200, 4100, "https://shop.example/", agents[0])
			g.emit(t.Add(40*time.Second), ip, "POST", "/register", 302, 0, "https://shop.example/register", agents[0])
		default:
			g.ownerSession(t, owners[g.rng.IntN(len(owners))])
		}
	}
	g.truth.BenignIPs = len(benign) + len(crawlerIPs)
}

var pages = []string{"/", "/products/iphone-16", "/products/galaxy-s24", "/products/aquos-sense9", "/search?q=case", "/search?q=charger", "/products/airpods-pro", "/cart", "/news/2026-11"}
var assets = []string{"/static/app.css", "/static/app.js", "/static/logo.svg", "/static/img/hero.webp", "/favicon.ico"}

// browse loads n pages, each with its assets unless cached, and returns
// when it ended.
func (g *gen) browse(t time.Time, ip netip.Addr, agent string, n int) time.Time {
	cached := g.rng.Float64() < 0.3
	ref := ""
	for range n {
		p := pages[g.rng.IntN(len(pages))]
		g.emit(t, ip, "GET", p, 200, 9000+g.rng.IntN(30000), ref, agent)
		if !cached {
			for _, a := range assets[:2+g.rng.IntN(len(assets)-1)] {
				g.emit(t.Add(time.Duration(50+g.rng.IntN(400))*time.Millisecond), ip, "GET", a, 200, 1000+g.rng.IntN(90000), "https://shop.example"+p, agent)
			}
			cached = true
		} else if g.rng.Float64() < 0.5 {
			g.emit(t.Add(200*time.Millisecond), ip, "GET", "/static/img/p"+fmt.Sprint(g.rng.IntN(400))+".webp", 200, 20000, "https://shop.example"+p, agent)
		}
		ref = "https://shop.example" + p
		t = t.Add(time.Duration(3+g.rng.IntN(60)) * time.Second)
	}
	return t
}

func (g *gen) crawl(t time.Time, ip netip.Addr, agent string) {
	for range 5 + g.rng.IntN(15) {
		g.emit(t, ip, "GET", pages[g.rng.IntN(len(pages))], 200, 20000, "", agent)
		t = t.Add(time.Duration(1+g.rng.IntN(5)) * time.Second)
	}
}

// ownerSession is an owner logging in (8% mistype first), and maybe
// buying or changing the password.
func (g *gen) ownerSession(t time.Time, o owner) {
	direct := g.rng.Float64() < 0.01 // a bookmark and a warm cache: no page before the form
	if direct {
		g.truth.DirectBenignLogins++
	} else {
		t = g.browse(t, o.ip, o.agent, 1+g.rng.IntN(3))
	}
	g.emit(t, o.ip, "GET", "/login", 200, 3800, "https://shop.example/", o.agent)
	t = t.Add(time.Duration(5+g.rng.IntN(20)) * time.Second)
	g.truth.BenignLogins++
	if g.rng.Float64() < 0.08 {
		g.truth.BenignFailedLogins++
		g.emit(t, o.ip, "POST", "/login", 200, 3900, "https://shop.example/login", o.agent)
		t = t.Add(time.Duration(8+g.rng.IntN(20)) * time.Second)
		if g.rng.Float64() < 0.2 {
			return // gave up
		}
		g.truth.BenignLogins++
	}
	g.emit(t, o.ip, "POST", "/login", 302, 0, "https://shop.example/login", o.agent)
	t = t.Add(time.Second)
	g.emit(t, o.ip, "GET", "/mypage", 200, 7000, "https://shop.example/login", o.agent)
	switch x := g.rng.Float64(); {
	case x < 0.2:
		t = g.browse(t.Add(10*time.Second), o.ip, o.agent, 1+g.rng.IntN(3))
		g.emit(t, o.ip, "POST", "/checkout", 302, 0, "https://shop.example/cart", o.agent)
		g.emit(t.Add(time.Second), o.ip, "GET", "/order/complete", 200, 5000, "https://shop.example/cart", o.agent)
	case x < 0.21:
		g.emit(t.Add(20*time.Second), o.ip, "POST", "/mypage/password", 302, 0, "https://shop.example/mypage", o.agent)
	}
}

// burst is one IP posting logins with an HTTP library for ten minutes.
func (g *gen) burst(start time.Time, n int) {
	ip := g.addr()
	g.truth.BurstIP, g.truth.BurstStart, g.truth.BurstAttempts = ip.String(), start, n
	for i := range n {
		t := start.Add(time.Duration(float64(10*time.Minute) * float64(i) / float64(n)))
		if g.rng.Float64() < 0.003 {
			g.emit(t, ip, "POST", "/login", 302, 0, "", "python-requests/2.32.3")
			g.truth.BurstSuccesses = append(g.truth.BurstSuccesses, Hit{t, ip.String()})
			continue
		}
		g.emit(t, ip, "POST", "/login", 200, 3900, "", "python-requests/2.32.3")
	}
}

// campaign is a distributed credential-stuffing campaign: residential
// proxies, one to three attempts each, ordinary browser user agents;
// each attempt fetches the form (for its CSRF token) and posts it, loads
// nothing else and does not follow the redirect.
func (g *gen) campaign(start time.Time, span time.Duration, n, nIPs int) {
	g.truth.CampaignStart, g.truth.CampaignEnd = start, start.Add(span)
	ips := make([]netip.Addr, nIPs)
	for i := range ips {
		ips[i] = g.addr()
		g.truth.CampaignIPs = append(g.truth.CampaignIPs, ips[i].String())
	}
	per := make([]int, nIPs)
	for i := range per {
		per[i] = 1
	}
	for extra := n - nIPs; extra > 0; {
		i := g.rng.IntN(nIPs)
		if per[i] < 3 {
			per[i]++
			extra--
		}
	}
	for i, ip := range ips {
		agent := agents[g.rng.IntN(len(agents))]
		t := start.Add(time.Duration(g.rng.Int64N(int64(span))))
		for range per[i] {
			if !t.Before(start.Add(span)) {
				t = start.Add(span - time.Second)
			}
			g.emit(t, ip, "GET", "/login", 200, 3800, "", agent)
			t = t.Add(time.Duration(500+g.rng.IntN(2500)) * time.Millisecond)
			g.truth.CampaignAttempts++
			unknown := g.rng.Float64() < 0.4
			switch {
			case unknown:
				g.truth.CampaignUnknown++
				g.emit(t, ip, "POST", "/login", 200, 3900, "https://shop.example/login", agent)
			case g.rng.Float64() < 0.03: // the leaked password still works
				g.emit(t, ip, "POST", "/login", 302, 0, "https://shop.example/login", agent)
				g.truth.CampaignSuccesses = append(g.truth.CampaignSuccesses, Hit{t, ip.String()})
			default:
				g.emit(t, ip, "POST", "/login", 200, 3900, "https://shop.example/login", agent)
			}
			t = t.Add(time.Duration(math.Round(g.rng.ExpFloat64()*120)) * time.Second)
		}
	}
}

package traffic

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Random streams: each part of the traffic draws from its own stream, so
// adding an attack does not change the owners' traffic and vice versa.
const (
	streamPopulation = 1
	streamOwner      = 2
	streamAttack     = 3
	streamFraud      = 4
	streamLaunch     = 5
)

const hourMillis = int64(time.Hour / time.Millisecond)

// Behaviour constants of owners.
const (
	natPoolUse      = 0.85 // carrier-NAT owners: share of logins through the pool
	primaryDevice   = 0.75 // owners with two devices: share of logins on the first
	secondDevice    = 0.4  // share of owners with a second device
	ipv6Home        = 0.1  // share of non-NAT owners whose home network is IPv6
	typoTwice       = 0.2  // share of typo logins with two failures
	newDeviceNewUA  = 0.6  // brand-new devices that also bring a new user agent
	newDeviceNewNet = 0.5  // brand-new devices used on a new network
	distributedIPv6 = 0.1  // share of a distributed attack's sources on IPv6
	reusePrefix     = 0.25 // chance a distributed source shares the /24 or /64 of an earlier one
)

// Generate makes the labelled traffic of s: owners' logins over
// [Start-Warmup, Start+Duration) and the attacks, sorted by occurred_at
// (ties in a fixed order). The same scenario always yields the same events.
func Generate(s Scenario) ([]Labeled, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	g := newGenerator(s.withDefaults())
	pop := g.population()

	// Plan every attack first: a spray that finds a weak password changes
	// that owner's password, which the owner's own logins then carry.
	plans := make([]attackPlan, len(g.s.Attacks))
	for i := range plans {
		plans[i] = g.planAttack(i, &pop)
	}

	var recs []record
	for i := range pop.owners {
		recs = g.ownerEvents(recs, &pop, i)
	}
	for i := range plans {
		recs = g.attackEvents(recs, &pop, &plans[i])
	}
	if l := g.s.Owners.Launch; l != nil {
		recs = g.launchEvents(recs, &pop, l)
	}
	slices.SortStableFunc(recs, func(a, b record) int { return cmp.Compare(a.at, b.at) })

	out := make([]Labeled, len(recs))
	for i := range recs {
		r := &recs[i]
		r.ev.OccurredAt = formatMillis(r.at)
		raw, err := json.Marshal(&r.ev)
		if err != nil {
			return nil, fmt.Errorf("encoding event: %w", err)
		}
		out[i] = Labeled{Label: r.label, Event: raw}
	}
	return out, nil
}

// record is one event before sorting and encoding.
type record struct {
	at    int64 // occurred_at, Unix milliseconds
	label Label
	ev    eventJSON
}

// generator holds a validated scenario with defaults and what is derived
// from it.
type generator struct {
	s          Scenario
	from, to   int64 // the whole window, Unix milliseconds
	evalStart  int64
	day        diurnal
	evalDay    diurnal // the evaluated span alone, for a busy day's extra logins
	allCum     []int   // cumulative owner weights over browsers
	mobileIdx  []int   // indexes of mobile browsers
	mobileCum  []int
	langCum    []int // over ownerLanguages
	atkLangCum []int // over attackerLanguages
	emailCum   []int
	payCum     []int
}

func newGenerator(s Scenario) *generator {
	g := &generator{
		s:         s,
		evalStart: s.Start.UnixMilli(),
	}
	g.from = g.evalStart - s.Warmup.D().Milliseconds()
	g.to = g.evalStart + s.Duration.D().Milliseconds()
	g.day = newDiurnal(g.from, g.to)
	g.evalDay = newDiurnal(g.evalStart, g.to)
	total := 0
	for i, b := range browsers {
		total += b.weight
		g.allCum = append(g.allCum, total)
		if b.mobile {
			g.mobileIdx = append(g.mobileIdx, i)
		}
	}
	total = 0
	for _, i := range g.mobileIdx {
		total += browsers[i].weight
		g.mobileCum = append(g.mobileCum, total)
	}
	g.langCum = cumulative(ownerLanguages[:])
	g.atkLangCum = cumulative(attackerLanguages[:])
	g.emailCum = cumulative(emailDomains[:])
	g.payCum = cumulative(paymentMethods[:])
	return g
}

// newRand returns the random stream number index of kind stream.
func (g *generator) newRand(stream, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.s.Seed), splitmix(stream<<48^index)))
}

// splitmix scrambles x (SplitMix64's finalizer) so nearby stream numbers
// give unrelated PCG sequences.
func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// ---- population ----

type population struct {
	owners   []owner
	accounts map[string]bool // folded logins and emails of every account
	pool     []netip.Addr    // the carrier NAT pool
	poolNets [2]netip.Prefix
}

type owner struct {
	id, email, login string
	pwSHA1           string
	devices          []device
	home             netip.Addr
	nat              bool
	activity         float64
	name             string
	place            int
	line1            string
	payment          string
}

type device struct {
	id   string
	prof int // index in browsers
	lang string
}

func (g *generator) population() population {
	r := g.newRand(streamPopulation, 0)
	o := g.s.Owners
	p := population{accounts: make(map[string]bool, 2*o.Accounts)}

	// The carrier pool: two /24s, its addresses split between them.
	p.poolNets[0] = randomPrefix24(r, ownerFirstOctets[:])
	for {
		p.poolNets[1] = randomPrefix24(r, ownerFirstOctets[:])
		if p.poolNets[1] != p.poolNets[0] {
			break
		}
	}
	for i := range 2 {
		n := o.CarrierNATIPs / 2
		if i == 0 {
			n = o.CarrierNATIPs - n
		}
		for _, h := range r.Perm(254)[:n] {
			p.pool = append(p.pool, hostIn(p.poolNets[i], h+1))
		}
	}

	// Residential ISPs: a few /16s, homes in /24s within them.
	blocks := make([][2]byte, max(4, o.Accounts/300))
	for i := range blocks {
		blocks[i] = [2]byte{ownerFirstOctets[r.IntN(len(ownerFirstOctets))], byte(r.IntN(256))}
	}

	p.owners = make([]owner, o.Accounts)
	for i := range p.owners {
		ow := &p.owners[i]
		n := i + 1
		ow.id = fmt.Sprintf("u-%06d", n)
		ow.email = fmt.Sprintf(emailDomains[pick(r, g.emailCum)].value, n)
		ow.login = typedLogin(r, ow.email)
		ow.pwSHA1 = randomPasswordSHA1(r)
		ow.nat = r.Float64() < o.CarrierNATShare
		ndev := 1
		if r.Float64() < secondDevice {
			ndev = 2
		}
		for range ndev {
			ow.devices = append(ow.devices, g.newOwnerDevice(r, ow.nat))
		}
		switch {
		case !ow.nat && r.Float64() < ipv6Home:
			ow.home = randomIPv6(r, 0x2400|uint16(r.IntN(16)))
		default:
			for {
				b := blocks[r.IntN(len(blocks))]
				pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{b[0], b[1], byte(r.IntN(256)), 0}), 24)
				if pfx != p.poolNets[0] && pfx != p.poolNets[1] {
					ow.home = hostIn(pfx, 2+r.IntN(253))
					break
				}
			}
		}
		ow.activity = (r.ExpFloat64() + r.ExpFloat64()) / 2 // Gamma(2), mean 1
		ow.name = familyNames[r.IntN(len(familyNames))] + " " + givenNames[r.IntN(len(givenNames))]
		ow.place = r.IntN(len(places))
		ow.line1 = fmt.Sprintf("%s%d-%d-%d", places[ow.place].street, 1+r.IntN(5), 1+r.IntN(30), 1+r.IntN(20))
		ow.payment = paymentMethods[pick(r, g.payCum)].value
		p.accounts[fold(ow.email)] = true
		p.accounts[fold(ow.login)] = true
	}
	return p
}

// newOwnerDevice returns a device with a stable id, browser and language.
// Carrier-NAT owners use phones.
func (g *generator) newOwnerDevice(r *rand.Rand, mobile bool) device {
	d := device{id: randomHex(r, "d-", 12), lang: ownerLanguages[pick(r, g.langCum)].value}
	if mobile {
		d.prof = g.mobileIdx[pick(r, g.mobileCum)]
	} else {
		d.prof = pick(r, g.allCum)
	}
	return d
}

// typedLogin returns what an owner types to log in: mostly the address as
// registered, sometimes with capitals or in full-width letters (the guard
// normalizes both).
func typedLogin(r *rand.Rand, email string) string {
	u := r.Float64()
	local, domain, _ := strings.Cut(email, "@")
	switch {
	case u < 0.05:
		return strings.ToUpper(local[:1]) + local[1:] + "@" + domain
	case u < 0.07:
		return local + "@" + strings.ToUpper(domain)
	case u < 0.08:
		var b strings.Builder
		for _, c := range local {
			if c > ' ' && c < 0x7f {
				c += 0xFF01 - 0x21 // full-width form
			}
			b.WriteRune(c)
		}
		return b.String() + "@" + domain
	}
	return email
}

// fold approximates the guard's login normalization for the ASCII and
// full-width logins generated here: full-width to ASCII, lower case, trimmed.
func fold(s string) string {
	s = strings.Map(func(c rune) rune {
		if c >= 0xFF01 && c <= 0xFF5E {
			return c - 0xFF01 + 0x21
		}
		return unicode.ToLower(c)
	}, s)
	return strings.TrimSpace(s)
}

// ---- owners' traffic ----

// session is the context one owner login comes from.
type session struct {
	dev     device
	ip      netip.Addr
	carrier bool
}

func (g *generator) ownerEvents(recs []record, p *population, i int) []record {
	r := g.newRand(streamOwner, uint64(i))
	o := g.s.Owners
	ow := &p.owners[i]
	days := float64(g.to-g.from) / float64(24*hourMillis)
	times := make([]int64, poisson(r, o.LoginsPerDay*ow.activity*days))
	for k := range times {
		times[k] = g.day.sample(r)
	}
	if v := o.EvalVolume; v > 1 { // a busy day: more logins in the evaluated span
		evalDays := float64(g.to-g.evalStart) / float64(24*hourMillis)
		for range poisson(r, o.LoginsPerDay*ow.activity*evalDays*(v-1)) {
			times = append(times, g.evalDay.sample(r))
		}
	}
	slices.Sort(times)

	var seenDev []string
	var seenNet []netip.Prefix
	for _, t := range times {
		s := session{dev: ow.devices[0]}
		if len(ow.devices) > 1 && r.Float64() >= primaryDevice {
			s.dev = ow.devices[1]
		}
		if ow.nat && r.Float64() < natPoolUse {
			s.ip, s.carrier = p.pool[r.IntN(len(p.pool))], true
		} else {
			s.ip = ow.home
		}
		if t >= g.evalStart {
			switch u := r.Float64(); {
			case u < o.NewDeviceRate:
				nd := device{id: randomHex(r, "d-", 12), prof: s.dev.prof, lang: s.dev.lang}
				if r.Float64() < newDeviceNewUA {
					nd.prof = g.newOwnerDevice(r, ow.nat).prof
				}
				s.dev = nd
				if r.Float64() < newDeviceNewNet {
					s.ip, s.carrier = g.travelIP(r, p), false
				}
			case u < o.NewDeviceRate+o.NewNetworkRate:
				s.ip, s.carrier = g.travelIP(r, p), false
			}
		}
		net := networkOf(s.ip)
		base := Label{
			Actor:         ActorOwner,
			AccountExists: true,
			NewDevice:     !slices.Contains(seenDev, s.dev.id),
			NewNetwork:    !slices.Contains(seenNet, net),
			CarrierNAT:    s.carrier,
		}
		if base.NewDevice {
			seenDev = append(seenDev, s.dev.id)
		}
		if base.NewNetwork {
			seenNet = append(seenNet, net)
		}
		ctx := ownerContext(s)
		user := &userJSON{ID: ow.id, Email: ow.email}

		// Failures before the login, latest first.
		first := t
		if r.Float64() < o.TypoRate {
			n := 1
			if r.Float64() < typoTwice {
				n = 2
			}
			for range n {
				first -= 6000 + r.Int64N(20000)
				recs = g.emit(recs, first, base, eventJSON{
					Type: typeLoginFailed, RequestID: randomHex(r, "req-", 16),
					Login: ow.login, User: user, Context: ctx,
					Properties: propertiesJSON{Reason: reasonBadPassword},
				})
			}
		}
		if r.Float64() < o.UnknownRate {
			first -= 5000 + r.Int64N(35000)
			l := base
			l.AccountExists = false
			recs = g.emit(recs, first, l, eventJSON{
				Type: typeLoginFailed, RequestID: randomHex(r, "req-", 16),
				Login: mistype(r, ow.login, p.accounts), Context: ctx,
				Properties: propertiesJSON{Reason: reasonUnknown},
			})
		}

		sessionID := randomHex(r, "s-", 16)
		recs = g.emit(recs, t, base, eventJSON{
			Type: typeLoginSucceeded, RequestID: randomHex(r, "req-", 16),
			Login: ow.login, User: user, SessionID: sessionID, Context: ctx,
			Credential: &credentialJSON{PasswordSHA1: ow.pwSHA1},
		})

		if r.Float64() < o.OrderRate {
			at := t + 60_000 + r.Int64N(19*60_000)
			recs = g.emit(recs, at, base, eventJSON{
				Type: typeOrderAttempt, RequestID: randomHex(r, "req-", 16),
				User: user, SessionID: sessionID, Context: ctx,
				Properties: propertiesJSON{Order: ownerOrder(r, ow)},
			})
		}
	}
	return recs
}

// emit appends an event at time at, with its phase, if it falls in the
// window; events pushed outside it (a typo before the first hour, an
// order after the last) are dropped.
func (g *generator) emit(recs []record, at int64, l Label, ev eventJSON) []record {
	if at < g.from || at >= g.to {
		return recs
	}
	l.Phase = PhaseEval
	if at < g.evalStart {
		l.Phase = PhaseWarmup
	}
	return append(recs, record{at: at, label: l, ev: ev})
}

func ownerContext(s session) contextJSON {
	b := &browsers[s.dev.prof]
	return contextJSON{
		IP:                s.ip.String(),
		UserAgent:         b.ua,
		AcceptLanguage:    s.dev.lang,
		DeviceID:          s.dev.id,
		ClientFingerprint: b.fp,
		Headers:           clientHints(b),
	}
}

// clientHints returns the sec-ch-ua headers of a Chromium-based browser,
// nil for others.
func clientHints(b *browserProfile) *headersJSON {
	if b.secCHUA == "" {
		return nil
	}
	h := &headersJSON{SecCHUA: b.secCHUA, SecCHUAMobile: "?0", SecCHUAPlatform: b.platform}
	if b.mobile {
		h.SecCHUAMobile = "?1"
	}
	return h
}

// travelIP returns an address on a network an owner visits (hotel, cafe,
// another carrier): anywhere in owners' address space but the carrier pool.
func (g *generator) travelIP(r *rand.Rand, p *population) netip.Addr {
	for {
		pfx := randomPrefix24(r, ownerFirstOctets[:])
		if pfx != p.poolNets[0] && pfx != p.poolNets[1] {
			return hostIn(pfx, 2+r.IntN(253))
		}
	}
}

// mistype returns login with one slip of the finger that names no account.
func mistype(r *rand.Rand, login string, accounts map[string]bool) string {
	for range 20 {
		c := []rune(login)
		at := slices.Index(c, '@')
		var m []rune
		switch k := r.IntN(4); {
		case k == 0 && at > 1: // a character of the local part dropped
			j := r.IntN(at)
			m = slices.Concat(c[:j], c[j+1:])
		case k == 1 && at > 1: // two adjacent characters swapped
			j := r.IntN(at - 1)
			m = slices.Clone(c)
			m[j], m[j+1] = m[j+1], m[j]
		case k == 2 && at >= 0 && at+3 < len(c): // domain letters swapped
			j := at + 1 + r.IntN(len(c)-at-2)
			m = slices.Clone(c)
			m[j], m[j+1] = m[j+1], m[j]
		default: // a character doubled
			j := r.IntN(len(c))
			m = slices.Concat(c[:j+1], c[j:])
		}
		if s := string(m); s != login && !accounts[fold(s)] {
			return s
		}
	}
	return "x" + login
}

func ownerOrder(r *rand.Rand, ow *owner) *orderJSON {
	o := &orderJSON{ID: randomHex(r, "o-", 12), Currency: "JPY"}
	for range 1 + r.IntN(2) {
		p := products[r.IntN(len(products))]
		q := int64(1)
		if p.price < 10000 {
			q += r.Int64N(2)
		}
		o.Items = append(o.Items, itemJSON{SKU: p.sku, Quantity: q, UnitPrice: p.price})
		o.Amount += q * p.price
	}
	pl := places[ow.place]
	o.Shipping = shippingJSON{
		Name: ow.name, PostalCode: pl.postalCode, Country: "JP",
		Region: pl.region, City: pl.city, Line1: ow.line1,
	}
	o.Payment = paymentJSON{Method: ow.payment}
	o.Delivery = deliveryJSON{Method: "home"}
	return o
}

// ---- attacks ----

// attempt is one login try of an attack.
type attempt struct {
	at     int64
	owner  int // index in population.owners; -1 when the login is not an account
	login  string
	valid  bool   // the password is the account's (combo lists)
	pwSHA1 string // spray: the password tried
	src    int    // index in attackPlan.sources
}

// source is one attacking client.
type source struct {
	ip   netip.Addr
	ua   string
	lang string
	fp   string
	hdr  *headersJSON
}

type attackPlan struct {
	spec     AttackSpec
	index    int // in Scenario.Attacks
	r        *rand.Rand
	sources  []source
	attempts []attempt
}

func (g *generator) planAttack(i int, p *population) attackPlan {
	a := g.s.Attacks[i]
	r := g.newRand(streamAttack, uint64(i))
	ws := g.evalStart + a.Start.D().Milliseconds()
	wl := a.Duration.D().Milliseconds()
	plan := attackPlan{spec: a, index: i, r: r}

	v6 := 0.0
	if a.Kind == KindDistributed {
		v6 = distributedIPv6
	}
	firsts := attackerFirstOctets[:]
	if a.Sources == SourcesResidential {
		firsts, v6 = ownerFirstOctets[:], 0
	}
	for _, ip := range attackerIPs(r, a.SourceIPs, v6, firsts) {
		plan.sources = append(plan.sources, g.newSource(r, ip, a.UserAgents, a.Sources == SourcesResidential))
	}

	switch a.Kind {
	case KindDistributed:
		lo, hi := a.AttemptsPerIP[0], a.AttemptsPerIP[1]
		counts := make([]int, len(plan.sources))
		total := 0
		for k := range counts {
			counts[k] = lo + r.IntN(hi-lo+1)
			total += counts[k]
		}
		plan.attempts = comboEntries(r, total, a.UnknownShare, a.ReuseRate, p)
		k := 0
		for s, n := range counts {
			for _, at := range burstTimes(r, n, ws, wl) {
				plan.attempts[k].at, plan.attempts[k].src = at, s
				k++
			}
		}
	case KindBurst:
		plan.attempts = comboEntries(r, a.Attempts, a.UnknownShare, a.ReuseRate, p)
		for k, at := range uniformTimes(r, a.Attempts, ws, wl) {
			plan.attempts[k].at, plan.attempts[k].src = at, k%len(plan.sources)
		}
	case KindSpray:
		plan.attempts = g.sprayAttempts(r, a, p)
		for k, at := range uniformTimes(r, len(plan.attempts), ws, wl) {
			plan.attempts[k].at, plan.attempts[k].src = at, k%len(plan.sources)
		}
	}
	return plan
}

// sprayAttempts tries each of a.Passwords common passwords against the same
// list of logins, one password after the other. ReuseRate of the real
// accounts on the list have one of those passwords: the account's password
// is changed to it, so its owner's logins carry the same hash.
func (g *generator) sprayAttempts(r *rand.Rand, a AttackSpec, p *population) []attempt {
	targets := comboEntries(r, (a.Attempts+a.Passwords-1)/a.Passwords, a.UnknownShare, 0, p)
	known := 0
	for _, t := range targets {
		if t.owner >= 0 {
			known++
		}
	}
	weak := int(math.Round(a.ReuseRate * float64(known)))
	for _, t := range targets {
		if weak == 0 {
			break
		}
		if t.owner >= 0 {
			p.owners[t.owner].pwSHA1 = commonPasswordSHA1[r.IntN(a.Passwords)]
			weak--
		}
	}
	out := make([]attempt, 0, a.Attempts)
	for pw := range a.Passwords {
		for _, t := range targets {
			if len(out) == a.Attempts {
				return out
			}
			t.pwSHA1 = commonPasswordSHA1[pw]
			out = append(out, t)
		}
	}
	return out
}

// comboEntries draws n entries of a combo list: a share unknownShare (exactly,
// rounded) names no account; the others are real accounts, distinct while
// there are enough, and a share reuse of those (exactly, rounded) carries
// the account's valid password. The order is random.
func comboEntries(r *rand.Rand, n int, unknownShare, reuse float64, p *population) []attempt {
	unknown := int(math.Round(unknownShare * float64(n)))
	known := n - unknown
	valid := int(math.Round(reuse * float64(known)))
	out := make([]attempt, 0, n)
	var perm []int
	for k := range known {
		if len(perm) == 0 {
			perm = r.Perm(len(p.owners))
		}
		o := perm[len(perm)-1]
		perm = perm[:len(perm)-1]
		out = append(out, attempt{owner: o, login: p.owners[o].login, valid: k < valid})
	}
	for range unknown {
		out = append(out, attempt{owner: -1, login: comboLogin(r, p.accounts)})
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// comboLogin invents the login of a combo-list entry that is not an account.
func comboLogin(r *rand.Rand, accounts map[string]bool) string {
	for {
		gv := comboGiven[r.IntN(len(comboGiven))]
		fm := comboFamily[r.IntN(len(comboFamily))]
		dom := comboDomains[r.IntN(len(comboDomains))]
		var s string
		switch r.IntN(5) {
		case 0:
			s = gv + "." + fm + "@" + dom
		case 1:
			s = fmt.Sprintf("%s_%s%02d@%s", gv, fm, r.IntN(100), dom)
		case 2:
			s = fmt.Sprintf("%s.%s%d@%s", fm, gv, 1960+r.IntN(46), dom)
		case 3:
			s = fmt.Sprintf("%c%s%d@%s", gv[0], fm, r.IntN(1000), dom)
		default:
			s = gv + fm + "@" + dom
		}
		if !accounts[fold(s)] {
			return s
		}
	}
}

// newSource returns an attacking client at ip; a domestic one sends the
// owners' browsers and languages.
func (g *generator) newSource(r *rand.Rand, ip netip.Addr, agents string, domestic bool) source {
	if agents == AgentsAutomation {
		a := automation[r.IntN(len(automation))]
		return source{ip: ip, ua: a.ua, fp: a.fp}
	}
	if domestic {
		b := &browsers[pick(r, g.allCum)]
		return source{ip: ip, ua: b.ua, fp: b.fp, hdr: clientHints(b), lang: ownerLanguages[pick(r, g.langCum)].value}
	}
	b := &browsers[r.IntN(len(browsers))]
	return source{
		ip: ip, ua: b.ua, fp: b.fp, hdr: clientHints(b),
		lang: attackerLanguages[pick(r, g.atkLangCum)].value,
	}
}

func (g *generator) attackEvents(recs []record, p *population, plan *attackPlan) []record {
	r := plan.r
	var fr *rand.Rand // fraud orders: a stream of their own
	if plan.spec.FraudOrders > 0 {
		fr = g.newRand(streamFraud, uint64(plan.index))
	}
	for _, at := range plan.attempts {
		src := &plan.sources[at.src]
		ctx := contextJSON{
			IP: src.ip.String(), UserAgent: src.ua, AcceptLanguage: src.lang,
			ClientFingerprint: src.fp, Headers: src.hdr,
		}
		switch plan.spec.DeviceIDs {
		case DevicesRandom:
			ctx.DeviceID = randomHex(r, "d-", 12)
		case DevicesMixed:
			if r.IntN(2) == 0 {
				ctx.DeviceID = randomHex(r, "d-", 12)
			}
		}
		ev := eventJSON{
			Type: typeLoginFailed, RequestID: randomHex(r, "req-", 16),
			Login: at.login, Context: ctx,
			Properties: propertiesJSON{Reason: reasonUnknown},
		}
		l := Label{Actor: ActorAttacker, Attack: plan.spec.Kind}
		if at.pwSHA1 != "" {
			ev.Credential = &credentialJSON{PasswordSHA1: at.pwSHA1}
		}
		if at.owner >= 0 {
			ow := &p.owners[at.owner]
			l.AccountExists = true
			ev.User = &userJSON{ID: ow.id, Email: ow.email}
			ev.Properties.Reason = reasonBadPassword
			valid := at.valid
			if at.pwSHA1 != "" {
				valid = at.pwSHA1 == ow.pwSHA1
			}
			if valid {
				l.ValidCredential = true
				ev.Type = typeLoginSucceeded
				ev.SessionID = randomHex(r, "s-", 16)
				ev.Properties.Reason = ""
			}
		}
		recs = g.emit(recs, at.at, l, ev)
		if fr != nil && l.ValidCredential && fr.Float64() < plan.spec.FraudOrders {
			recs = g.fraudOrder(recs, fr, at.at, l, ev, &p.owners[at.owner])
		}
	}
	return recs
}

// fraudOrder appends what an attacker does with a taken-over account in
// the 2018 pattern: change the email, then order the most expensive phone
// for convenience-store pickup on the phone bill.
func (g *generator) fraudOrder(recs []record, r *rand.Rand, at int64, l Label, login eventJSON, ow *owner) []record {
	l.ValidCredential = false
	at += 30_000 + r.Int64N(90_000)
	newEmail := randomHex(r, "drop", 6) + "@example.net"
	recs = g.emit(recs, at, l, eventJSON{
		Type: typeProfileUpdated, RequestID: randomHex(r, "req-", 16),
		User: &userJSON{ID: ow.id, Email: newEmail}, SessionID: login.SessionID, Context: login.Context,
		Properties: propertiesJSON{Fields: []string{"email"}},
	})
	at += 60_000 + r.Int64N(120_000)
	phone := products[0]
	store := convenienceStores[r.IntN(len(convenienceStores))]
	o := &orderJSON{
		ID: randomHex(r, "o-", 12), Amount: phone.price, Currency: "JPY",
		Items:    []itemJSON{{SKU: phone.sku, Quantity: 1, UnitPrice: phone.price}},
		Shipping: shippingJSON{Name: ow.name, PostalCode: store.postalCode, Country: "JP", Region: store.region, City: store.city, Line1: store.street},
		Payment:  paymentJSON{Method: "carrier_billing"},
		Delivery: deliveryJSON{Method: "convenience_store", PickupStore: &store.id},
	}
	return g.emit(recs, at, l, eventJSON{
		Type: typeOrderAttempt, RequestID: randomHex(r, "req-", 16),
		User: &userJSON{ID: ow.id, Email: newEmail}, SessionID: login.SessionID, Context: login.Context,
		Properties: propertiesJSON{Order: o},
	})
}

// launchEvents adds a launch-day rush: owners log in from their usual
// device and network and order the new item, most to their home.
func (g *generator) launchEvents(recs []record, p *population, l *LaunchSpec) []record {
	r := g.newRand(streamLaunch, 0)
	start := g.evalStart + l.Start.D().Milliseconds()
	buyers := r.Perm(len(p.owners))[:min(l.Buyers, len(p.owners))]
	var hr *rand.Rand // habits: a stream of their own, so the rush is the same without them
	if l.Habits {
		hr = g.newRand(streamLaunch, 1)
	}
	for _, i := range buyers {
		ow := &p.owners[i]
		s := session{dev: ow.devices[0], ip: ow.home}
		if ow.nat {
			s.ip, s.carrier = p.pool[r.IntN(len(p.pool))], true
		}
		at := start + r.Int64N(max(l.Duration.D().Milliseconds(), 1))
		user := &userJSON{ID: ow.id, Email: ow.email}
		lab := Label{Actor: ActorOwner, AccountExists: true, CarrierNAT: s.carrier}
		if hr != nil {
			recs = g.launchHabits(recs, hr, p, ow, &s, &lab, at)
		}
		ctx := ownerContext(s)
		sid := randomHex(r, "s-", 16)
		recs = g.emit(recs, at, lab, eventJSON{
			Type: typeLoginSucceeded, RequestID: randomHex(r, "req-", 16),
			Login: ow.login, User: user, SessionID: sid, Context: ctx,
			Credential: &credentialJSON{PasswordSHA1: ow.pwSHA1},
		})
		o := ownerOrder(r, ow)
		o.Items = []itemJSON{{SKU: l.SKU, Quantity: 1, UnitPrice: l.Price}}
		o.Amount = l.Price
		if r.Float64() < l.PickupShare {
			st := convenienceStores[r.IntN(len(convenienceStores))]
			o.Delivery = deliveryJSON{Method: "convenience_store", PickupStore: &st.id}
			o.Shipping = shippingJSON{Name: ow.name, PostalCode: st.postalCode, Country: "JP", Region: st.region, City: st.city, Line1: st.street}
		}
		recs = g.emit(recs, at+60_000+r.Int64N(4*60_000), lab, eventJSON{
			Type: typeOrderAttempt, RequestID: randomHex(r, "req-", 16),
			User: user, SessionID: sid, Context: ctx, Properties: propertiesJSON{Order: o},
		})
	}
	return recs
}

// launchHabits gives a buyer's login at the owners' habits: a new device
// or network (changing s and lab), and the failed logins before it.
func (g *generator) launchHabits(recs []record, r *rand.Rand, p *population, ow *owner, s *session, lab *Label, at int64) []record {
	o := g.s.Owners
	switch u := r.Float64(); {
	case u < o.NewDeviceRate:
		nd := device{id: randomHex(r, "d-", 12), prof: s.dev.prof, lang: s.dev.lang}
		if r.Float64() < newDeviceNewUA {
			nd.prof = g.newOwnerDevice(r, ow.nat).prof
		}
		s.dev, lab.NewDevice = nd, true
		if r.Float64() < newDeviceNewNet {
			s.ip, s.carrier, lab.NewNetwork, lab.CarrierNAT = g.travelIP(r, p), false, true, false
		}
	case u < o.NewDeviceRate+o.NewNetworkRate:
		s.ip, s.carrier, lab.NewNetwork, lab.CarrierNAT = g.travelIP(r, p), false, true, false
	}
	ctx := ownerContext(*s)
	first := at
	if r.Float64() < o.TypoRate {
		n := 1
		if r.Float64() < typoTwice {
			n = 2
		}
		for range n {
			first -= 6000 + r.Int64N(20000)
			recs = g.emit(recs, first, *lab, eventJSON{
				Type: typeLoginFailed, RequestID: randomHex(r, "req-", 16),
				Login: ow.login, User: &userJSON{ID: ow.id, Email: ow.email}, Context: ctx,
				Properties: propertiesJSON{Reason: reasonBadPassword},
			})
		}
	}
	if r.Float64() < o.UnknownRate {
		first -= 5000 + r.Int64N(35000)
		l := *lab
		l.AccountExists = false
		recs = g.emit(recs, first, l, eventJSON{
			Type: typeLoginFailed, RequestID: randomHex(r, "req-", 16),
			Login: mistype(r, ow.login, p.accounts), Context: ctx,
			Properties: propertiesJSON{Reason: reasonUnknown},
		})
	}
	return recs
}

// convenienceStores are the pickup points attackers use (a few, so they
// show up as drop points).
var convenienceStores = [...]struct{ id, postalCode, region, city, street string }{
	{"famima-shinjuku-0412", "160-0022", "東京都", "新宿区", "新宿3-1-1"},
	{"seven-ikebukuro-1177", "171-0021", "東京都", "豊島区", "西池袋1-2-3"},
	{"lawson-akihabara-0090", "101-0021", "東京都", "千代田区", "外神田4-4-4"},
}

// uniformTimes returns n sorted times drawn uniformly from [from, from+length).
func uniformTimes(r *rand.Rand, n int, from, length int64) []int64 {
	ts := make([]int64, n)
	for k := range ts {
		ts[k] = from + r.Int64N(length)
	}
	slices.Sort(ts)
	return ts
}

// burstTimes returns the n times of one distributed source: a uniform start
// in [from, from+length), then a few seconds to a minute between tries, all
// within the window.
func burstTimes(r *rand.Rand, n int, from, length int64) []int64 {
	ts := make([]int64, n)
	var span int64
	for k := 1; k < n; k++ {
		span += 2000 + r.Int64N(58000)
		ts[k] = span
	}
	if span >= length { // a tiny window: squeeze the tries into it
		for k := range ts {
			ts[k] = ts[k] * (length - 1) / span
		}
		span = length - 1
	}
	start := from + r.Int64N(length-span)
	for k := range ts {
		ts[k] += start
	}
	return ts
}

// ---- addresses ----

// attackerIPs returns n distinct attacker addresses, a share v6 of them in
// 2001:db8::/32, the rest IPv4 spread over many /24s whose first octet is
// one of firsts; some sources share a /24 or /64 with an earlier one, as
// residential proxies do.
func attackerIPs(r *rand.Rand, n int, v6 float64, firsts []byte) []netip.Addr {
	seen := make(map[netip.Addr]bool, n)
	var nets4, nets6 []netip.Prefix
	out := make([]netip.Addr, 0, n)
	for len(out) < n {
		var ip netip.Addr
		if r.Float64() < v6 {
			if len(nets6) > 0 && r.Float64() < reusePrefix {
				ip = withInterfaceID(nets6[r.IntN(len(nets6))], r.Uint64())
			} else {
				ip = randomIPv6(r, 0x2001)
				nets6 = append(nets6, netip.PrefixFrom(ip, 64).Masked())
			}
		} else {
			if len(nets4) > 0 && r.Float64() < reusePrefix {
				ip = hostIn(nets4[r.IntN(len(nets4))], 1+r.IntN(254))
			} else {
				pfx := randomPrefix24(r, firsts)
				ip = hostIn(pfx, 1+r.IntN(254))
				nets4 = append(nets4, pfx)
			}
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return out
}

// randomPrefix24 returns a random /24 whose first octet is one of firsts.
func randomPrefix24(r *rand.Rand, firsts []byte) netip.Prefix {
	a := netip.AddrFrom4([4]byte{firsts[r.IntN(len(firsts))], byte(r.IntN(256)), byte(r.IntN(256)), 0})
	return netip.PrefixFrom(a, 24)
}

// hostIn returns host number h of an IPv4 /24.
func hostIn(p netip.Prefix, h int) netip.Addr {
	b := p.Addr().As4()
	b[3] = byte(h)
	return netip.AddrFrom4(b)
}

// randomIPv6 returns a random address whose first 16 bits are first; the
// attacker uses first 0x2001 with 0x0db8 next (the documentation /32).
func randomIPv6(r *rand.Rand, first uint16) netip.Addr {
	var b [16]byte
	b[0], b[1] = byte(first>>8), byte(first)
	hi := r.Uint64()
	for k := range 6 {
		b[2+k] = byte(hi >> (8 * k))
	}
	if first == 0x2001 {
		b[2], b[3] = 0x0d, 0xb8
	}
	return withInterfaceID(netip.PrefixFrom(netip.AddrFrom16(b), 64), r.Uint64())
}

// withInterfaceID returns the address of p (a /64) with interface id id.
func withInterfaceID(p netip.Prefix, id uint64) netip.Addr {
	b := p.Masked().Addr().As16()
	for k := range 8 {
		b[8+k] = byte(id >> (8 * (7 - k)))
	}
	return netip.AddrFrom16(b)
}

// networkOf returns the network an address is in, for familiarity: its
// /24 (IPv4) or /64 (IPv6).
func networkOf(ip netip.Addr) netip.Prefix {
	bits := 24
	if ip.Is6() {
		bits = 64
	}
	return netip.PrefixFrom(ip, bits).Masked()
}

// ---- random helpers ----

// cumulative returns the running sums of the weights of ws.
func cumulative(ws []weighted) []int {
	out := make([]int, len(ws))
	total := 0
	for i, w := range ws {
		total += w.weight
		out[i] = total
	}
	return out
}

// pick returns an index drawn with the weights whose running sums are cum.
func pick(r *rand.Rand, cum []int) int {
	u := r.IntN(cum[len(cum)-1])
	return sort.SearchInts(cum, u+1)
}

// randomHex returns prefix followed by n random hex digits (n <= 16).
func randomHex(r *rand.Rand, prefix string, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	v := r.Uint64()
	for k := range n {
		b[len(prefix)+k] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

// randomPasswordSHA1 returns the SHA-1 of a fresh random password. The
// password itself lives only in this function.
func randomPasswordSHA1(r *rand.Rand) string {
	var pw [12]byte
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%&"
	for k := range pw {
		pw[k] = alphabet[r.IntN(len(alphabet))]
	}
	sum := sha1.Sum(pw[:])
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// poisson draws from a Poisson distribution of mean lambda (normal
// approximation above 30).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda < 30 {
		limit, p, k := math.Exp(-lambda), 1.0, 0
		for {
			p *= r.Float64()
			if p <= limit {
				return k
			}
			k++
		}
	}
	return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
}

// diurnal samples login times over a window with the Japanese daily rhythm.
type diurnal struct {
	starts, lengths []int64
	cum             []float64
}

func newDiurnal(from, to int64) diurnal {
	var d diurnal
	total := 0.0
	for t := from; t < to; {
		h := floorDiv(t, hourMillis)
		next := min((h+1)*hourMillis, to)
		w := jstHourWeight[((h+9)%24+24)%24]
		total += w * float64(next-t)
		d.starts = append(d.starts, t)
		d.lengths = append(d.lengths, next-t)
		d.cum = append(d.cum, total)
		t = next
	}
	return d
}

func (d diurnal) sample(r *rand.Rand) int64 {
	u := r.Float64() * d.cum[len(d.cum)-1]
	i := min(sort.SearchFloat64s(d.cum, u), len(d.cum)-1)
	prev := 0.0
	if i > 0 {
		prev = d.cum[i-1]
	}
	frac := (u - prev) / (d.cum[i] - prev)
	off := min(int64(frac*float64(d.lengths[i])), d.lengths[i]-1)
	return d.starts[i] + max(off, 0)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

package familiarity

import (
	"math"
	"strings"
	"time"
)

// Grade says how strange a login's context is to the account, beyond the
// yes/no of a known device or network: which parts of the context match
// what the account has shown, weighed by how settled the account is in
// each (an owner with one device over many logins on a new device is
// stranger than a traveller who shows a new network every other time).
type Grade struct {
	// Strangeness is 0 (everything matches) to 100 (nothing does, on an
	// account that never varies), or 100 with no history.
	Strangeness int
	// Mismatch: the account has history and nothing the login carries
	// matches it: not the device, the network, the browser family, the
	// language, nor (with GeoIP) the country or the network operator.
	Mismatch bool
	// NewAgent: the browser family (AgentFamily) was never seen in a good
	// session of the account, which has some on record.
	NewAgent bool
	// NewLanguage: likewise the browser's language preference.
	NewLanguage bool
	// UnusualHour: the account has enough logins on record and none in
	// this hour of the day or the hours next to it.
	UnusualHour bool
}

// Weights of each part of the context in Strangeness.
const (
	weightDevice   = 30
	weightNetwork  = 25
	weightAgent    = 20
	weightLanguage = 15
	weightHour     = 10
	weightCountry  = 15
	weightASN      = 10
	// hourLogins is in how many hours of the day an account must have
	// logged in before its hours are judged.
	hourLogins = 4
	// settledFloor bounds how little a mismatch weighs on an account that
	// varies a lot.
	settledFloor = 0.3
)

// grade weighs the context c (whose matches are in f) against profile p.
func grade(p *profile, c Context, f Facts, now time.Time) Grade {
	if p.Logins == 0 {
		return Grade{Strangeness: 100}
	}
	var g Grade
	var total, strange float64
	matched := false
	part := func(weight float64, judged, known bool, distinct int) {
		if !judged {
			return
		}
		total += weight
		if known {
			matched = true
			return
		}
		strange += weight * settled(distinct)
	}
	part(weightDevice, true, f.DeviceKnown, len(p.Devices)) // no device id sent is a new device
	part(weightNetwork, c.Network != "", f.NetworkKnown, len(p.Networks))
	part(weightAgent, c.Agent != "" && len(p.Agents) > 0, f.AgentKnown, len(p.Agents))
	part(weightLanguage, c.Language != "" && len(p.Languages) > 0, f.LanguageKnown, len(p.Languages))
	part(weightCountry, c.Country != "" && len(p.Countries) > 0, f.CountryKnown, len(p.Countries))
	part(weightASN, c.ASN != "" && len(p.ASNs) > 0, f.ASNKnown, len(p.ASNs))
	g.NewAgent = c.Agent != "" && len(p.Agents) > 0 && !f.AgentKnown
	g.NewLanguage = c.Language != "" && len(p.Languages) > 0 && !f.LanguageKnown
	g.Mismatch = !matched
	if n, usual := hourUsual(p.Hours, now); n >= hourLogins {
		g.UnusualHour = !usual
		total += weightHour
		if !usual {
			strange += weightHour
		}
	}
	if total > 0 {
		g.Strangeness = int(100*strange/total + 0.5)
	}
	return g
}

// settled is how much a new value of a kind weighs on an account that
// showed distinct values of it in its good sessions: fully on one that
// never varied, less on one that often shows something new (one over the
// square root of the count, at least settledFloor). It reads only what a
// profile always persists (its marks), so a restart judges the same.
func settled(distinct int) float64 {
	if distinct <= 1 {
		return 1
	}
	return max(1/math.Sqrt(float64(distinct)), settledFloor)
}

// hourUsual returns how many hours of the day the account has logged in
// at, and whether now's hour or the hours next to it is one of them.
func hourUsual(hours []uint16, now time.Time) (int, bool) {
	if len(hours) != 24 {
		return 0, false
	}
	n := 0
	for _, c := range hours {
		if c > 0 {
			n++
		}
	}
	h := now.UTC().Hour()
	return n, hours[(h+23)%24] > 0 || hours[h] > 0 || hours[(h+1)%24] > 0
}

// LanguageOf reduces an Accept-Language header to the browser's language
// preference: its first three language tags, lower case, without
// weights or spaces ("ja-JP,ja;q=0.9" → "ja-jp,ja"). Empty for none.
func LanguageOf(acceptLanguage string) string {
	var tags []string
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, _, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag == "" || tag == "*" || len(tag) > 35 {
			continue
		}
		tags = append(tags, tag)
		if len(tags) == 3 {
			break
		}
	}
	return strings.Join(tags, ",")
}

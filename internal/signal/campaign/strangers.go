package campaign

import (
	"math"
	"time"
)

// Stranger classes a correct password by how strange its context is to
// the account, for the strangers test: a crew with a pre-checked list
// fails nothing and tries no unknown account, so only the mix of its
// successes shows it. A login is a stranger when it comes from a device
// and a network the account never used, on a network no account of the
// shop is known on (or, for an account with no history, from such a
// network); its class says what else of its context is new to the
// account.
type Stranger uint8

// The classes of strangers.
const (
	NotStranger         Stranger = iota
	StrangerPlain                // the browser family and the language match the account's
	StrangerNewAgent             // a browser family the account never used
	StrangerNewLanguage          // a language preference the account never used
	StrangerMismatch             // neither the browser family nor the language matches
	StrangerNoHistory            // an account with no good session on record
	// TakeoverSign is not a login: a contact change (email, phone,
	// address, payment) in a session a stranger opened without passing a
	// step-up — what a crew does with an account it got into, and an
	// owner seldom. The signs test (signs.go) counts them.
	TakeoverSign
	// AbandonedChallenge is not a login either: a step-up asked of a
	// login outside any campaign that expired unanswered. A crew holding
	// only the password walks away from it; an owner seldom does. The
	// learned share is the owners' own.
	AbandonedChallenge
	numStrangers
)

// StrangerOf classes a successful login from the account's familiarity
// facts: how many good sessions it has on record, whether it knows the
// device or the network, whether the shop knows the network, and whether
// the browser family and the language are new to it. The browser family
// and the language of an account with fewer than SettledLogins sessions
// say little (its owner may not have shown a second device yet): such a
// stranger is plain.
func StrangerOf(logins int, familiar, seenInShop, newAgent, newLanguage bool) Stranger {
	switch {
	case familiar || seenInShop:
		return NotStranger
	case logins == 0:
		return StrangerNoHistory
	case logins < SettledLogins:
		return StrangerPlain
	case newAgent && newLanguage:
		return StrangerMismatch
	case newLanguage:
		return StrangerNewLanguage
	case newAgent:
		return StrangerNewAgent
	}
	return StrangerPlain
}

// SettledLogins is how many good sessions an account needs on record
// before a new browser family or language classes its strangers.
const SettledLogins = 3

// The strangers test is a Poisson CUSUM over finished minutes on the
// classes of strangers together: the log-likelihood ratio of "besides
// the owners, a crew brings strangerCrew[c] a minute of class c" against
// "each class runs at its learned share of the minute's logins" (never
// under its floor). Owners' new phones are plain strangers or bring a new
// browser family, and keep their language; how many there are moves from
// day to day as much as a crew would move them (a day after a holiday,
// many new phones), so those classes carry no weight. A crew's context is
// unrelated to the owner's: about half its strangers on settled accounts
// speak a language the account never used, which owners seldom do.
const (
	strangersAlpha = 1.0 / (3 * 1440) // the mix of about three days
	// strangersHot is the share of its threshold at or above which the
	// test keeps a campaign open (and says so to the policy); the test is
	// capped at strangersCap times its threshold, so that it settles
	// about two hours after a crew stops: a crew at a handful an hour
	// cannot be told stopped from pausing much sooner.
	strangersHot = 0.5
	strangersCap = 1.5
	// strangersCloseAfter is how long a campaign of strangers stays open
	// after the test last stood high: a crew at a handful an hour, only
	// some of them speaking a new language, leaves hours without evidence.
	strangersCloseAfter = time.Hour
)

// strangerCrew is the excess a crew brings in each class, per minute (a
// handful of strangers an hour, a quarter each in the language classes,
// a takeover sign every other hour and a challenge walked away from every
// hour);
// strangerFloor the least share of all logins each class is expected at.
var (
	strangerCrew  = [numStrangers]float64{0, 0, 0, 1.2 / 60, 1.2 / 60, 0.5 / 60, 0.5 / 60, 1.0 / 60}
	strangerFloor = [numStrangers]float64{0, 0.01, 0.008, 0.0003, 0.0003, 0.005, signsFloor, signsFloor}
)

// strangers is the state of the strangers test.
type strangers struct {
	Minute [numStrangers]float64 `json:"minute"` // the minute being counted, per class
	// Shares are the decayed counts per class, and of all logins at 0.
	Shares [numStrangers]float64 `json:"shares"`
	Cusum  float64               `json:"cusum"`
	// Minutes is the decayed count of minutes learned, so that Shares[0]
	// over it is the logins a minute, even before the memory is full.
	Minutes float64 `json:"minutes,omitempty"`
	Signs   signs   `json:"signs"`
	// First watches first logins (firstlogins.go).
	First firstLogins `json:"first_logins"`
}

// count counts one login of class s in the minute being counted.
func (t *strangers) count(s Stranger) {
	if s > NotStranger && s < numStrangers {
		t.Minute[s]++
	}
}

// judge feeds a finished minute with total logins to the test; h is the
// threshold.
func (t *strangers) judge(counts [numStrangers]float64, total, h float64) {
	llr := -t.drift()
	for c := StrangerPlain; c < numStrangers; c++ {
		if counts[c] == 0 || strangerCrew[c] == 0 {
			continue
		}
		if c == AbandonedChallenge && !t.learnedDay() {
			// How often the owners walk away is known after a day.
			continue
		}
		lambda0 := math.Max(t.share(c)*total, 1e-3)
		llr += counts[c] * math.Log1p(strangerCrew[c]/lambda0)
	}
	t.Cusum = math.Min(math.Max(t.Cusum+llr, 0), strangersCap*h)
}

// share is class c's learned share of all logins, at least its floor.
func (t *strangers) share(c Stranger) float64 {
	p := 0.0
	if t.Shares[0] >= 1 {
		p = t.Shares[c] / t.Shares[0]
	}
	return math.Max(p, strangerFloor[c])
}

// learn learns a finished minute's mix.
func (t *strangers) learn(counts [numStrangers]float64, total float64) {
	for c := StrangerPlain; c < numStrangers; c++ {
		t.Shares[c] = (1-strangersAlpha)*t.Shares[c] + counts[c]
	}
	t.Shares[0] = (1-strangersAlpha)*t.Shares[0] + total
	t.Minutes = (1-strangersAlpha)*t.Minutes + 1
}

// decay ages the learned mix by minutes with no login.
func (t *strangers) decay(minutes float64) {
	if minutes <= 0 {
		return
	}
	f := math.Pow(1-strangersAlpha, minutes)
	for c := range t.Shares {
		t.Shares[c] *= f
	}
	t.Minutes = t.Minutes*f + (1-f)/strangersAlpha
}

// strangersH is the strangers test's threshold as a share of the
// sequential test's H.
const strangersH = 0.5

// h is the threshold that opens a campaign, for the sequential test's h.
func (t *strangers) h(seq float64) float64 { return strangersH * seq }

// drift is what the test loses in a minute with no stranger: the excess
// of the login classes. The marks that are not logins (takeover signs,
// challenges walked away from) weigh when they come, and their absence
// costs nothing: a crew that changes no contact data and gets no
// step-up brings none.
func (t *strangers) drift() float64 {
	d := 0.0
	for c := StrangerPlain; c < TakeoverSign; c++ {
		d += strangerCrew[c]
	}
	return d
}

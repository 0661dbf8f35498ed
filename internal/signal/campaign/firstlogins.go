package campaign

import "math"

// firstLogins watches first logins: correct passwords to accounts with no
// good session on record, from networks no account of the shop is known
// on (StrangerNoHistory). Such an account has no history to tell a
// stranger by, so a crew that gets into it looks like its owner coming
// back; only how many first logins there are, among the correct
// passwords, tells them apart. The learned share is the owners' (minutes
// of a campaign are not learned); the recent one is the last hour's.
type firstLogins struct {
	// Minute counts the minute being counted: first logins at 0, correct
	// passwords at 1. Learned and Recent are decayed sums of the same.
	Minute  [2]float64 `json:"minute"`
	Learned [2]float64 `json:"learned"`
	Recent  [2]float64 `json:"recent"`
}

const (
	firstLearnAlpha  = 1.0 / 1440 // the owners' share: about a day
	firstRecentAlpha = 1.0 / 60   // the recent picture: about an hour
	firstFloor       = 0.002      // the least share of correct passwords first logins are expected at
	// firstCrew is the least share of the recent first logins that must
	// be beyond what the owners bring for the campaign to be taken as
	// getting into accounts with no history (State.FirstLogins): every
	// one is stepped up then, and at least this share of those step-ups
	// stop the crew. Under it (a big shop whose owners make many first
	// logins, a slow crew that makes few) they would mostly challenge
	// owners.
	firstCrew  = 0.4
	firstLeast = 2 // recent first logins under this say nothing
)

// count counts one login outcome in the minute being counted.
func (f *firstLogins) count(first, succeeded bool) {
	if first {
		f.Minute[0]++
	}
	if succeeded {
		f.Minute[1]++
	}
}

// finish feeds the finished minute, and the empty minutes after it, to
// the recent picture, and to the learned share when learn is set (no
// campaign is open).
func (f *firstLogins) finish(empty float64, learn bool) {
	for i, n := range f.Minute {
		f.Recent[i] = (1-firstRecentAlpha)*f.Recent[i] + n
		if learn {
			f.Learned[i] = (1-firstLearnAlpha)*f.Learned[i] + n
		}
	}
	if empty > 0 {
		r := math.Pow(1-firstRecentAlpha, empty)
		l := math.Pow(1-firstLearnAlpha, empty)
		for i := range f.Recent {
			f.Recent[i] *= r
			if learn {
				f.Learned[i] *= l
			}
		}
	}
	f.Minute = [2]float64{}
}

// share is the owners' learned share of first logins among correct
// passwords, at least firstFloor.
func (f *firstLogins) share() float64 {
	if f.Learned[1] < 1 {
		return firstFloor
	}
	return math.Max(f.Learned[0]/f.Learned[1], firstFloor)
}

// owners is what the owners' share brings of the recent first logins.
func (f *firstLogins) owners() float64 { return f.share() * f.Recent[1] }

// crewAt is how many recent first logins excess takes as a crew's: the
// least n with n-owners() >= firstCrew*n, and at least firstLeast.
func (f *firstLogins) crewAt() float64 {
	return math.Max(firstLeast, f.owners()/(1-firstCrew))
}

// excess reports whether first logins ran over the last hour or so well
// beyond the owners' share of the correct passwords: at least firstCrew
// of them, and firstLeast or more, are not the owners'.
func (f *firstLogins) excess() bool {
	n := f.Recent[0]
	if n < firstLeast {
		return false
	}
	return n-f.owners() >= firstCrew*n
}

package campaign

import (
	"math"
	"time"
)

// The signs test opens a campaign of strangers on takeover signs (see
// TakeoverSign): contact changes in sessions strangers opened without a
// step-up. A crew with a checked list that gets into accounts changes
// their email and phone before it orders (so the owner is not told);
// owners seldom change them from a device and a network they never used,
// on a network nobody in the shop used. The test counts the signs of the
// last signsWindow and opens when so many would come from the owners, at
// their learned share of the logins (never under signsFloor), less often
// than once in signsFalse windows: two signs in two hours on a shop
// whose owners bring none.
const (
	signsWindow = 2 * time.Hour
	signsFloor  = 0.00002 // the least share of logins owners are taken to bring signs at
	signsFalse  = 1e-4
	maxSigns    = 64 // signs remembered: more in a window is a campaign anyway
)

// signs is the state of the signs test.
type signs struct {
	At []int64 `json:"at"` // Unix seconds of the recent signs, oldest first
	// Hot is when the test last stood (Unix seconds); zero if never.
	Hot int64 `json:"hot,omitempty"`
}

// add remembers a sign at now.
func (s *signs) add(now time.Time) {
	s.At = append(s.At, now.Unix())
	if len(s.At) > maxSigns {
		s.At = append(s.At[:0], s.At[len(s.At)-maxSigns:]...)
	}
}

// count returns the signs in the window ending at now, dropping older ones.
func (s *signs) count(now time.Time) int {
	from := now.Add(-signsWindow).Unix()
	i := 0
	for i < len(s.At) && s.At[i] <= from {
		i++
	}
	s.At = append(s.At[:0], s.At[i:]...)
	return len(s.At)
}

// stands judges the window at now: true when its signs are more than the
// owners bring, mu(n) in a window (n: the signs being judged), but once
// in signsFalse windows.
func (s *signs) stands(now time.Time, mu func(n int) float64) bool {
	n := s.count(now)
	if n < 2 || poissonTail(n, mu(n)) >= signsFalse {
		return false
	}
	s.Hot = now.Unix()
	return true
}

// hot reports whether the test stood within the window before now.
func (s *signs) hot(now time.Time) bool {
	return s.Hot != 0 && now.Unix()-s.Hot < int64(signsWindow/time.Second)
}

// poissonTail is P(N >= n) for N Poisson with mean mu.
func poissonTail(n int, mu float64) float64 {
	if mu <= 0 {
		return 0
	}
	term, cdf := math.Exp(-mu), 0.0
	for k := 0; k < n; k++ {
		cdf += term
		term *= mu / float64(k+1)
	}
	return math.Max(1-cdf, 0)
}

// signsExpected is how many signs the owners bring in a window, at the
// strangers test's learned mix without the n signs being judged (a sign
// is learned the minute after it came, before the next is judged: a
// crew's first sign must not make its second look usual).
func (t *strangers) signsExpected(n int) float64 {
	if t.Shares[0] < 1 || t.Minutes < 1 {
		return 0
	}
	perMinute := t.Shares[0] / t.Minutes
	share := math.Max((t.Shares[TakeoverSign]-float64(n))/t.Shares[0], signsFloor)
	return share * perMinute * signsWindow.Minutes()
}

// learnedDay reports whether the strangers test has learned a day of
// minutes (Minutes decays: a day counts (1-(1-a)^1440)/a, about 1,225),
// which the signs test waits for, so that the owners' own contact changes
// are known.
func (t *strangers) learnedDay() bool {
	return t.Minutes >= (1-math.Pow(1-strangersAlpha, 24*60))/strangersAlpha-1
}

// Package clock provides the two clocks atoguard runs on: the wall clock,
// and event time, where each event's occurred_at is the time.
package clock

import (
	"fmt"
	"sync"
	"time"
)

// Mode names a clock.
type Mode string

// The clocks of `--clock`.
const (
	Wall  Mode = "wall"
	Event Mode = "event"
)

// ParseMode checks a --clock value.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Wall, Event:
		return Mode(s), nil
	case "":
		return Wall, nil
	}
	return "", fmt.Errorf("clock %q: want wall or event", s)
}

// DefaultMaxAhead is how far ahead of the wall time an event's time may
// move the event clock, unless SetMaxAhead says otherwise.
const DefaultMaxAhead = 5 * time.Minute

// Clock gives the time for events and for work that no event carries
// (expiring challenges, closing incidents). It is safe for concurrent use.
type Clock struct {
	mode Mode
	wall func() time.Time

	mu       sync.Mutex
	high     time.Time     // event mode: latest occurred_at seen
	maxAhead time.Duration // event mode: how far past the wall time an event may be
}

// New returns a clock of the given mode. wall is the source of wall time;
// nil means time.Now.
func New(mode Mode, wall func() time.Time) *Clock {
	if wall == nil {
		wall = time.Now
	}
	return &Clock{mode: mode, wall: wall, maxAhead: DefaultMaxAhead}
}

// SetMaxAhead sets how far ahead of the wall time an event's occurred_at
// may lie and still be the event clock's time (the API's
// api.max_future_skew); d <= 0 means DefaultMaxAhead.
func (c *Clock) SetMaxAhead(d time.Duration) {
	if d <= 0 {
		d = DefaultMaxAhead
	}
	c.mu.Lock()
	c.maxAhead = d
	c.mu.Unlock()
}

// Mode reports which clock this is.
func (c *Clock) Mode() Mode { return c.mode }

// At returns the time at which an event that occurred at occurred is
// assessed: the wall time, or on the event clock occurred itself (and the
// clock's notion of now moves forward to it). An occurred further ahead of
// the wall time than the clock allows (SetMaxAhead) is absurd: it neither
// moves the event clock nor is the event's time; the event is assessed
// at the clock's time (Now) instead, so one bad timestamp cannot drag
// every window and incident to the year 2999.
func (c *Clock) At(occurred time.Time) time.Time {
	if c.mode != Event {
		return c.wall().UTC()
	}
	wall := c.wall()
	c.mu.Lock()
	defer c.mu.Unlock()
	if occurred.Sub(wall) > c.maxAhead {
		if c.high.IsZero() {
			return wall.UTC()
		}
		return c.high.UTC()
	}
	if occurred.After(c.high) {
		c.high = occurred
	}
	return occurred.UTC()
}

// Wall returns the wall time whatever the mode, for what happens on
// people's time rather than the events' (sessions, sign-in limits, TOTP
// codes).
func (c *Clock) Wall() time.Time { return c.wall().UTC() }

// Now returns the current time: the wall time, or on the event clock the
// latest event time seen (the wall time before any event arrives).
func (c *Clock) Now() time.Time {
	if c.mode != Event {
		return c.wall().UTC()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.high.IsZero() {
		return c.wall().UTC()
	}
	return c.high.UTC()
}

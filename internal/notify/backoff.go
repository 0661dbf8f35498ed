package notify

import (
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Delay returns how long to wait after failed attempt number attempts
// (1 for the first) before the next: Base·2^(attempts−1), at most
// MaxDelay, then jittered by u in [0, 1) into [d/2, d), so that
// notifications that failed together do not all come back together.
// Zero fields take their defaults.
func (r RetryConfig) Delay(attempts int, u float64) time.Duration {
	r = Config{Retry: r}.withDefaults().Retry
	d := r.Base
	for i := 1; i < attempts && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	u = min(max(u, 0), 1)
	return d/2 + time.Duration(u*float64(d/2))
}

// GiveUp reports whether n, whose attempt just failed at now, is not to be
// tried again: MaxAttempts have been made, or it is MaxAge old.
func (r RetryConfig) GiveUp(n store.Notification, now time.Time) bool {
	r = Config{Retry: r}.withDefaults().Retry
	return n.Attempts >= r.MaxAttempts || now.Sub(n.CreatedAt) >= r.MaxAge
}

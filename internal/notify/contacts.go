package notify

import (
	"slices"
	"time"

	"github.com/atoguard/atoguard/internal/ident"
	"github.com/atoguard/atoguard/internal/store"
)

// historyRetention is how long a change is remembered: the longest owner
// window there can be.
const historyRetention = MaxOwnerWindowDays * 24 * time.Hour

// maxChanges bounds the changes remembered per account.
const maxChanges = 16

// ContactHistory is an account's email address as events reported it, and
// its recent changes. The engine keeps one per account (it is JSON) and
// observes user.email on every event of the account: a profile.updated
// event carries which fields changed but not their values, so a shop that
// changes an account's email sends the new address in user.email, and a
// new address is a contact change.
//
// The zero value is an account whose address is not known yet.
type ContactHistory struct {
	Email   string          `json:"email,omitempty"`   // current, normalized
	Changes []ContactChange `json:"changes,omitempty"` // oldest first
}

// ContactChange is one change of an account's email address.
type ContactChange struct {
	From string    `json:"from"` // the address before the change
	At   time.Time `json:"at"`
}

// Observe records that an event at at reported email for the account and
// reports whether that changed the address on file. The first address
// seen is not a change, and neither is an empty one (an event without
// user.email). Addresses are normalized (NFKC, case folded, trimmed).
func (h *ContactHistory) Observe(email string, at time.Time) (changed bool) {
	email = ident.Normalize(email)
	switch {
	case email == "" || email == h.Email:
		return false
	case h.Email == "":
		h.Email = email
		return false
	}
	h.Changes = append(h.Changes, ContactChange{From: h.Email, At: at.UTC()})
	h.Email = email
	h.prune(at)
	return true
}

// prune forgets changes older than any window can reach, then, while more
// than maxChanges remain, the change that follows its predecessor most
// closely. Removing change i only matters while change i−1 has left the
// window and change i has not, so this loses the least; the oldest change,
// whose From is the owner's address before a burst of changes, always
// stays. An attacker flipping the address many times cannot push the
// owner's address out.
func (h *ContactHistory) prune(now time.Time) {
	cut := now.Add(-historyRetention)
	h.Changes = slices.DeleteFunc(h.Changes, func(c ContactChange) bool { return c.At.Before(cut) })
	for len(h.Changes) > maxChanges {
		best := 1
		for i := 2; i < len(h.Changes); i++ {
			if h.Changes[i].At.Sub(h.Changes[i-1].At) < h.Changes[best].At.Sub(h.Changes[best-1].At) {
				best = i
			}
		}
		h.Changes = slices.Delete(h.Changes, best, best+1)
	}
}

// Recipients returns the addresses to tell the owner on at now: the
// address on file before the earliest change within window before now,
// then the current address unless it is the same. With no change in the
// window it is the current address alone; with no address known, none.
// An attacker who changed the address cannot silence the owner, and the
// owner who changed it legitimately hears on both.
func (h ContactHistory) Recipients(now time.Time, window time.Duration) []string {
	if h.Email == "" {
		return nil
	}
	since := now.Add(-window)
	for _, c := range h.Changes {
		if c.At.After(since) {
			if c.From == h.Email {
				return []string{h.Email}
			}
			return []string{c.From, h.Email}
		}
	}
	return []string{h.Email}
}

// HistoryOf returns the contact history a stored record holds.
func HistoryOf(c store.Contacts) ContactHistory {
	h := ContactHistory{Email: c.Email}
	for _, ch := range c.Changes {
		h.Changes = append(h.Changes, ContactChange{From: ch.From, At: ch.At})
	}
	return h
}

// Record returns h as userID's stored record, written at now.
func (h ContactHistory) Record(userID string, now time.Time) store.Contacts {
	c := store.Contacts{UserID: userID, Email: h.Email, UpdatedAt: now}
	for _, ch := range h.Changes {
		c.Changes = append(c.Changes, store.ContactChange{From: ch.From, At: ch.At})
	}
	return c
}

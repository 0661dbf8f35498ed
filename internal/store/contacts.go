package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Contacts is an account's email address as events reported it, and its
// recent changes: what package notify keeps as a ContactHistory, so that
// an owner is told on the address on file before a change. Batch.Contacts
// writes it; writing one replaces the stored one of the same UserID.
type Contacts struct {
	UserID    string
	Email     string          // current, normalized; empty: not known yet
	Changes   []ContactChange // oldest first
	UpdatedAt time.Time
}

// ContactChange is one change of an account's email address.
type ContactChange struct {
	From string // the address before the change
	At   time.Time
}

// ContactStore reads the contact histories Batch.Contacts writes.
type ContactStore interface {
	// GetContacts returns the contact history of userID or ErrNotFound.
	GetContacts(ctx context.Context, userID string) (Contacts, error)
}

// LegacyContactsPrefix starts the key of the profile under which the
// engine kept an account's contact history before Batch.Contacts: the
// prefix, then the user id (user ids hold no NUL). Its data is the JSON of
// a notify.ContactHistory.
//
// Until the engine writes Batch.Contacts, every backend keeps such a
// profile as Contacts (LiftLegacyContacts on Write, ContactsAsProfile on
// GetProfile), and the SQL backends move the ones stored before.
const LegacyContactsPrefix = "contacts\x00"

// legacyContacts is the JSON of a notify.ContactHistory.
type legacyContacts struct {
	Email   string `json:"email,omitempty"`
	Changes []struct {
		From string    `json:"from"`
		At   time.Time `json:"at"`
	} `json:"changes,omitempty"`
}

// LegacyContacts decodes p when it is a contact history the engine kept
// as a profile (its key starts with LegacyContactsPrefix); ok is false for
// any other profile.
func LegacyContacts(p Profile) (c Contacts, ok bool, err error) {
	userID, ok := strings.CutPrefix(p.Account, LegacyContactsPrefix)
	if !ok {
		return Contacts{}, false, nil
	}
	var h legacyContacts
	if err := json.Unmarshal(p.Data, &h); err != nil {
		return Contacts{}, true, fmt.Errorf("decoding the contact history of %q: %w", userID, err)
	}
	c = Contacts{UserID: userID, Email: h.Email, UpdatedAt: p.UpdatedAt}
	for _, ch := range h.Changes {
		c.Changes = append(c.Changes, ContactChange{From: ch.From, At: ch.At})
	}
	return c, true, nil
}

// LiftLegacyContacts returns b with its legacy contact profiles (see
// LegacyContactsPrefix) written as Contacts, after b's own, in order. It
// shares no slice with b that it changes.
func LiftLegacyContacts(b Batch) (Batch, error) {
	if !slices.ContainsFunc(b.Profiles, func(p Profile) bool { return strings.HasPrefix(p.Account, LegacyContactsPrefix) }) {
		return b, nil
	}
	profiles := make([]Profile, 0, len(b.Profiles))
	contacts := slices.Clone(b.Contacts)
	for _, p := range b.Profiles {
		c, ok, err := LegacyContacts(p)
		switch {
		case err != nil:
			return Batch{}, err
		case ok:
			contacts = append(contacts, c)
		default:
			profiles = append(profiles, p)
		}
	}
	b.Profiles, b.Contacts = profiles, contacts
	return b, nil
}

// ContactsAsProfile answers a GetProfile of a legacy contact profile key
// (see LegacyContactsPrefix) from cs, as the JSON profile the engine
// wrote; ok is false, and nothing read, for any other key.
func ContactsAsProfile(ctx context.Context, cs ContactStore, account string) (p Profile, ok bool, err error) {
	userID, ok := strings.CutPrefix(account, LegacyContactsPrefix)
	if !ok {
		return Profile{}, false, nil
	}
	c, err := cs.GetContacts(ctx, userID)
	if err != nil {
		return Profile{}, true, err
	}
	h := legacyContacts{Email: c.Email}
	for _, ch := range c.Changes {
		h.Changes = append(h.Changes, struct {
			From string    `json:"from"`
			At   time.Time `json:"at"`
		}{ch.From, ch.At})
	}
	data, err := json.Marshal(h)
	if err != nil {
		return Profile{}, true, fmt.Errorf("encoding the contact history of %q: %w", userID, err)
	}
	return Profile{Account: account, Data: data, UpdatedAt: c.UpdatedAt}, true, nil
}

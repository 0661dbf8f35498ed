// Package challenge defines step-up challenges: the methods one can offer,
// how long one lives and how many wrong answers lock it, and the one
// constructor the engine (a challenge decision) and step-up (a challenge a
// shop asks for) both make them with.
package challenge

import (
	"net/netip"
	"slices"
	"time"

	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
)

// The step-up methods a challenge can offer.
const (
	MethodWebAuthn     = "webauthn"
	MethodTOTP         = "totp"
	MethodEmailOTP     = "email_otp"
	MethodRecoveryCode = "recovery_code"
)

// Methods lists every method, in the default order of preference.
var methods = []string{MethodWebAuthn, MethodTOTP, MethodEmailOTP, MethodRecoveryCode}

// IsMethod reports whether m names a step-up method.
func IsMethod(m string) bool { return slices.Contains(methods, m) }

// Settings are how challenges are made. Zero fields take the defaults.
type Settings struct {
	TTL         time.Duration // how long a challenge stays open; default 5m
	Methods     []string      // offered before filtering by what the user enrolled; default webauthn, totp, email_otp
	MaxAttempts int           // wrong answers that lock a challenge; default 5
}

// WithDefaults returns s with its zero fields set to the defaults.
func (s Settings) WithDefaults() Settings {
	if s.TTL <= 0 {
		s.TTL = 5 * time.Minute
	}
	if len(s.Methods) == 0 {
		s.Methods = []string{MethodWebAuthn, MethodTOTP, MethodEmailOTP}
	}
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = 5
	}
	return s
}

// Request is what a challenge is about: the user, the request that was
// challenged (its context, so that passing makes it familiar) and the
// methods the user can answer.
type Request struct {
	UserID     string
	SessionID  string
	Purpose    string   // the event type challenged, or the shop's purpose
	Methods    []string // the methods offered, already filtered by what the user enrolled
	EventID    string   // the event that was challenged; empty for a shop's own challenge
	IncidentID string   // the incident open when it was challenged
	IP         netip.Addr
	DeviceID   string
	UserAgent  string
	// Received is when the request that asked for the challenge arrived:
	// ids sort by it. Zero: now.
	Received time.Time
}

// New returns a pending challenge for r made at now, expiring after
// s.TTL.
func New(r Request, s Settings, now time.Time) store.Challenge {
	s = s.WithDefaults()
	idAt := r.Received
	if idAt.IsZero() {
		idAt = now
	}
	ch := store.Challenge{
		ID: ids.New("ch", idAt), UserID: r.UserID, SessionID: r.SessionID,
		Purpose: r.Purpose, Methods: r.Methods, State: store.ChallengePending,
		CreatedAt: now, ExpiresAt: now.Add(s.TTL), EventID: r.EventID, IncidentID: r.IncidentID,
		DeviceID: r.DeviceID, UserAgent: r.UserAgent,
	}
	if r.IP.IsValid() {
		ch.IP = r.IP.String()
	}
	return ch
}

// Answered is what recording an answer to a challenge did: the event that
// recorded it and the challenge as the answer left it.
type Answered struct {
	EventID   string
	Challenge store.Challenge // zero when the answer named no open challenge of the user
}

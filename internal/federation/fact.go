// Package federation holds what the guards of different shops tell each
// other about a campaign: facts with a subject, counts, a confidence and
// an expiry. Subjects that name a person (a login, an address, a password)
// are keyed hashes under a key agreed per federation, so a receiver can
// match them against its own customers and learns nothing about anyone
// else. The wire format (Security Event Tokens over OpenID Shared Signals)
// lives in package ssf; what a guard makes of the facts lives here.
package federation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sync"
	"time"
)

// Kind is what a fact says. The values are stable: they are stored, sent
// and named by policy rules.
type Kind string

const (
	// CredentialCompromised: a campaign used the account's correct
	// password (RISC credential-compromise).
	CredentialCompromised Kind = "credential_compromised"
	// CredentialChanged: the owner reset the password after a compromise
	// (CAEP credential-change).
	CredentialChanged Kind = "credential_changed"
	// SessionRevoked: an operator ended the account's sessions (CAEP
	// session-revoked).
	SessionRevoked Kind = "session_revoked"
	// ComboListed: a campaign tried this login, known to the sender or not.
	ComboListed Kind = "combo_listed"
	// CampaignSource: a network prefix a campaign came from.
	CampaignSource Kind = "campaign_source"
	// CampaignFingerprint: a user-agent or client fingerprint cluster a
	// campaign used (keyed hash).
	CampaignFingerprint Kind = "campaign_fingerprint"
	// DropPoint: a shipping address or pickup store a campaign's orders
	// went to (keyed hash of the normalized form).
	DropPoint Kind = "drop_point"
	// SprayedPassword: a password a spray used (keyed digest).
	SprayedPassword Kind = "sprayed_password"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{CredentialCompromised, CredentialChanged, SessionRevoked, ComboListed,
	CampaignSource, CampaignFingerprint, DropPoint, SprayedPassword}

// Subject formats.
const (
	SubjectLoginHash = "login_hash" // Key.Hash of ident.Normalize(login), hex
	SubjectEmail     = "email"      // the normalized email in clear (only when an operator chooses it)
	SubjectPrefix    = "prefix"     // a network prefix, e.g. 203.0.113.0/24
	SubjectHash      = "hash"       // Key.Hash of some other normalized value, hex
)

// Fact is one thing a peer said (or this guard says) about a campaign.
type Fact struct {
	Kind          Kind
	Subject       string // see SubjectFormat
	SubjectFormat string
	Incident      string // the sender's incident id, when there is one
	Count         int    // attempts (or orders, or accounts) behind the fact
	FirstSeen     time.Time
	LastSeen      time.Time
	Confidence    float64   // 0 to 1
	Expires       time.Time // the fact means nothing after this
	// Set by the receiver:
	Peer string // the sender: its name in ssf.peers
	ID   string // the SET's jti
}

// Live reports whether the fact still counts at now.
func (f Fact) Live(now time.Time) bool { return now.Before(f.Expires) }

// Key is the secret a federation agrees on for hashing subjects.
type Key []byte

// ErrShortKey is returned for a federation key under 32 bytes.
var ErrShortKey = errors.New("federation: key must be at least 32 bytes")

// NewKey checks a federation key.
func NewKey(b []byte) (Key, error) {
	if len(b) < 32 {
		return nil, ErrShortKey
	}
	return Key(b), nil
}

// Hash is the keyed hash of a value already normalized by the caller
// (ident.Normalize for logins and emails, the address package for
// addresses), as lower-case hex of HMAC-SHA-256, with a domain separator
// per kind of value so a login hash never equals an address hash.
func (k Key) Hash(domain, normalized string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(normalized))
	return hex.EncodeToString(m.Sum(nil))
}

// Hasher computes Key.Hash for one key with HMAC states reused across
// calls, which spares each hash the key's setup (a guard hashes several
// subjects per login). It is safe for concurrent use.
type Hasher struct {
	key   Key
	state sync.Pool // of hash.Hash, keyed and reset
}

// NewHasher returns a Hasher for k.
func NewHasher(k Key) *Hasher { return &Hasher{key: k} }

// Hash is k.Hash(domain, normalized).
func (h *Hasher) Hash(domain, normalized string) string {
	m, _ := h.state.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, h.key)
	}
	msg := make([]byte, 0, len(domain)+1+len(normalized))
	m.Write(append(append(append(msg, domain...), 0), normalized...))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0]))
	m.Reset()
	h.state.Put(m)
	return out
}

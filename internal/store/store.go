// Package store defines the durable records atoguard keeps (API keys, the
// audit log, account profiles, incidents, challenges, detector state) and
// the interface every record backend implements.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by lookups of an id or key that does not exist.
var ErrNotFound = errors.New("not found")

// Store is what a record backend provides. The memory and SQLite backends
// implement it; storetest.Run checks any implementation.
type Store interface {
	// Write applies a batch atomically. When it returns nil the batch is
	// durable (it survives a crash of the process).
	Write(ctx context.Context, b Batch) error

	GetProfile(ctx context.Context, account string) (Profile, error)
	ListIncidents(ctx context.Context, state string) ([]Incident, error)
	GetIncident(ctx context.Context, id string) (Incident, error)
	ListIncidentAccounts(ctx context.Context, incidentID string) ([]IncidentAccount, error)
	GetChallenge(ctx context.Context, id string) (Challenge, error)

	PutKey(ctx context.Context, k APIKey) error
	KeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	ListKeys(ctx context.Context) ([]APIKey, error)

	GetState(ctx context.Context, name string) ([]byte, error)
	PutState(ctx context.Context, name string, value []byte) error

	ListAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	CountAudit(ctx context.Context) (int64, error)

	Ping(ctx context.Context) error
	Close() error
}

// Batch is a set of writes applied together.
type Batch struct {
	Audit            []AuditRecord
	Profiles         []Profile
	Incidents        []Incident
	IncidentAccounts []IncidentAccount
	Challenges       []Challenge
}

// Empty reports whether the batch writes nothing.
func (b *Batch) Empty() bool {
	return len(b.Audit) == 0 && len(b.Profiles) == 0 && len(b.Incidents) == 0 &&
		len(b.IncidentAccounts) == 0 && len(b.Challenges) == 0
}

// Append adds every write of o to b.
func (b *Batch) Append(o Batch) {
	b.Audit = append(b.Audit, o.Audit...)
	b.Profiles = append(b.Profiles, o.Profiles...)
	b.Incidents = append(b.Incidents, o.Incidents...)
	b.IncidentAccounts = append(b.IncidentAccounts, o.IncidentAccounts...)
	b.Challenges = append(b.Challenges, o.Challenges...)
}

// AuditRecord is one assessed event and the decision given. It never holds
// a clear-text password; PasswordHMAC is at most a keyed HMAC.
type AuditRecord struct {
	EventID      string // primary key; writing the same id twice keeps the first
	ReceivedAt   time.Time
	OccurredAt   time.Time
	Type         string
	Account      string // user id, or the normalized login for unknown accounts
	Login        string
	IP           string
	SessionID    string
	RequestID    string
	Decision     string
	Risk         int
	Reasons      []string // reason codes, in order
	IncidentID   string
	ChallengeID  string
	PasswordHMAC []byte
	Event        []byte // the normalized event as JSON, credential removed
}

// AuditQuery selects audit records, newest first.
type AuditQuery struct {
	Account string // empty: any
	Limit   int    // 0: 100
}

// Profile is an account's learned familiarity, encoded by its detector.
// Writing a profile replaces the stored one.
type Profile struct {
	Account   string
	Data      []byte
	UpdatedAt time.Time
}

// Incident states.
const (
	IncidentOpen   = "open"
	IncidentClosed = "closed"
)

// Incident is a campaign of attack traffic. Writing an incident replaces
// the stored one with the same id.
type Incident struct {
	ID                  string
	Kind                string
	State               string
	StartedAt           time.Time
	EndedAt             time.Time // zero while open
	Attempts            int64
	DistinctIPs         int64
	DistinctPrefixes    int64
	AccountsTargeted    int64
	AccountsCompromised int64
	TopSources          []Source
	UpdatedAt           time.Time
}

// Source is one of an incident's top sources.
type Source struct {
	Kind     string `json:"kind"` // ip, prefix, user_agent
	Value    string `json:"value"`
	Attempts int64  `json:"attempts"`
}

// Outcomes of an account reached by an incident.
const (
	OutcomeAllowed         = "allowed"
	OutcomeChallenged      = "challenged"
	OutcomeDenied          = "denied"
	OutcomeChallengePassed = "challenge_passed"
)

// IncidentAccount is an account an incident's traffic reached. Writing one
// replaces the stored row for (IncidentID, Account).
type IncidentAccount struct {
	IncidentID string
	Account    string
	Known      bool // the account exists at the shop
	Outcome    string
	Attempts   int64
	FirstSeen  time.Time
	LastSeen   time.Time
}

// Challenge states.
const (
	ChallengePending = "pending"
	ChallengePassed  = "passed"
	ChallengeFailed  = "failed"
	ChallengeExpired = "expired"
	ChallengeLocked  = "locked"
)

// Challenge is a step-up asked of a user. Writing one replaces the stored
// one with the same id.
type Challenge struct {
	ID         string
	UserID     string
	SessionID  string
	Purpose    string
	Methods    []string
	State      string
	Attempts   int
	CreatedAt  time.Time
	ExpiresAt  time.Time
	EventID    string
	IncidentID string
}

// Scopes an API key may carry.
const (
	ScopeEvents     = "events"
	ScopeChallenges = "challenges"
	ScopeFactors    = "factors"
	ScopeAdmin      = "admin"
)

// APIKey is a named API key. Only a hash of its secret is stored.
type APIKey struct {
	ID        string
	Name      string
	Hash      []byte // SHA-256 of the secret
	Scopes    []string
	CreatedAt time.Time
	Disabled  bool
}

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

// ErrBatchApplied is returned by Write for a batch one of whose IDs was
// applied before; the batch wrote nothing.
var ErrBatchApplied = errors.New("batch already applied")

// Store is what a record backend provides. The memory, SQLite and
// PostgreSQL backends implement it; storetest.Run checks any
// implementation.
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
	// ReadAudit returns up to limit audit records after from, oldest
	// first (ReceivedAt, then order of writing), and the cursor of the
	// last one returned (from when none is): the whole log, page by page.
	ReadAudit(ctx context.Context, from AuditCursor, limit int) ([]AuditRecord, AuditCursor, error)

	FactorStore

	NotificationStore

	ReviewStore

	RetentionStore

	OperatorStore

	DecisionCounter

	ContactStore

	Ping(ctx context.Context) error
	Close() error
}

// FactorStore keeps what step-up verification needs (package stepup):
// enrolled factors, recovery code hashes, email one-time code hashes and
// WebAuthn ceremony state. The methods that return a bool apply a change
// only when its condition holds, atomically, and report whether it did:
// false is an answer, not a failure.
type FactorStore interface {
	// PutFactor stores f, replacing the factor with the same ID, except
	// that TOTPLastStep, SignCount and LastUsedAt never go back and
	// CloneWarning, once set, stays set: a write of a factor read before a
	// concurrent use cannot reopen a replay. It fails when another factor already has
	// f's non-empty CredentialID.
	PutFactor(ctx context.Context, f Factor) error
	GetFactor(ctx context.Context, id string) (Factor, error)
	// ListFactors returns the factors of userID ordered by CreatedAt then ID.
	ListFactors(ctx context.Context, userID string) ([]Factor, error)
	// FactorByCredentialID returns the WebAuthn factor with that
	// credential id or ErrNotFound.
	FactorByCredentialID(ctx context.Context, credentialID []byte) (Factor, error)
	// ScanFactors returns up to limit factors with an ID greater than
	// after, ordered by ID: every factor, page by page.
	ScanFactors(ctx context.Context, after string, limit int) ([]Factor, error)
	// DeleteFactor deletes factor id of userID, or returns ErrNotFound.
	DeleteFactor(ctx context.Context, userID, id string) error
	// AdvanceTOTPStep sets the factor's TOTPLastStep to step and
	// LastUsedAt to at if step is greater than the stored step.
	AdvanceTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error)
	// AdvanceSignCount sets the factor's SignCount to count and LastUsedAt
	// to at if count is greater than the stored count, or both are zero
	// (an authenticator without a counter). Otherwise the counter went
	// backwards or stood still: it sets CloneWarning and reports false.
	AdvanceSignCount(ctx context.Context, id string, count uint32, at time.Time) (bool, error)

	// PutRecoveryCodes replaces every recovery code of userID with codes.
	PutRecoveryCodes(ctx context.Context, userID string, codes []RecoveryCode) error
	// ListRecoveryCodes returns the recovery codes of userID, used or not,
	// in the order they were put.
	ListRecoveryCodes(ctx context.Context, userID string) ([]RecoveryCode, error)
	// UseRecoveryCode marks the unused code of userID with hash as used at
	// at (which must not be the zero time); false when there is no such
	// unused code.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error)

	// PutEmailOTP stores o, replacing the code with the same Key.
	PutEmailOTP(ctx context.Context, o EmailOTP) error
	GetEmailOTP(ctx context.Context, key string) (EmailOTP, error)

	// PutWebAuthnSession stores s, replacing the session with the same Key.
	PutWebAuthnSession(ctx context.Context, s WebAuthnSession) error
	// TakeWebAuthnSession returns the session with key and deletes it, so
	// that a ceremony's state is used at most once; ErrNotFound if none.
	TakeWebAuthnSession(ctx context.Context, key string) (WebAuthnSession, error)
}

// Batch is a set of writes applied together.
type Batch struct {
	Audit            []AuditRecord
	Profiles         []Profile
	Incidents        []Incident
	IncidentAccounts []IncidentAccount
	Challenges       []Challenge
	// Notifications are enqueued in the outbox; one whose ID or DedupeKey
	// is already stored (or earlier in the batch) is skipped.
	Notifications []Notification
	// Reviews are held orders; one whose ID is already stored is skipped.
	Reviews []Review
	// Contacts are owners' contact histories; each replaces the stored
	// one of its UserID.
	Contacts []Contacts

	// IDs name the batches merged into this one; package journal sets
	// them, so that a batch it writes again (a replay after a crash, or a
	// write whose acknowledgement was lost) writes nothing twice. A
	// backend keeps each id with the writes, in the same transaction, and
	// refuses a batch with one it keeps already with ErrBatchApplied,
	// writing nothing. Ids are kept from AppliedAt until pruned
	// (BatchIDPruner).
	IDs       []string  `json:",omitempty"`
	AppliedAt time.Time `json:"-"`
}

// BatchIDPruner is a backend that keeps batch ids (Batch.IDs) and forgets
// those applied before a time.
type BatchIDPruner interface {
	// PruneBatchIDs forgets the batch ids applied before before and
	// returns how many it forgot.
	PruneBatchIDs(ctx context.Context, before time.Time) (int64, error)
}

// Len returns the number of records the batch writes.
func (b *Batch) Len() int {
	return len(b.Audit) + len(b.Profiles) + len(b.Incidents) + len(b.IncidentAccounts) +
		len(b.Challenges) + len(b.Notifications) + len(b.Reviews) + len(b.Contacts)
}

// Empty reports whether the batch writes nothing.
func (b *Batch) Empty() bool { return b.Len() == 0 }

// Append adds every write of o to b.
func (b *Batch) Append(o Batch) {
	b.Audit = append(b.Audit, o.Audit...)
	b.Profiles = append(b.Profiles, o.Profiles...)
	b.Incidents = append(b.Incidents, o.Incidents...)
	b.IncidentAccounts = append(b.IncidentAccounts, o.IncidentAccounts...)
	b.Challenges = append(b.Challenges, o.Challenges...)
	b.Notifications = append(b.Notifications, o.Notifications...)
	b.Reviews = append(b.Reviews, o.Reviews...)
	b.Contacts = append(b.Contacts, o.Contacts...)
	b.IDs = append(b.IDs, o.IDs...)
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
	// Replay is what a restart needs to replay the event into the
	// detectors besides Event, encoded by the engine; nil in records
	// written before it was kept.
	Replay []byte
}

// AuditCursor is a position in the audit log, whose order is ReceivedAt,
// then the order of writing. The zero cursor is before every record;
// AuditCursor{ReceivedAt: t} is before every record received at t or
// later.
type AuditCursor struct {
	ReceivedAt time.Time
	Seq        int64 // the store's order of writing among equal ReceivedAt
}

// AuditQuery selects audit records, newest first.
type AuditQuery struct {
	Account string // empty: any
	Limit   int    // 0: 100
}

// Profile is an account's learned familiarity, encoded by its detector.
// Writing a profile replaces the stored one unless that one is newer (a
// later UpdatedAt): an older copy written late, as a journal replayed
// after another instance wrote the account, changes nothing. (A profile whose Account
// starts with LegacyContactsPrefix is a contact history: see there.)
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
// the stored one with the same id unless that one is newer (a later
// UpdatedAt), as for profiles.
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
	// OutcomeChallengeAbandoned: challenged, and the challenge expired
	// unanswered (counted as a failed step-up).
	OutcomeChallengeAbandoned = "challenge_abandoned"
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
	Attempts   int // wrong answers so far
	CreatedAt  time.Time
	ExpiresAt  time.Time
	EventID    string
	IncidentID string

	// The context of the challenged request, so that passing the challenge
	// makes this device and network familiar.
	IP        string
	DeviceID  string
	UserAgent string
}

// ChallengeSweeper finds the challenges that expired unanswered, for the
// guard's sweep (a challenge abandoned counts as a failed step-up).
type ChallengeSweeper interface {
	// ExpiredChallenges returns up to limit challenges still pending whose
	// ExpiresAt is at or before now, the oldest expiry first, then ID.
	ExpiredChallenges(ctx context.Context, now time.Time, limit int) ([]Challenge, error)
}

// Factor types.
const (
	FactorTOTP     = "totp"
	FactorWebAuthn = "webauthn"
	FactorEmail    = "email" // a verified address for email one-time codes
)

// Factor is an authentication factor enrolled for a user. Secret is sealed
// (encrypted and authenticated) by package stepup; the store never sees a
// factor secret in clear.
type Factor struct {
	ID           string
	UserID       string
	Type         string // FactorTOTP, FactorWebAuthn, FactorEmail
	Name         string // chosen by the user, e.g. "YubiKey 5C"
	Secret       []byte // sealed: TOTP key, WebAuthn credential record, email address
	Confirmed    bool   // enrolment finished; only confirmed factors answer challenges
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero: never used
	TOTPLastStep int64     // last accepted TOTP time step, 0: none
	CredentialID []byte    // WebAuthn credential id; unique among factors
	PublicKey    []byte    // WebAuthn credential public key (COSE)
	SignCount    uint32    // WebAuthn signature counter
	CloneWarning bool      // the WebAuthn signature counter went backwards
}

// RecoveryCode is the hash of one single-use recovery code.
type RecoveryCode struct {
	UserID    string
	Hash      []byte
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// EmailOTP is the hash of the one-time code last emailed for a challenge
// (Key is the challenge id) or for the confirmation of an email factor
// (Key is "factor:" and the factor id).
type EmailOTP struct {
	Key       string
	UserID    string
	Hash      []byte
	SentAt    time.Time
	ExpiresAt time.Time
	Sends     int // codes sent for this key so far
	Attempts  int // wrong answers to this code
}

// WebAuthnSession is the server-side state of a WebAuthn ceremony between
// the options handed to the browser and its answer.
type WebAuthnSession struct {
	Key       string // "assert:" and the challenge id, or "register:" and the user id
	UserID    string
	Data      []byte
	ExpiresAt time.Time
}

// NotificationStore is the outbox of owner and operator notifications
// (package notify). Enqueueing is part of Batch, so a notification owed
// for a decision is durable with it; a dispatcher claims what is due,
// delivers it and marks the outcome. Every method takes the time it acts
// at; none reads the clock. The Mark methods return ErrNotFound for an
// unknown id and change nothing once a notification is sent or failed:
// those states are final.
type NotificationStore interface {
	// ClaimNotifications returns up to limit pending notifications due at
	// now (NextAttemptAt not after now), earliest NextAttemptAt first, then
	// by ID. It atomically adds one to the Attempts of each and moves its
	// NextAttemptAt to now+lease, so no other claim returns it before the
	// lease ends: a dispatcher that dies mid-delivery leaves the
	// notification to be claimed again then. The returned records carry
	// the new Attempts and NextAttemptAt. limit <= 0 claims nothing.
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Notification, error)
	// MarkNotificationSent records the delivery of notification id at at.
	MarkNotificationSent(ctx context.Context, id string, at time.Time) error
	// MarkNotificationRetry records a failed attempt and when to try
	// again.
	MarkNotificationRetry(ctx context.Context, id string, next time.Time, lastErr string) error
	// MarkNotificationFailed gives up on notification id at at.
	MarkNotificationFailed(ctx context.Context, id string, at time.Time, lastErr string) error
	// ListNotifications returns the notifications q selects, newest
	// (CreatedAt, then ID) first.
	ListNotifications(ctx context.Context, q NotificationQuery) ([]Notification, error)
}

// Notification channels.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Notification states.
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed_permanently"
)

// Notification is a message owed to an account owner or to operators,
// kept in the outbox until it is delivered or given up on.
type Notification struct {
	ID        string
	DedupeKey string // unique; empty means ID. A second enqueue with a stored key is skipped
	Kind      string // e.g. owner.new_device_login, operator.incident_opened
	Channel   string // ChannelEmail or ChannelWebhook
	Recipient string // an email address, or the name of a configured webhook
	Account   string // the account it is about; empty for operator alerts
	Payload   []byte // JSON, as package notify builds it
	CreatedAt time.Time
	// NextAttemptAt is when the notification is next due. While a
	// dispatcher holds it, it is the end of that dispatcher's lease.
	NextAttemptAt time.Time
	Attempts      int    // delivery attempts started
	State         string // NotificationPending (also what empty means), NotificationSent, NotificationFailed
	LastError     string // why the last attempt failed
	SentAt        time.Time
}

// NotificationQuery selects notifications, newest first.
type NotificationQuery struct {
	Account string // empty: any
	State   string // empty: any
	Limit   int    // 0: 100
}

// Scopes an API key may carry.
const (
	ScopeEvents     = "events"
	ScopeChallenges = "challenges"
	ScopeFactors    = "factors"
	ScopeAdmin      = "admin"
	// ScopeFederation is a peer guard's: it manages its Shared Signals
	// stream and polls it (package ssf); the key's name names the peer.
	ScopeFederation = "federation"
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

// ReviewStore keeps orders held for a person (decision review).
type ReviewStore interface {
	// ListReviews returns the reviews in state ("" for all), newest first.
	ListReviews(ctx context.Context, state string) ([]Review, error)
	GetReview(ctx context.Context, id string) (Review, error)
	// DecideReview sets a pending review to state (approved or rejected),
	// recording who decided, when and why; false when the review is not
	// pending (already decided). ErrNotFound for an unknown id.
	DecideReview(ctx context.Context, id, state, by, note string, at time.Time) (bool, error)
}

// Review states.
const (
	ReviewPending  = "pending"
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)

// Review is an order held for a person to approve or reject.
type Review struct {
	ID         string
	EventID    string
	UserID     string
	SessionID  string
	OrderID    string
	Amount     int64
	Currency   string
	Reasons    []string // reason codes of the decision
	IncidentID string
	State      string
	CreatedAt  time.Time
	DecidedAt  time.Time // zero while pending
	DecidedBy  string
	Note       string
}

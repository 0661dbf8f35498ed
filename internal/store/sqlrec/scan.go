package sqlrec

import (
	"encoding/json"
	"fmt"

	"github.com/atoguard/atoguard/internal/store"
)

// The columns of each record, in the order its scanner reads them.
const (
	AuditColumns = `event_id, received_at, occurred_at, type, account, login, ip,
		session_id, request_id, decision, risk, reasons, incident_id, challenge_id,
		password_hmac, event, replay`
	ProfileColumns  = `account, data, updated_at`
	IncidentColumns = `id, kind, state, started_at, ended_at, attempts, distinct_ips,
		distinct_prefixes, accounts_targeted, accounts_compromised, top_sources, updated_at`
	IncidentAccountColumns = `incident_id, account, known, outcome, attempts, first_seen, last_seen`
	ChallengeColumns       = `id, user_id, session_id, purpose, methods, state, attempts,
		created_at, expires_at, event_id, incident_id, ip, device_id, user_agent`
	KeyColumns    = `id, name, hash, scopes, created_at, disabled`
	ReviewColumns = `id, event_id, user_id, session_id, order_id, amount, currency, reasons,
		incident_id, state, created_at, decided_at, decided_by, note`
	NotificationColumns = `id, dedupe_key, kind, channel, recipient, account, payload, created_at,
		next_attempt_at, attempts, state, last_error, sent_at`
	FactorColumns = `id, user_id, type, name, secret, confirmed, created_at, last_used_at,
		totp_last_step, credential_id, public_key, sign_count, clone_warning`
	RecoveryCodeColumns = `user_id, hash, created_at, used_at`
	EmailOTPColumns     = `otp_key, user_id, hash, sent_at, expires_at, sends, attempts`
	OperatorColumns     = `name, password_hash, totp_secret, totp_last_step, created_at, disabled`
	ContactsColumns     = `user_id, email, changes, updated_at`
)

// contactChange is how a store.ContactChange is kept in the JSON list of
// the changes column.
type contactChange struct {
	From string `json:"from"`
	At   int64  `json:"at"` // unix nanoseconds
}

// encodeChanges is the changes column of cs.
func encodeChanges(cs []store.ContactChange) []contactChange {
	out := make([]contactChange, len(cs))
	for i, c := range cs {
		out[i] = contactChange{From: c.From, At: UnixNano(c.At)}
	}
	return out
}

// A scanner returns the error of Scan or of decoding a column; the record
// it returns with an error is not to be used.

// decodeJSON decodes the JSON text of column col of record what into v,
// unless err (of the scan) is already set.
func decodeJSON(err error, what, id, col, text string, v any) error {
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("%s %q: decoding %s: %w", what, id, col, err)
	}
	return nil
}

// ScanAudit reads AuditColumns.
func ScanAudit(sc Scanner) (store.AuditRecord, error) {
	var a store.AuditRecord
	var received, occurred, risk int64
	var reasons string
	err := sc.Scan(&a.EventID, &received, &occurred, &a.Type, &a.Account, &a.Login, &a.IP,
		&a.SessionID, &a.RequestID, &a.Decision, &risk, &reasons, &a.IncidentID,
		&a.ChallengeID, &a.PasswordHMAC, &a.Event, &a.Replay)
	a.ReceivedAt, a.OccurredAt, a.Risk = FromUnixNano(received), FromUnixNano(occurred), int(risk)
	return a, decodeJSON(err, "audit", a.EventID, "reasons", reasons, &a.Reasons)
}

// ScanProfile reads ProfileColumns.
func ScanProfile(sc Scanner) (store.Profile, error) {
	var p store.Profile
	var updated int64
	err := sc.Scan(&p.Account, &p.Data, &updated)
	p.UpdatedAt = FromUnixNano(updated)
	return p, err
}

// ScanIncident reads IncidentColumns.
func ScanIncident(sc Scanner) (store.Incident, error) {
	var in store.Incident
	var started, ended, updated int64
	var top string
	err := sc.Scan(&in.ID, &in.Kind, &in.State, &started, &ended, &in.Attempts,
		&in.DistinctIPs, &in.DistinctPrefixes, &in.AccountsTargeted, &in.AccountsCompromised,
		&top, &updated)
	in.StartedAt, in.EndedAt, in.UpdatedAt = FromUnixNano(started), FromUnixNano(ended), FromUnixNano(updated)
	return in, decodeJSON(err, "incident", in.ID, "top sources", top, &in.TopSources)
}

// ScanIncidentAccount reads IncidentAccountColumns.
func ScanIncidentAccount(sc Scanner) (store.IncidentAccount, error) {
	var ia store.IncidentAccount
	var first, last int64
	err := sc.Scan(&ia.IncidentID, &ia.Account, &ia.Known, &ia.Outcome, &ia.Attempts, &first, &last)
	ia.FirstSeen, ia.LastSeen = FromUnixNano(first), FromUnixNano(last)
	return ia, err
}

// ScanChallenge reads ChallengeColumns.
func ScanChallenge(sc Scanner) (store.Challenge, error) {
	var c store.Challenge
	var created, expires, attempts int64
	var methods string
	err := sc.Scan(&c.ID, &c.UserID, &c.SessionID, &c.Purpose, &methods, &c.State,
		&attempts, &created, &expires, &c.EventID, &c.IncidentID, &c.IP, &c.DeviceID,
		&c.UserAgent)
	c.Attempts, c.CreatedAt, c.ExpiresAt = int(attempts), FromUnixNano(created), FromUnixNano(expires)
	return c, decodeJSON(err, "challenge", c.ID, "methods", methods, &c.Methods)
}

// ScanKey reads KeyColumns.
func ScanKey(sc Scanner) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	var scopes string
	err := sc.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &created, &k.Disabled)
	k.CreatedAt = FromUnixNano(created)
	return k, decodeJSON(err, "key", k.ID, "scopes", scopes, &k.Scopes)
}

// ScanReview reads ReviewColumns.
func ScanReview(sc Scanner) (store.Review, error) {
	var r store.Review
	var reasons string
	var created, decided int64
	err := sc.Scan(&r.ID, &r.EventID, &r.UserID, &r.SessionID, &r.OrderID, &r.Amount, &r.Currency, &reasons,
		&r.IncidentID, &r.State, &created, &decided, &r.DecidedBy, &r.Note)
	r.CreatedAt, r.DecidedAt = FromUnixNano(created), FromUnixNano(decided)
	return r, decodeJSON(err, "review", r.ID, "reasons", reasons, &r.Reasons)
}

// ScanNotification reads NotificationColumns.
func ScanNotification(sc Scanner) (store.Notification, error) {
	return ScanNotificationPlus(sc)
}

// ScanNotificationPlus reads NotificationColumns followed by the columns
// extra point to.
func ScanNotificationPlus(sc Scanner, extra ...any) (store.Notification, error) {
	var n store.Notification
	var created, next, sent, attempts int64
	err := sc.Scan(append([]any{&n.ID, &n.DedupeKey, &n.Kind, &n.Channel, &n.Recipient, &n.Account, &n.Payload,
		&created, &next, &attempts, &n.State, &n.LastError, &sent}, extra...)...)
	n.CreatedAt, n.NextAttemptAt, n.SentAt = FromUnixNano(created), FromUnixNano(next), FromUnixNano(sent)
	n.Attempts = int(attempts)
	return n, err
}

// ScanFactor reads FactorColumns.
func ScanFactor(sc Scanner) (store.Factor, error) {
	var f store.Factor
	var created, used, signCount int64
	err := sc.Scan(&f.ID, &f.UserID, &f.Type, &f.Name, &f.Secret, &f.Confirmed, &created, &used,
		&f.TOTPLastStep, &f.CredentialID, &f.PublicKey, &signCount, &f.CloneWarning)
	f.CreatedAt, f.LastUsedAt, f.SignCount = FromUnixNano(created), FromUnixNano(used), uint32(signCount)
	return f, err
}

// ScanRecoveryCode reads RecoveryCodeColumns.
func ScanRecoveryCode(sc Scanner) (store.RecoveryCode, error) {
	var c store.RecoveryCode
	var created, used int64
	err := sc.Scan(&c.UserID, &c.Hash, &created, &used)
	c.CreatedAt, c.UsedAt = FromUnixNano(created), FromUnixNano(used)
	return c, err
}

// ScanEmailOTP reads EmailOTPColumns.
func ScanEmailOTP(sc Scanner) (store.EmailOTP, error) {
	var o store.EmailOTP
	var sent, expires, sends, attempts int64
	err := sc.Scan(&o.Key, &o.UserID, &o.Hash, &sent, &expires, &sends, &attempts)
	o.SentAt, o.ExpiresAt = FromUnixNano(sent), FromUnixNano(expires)
	o.Sends, o.Attempts = int(sends), int(attempts)
	return o, err
}

// ScanWebAuthnSession reads session_key, user_id, data, expires_at.
func ScanWebAuthnSession(sc Scanner) (store.WebAuthnSession, error) {
	var ws store.WebAuthnSession
	var expires int64
	err := sc.Scan(&ws.Key, &ws.UserID, &ws.Data, &expires)
	ws.ExpiresAt = FromUnixNano(expires)
	return ws, err
}

// ScanContacts reads ContactsColumns.
func ScanContacts(sc Scanner) (store.Contacts, error) {
	var c store.Contacts
	var changes string
	var updated int64
	var kept []contactChange
	err := sc.Scan(&c.UserID, &c.Email, &changes, &updated)
	err = decodeJSON(err, "contacts", c.UserID, "changes", changes, &kept)
	for _, k := range kept {
		c.Changes = append(c.Changes, store.ContactChange{From: k.From, At: FromUnixNano(k.At)})
	}
	c.UpdatedAt = FromUnixNano(updated)
	return c, err
}

// ScanOperator reads OperatorColumns.
func ScanOperator(sc Scanner) (store.Operator, error) {
	var o store.Operator
	var created int64
	err := sc.Scan(&o.Name, &o.PasswordHash, &o.TOTPSecret, &o.TOTPLastStep, &created, &o.Disabled)
	o.CreatedAt = FromUnixNano(created)
	return o, err
}

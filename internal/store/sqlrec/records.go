package sqlrec

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Default limits of queries that take one.
const (
	defaultAuditLimit        = 100 // AuditQuery.Limit 0
	defaultNotificationLimit = 100 // NotificationQuery.Limit 0
)

// Records implements the store methods whose statements the dialects
// share; a backend embeds the one NewRecords returns.
type Records struct {
	r, w DB // reads, writes
	d    Dialect
}

// NewRecords returns the shared methods running reads on r and writes on
// w (the same DB for a backend with one pool), as d says.
func NewRecords(r, w DB, d Dialect) Records { return Records{r: r, w: w, d: d} }

// inState adds to query a condition on the state column, unless state
// is empty (any state), and returns the arguments it needs.
func inState(query, state string) (string, []any) {
	if state == "" {
		return query, nil
	}
	return query + ` WHERE state = ?`, []any{state}
}

// limitOr is limit, or def for a limit <= 0.
func limitOr(limit, def int) int64 {
	if limit <= 0 {
		return int64(def)
	}
	return int64(limit)
}

func (r Records) lookupErr(what, id string, err error) error {
	return LookupErr(what, id, err, r.d.NoRows)
}

// get reads one record with scan: store.ErrNotFound (wrapped, with what
// and id) when there is none.
func get[T any](ctx context.Context, r Records, what, id string, scan func(Scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(r.r.QueryRow(ctx, query, args...))
	if err != nil {
		var zero T
		return zero, r.lookupErr(what, id, err)
	}
	return v, nil
}

// exists returns nil when query finds a row, else store.ErrNotFound
// (wrapped, with what and id) or the error: the check that tells an
// unknown id from a conditional update whose condition did not hold.
func (r Records) exists(ctx context.Context, what, id, query string, args ...any) error {
	var one int32
	if err := r.w.QueryRow(ctx, query, args...).Scan(&one); err != nil {
		return r.lookupErr(what, id, err)
	}
	return nil
}

// GetProfile returns the profile of account or store.ErrNotFound; a
// legacy contact profile is read from the contact histories
// (store.ContactsAsProfile).
func (r Records) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	if p, ok, err := store.ContactsAsProfile(ctx, r, account); ok {
		return p, err
	}
	return get(ctx, r, "profile", account, ScanProfile,
		`SELECT `+ProfileColumns+` FROM profiles WHERE account = ?`, account)
}

// GetContacts returns the contact history of userID or store.ErrNotFound.
func (r Records) GetContacts(ctx context.Context, userID string) (store.Contacts, error) {
	return get(ctx, r, "contacts", userID, ScanContacts, `SELECT `+ContactsColumns+` FROM contacts WHERE user_id = ?`, userID)
}

// ListIncidents returns the incidents in state ("" for all), most recently
// started first.
func (r Records) ListIncidents(ctx context.Context, state string) ([]store.Incident, error) {
	q, args := inState(`SELECT `+IncidentColumns+` FROM incidents`, state)
	return List(ctx, r.r, "listing incidents", ScanIncident, q+` ORDER BY started_at DESC, id`, args...)
}

// GetIncident returns the incident with id or store.ErrNotFound.
func (r Records) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	return get(ctx, r, "incident", id, ScanIncident, `SELECT `+IncidentColumns+` FROM incidents WHERE id = ?`, id)
}

// ListIncidentAccounts returns the accounts incidentID reached, ordered by
// FirstSeen then Account; none (and no error) for an unknown incident.
func (r Records) ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error) {
	return List(ctx, r.r, "listing incident accounts", ScanIncidentAccount,
		`SELECT `+IncidentAccountColumns+` FROM incident_accounts
		WHERE incident_id = ? ORDER BY first_seen, account`, incidentID)
}

// GetChallenge returns the challenge with id or store.ErrNotFound.
func (r Records) GetChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return get(ctx, r, "challenge", id, ScanChallenge, `SELECT `+ChallengeColumns+` FROM challenges WHERE id = ?`, id)
}

// ExpiredChallenges returns up to limit pending challenges that expired
// at or before now, the oldest expiry first (then ID).
func (r Records) ExpiredChallenges(ctx context.Context, now time.Time, limit int) ([]store.Challenge, error) {
	return List(ctx, r.r, "listing expired challenges", ScanChallenge,
		`SELECT `+ChallengeColumns+` FROM challenges
		WHERE state = 'pending' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
		UnixNano(now), limit)
}

// PutKey stores k, replacing the key with the same ID. It fails when
// another key already has k's hash.
func (r Records) PutKey(ctx context.Context, k store.APIKey) error {
	if err := CheckTimes(k.CreatedAt); err != nil {
		return fmt.Errorf("putting key %q: %w", k.ID, err)
	}
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("putting key %q: encoding scopes: %w", k.ID, err)
	}
	if _, err := r.w.Exec(ctx, `INSERT INTO api_keys (`+KeyColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash,
			scopes = excluded.scopes, created_at = excluded.created_at,
			disabled = excluded.disabled`, k.ID, k.Name, NonNil(k.Hash), string(scopes),
		UnixNano(k.CreatedAt), k.Disabled); err != nil {
		return fmt.Errorf("putting key %q: %w", k.ID, err)
	}
	return nil
}

// KeyByHash returns the key whose secret hashes to hash or store.ErrNotFound.
func (r Records) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	return get(ctx, r, "key by hash", "", ScanKey, `SELECT `+KeyColumns+` FROM api_keys WHERE hash = ?`, NonNil(hash))
}

// ListKeys returns every key ordered by CreatedAt then ID.
func (r Records) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	return List(ctx, r.r, "listing keys", ScanKey, `SELECT `+KeyColumns+` FROM api_keys ORDER BY created_at, id`)
}

// GetState returns the state saved under name or store.ErrNotFound.
func (r Records) GetState(ctx context.Context, name string) ([]byte, error) {
	return get(ctx, r, "state", name, func(sc Scanner) ([]byte, error) {
		var v []byte
		return v, sc.Scan(&v)
	}, `SELECT value FROM state WHERE name = ?`, name)
}

// PutState saves value under name, replacing what was there.
func (r Records) PutState(ctx context.Context, name string, value []byte) error {
	if _, err := r.w.Exec(ctx, `INSERT INTO state (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, NonNil(value)); err != nil {
		return fmt.Errorf("putting state %q: %w", name, err)
	}
	return nil
}

// ListAudit returns the audit records q selects, newest (by ReceivedAt,
// then by order of writing) first.
func (r Records) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	query, args := `SELECT `+AuditColumns+` FROM audit`, []any{}
	if q.Account != "" {
		query, args = query+` WHERE account = ?`, append(args, q.Account)
	}
	query += ` ORDER BY received_at DESC, seq DESC LIMIT ?`
	return List(ctx, r.r, "listing audit", ScanAudit, query, append(args, limitOr(q.Limit, defaultAuditLimit))...)
}

// ReadAudit returns up to limit audit records after from, oldest first,
// and the cursor of the last one returned (from when none is).
func (r Records) ReadAudit(ctx context.Context, from store.AuditCursor, limit int) ([]store.AuditRecord, store.AuditCursor, error) {
	if limit <= 0 {
		return nil, from, nil
	}
	after := UnixNano(from.ReceivedAt)
	rows, err := List(ctx, r.r, "reading audit", func(sc Scanner) (seqAudit, error) {
		var a seqAudit
		rec, err := ScanAudit(seqScanner{sc, &a.seq})
		a.rec = rec
		return a, err
	}, `SELECT seq, `+AuditColumns+` FROM audit WHERE received_at > ? OR (received_at = ? AND seq > ?)
		ORDER BY received_at, seq LIMIT ?`, after, after, from.Seq, int64(limit))
	if err != nil {
		return nil, from, err
	}
	out := make([]store.AuditRecord, len(rows))
	for i, a := range rows {
		out[i] = a.rec
	}
	if n := len(rows); n > 0 {
		from = store.AuditCursor{ReceivedAt: rows[n-1].rec.ReceivedAt, Seq: rows[n-1].seq}
	}
	return out, from, nil
}

// seqAudit is an audit record with its place in the order of writing.
type seqAudit struct {
	seq int64
	rec store.AuditRecord
}

// seqScanner reads the seq column into seq before the columns asked for.
type seqScanner struct {
	sc  Scanner
	seq *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.sc.Scan(append([]any{s.seq}, dest...)...) }

// CountAudit returns the number of audit records.
func (r Records) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	if err := r.r.QueryRow(ctx, `SELECT count(*) FROM audit`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting audit: %w", err)
	}
	return n, nil
}

// DecisionCounts returns how many events received since since got each
// decision.
func (r Records) DecisionCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	type count struct {
		decision string
		n        int64
	}
	counts, err := List(ctx, r.r, "counting decisions", func(sc Scanner) (count, error) {
		var c count
		return c, sc.Scan(&c.decision, &c.n)
	}, `SELECT decision, count(*) FROM audit WHERE received_at >= ? GROUP BY decision`, UnixNano(since))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(counts))
	for _, c := range counts {
		out[c.decision] = c.n
	}
	return out, nil
}

// PruneBatchIDs forgets the batch ids applied before before; see
// store.BatchIDPruner.
func (r Records) PruneBatchIDs(ctx context.Context, before time.Time) (int64, error) {
	if err := CheckTimes(before); err != nil {
		return 0, fmt.Errorf("pruning batch ids: %w", err)
	}
	n, err := r.w.Exec(ctx, PruneBatchIDsSQL, UnixNano(before))
	if err != nil {
		return 0, fmt.Errorf("pruning batch ids: %w", err)
	}
	return n, nil
}

// ListReviews returns the reviews in state ("" for all), newest first.
func (r Records) ListReviews(ctx context.Context, state string) ([]store.Review, error) {
	q, args := inState(`SELECT `+ReviewColumns+` FROM reviews`, state)
	return List(ctx, r.r, "listing reviews", ScanReview, q+` ORDER BY created_at DESC, id DESC`, args...)
}

// GetReview returns the review with id or store.ErrNotFound.
func (r Records) GetReview(ctx context.Context, id string) (store.Review, error) {
	return get(ctx, r, "review", id, ScanReview, `SELECT `+ReviewColumns+` FROM reviews WHERE id = ?`, id)
}

// DecideReview decides a pending review; see store.ReviewStore. Of
// concurrent decisions one wins: the pending condition is part of the
// update.
func (r Records) DecideReview(ctx context.Context, id, state, by, note string, at time.Time) (bool, error) {
	if err := CheckTimes(at); err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	n, err := r.w.Exec(ctx, `UPDATE reviews SET state = ?, decided_by = ?, note = ?, decided_at = ?
		WHERE id = ? AND state = ?`, state, by, note, UnixNano(at), id, store.ReviewPending)
	if err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	return false, r.exists(ctx, "review", id, `SELECT 1 FROM reviews WHERE id = ?`, id)
}

// MarkNotificationSent records the delivery of notification id.
func (r Records) MarkNotificationSent(ctx context.Context, id string, at time.Time) error {
	if err := CheckTimes(at); err != nil {
		return fmt.Errorf("marking notification %q sent: %w", id, err)
	}
	return r.markNotification(ctx, id, "sent", `UPDATE notifications SET state = ?, sent_at = ?,
		last_error = '' WHERE id = ? AND state = ?`, store.NotificationSent, UnixNano(at), id,
		store.NotificationPending)
}

// MarkNotificationRetry records a failed attempt and the next one's time.
func (r Records) MarkNotificationRetry(ctx context.Context, id string, next time.Time, lastErr string) error {
	if err := CheckTimes(next); err != nil {
		return fmt.Errorf("marking notification %q for retry: %w", id, err)
	}
	return r.markNotification(ctx, id, "for retry", `UPDATE notifications SET next_attempt_at = ?,
		last_error = ? WHERE id = ? AND state = ?`, UnixNano(next), r.d.text(lastErr), id,
		store.NotificationPending)
}

// MarkNotificationFailed gives up on notification id.
func (r Records) MarkNotificationFailed(ctx context.Context, id string, at time.Time, lastErr string) error {
	if err := CheckTimes(at); err != nil {
		return fmt.Errorf("marking notification %q failed: %w", id, err)
	}
	return r.markNotification(ctx, id, "failed", `UPDATE notifications SET state = ?, next_attempt_at = ?,
		last_error = ? WHERE id = ? AND state = ?`, store.NotificationFailed, UnixNano(at),
		r.d.text(lastErr), id, store.NotificationPending)
}

// markNotification runs an update of a pending notification; when it
// changes nothing, the notification is either final (fine) or unknown.
func (r Records) markNotification(ctx context.Context, id, what, query string, args ...any) error {
	n, err := r.w.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("marking notification %q %s: %w", id, what, err)
	}
	if n > 0 {
		return nil
	}
	return r.exists(ctx, "notification", id, `SELECT 1 FROM notifications WHERE id = ?`, id)
}

// ListNotifications returns the notifications q selects, newest first.
func (r Records) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	query := `SELECT ` + NotificationColumns + ` FROM notifications`
	var where []string
	var args []any
	if q.Account != "" {
		where = append(where, `account = ?`)
		args = append(args, q.Account)
	}
	if q.State != "" {
		where = append(where, `state = ?`)
		args = append(args, q.State)
	}
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limitOr(q.Limit, defaultNotificationLimit))
	return List(ctx, r.r, "listing notifications", ScanNotification, query, args...)
}

// PruneAudit deletes up to limit audit records received before before,
// oldest first.
func (r Records) PruneAudit(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := CheckTimes(before); err != nil {
		return 0, fmt.Errorf("pruning the audit log: %w", err)
	}
	n, err := r.w.Exec(ctx, `DELETE FROM audit WHERE seq IN (SELECT seq FROM audit
		WHERE received_at < ? ORDER BY received_at, seq LIMIT ?)`, UnixNano(before), limitOr(limit, 1))
	if err != nil {
		return 0, fmt.Errorf("pruning the audit log: %w", err)
	}
	return n, nil
}

// PruneNotifications deletes up to limit notifications delivered before
// before (sent then, or given up on then), oldest first.
func (r Records) PruneNotifications(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := CheckTimes(before); err != nil {
		return 0, fmt.Errorf("pruning the outbox: %w", err)
	}
	t := UnixNano(before)
	n, err := r.w.Exec(ctx, `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
		WHERE (state = ? AND sent_at < ?) OR (state = ? AND next_attempt_at < ?)
		ORDER BY created_at, id LIMIT ?)`,
		store.NotificationSent, t, store.NotificationFailed, t, limitOr(limit, 1))
	if err != nil {
		return 0, fmt.Errorf("pruning the outbox: %w", err)
	}
	return n, nil
}

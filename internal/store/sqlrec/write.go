package sqlrec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// The statements of a batch write that both dialects spell alike.
const (
	InsertAuditSQL = `INSERT INTO audit (` + AuditColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id) DO NOTHING`

	// PutProfileSQL and PutIncidentSQL replace a stored copy only with
	// one as new or newer (by updated_at), so that an older copy written
	// late (a journal replayed after another instance wrote the same key)
	// never overwrites a newer one.
	PutProfileSQL = `INSERT INTO profiles (` + ProfileColumns + `) VALUES (?, ?, ?)
		ON CONFLICT (account) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
		WHERE excluded.updated_at >= profiles.updated_at`

	PutIncidentSQL = `INSERT INTO incidents (` + IncidentColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state,
			started_at = excluded.started_at, ended_at = excluded.ended_at,
			attempts = excluded.attempts, distinct_ips = excluded.distinct_ips,
			distinct_prefixes = excluded.distinct_prefixes,
			accounts_targeted = excluded.accounts_targeted,
			accounts_compromised = excluded.accounts_compromised,
			top_sources = excluded.top_sources, updated_at = excluded.updated_at
		WHERE excluded.updated_at >= incidents.updated_at`

	PutIncidentAccountSQL = `INSERT INTO incident_accounts (` + IncidentAccountColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_id, account) DO UPDATE SET known = excluded.known,
			outcome = excluded.outcome, attempts = excluded.attempts,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen`

	// PutChallengeSQL replaces a challenge; a dialect may add a WHERE
	// clause to the update (Dialect.PutChallenge).
	PutChallengeSQL = `INSERT INTO challenges (` + ChallengeColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
			session_id = excluded.session_id, purpose = excluded.purpose,
			methods = excluded.methods, state = excluded.state,
			attempts = excluded.attempts, created_at = excluded.created_at,
			expires_at = excluded.expires_at, event_id = excluded.event_id,
			incident_id = excluded.incident_id, ip = excluded.ip,
			device_id = excluded.device_id, user_agent = excluded.user_agent`

	// InsertReviewSQL skips a review whose id is stored already.
	InsertReviewSQL = `INSERT INTO reviews (` + ReviewColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

	// InsertNotificationSQL skips a notification whose id or dedupe key is
	// already stored: ON CONFLICT without a target covers both unique
	// constraints.
	InsertNotificationSQL = `INSERT INTO notifications (` + NotificationColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`

	// InsertBatchIDSQL records a batch id (store.Batch.IDs); a plain
	// insert, so that an id applied before fails the batch's transaction.
	InsertBatchIDSQL = `INSERT INTO applied_batches (id, applied_at) VALUES (?, ?)`

	// PruneBatchIDsSQL forgets the batch ids applied before a time.
	PruneBatchIDsSQL = `DELETE FROM applied_batches WHERE applied_at < ?`

	PutContactsSQL = `INSERT INTO contacts (` + ContactsColumns + `) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, changes = excluded.changes,
			updated_at = excluded.updated_at`
)

// Dialect is what differs between the SQL backends in the statements and
// errors of the shared code.
type Dialect struct {
	// NoRows is the driver's error for a query that returned no row.
	NoRows error
	// IsUnique reports whether err is a unique constraint refusing a write.
	IsUnique func(err error) bool
	// Text makes a string from outside (a notification's last error)
	// storable; nil stores it as it is.
	Text func(string) string
	// Greatest is the function of two or more values that returns the
	// greatest: max in SQLite, greatest in PostgreSQL.
	Greatest string
	// PutChallenge is the challenge upsert: PutChallengeSQL, perhaps with
	// a condition.
	PutChallenge string
	// SortUpserts sorts a batch's upserts by key (stably, so the last write
	// of a key still wins), so that concurrent batches lock rows in the same
	// order.
	SortUpserts bool
}

func (d Dialect) text(s string) string {
	if d.Text == nil {
		return s
	}
	return d.Text(s)
}

// Statement is one write of a batch: what it writes (for errors), the
// statement, with ? placeholders, and its arguments.
type Statement struct {
	// Label names what the statement writes; Statements leaves it empty
	// and names it by what it keeps (Name), formatted only for an error.
	Label string
	what  label
	Query string
	Args  []any
	// BatchID marks the insert of a batch id: its unique violation means
	// the batch was applied before (Dialect.Err).
	BatchID bool
}

// Err wraps err, the error of statement st, with its label; as
// store.ErrBatchApplied too when st records a batch id that is kept
// already.
func (d Dialect) Err(st Statement, err error) error {
	if st.BatchID && d.IsUnique(err) {
		return fmt.Errorf("%s: %w (%w)", st.Name(), store.ErrBatchApplied, err)
	}
	return fmt.Errorf("%s: %w", st.Name(), err)
}

// Name names what the statement writes, for errors: `audit "e-1"`.
func (st Statement) Name() string {
	if st.Label != "" {
		return st.Label
	}
	return st.what.String()
}

// label is a statement's name before it is formatted: a kind and its
// key or keys (a batch writes one statement per record: formatting each
// name, never read unless it fails, was a tenth of a batch's allocations).
type label struct {
	kind, key, account string // account: of an incident account
}

func (l label) String() string {
	if l.kind == "incident account" {
		return fmt.Sprintf("incident %q account %q", l.key, l.account)
	}
	return fmt.Sprintf("%s %q", l.kind, l.key)
}

// Statements turns b into statements, to be run in one transaction in
// order: batch ids (first, so that a batch applied before fails before
// it writes anything), audit records, profiles, incidents, incident accounts,
// challenges, reviews, notifications and contact histories (with the
// legacy contact profiles among them: store.LiftLegacyContacts). Inserts
// that skip duplicates keep b's order, since the first of a key wins and
// audit records list in order of writing.
func (d Dialect) Statements(b store.Batch) ([]Statement, error) {
	b, err := store.LiftLegacyContacts(b)
	if err != nil {
		return nil, err
	}
	if d.SortUpserts {
		b.Contacts = sortedBy(b.Contacts, func(c store.Contacts) string { return c.UserID })
		b.Profiles = sortedBy(b.Profiles, func(p store.Profile) string { return p.Account })
		b.Incidents = sortedBy(b.Incidents, func(in store.Incident) string { return in.ID })
		b.IncidentAccounts = sortedBy(b.IncidentAccounts, func(ia store.IncidentAccount) string {
			return ia.IncidentID + "\x00" + ia.Account
		})
		b.Challenges = sortedBy(b.Challenges, func(c store.Challenge) string { return c.ID })
	}
	w := &statements{out: make([]Statement, 0, len(b.IDs)+b.Len())}
	for _, id := range b.IDs {
		w.add(label{kind: "batch id", key: id}, InsertBatchIDSQL, []time.Time{b.AppliedAt}, id, UnixNano(b.AppliedAt))
		if w.err == nil {
			w.out[len(w.out)-1].BatchID = true
		}
	}
	for _, a := range b.Audit {
		w.add(label{kind: "audit", key: a.EventID}, InsertAuditSQL, []time.Time{a.ReceivedAt, a.OccurredAt},
			a.EventID, UnixNano(a.ReceivedAt), UnixNano(a.OccurredAt), a.Type, a.Account, a.Login, a.IP,
			a.SessionID, a.RequestID, a.Decision, int64(a.Risk), jsonArg{"reasons", a.Reasons},
			a.IncidentID, a.ChallengeID, a.PasswordHMAC, a.Event, a.Replay)
	}
	for _, p := range b.Profiles {
		w.add(label{kind: "profile", key: p.Account}, PutProfileSQL, []time.Time{p.UpdatedAt},
			p.Account, p.Data, UnixNano(p.UpdatedAt))
	}
	for _, in := range b.Incidents {
		w.add(label{kind: "incident", key: in.ID}, PutIncidentSQL, []time.Time{in.StartedAt, in.EndedAt, in.UpdatedAt},
			in.ID, in.Kind, in.State, UnixNano(in.StartedAt), UnixNano(in.EndedAt), in.Attempts,
			in.DistinctIPs, in.DistinctPrefixes, in.AccountsTargeted, in.AccountsCompromised,
			jsonArg{"top sources", in.TopSources}, UnixNano(in.UpdatedAt))
	}
	for _, ia := range b.IncidentAccounts {
		w.add(label{"incident account", ia.IncidentID, ia.Account}, PutIncidentAccountSQL,
			[]time.Time{ia.FirstSeen, ia.LastSeen}, ia.IncidentID, ia.Account, ia.Known, ia.Outcome,
			ia.Attempts, UnixNano(ia.FirstSeen), UnixNano(ia.LastSeen))
	}
	for _, c := range b.Challenges {
		w.add(label{kind: "challenge", key: c.ID}, d.PutChallenge, []time.Time{c.CreatedAt, c.ExpiresAt},
			c.ID, c.UserID, c.SessionID, c.Purpose, jsonArg{"methods", c.Methods}, c.State,
			int64(c.Attempts), UnixNano(c.CreatedAt), UnixNano(c.ExpiresAt), c.EventID,
			c.IncidentID, c.IP, c.DeviceID, c.UserAgent)
	}
	for _, r := range b.Reviews {
		state := cmp.Or(r.State, store.ReviewPending)
		w.add(label{kind: "review", key: r.ID}, InsertReviewSQL, []time.Time{r.CreatedAt, r.DecidedAt},
			r.ID, r.EventID, r.UserID, r.SessionID, r.OrderID, r.Amount, r.Currency,
			jsonArg{"reasons", NonNilStrings(r.Reasons)}, r.IncidentID, state, UnixNano(r.CreatedAt),
			UnixNano(r.DecidedAt), r.DecidedBy, r.Note)
	}
	for _, n := range b.Notifications {
		dedupe, state := cmp.Or(n.DedupeKey, n.ID), cmp.Or(n.State, store.NotificationPending)
		w.add(label{kind: "notification", key: n.ID}, InsertNotificationSQL,
			[]time.Time{n.CreatedAt, n.NextAttemptAt, n.SentAt},
			n.ID, dedupe, n.Kind, n.Channel, n.Recipient, n.Account, NonNil(n.Payload),
			UnixNano(n.CreatedAt), UnixNano(n.NextAttemptAt), int64(n.Attempts), state,
			d.text(n.LastError), UnixNano(n.SentAt))
	}
	for _, c := range b.Contacts {
		w.add(label{kind: "contacts", key: c.UserID}, PutContactsSQL, append(contactTimes(c), c.UpdatedAt),
			c.UserID, c.Email, jsonArg{"changes", encodeChanges(c.Changes)}, UnixNano(c.UpdatedAt))
	}
	return w.out, w.err
}

// contactTimes are the times of c's changes.
func contactTimes(c store.Contacts) []time.Time {
	ts := make([]time.Time, 0, len(c.Changes)+1)
	for _, ch := range c.Changes {
		ts = append(ts, ch.At)
	}
	return ts
}

// jsonArg is an argument stored as JSON text; what names it in errors.
type jsonArg struct {
	what string
	v    any
}

// statements collects a batch's statements and the first error.
type statements struct {
	out []Statement
	err error
}

// add appends a statement after checking that the times of its record
// are storable and encoding its JSON arguments.
func (w *statements) add(what label, query string, times []time.Time, args ...any) {
	if w.err != nil {
		return
	}
	if err := CheckTimes(times...); err != nil {
		w.err = fmt.Errorf("%s: %w", what, err)
		return
	}
	for i, a := range args {
		j, ok := a.(jsonArg)
		if !ok {
			continue
		}
		if ss, ok := j.v.([]string); ok && plainStrings(ss) {
			args[i] = stringsJSON(ss)
			continue
		}
		data, err := json.Marshal(j.v)
		if err != nil {
			w.err = fmt.Errorf("%s: encoding %s: %w", what, j.what, err)
			return
		}
		args[i] = string(data)
	}
	w.out = append(w.out, Statement{what: what, Query: query, Args: args})
}

// plainStrings reports whether every string of ss is printable ASCII
// that JSON and encoding/json write as it is (reason codes, methods).
func plainStrings(ss []string) bool {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
	}
	return true
}

// stringsJSON is what json.Marshal makes of ss, plain strings: one
// allocation instead of reflection.
func stringsJSON(ss []string) string {
	if ss == nil {
		return "null"
	}
	n := 2
	for _, s := range ss {
		n += len(s) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// sortedBy returns a copy of s stably sorted by key.
func sortedBy[T any](s []T, key func(T) string) []T {
	if len(s) < 2 {
		return s
	}
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

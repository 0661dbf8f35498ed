// Package sqlite provides the embedded store.Store: one SQLite database
// file in WAL mode, its schema kept by versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/atoguard/atoguard/internal/store"
)

var _ store.Store = (*Store)(nil)

// FileName is the name of the database file inside the data directory.
const FileName = "atoguard.db"

// defaultAuditLimit is what AuditQuery.Limit 0 means.
const defaultAuditLimit = 100

// defaultReaders is what Options.MaxReaders 0 means.
const defaultReaders = 4

//go:embed migrations/*.sql
var migrations embed.FS

// Options tunes a Store. The zero value is valid.
type Options struct {
	// Synchronous is SQLite's synchronous setting, "FULL" or "NORMAL"
	// (either case); empty means "FULL". FULL makes every commit survive a
	// power loss; NORMAL (in WAL mode) survives a crash of the process but
	// may lose the last commits on a power loss, in exchange for fewer
	// fsyncs.
	Synchronous string

	// MaxReaders is the number of connections serving reads alongside the
	// one writer connection; 0 means 4.
	MaxReaders int
}

// Store is a store.Store on one SQLite file. Writes go through a single
// connection (SQLite has one writer at a time); reads use a separate pool,
// which WAL mode lets run while a write is in progress.
type Store struct {
	w *sql.DB // one connection; every write and the migrations
	r *sql.DB // read-only pool

	insAudit           *sql.Stmt
	putProfile         *sql.Stmt
	putIncident        *sql.Stmt
	putIncidentAccount *sql.Stmt
	putChallenge       *sql.Stmt
}

// Open opens (creating if needed) the database in dir, creating dir if
// needed, and brings its schema up to date.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	sync, err := opts.synchronous()
	if err != nil {
		return nil, err
	}
	readers := opts.MaxReaders
	switch {
	case readers < 0:
		return nil, fmt.Errorf("opening sqlite: max readers %d is negative", readers)
	case readers == 0:
		readers = defaultReaders
	}
	if dir == "" {
		return nil, errors.New("opening sqlite: data directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening sqlite: creating data directory %q: %w", dir, err)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}

	w, err := sql.Open("sqlite", dsn(path, sync, false))
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.init(ctx, path, sync, readers); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

func (s *Store) init(ctx context.Context, path, sync string, readers int) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, s.w); err != nil {
		return fmt.Errorf("migrating sqlite %s: %w", path, err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insAudit, insertAuditSQL},
		{&s.putProfile, putProfileSQL},
		{&s.putIncident, putIncidentSQL},
		{&s.putIncidentAccount, putIncidentAccountSQL},
		{&s.putChallenge, putChallengeSQL},
	} {
		st, err := s.w.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("preparing statements: %w", err)
		}
		*p.stmt = st
	}
	r, err := sql.Open("sqlite", dsn(path, sync, true))
	if err != nil {
		return fmt.Errorf("opening sqlite %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		return fmt.Errorf("opening sqlite %s for reading: %w", path, err)
	}
	return nil
}

func (o Options) synchronous() (string, error) {
	switch v := strings.ToUpper(o.Synchronous); v {
	case "":
		return "FULL", nil
	case "FULL", "NORMAL":
		return v, nil
	}
	return "", fmt.Errorf("opening sqlite: synchronous %q is not FULL or NORMAL", o.Synchronous)
}

// dsn is a file: URI for path, so that any character in the path (a '?'
// included) reaches SQLite intact. busy_timeout comes first so that
// switching to WAL waits for other connections instead of failing.
func dsn(path, sync string, readOnly bool) string {
	q := []string{
		"_pragma=busy_timeout(5000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(ON)",
		"_pragma=synchronous(" + sync + ")",
		// The writer takes the write lock at BEGIN, never by upgrading a
		// read lock mid-transaction (which can fail with SQLITE_BUSY).
		"_txlock=immediate",
	}
	if readOnly {
		q = append(q, "_query_only=1")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: strings.Join(q, "&")}
	if !strings.HasPrefix(u.Path, "/") { // a Windows drive letter
		u.Path = "/" + u.Path
	}
	return u.String()
}

func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	// Not p.Close: that closes db, which the Store keeps using.
	_, err = p.Up(ctx)
	return err
}

// Ping checks that both the writer and the readers reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging sqlite writer: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging sqlite readers: %w", err)
	}
	return nil
}

// Close closes the statements and both connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.insAudit, s.putProfile, s.putIncident, s.putIncidentAccount, s.putChallenge} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing sqlite: %w", err)
	}
	return nil
}

const (
	auditColumns = `event_id, received_at, occurred_at, type, account, login, ip,
		session_id, request_id, decision, risk, reasons, incident_id, challenge_id,
		password_hmac, event`
	insertAuditSQL = `INSERT INTO audit (` + auditColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(event_id) DO NOTHING`

	profileColumns = `account, data, updated_at`
	putProfileSQL  = `INSERT INTO profiles (` + profileColumns + `) VALUES (?, ?, ?)
		ON CONFLICT(account) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`

	incidentColumns = `id, kind, state, started_at, ended_at, attempts, distinct_ips,
		distinct_prefixes, accounts_targeted, accounts_compromised, top_sources, updated_at`
	putIncidentSQL = `INSERT INTO incidents (` + incidentColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, state = excluded.state,
			started_at = excluded.started_at, ended_at = excluded.ended_at,
			attempts = excluded.attempts, distinct_ips = excluded.distinct_ips,
			distinct_prefixes = excluded.distinct_prefixes,
			accounts_targeted = excluded.accounts_targeted,
			accounts_compromised = excluded.accounts_compromised,
			top_sources = excluded.top_sources, updated_at = excluded.updated_at`

	incidentAccountColumns = `incident_id, account, known, outcome, attempts, first_seen, last_seen`
	putIncidentAccountSQL  = `INSERT INTO incident_accounts (` + incidentAccountColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(incident_id, account) DO UPDATE SET known = excluded.known,
			outcome = excluded.outcome, attempts = excluded.attempts,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen`

	challengeColumns = `id, user_id, session_id, purpose, methods, state, attempts,
		created_at, expires_at, event_id, incident_id, ip, device_id, user_agent`
	putChallengeSQL = `INSERT INTO challenges (` + challengeColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id,
			session_id = excluded.session_id, purpose = excluded.purpose,
			methods = excluded.methods, state = excluded.state,
			attempts = excluded.attempts, created_at = excluded.created_at,
			expires_at = excluded.expires_at, event_id = excluded.event_id,
			incident_id = excluded.incident_id, ip = excluded.ip,
			device_id = excluded.device_id, user_agent = excluded.user_agent`

	keyColumns = `id, name, hash, scopes, created_at, disabled`
	putKeySQL  = `INSERT INTO api_keys (` + keyColumns + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, hash = excluded.hash,
			scopes = excluded.scopes, created_at = excluded.created_at,
			disabled = excluded.disabled`
)

// Write applies b in one transaction; with Options.Synchronous FULL it is
// on disk when Write returns nil.
func (s *Store) Write(ctx context.Context, b store.Batch) (err error) {
	if b.Empty() {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("writing batch: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that matters is err
		}
	}()
	if err := writeBatch(ctx, tx, s, b); err != nil {
		return fmt.Errorf("writing batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("writing batch: committing: %w", err)
	}
	return nil
}

func writeBatch(ctx context.Context, tx *sql.Tx, s *Store, b store.Batch) error {
	if len(b.Audit) > 0 {
		st := tx.StmtContext(ctx, s.insAudit)
		for _, a := range b.Audit {
			if err := checkTimes(a.ReceivedAt, a.OccurredAt); err != nil {
				return fmt.Errorf("audit %q: %w", a.EventID, err)
			}
			reasons, err := json.Marshal(a.Reasons)
			if err != nil {
				return fmt.Errorf("audit %q: encoding reasons: %w", a.EventID, err)
			}
			if _, err := st.ExecContext(ctx, a.EventID, unixNano(a.ReceivedAt), unixNano(a.OccurredAt),
				a.Type, a.Account, a.Login, a.IP, a.SessionID, a.RequestID, a.Decision, a.Risk,
				string(reasons), a.IncidentID, a.ChallengeID, a.PasswordHMAC, a.Event); err != nil {
				return fmt.Errorf("audit %q: %w", a.EventID, err)
			}
		}
	}
	if len(b.Profiles) > 0 {
		st := tx.StmtContext(ctx, s.putProfile)
		for _, p := range b.Profiles {
			if err := checkTimes(p.UpdatedAt); err != nil {
				return fmt.Errorf("profile %q: %w", p.Account, err)
			}
			if _, err := st.ExecContext(ctx, p.Account, p.Data, unixNano(p.UpdatedAt)); err != nil {
				return fmt.Errorf("profile %q: %w", p.Account, err)
			}
		}
	}
	if len(b.Incidents) > 0 {
		st := tx.StmtContext(ctx, s.putIncident)
		for _, in := range b.Incidents {
			if err := checkTimes(in.StartedAt, in.EndedAt, in.UpdatedAt); err != nil {
				return fmt.Errorf("incident %q: %w", in.ID, err)
			}
			top, err := json.Marshal(in.TopSources)
			if err != nil {
				return fmt.Errorf("incident %q: encoding top sources: %w", in.ID, err)
			}
			if _, err := st.ExecContext(ctx, in.ID, in.Kind, in.State, unixNano(in.StartedAt),
				unixNano(in.EndedAt), in.Attempts, in.DistinctIPs, in.DistinctPrefixes,
				in.AccountsTargeted, in.AccountsCompromised, string(top), unixNano(in.UpdatedAt)); err != nil {
				return fmt.Errorf("incident %q: %w", in.ID, err)
			}
		}
	}
	if len(b.IncidentAccounts) > 0 {
		st := tx.StmtContext(ctx, s.putIncidentAccount)
		for _, ia := range b.IncidentAccounts {
			if err := checkTimes(ia.FirstSeen, ia.LastSeen); err != nil {
				return fmt.Errorf("incident %q account %q: %w", ia.IncidentID, ia.Account, err)
			}
			if _, err := st.ExecContext(ctx, ia.IncidentID, ia.Account, ia.Known, ia.Outcome,
				ia.Attempts, unixNano(ia.FirstSeen), unixNano(ia.LastSeen)); err != nil {
				return fmt.Errorf("incident %q account %q: %w", ia.IncidentID, ia.Account, err)
			}
		}
	}
	if len(b.Challenges) > 0 {
		st := tx.StmtContext(ctx, s.putChallenge)
		for _, c := range b.Challenges {
			if err := checkTimes(c.CreatedAt, c.ExpiresAt); err != nil {
				return fmt.Errorf("challenge %q: %w", c.ID, err)
			}
			methods, err := json.Marshal(c.Methods)
			if err != nil {
				return fmt.Errorf("challenge %q: encoding methods: %w", c.ID, err)
			}
			if _, err := st.ExecContext(ctx, c.ID, c.UserID, c.SessionID, c.Purpose, string(methods),
				c.State, c.Attempts, unixNano(c.CreatedAt), unixNano(c.ExpiresAt), c.EventID,
				c.IncidentID, c.IP, c.DeviceID, c.UserAgent); err != nil {
				return fmt.Errorf("challenge %q: %w", c.ID, err)
			}
		}
	}
	if err := writeReviews(ctx, tx, b.Reviews); err != nil { // reviews.go
		return err
	}
	return writeNotifications(ctx, tx, b.Notifications) // outbox.go
}

// GetProfile returns the profile of account or store.ErrNotFound.
func (s *Store) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE account = ?`, account)
	var p store.Profile
	var updated int64
	if err := row.Scan(&p.Account, &p.Data, &updated); err != nil {
		return store.Profile{}, lookupErr("profile", account, err)
	}
	p.UpdatedAt = fromUnixNano(updated)
	return p, nil
}

// ListIncidents returns the incidents in state ("" for all), most recently
// started first.
func (s *Store) ListIncidents(ctx context.Context, state string) ([]store.Incident, error) {
	q := `SELECT ` + incidentColumns + ` FROM incidents`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY started_at DESC, id`
	return list(ctx, s.r, "listing incidents", scanIncident, q, args...)
}

// GetIncident returns the incident with id or store.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id)
	in, err := scanIncident(row)
	if err != nil {
		return store.Incident{}, lookupErr("incident", id, err)
	}
	return in, nil
}

// ListIncidentAccounts returns the accounts incidentID reached, ordered by
// FirstSeen then Account; none (and no error) for an unknown incident.
func (s *Store) ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error) {
	return list(ctx, s.r, "listing incident accounts", scanIncidentAccount,
		`SELECT `+incidentAccountColumns+` FROM incident_accounts
		WHERE incident_id = ? ORDER BY first_seen, account`, incidentID)
}

// GetChallenge returns the challenge with id or store.ErrNotFound.
func (s *Store) GetChallenge(ctx context.Context, id string) (store.Challenge, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+challengeColumns+` FROM challenges WHERE id = ?`, id)
	c, err := scanChallenge(row)
	if err != nil {
		return store.Challenge{}, lookupErr("challenge", id, err)
	}
	return c, nil
}

// PutKey stores k, replacing the key with the same ID. It fails when
// another key already has k's hash.
func (s *Store) PutKey(ctx context.Context, k store.APIKey) error {
	if err := checkTimes(k.CreatedAt); err != nil {
		return fmt.Errorf("putting key %q: %w", k.ID, err)
	}
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("putting key %q: encoding scopes: %w", k.ID, err)
	}
	hash := k.Hash
	if hash == nil {
		hash = []byte{}
	}
	if _, err := s.w.ExecContext(ctx, putKeySQL, k.ID, k.Name, hash, string(scopes),
		unixNano(k.CreatedAt), k.Disabled); err != nil {
		return fmt.Errorf("putting key %q: %w", k.ID, err)
	}
	return nil
}

// KeyByHash returns the key whose secret hashes to hash or store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	if hash == nil {
		hash = []byte{}
	}
	row := s.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash)
	k, err := scanKey(row)
	if err != nil {
		return store.APIKey{}, lookupErr("key by hash", "", err)
	}
	return k, nil
}

// ListKeys returns every key ordered by CreatedAt then ID.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	return list(ctx, s.r, "listing keys", scanKey,
		`SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
}

// GetState returns the state saved under name or store.ErrNotFound.
func (s *Store) GetState(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM state WHERE name = ?`, name).Scan(&v)
	if err != nil {
		return nil, lookupErr("state", name, err)
	}
	return v, nil
}

// PutState saves value under name, replacing what was there.
func (s *Store) PutState(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO state (name, value) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("putting state %q: %w", name, err)
	}
	return nil
}

// ListAudit returns the audit records q selects, newest (by ReceivedAt,
// then by order of writing) first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	query := `SELECT ` + auditColumns + ` FROM audit`
	var args []any
	if q.Account != "" {
		query += ` WHERE account = ?`
		args = append(args, q.Account)
	}
	query += ` ORDER BY received_at DESC, seq DESC LIMIT ?`
	args = append(args, limit)
	return list(ctx, s.r, "listing audit", scanAudit, query, args...)
}

// CountAudit returns the number of audit records.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting audit: %w", err)
	}
	return n, nil
}

// lookupErr turns sql.ErrNoRows into store.ErrNotFound.
func lookupErr(what, id string, err error) error {
	if id != "" {
		what += fmt.Sprintf(" %q", id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("getting %s: %w", what, err)
}

type scanner interface {
	Scan(dest ...any) error
}

func list[T any](ctx context.Context, db *sql.DB, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func scanAudit(sc scanner) (store.AuditRecord, error) {
	var a store.AuditRecord
	var received, occurred int64
	var reasons string
	if err := sc.Scan(&a.EventID, &received, &occurred, &a.Type, &a.Account, &a.Login, &a.IP,
		&a.SessionID, &a.RequestID, &a.Decision, &a.Risk, &reasons, &a.IncidentID,
		&a.ChallengeID, &a.PasswordHMAC, &a.Event); err != nil {
		return store.AuditRecord{}, err
	}
	a.ReceivedAt = fromUnixNano(received)
	a.OccurredAt = fromUnixNano(occurred)
	if err := json.Unmarshal([]byte(reasons), &a.Reasons); err != nil {
		return store.AuditRecord{}, fmt.Errorf("audit %q: decoding reasons: %w", a.EventID, err)
	}
	return a, nil
}

func scanIncident(sc scanner) (store.Incident, error) {
	var in store.Incident
	var started, ended, updated int64
	var top string
	if err := sc.Scan(&in.ID, &in.Kind, &in.State, &started, &ended, &in.Attempts,
		&in.DistinctIPs, &in.DistinctPrefixes, &in.AccountsTargeted, &in.AccountsCompromised,
		&top, &updated); err != nil {
		return store.Incident{}, err
	}
	in.StartedAt = fromUnixNano(started)
	in.EndedAt = fromUnixNano(ended)
	in.UpdatedAt = fromUnixNano(updated)
	if err := json.Unmarshal([]byte(top), &in.TopSources); err != nil {
		return store.Incident{}, fmt.Errorf("incident %q: decoding top sources: %w", in.ID, err)
	}
	return in, nil
}

func scanIncidentAccount(sc scanner) (store.IncidentAccount, error) {
	var ia store.IncidentAccount
	var first, last int64
	if err := sc.Scan(&ia.IncidentID, &ia.Account, &ia.Known, &ia.Outcome, &ia.Attempts,
		&first, &last); err != nil {
		return store.IncidentAccount{}, err
	}
	ia.FirstSeen = fromUnixNano(first)
	ia.LastSeen = fromUnixNano(last)
	return ia, nil
}

func scanChallenge(sc scanner) (store.Challenge, error) {
	var c store.Challenge
	var created, expires int64
	var methods string
	if err := sc.Scan(&c.ID, &c.UserID, &c.SessionID, &c.Purpose, &methods, &c.State,
		&c.Attempts, &created, &expires, &c.EventID, &c.IncidentID, &c.IP, &c.DeviceID,
		&c.UserAgent); err != nil {
		return store.Challenge{}, err
	}
	c.CreatedAt = fromUnixNano(created)
	c.ExpiresAt = fromUnixNano(expires)
	if err := json.Unmarshal([]byte(methods), &c.Methods); err != nil {
		return store.Challenge{}, fmt.Errorf("challenge %q: decoding methods: %w", c.ID, err)
	}
	return c, nil
}

func scanKey(sc scanner) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	var scopes string
	if err := sc.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &created, &k.Disabled); err != nil {
		return store.APIKey{}, err
	}
	k.CreatedAt = fromUnixNano(created)
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return store.APIKey{}, fmt.Errorf("key %q: decoding scopes: %w", k.ID, err)
	}
	return k, nil
}

// Times are stored as unix nanoseconds, which hold the years 1678 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkTimes reports an error for a non-zero time that unixNano cannot
// store.
func checkTimes(ts ...time.Time) error {
	for _, t := range ts {
		if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			return fmt.Errorf("time %s is outside the years 1678 to 2262", t.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// unixNano stores the zero time as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Package postgres keeps atoguard's records in PostgreSQL, for several
// guard instances sharing one database.
//
// Every write is one statement or one transaction (a Write batch costs one
// round trip), so any number of guard instances may use the same database
// at once: conditional updates
// (a TOTP step, a WebAuthn counter, a recovery code, a review decision, a
// WebAuthn ceremony) succeed on exactly one instance, and notifications
// are claimed with SELECT … FOR UPDATE SKIP LOCKED, so two dispatchers
// never hold the same one. The schema is kept by versioned migrations,
// embedded and run by Open under a lock, so that instances starting
// together migrate once.
//
// # DSN
//
// Open takes a pgx connection string, a URL or key=value pairs, for
// example
//
//	postgres://atoguard@db.internal:5432/atoguard?sslmode=verify-full
//
// pgx settings in it apply (pool_max_conns, default_query_exec_mode, …);
// a search_path=SCHEMA parameter keeps atoguard's tables in a schema of
// their own.
//
// # PgBouncer
//
// By default the Store uses the extended protocol with statements prepared
// and cached on each connection. Behind PgBouncer in transaction pooling
// mode those prepared statements may not be on the server connection the
// next transaction gets (unless PgBouncer tracks them itself, with
// max_prepared_statements, from version 1.21): set Options.SimpleProtocol
// (or default_query_exec_mode=simple_protocol in the DSN), which sends
// every statement as text with client-side parameter quoting and prepares
// nothing. The migration lock is then a lock row instead of a session
// advisory lock, which PgBouncer in transaction mode cannot hold. A
// search_path in the DSN may not pass PgBouncer: set it on the role
// instead (ALTER ROLE … SET search_path = …).
//
// # Text
//
// PostgreSQL text holds valid UTF-8 without NUL characters; SQLite holds
// any bytes. A record with other strings is refused with an error (the
// event decoder already rejects them in what it accepts), except the
// last error of a notification, which comes from a remote server and is
// stored with such characters replaced by U+FFFD.
package postgres

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/atoguard/atoguard/internal/store"
)

var _ store.Store = (*Store)(nil)

// defaultAuditLimit is what AuditQuery.Limit 0 means.
const defaultAuditLimit = 100

// writeAttempts is how many times Write runs a batch whose transaction
// PostgreSQL aborted for a deadlock or a serialization failure.
const writeAttempts = 3

// Names of the migration bookkeeping, apart from any other program's goose
// tables in the same database.
const (
	migrationTable     = "atoguard_goose_db_version"
	migrationLockTable = "atoguard_goose_lock"
	// migrationLockID is the advisory lock (or lock row) held while
	// migrating: crc32 (IEEE) of "atoguard".
	migrationLockID int64 = 0xf1d6d22a
)

// recoveryLockClass is the first key of the transaction advisory lock
// that serializes PutRecoveryCodes for one user (the second is a hash of
// the user id).
const recoveryLockClass = 0x61746f67 // "atog"

//go:embed migrations/*.sql
var migrations embed.FS

// Options tunes a Store. The zero value is valid.
type Options struct {
	// MaxConns is the size of the connection pool; 0 keeps what the DSN
	// says (pool_max_conns) or else pgx's default, the greater of 4 and
	// the number of CPUs.
	MaxConns int32

	// SimpleProtocol sends statements with PostgreSQL's simple query
	// protocol and prepares none, as PgBouncer in transaction pooling mode
	// needs; false uses the extended protocol with cached prepared
	// statements. See the package documentation.
	SimpleProtocol bool
}

// Store is a store.Store on a PostgreSQL database, through a pool of
// connections.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database dsn names, brings its schema up to date
// and returns a Store on it. Several instances may Open the same database
// at once: one migrates, the others wait for it.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("opening postgres: max conns %d is negative", opts.MaxConns)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil { // pgx leaves any password out of the message
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.SimpleProtocol {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	simple := cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres %s: %w", where(cfg), err)
	}
	if err := migrate(ctx, cfg.ConnConfig, simple); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrating postgres %s: %w", where(cfg), err)
	}
	return s, nil
}

// where names the database of cfg for messages, without credentials.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// migrate runs the embedded migrations, holding a lock so that concurrent
// Opens migrate once. It uses connections of its own, outside the pool:
// the lock and the migrations (and the lock row's heartbeat) each hold
// one, more than a small pool may have.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, simple bool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName(migrationTable),
	}
	if simple {
		// A lock row: PgBouncer in transaction mode cannot keep a session
		// advisory lock on one server connection.
		l, err := lock.NewPostgresTableLocker(
			lock.WithTableName(migrationLockTable),
			lock.WithTableLockID(migrationLockID),
			lock.WithTableLockTimeout(time.Second, 300),
		)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithLocker(l))
	} else {
		l, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	db := stdlib.OpenDB(*cfg.Copy())
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pinging postgres: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

const (
	auditColumns = `event_id, received_at, occurred_at, type, account, login, ip,
		session_id, request_id, decision, risk, reasons, incident_id, challenge_id,
		password_hmac, event`
	insertAuditSQL = `INSERT INTO audit (` + auditColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (event_id) DO NOTHING`

	profileColumns = `account, data, updated_at`
	putProfileSQL  = `INSERT INTO profiles (` + profileColumns + `) VALUES ($1, $2, $3)
		ON CONFLICT (account) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`

	incidentColumns = `id, kind, state, started_at, ended_at, attempts, distinct_ips,
		distinct_prefixes, accounts_targeted, accounts_compromised, top_sources, updated_at`
	putIncidentSQL = `INSERT INTO incidents (` + incidentColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state,
			started_at = excluded.started_at, ended_at = excluded.ended_at,
			attempts = excluded.attempts, distinct_ips = excluded.distinct_ips,
			distinct_prefixes = excluded.distinct_prefixes,
			accounts_targeted = excluded.accounts_targeted,
			accounts_compromised = excluded.accounts_compromised,
			top_sources = excluded.top_sources, updated_at = excluded.updated_at`

	incidentAccountColumns = `incident_id, account, known, outcome, attempts, first_seen, last_seen`
	putIncidentAccountSQL  = `INSERT INTO incident_accounts (` + incidentAccountColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (incident_id, account) DO UPDATE SET known = excluded.known,
			outcome = excluded.outcome, attempts = excluded.attempts,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen`

	challengeColumns = `id, user_id, session_id, purpose, methods, state, attempts,
		created_at, expires_at, event_id, incident_id, ip, device_id, user_agent`
	putChallengeSQL = `INSERT INTO challenges (` + challengeColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
			session_id = excluded.session_id, purpose = excluded.purpose,
			methods = excluded.methods, state = excluded.state,
			attempts = excluded.attempts, created_at = excluded.created_at,
			expires_at = excluded.expires_at, event_id = excluded.event_id,
			incident_id = excluded.incident_id, ip = excluded.ip,
			device_id = excluded.device_id, user_agent = excluded.user_agent
		WHERE challenges.state = 'pending' AND (excluded.state <> 'pending' OR excluded.attempts >= challenges.attempts)`

	keyColumns = `id, name, hash, scopes, created_at, disabled`
	putKeySQL  = `INSERT INTO api_keys (` + keyColumns + `) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash,
			scopes = excluded.scopes, created_at = excluded.created_at,
			disabled = excluded.disabled`
)

// queued is a batch of statements sent in one round trip, each with what
// it writes for error messages.
type queued struct {
	b      pgx.Batch
	labels []string
}

func (q *queued) add(label, sql string, args ...any) {
	q.b.Queue(sql, args...)
	q.labels = append(q.labels, label)
}

// Write applies b in one transaction, its statements and the commit in
// one round trip; it is durable (committed) when Write returns nil. A
// batch aborted by a deadlock with a concurrent batch is run again.
func (s *Store) Write(ctx context.Context, b store.Batch) error {
	if b.Empty() {
		return nil
	}
	for attempt := 1; ; attempt++ {
		q, err := queueBatch(b) // a pgx.Batch is not reused once sent
		if err != nil {
			return fmt.Errorf("writing batch: %w", err)
		}
		err = s.runBatch(ctx, q)
		if err == nil {
			return nil
		}
		if attempt == writeAttempts || !retryable(err) {
			return fmt.Errorf("writing batch: %w", err)
		}
	}
}

// retryable reports whether PostgreSQL aborted a transaction that may
// succeed when run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// runBatch sends q's statements in one round trip. pgx runs a batch sent
// outside a transaction as one implicit transaction (a single Sync in the
// extended protocol, one multi-statement query in the simple one): all of
// it commits or none does, and Close returns nil only once it committed.
func (s *Store) runBatch(ctx context.Context, q *queued) error {
	br := s.pool.SendBatch(ctx, &q.b)
	for _, label := range q.labels {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // the error that matters is the statement's
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	return br.Close()
}

// queueBatch turns b into statements. Upserts are sorted by key (stably,
// so the last write of a key in b still wins) so that concurrent batches
// lock rows in the same order; inserts that skip duplicates keep b's order,
// since the first of a key wins and audit records list in order of
// writing.
func queueBatch(b store.Batch) (*queued, error) {
	q := &queued{}
	for _, a := range b.Audit {
		label := fmt.Sprintf("audit %q", a.EventID)
		if err := checkTimes(a.ReceivedAt, a.OccurredAt); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		reasons, err := json.Marshal(a.Reasons)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding reasons: %w", label, err)
		}
		q.add(label, insertAuditSQL, a.EventID, unixNano(a.ReceivedAt), unixNano(a.OccurredAt),
			a.Type, a.Account, a.Login, a.IP, a.SessionID, a.RequestID, a.Decision, int64(a.Risk),
			string(reasons), a.IncidentID, a.ChallengeID, a.PasswordHMAC, a.Event)
	}
	for _, p := range sortedBy(b.Profiles, func(p store.Profile) string { return p.Account }) {
		label := fmt.Sprintf("profile %q", p.Account)
		if err := checkTimes(p.UpdatedAt); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		q.add(label, putProfileSQL, p.Account, p.Data, unixNano(p.UpdatedAt))
	}
	for _, in := range sortedBy(b.Incidents, func(in store.Incident) string { return in.ID }) {
		label := fmt.Sprintf("incident %q", in.ID)
		if err := checkTimes(in.StartedAt, in.EndedAt, in.UpdatedAt); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		top, err := json.Marshal(in.TopSources)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding top sources: %w", label, err)
		}
		q.add(label, putIncidentSQL, in.ID, in.Kind, in.State, unixNano(in.StartedAt),
			unixNano(in.EndedAt), in.Attempts, in.DistinctIPs, in.DistinctPrefixes,
			in.AccountsTargeted, in.AccountsCompromised, string(top), unixNano(in.UpdatedAt))
	}
	for _, ia := range sortedBy(b.IncidentAccounts, func(ia store.IncidentAccount) string {
		return ia.IncidentID + "\x00" + ia.Account
	}) {
		label := fmt.Sprintf("incident %q account %q", ia.IncidentID, ia.Account)
		if err := checkTimes(ia.FirstSeen, ia.LastSeen); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		q.add(label, putIncidentAccountSQL, ia.IncidentID, ia.Account, ia.Known, ia.Outcome,
			ia.Attempts, unixNano(ia.FirstSeen), unixNano(ia.LastSeen))
	}
	for _, c := range sortedBy(b.Challenges, func(c store.Challenge) string { return c.ID }) {
		label := fmt.Sprintf("challenge %q", c.ID)
		if err := checkTimes(c.CreatedAt, c.ExpiresAt); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		methods, err := json.Marshal(c.Methods)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding methods: %w", label, err)
		}
		q.add(label, putChallengeSQL, c.ID, c.UserID, c.SessionID, c.Purpose, string(methods),
			c.State, int64(c.Attempts), unixNano(c.CreatedAt), unixNano(c.ExpiresAt), c.EventID,
			c.IncidentID, c.IP, c.DeviceID, c.UserAgent)
	}
	if err := queueReviews(q, b.Reviews); err != nil { // reviews.go
		return nil, err
	}
	if err := queueNotifications(q, b.Notifications); err != nil { // outbox.go
		return nil, err
	}
	return q, nil
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

// GetProfile returns the profile of account or store.ErrNotFound.
func (s *Store) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE account = $1`, account)
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
		q += ` WHERE state = $1`
		args = append(args, state)
	}
	q += ` ORDER BY started_at DESC, id`
	return list(ctx, s.pool, "listing incidents", scanIncident, q, args...)
}

// GetIncident returns the incident with id or store.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id)
	in, err := scanIncident(row)
	if err != nil {
		return store.Incident{}, lookupErr("incident", id, err)
	}
	return in, nil
}

// ListIncidentAccounts returns the accounts incidentID reached, ordered by
// FirstSeen then Account; none (and no error) for an unknown incident.
func (s *Store) ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error) {
	return list(ctx, s.pool, "listing incident accounts", scanIncidentAccount,
		`SELECT `+incidentAccountColumns+` FROM incident_accounts
		WHERE incident_id = $1 ORDER BY first_seen, account`, incidentID)
}

// GetChallenge returns the challenge with id or store.ErrNotFound.
func (s *Store) GetChallenge(ctx context.Context, id string) (store.Challenge, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+challengeColumns+` FROM challenges WHERE id = $1`, id)
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
	if _, err := s.pool.Exec(ctx, putKeySQL, k.ID, k.Name, nonNil(k.Hash), string(scopes),
		unixNano(k.CreatedAt), k.Disabled); err != nil {
		return fmt.Errorf("putting key %q: %w", k.ID, err)
	}
	return nil
}

// KeyByHash returns the key whose secret hashes to hash or store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, nonNil(hash))
	k, err := scanKey(row)
	if err != nil {
		return store.APIKey{}, lookupErr("key by hash", "", err)
	}
	return k, nil
}

// ListKeys returns every key ordered by CreatedAt then ID.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	return list(ctx, s.pool, "listing keys", scanKey,
		`SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
}

// GetState returns the state saved under name or store.ErrNotFound.
func (s *Store) GetState(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM state WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, lookupErr("state", name, err)
	}
	return v, nil
}

// PutState saves value under name, replacing what was there.
func (s *Store) PutState(ctx context.Context, name string, value []byte) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO state (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, nonNil(value)); err != nil {
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
	args := []any{int64(limit)}
	if q.Account != "" {
		query += ` WHERE account = $2`
		args = append(args, q.Account)
	}
	query += ` ORDER BY received_at DESC, seq DESC LIMIT $1`
	return list(ctx, s.pool, "listing audit", scanAudit, query, args...)
}

// CountAudit returns the number of audit records.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting audit: %w", err)
	}
	return n, nil
}

// lookupErr turns pgx.ErrNoRows into store.ErrNotFound.
func lookupErr(what, id string, err error) error {
	if id != "" {
		what += fmt.Sprintf(" %q", id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("getting %s: %w", what, err)
}

type scanner interface {
	Scan(dest ...any) error
}

func list[T any](ctx context.Context, pool *pgxpool.Pool, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := pool.Query(ctx, query, args...)
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
	var received, occurred, risk int64
	var reasons string
	if err := sc.Scan(&a.EventID, &received, &occurred, &a.Type, &a.Account, &a.Login, &a.IP,
		&a.SessionID, &a.RequestID, &a.Decision, &risk, &reasons, &a.IncidentID,
		&a.ChallengeID, &a.PasswordHMAC, &a.Event); err != nil {
		return store.AuditRecord{}, err
	}
	a.ReceivedAt = fromUnixNano(received)
	a.OccurredAt = fromUnixNano(occurred)
	a.Risk = int(risk)
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
	var created, expires, attempts int64
	var methods string
	if err := sc.Scan(&c.ID, &c.UserID, &c.SessionID, &c.Purpose, &methods, &c.State,
		&attempts, &created, &expires, &c.EventID, &c.IncidentID, &c.IP, &c.DeviceID,
		&c.UserAgent); err != nil {
		return store.Challenge{}, err
	}
	c.Attempts = int(attempts)
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

// nonNil turns a nil slice into an empty one for NOT NULL bytea columns.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nonNilStrings encodes a nil list as [] rather than null, as the SQLite
// backend does for reviews.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

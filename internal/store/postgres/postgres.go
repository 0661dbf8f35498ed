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
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlrec"
)

var _ store.Store = (*Store)(nil)

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
	records // the methods the SQL backends share

	pool  *pgxpool.Pool
	later *later // nil: opened by Open (connected and migrated)
}

// records is sqlrec.Records, embedded under a name of its own.
type records = sqlrec.Records

// Open connects to the database dsn names, brings its schema up to date
// and returns a Store on it. Several instances may Open the same database
// at once: one migrates, the others wait for it.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, simple, err := parseConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	s := newStore(pool, nil)
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

// parseConfig is the pool configuration of dsn and opts, and whether it
// uses the simple protocol.
func parseConfig(dsn string, opts Options) (*pgxpool.Config, bool, error) {
	if opts.MaxConns < 0 {
		return nil, false, fmt.Errorf("opening postgres: max conns %d is negative", opts.MaxConns)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil { // pgx leaves any password out of the message
		return nil, false, fmt.Errorf("opening postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.SimpleProtocol {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	return cfg, cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol, nil
}

func newStore(pool *pgxpool.Pool, l *later) *Store {
	db := pgDB{pool, l}
	return &Store{records: sqlrec.NewRecords(db, db, dialect), pool: pool, later: l}
}

func (s *Store) db() pgDB { return pgDB{s.pool, s.later} }

// where names the database of cfg for messages, without credentials.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// migrate runs the embedded migrations, holding a lock so that concurrent
// Opens migrate once. It uses connections of its own, outside the pool:
// the lock and the migrations (and the lock row's heartbeat) each hold
// one, more than a small pool may have.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, simple bool) error {
	opts := []goose.ProviderOption{goose.WithTableName(migrationTable)}
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
	return sqlrec.Migrate(ctx, goose.DialectPostgres, db, migrations, opts...)
}

// Ping checks that the database answers (and, for a Store of OpenLater,
// that it was migrated).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.later.check(); err != nil {
		return fmt.Errorf("pinging postgres: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pinging postgres: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (s *Store) Close() error {
	s.later.stop()
	s.pool.Close()
	return nil
}

// queued is a batch of statements sent in one round trip, each with what
// it writes for error messages.
type queued struct {
	b   pgx.Batch
	sts []sqlrec.Statement // Query and Args unused: in b
}

func (q *queued) add(label, sql string, args ...any) {
	q.addStatement(sqlrec.Statement{Label: label, Query: sql, Args: args})
}

func (q *queued) addStatement(st sqlrec.Statement) {
	q.b.Queue(sqlrec.Numbered(st.Query), st.Args...)
	st.Query, st.Args = "", nil
	q.sts = append(q.sts, st)
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
	if err := s.later.check(); err != nil {
		return err
	}
	br := s.pool.SendBatch(ctx, &q.b)
	for _, st := range q.sts {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // the error that matters is the statement's
			return dialect.Err(st, err)
		}
	}
	return br.Close()
}

// queueBatch turns b into statements (upserts sorted by key, so that
// concurrent batches lock rows in the same order).
func queueBatch(b store.Batch) (*queued, error) {
	sts, err := dialect.Statements(b)
	if err != nil {
		return nil, err
	}
	q := &queued{}
	for _, st := range sts {
		q.addStatement(st)
	}
	return q, nil
}

// pgDB runs sqlrec's statements on the pool, once a Store of OpenLater
// has reached its database.
type pgDB struct {
	pool  *pgxpool.Pool
	later *later
}

func (d pgDB) QueryRow(ctx context.Context, query string, args ...any) sqlrec.Scanner {
	if err := d.later.check(); err != nil {
		return errRow{err}
	}
	return d.pool.QueryRow(ctx, sqlrec.Numbered(query), args...)
}

func (d pgDB) Query(ctx context.Context, query string, args ...any) (sqlrec.Rows, error) {
	if err := d.later.check(); err != nil {
		return nil, err
	}
	rows, err := d.pool.Query(ctx, sqlrec.Numbered(query), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (d pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := d.later.check(); err != nil {
		return 0, err
	}
	tag, err := d.pool.Exec(ctx, sqlrec.Numbered(query), args...)
	return tag.RowsAffected(), err
}

// errRow is a row that fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

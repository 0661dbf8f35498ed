// Package sqlite provides the embedded store.Store: one SQLite database
// file in WAL mode, its schema kept by versioned migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlrec"
)

var _ store.Store = (*Store)(nil)

// FileName is the name of the database file inside the data directory.
const FileName = "atoguard.db"

// defaultReaders is what Options.MaxReaders 0 means.
const defaultReaders = 4

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
	records // what SQLite shares with PostgreSQL (package sqlrec)

	w *sql.DB // one connection; every write and the migrations
	r *sql.DB // read-only pool

	// batchStmts are the statements of Write, prepared on w, by query.
	batchStmts map[string]*sql.Stmt
}

// records is sqlrec.Records, embedded under a name of its own.
type records = sqlrec.Records

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
	if err := moveLegacyContacts(ctx, s.w); err != nil {
		return fmt.Errorf("migrating sqlite %s: moving contact histories: %w", path, err)
	}
	s.batchStmts = map[string]*sql.Stmt{}
	for _, q := range []string{sqlrec.InsertAuditSQL, sqlrec.PutProfileSQL, sqlrec.PutIncidentSQL,
		sqlrec.PutIncidentAccountSQL, dialect.PutChallenge, sqlrec.InsertReviewSQL, sqlrec.InsertNotificationSQL,
		sqlrec.PutContactsSQL, sqlrec.InsertBatchIDSQL} {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("preparing statements: %w", err)
		}
		s.batchStmts[q] = st
	}
	r, err := sql.Open("sqlite", dsn(path, sync, true))
	if err != nil {
		return fmt.Errorf("opening sqlite %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	s.records = sqlrec.NewRecords(sqlDB{r}, sqlDB{s.w}, dialect)
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

//go:embed migrations/*.sql
var migrations embed.FS

// migrate brings the schema of db up to date.
func migrate(ctx context.Context, db *sql.DB) error {
	return sqlrec.Migrate(ctx, goose.DialectSQLite3, db, migrations)
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
	for _, st := range s.batchStmts {
		errs = append(errs, st.Close())
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
	sts, err := dialect.Statements(b)
	if err != nil {
		return err
	}
	inTx := map[string]*sql.Stmt{}
	for _, st := range sts {
		ps, ok := inTx[st.Query]
		if !ok {
			ps = tx.StmtContext(ctx, s.batchStmts[st.Query])
			inTx[st.Query] = ps
		}
		if _, err := ps.ExecContext(ctx, st.Args...); err != nil {
			return dialect.Err(st, err)
		}
	}
	return nil
}

// sqlDB runs sqlrec's statements on a database/sql pool.
type sqlDB struct{ db *sql.DB }

func (d sqlDB) QueryRow(ctx context.Context, query string, args ...any) sqlrec.Scanner {
	return d.db.QueryRowContext(ctx, query, args...)
}

func (d sqlDB) Query(ctx context.Context, query string, args ...any) (sqlrec.Rows, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d sqlDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqlRows is *sql.Rows as sqlrec.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() } // Err reports what matters

package ssf

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// StateFileName is the federation's own SQLite file in the data
// directory: the streams peers created, the outbox of signed SETs not yet
// delivered, and the jti of every SET received lately (against replays).
// It is this guard's own, like its signing keys, and not part of the
// shop's records: a restore of the records does not replay SETs.
const StateFileName = "ssf.db"

// state is the durable part of the service.
type state struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS streams (
	id      TEXT PRIMARY KEY,
	peer    TEXT NOT NULL UNIQUE,
	config  TEXT NOT NULL,
	status  TEXT NOT NULL,
	reason  TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	stream   TEXT NOT NULL,
	jti      TEXT NOT NULL,
	claims   TEXT NOT NULL, -- the SET's claims, signed (with iat) when delivered
	created  INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_at  INTEGER NOT NULL DEFAULT 0,
	UNIQUE (stream, jti)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (stream, next_at);
CREATE TABLE IF NOT EXISTS seen (
	peer TEXT NOT NULL,
	jti  TEXT NOT NULL,
	at   INTEGER NOT NULL,
	PRIMARY KEY (peer, jti)
);
CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
`

// openState opens (creating) the state file at path.
func openState(path string) (*state, error) {
	q := strings.Join([]string{"_pragma=busy_timeout(5000)", "_pragma=journal_mode(WAL)",
		"_pragma=synchronous(FULL)", "_txlock=immediate"}, "&")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("opening federation state: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; the state is small
	if _, err := db.Exec(schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening federation state %s: %w", path, err)
	}
	return &state{db: db}, nil
}

func (s *state) close() error { return s.db.Close() }

// errNoStream is returned for a stream that does not exist.
var errNoStream = errors.New("no such stream")

// errStreamExists is returned when a peer that has a stream creates
// another.
var errStreamExists = errors.New("the peer already has a stream")

// storedStream is a stream with its status.
type storedStream struct {
	Stream
	Peer   string
	Status string
	Reason string
}

func (s *state) createStream(ctx context.Context, st storedStream, now time.Time) error {
	cfg, err := json.Marshal(st.Stream)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO streams (id, peer, config, status, reason, created) VALUES (?, ?, ?, ?, ?, ?)`,
		st.ID, st.Peer, string(cfg), st.Status, st.Reason, now.UnixNano())
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return errStreamExists
	}
	return err
}

func (s *state) updateStream(ctx context.Context, st storedStream) error {
	cfg, err := json.Marshal(st.Stream)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE streams SET config = ?, status = ?, reason = ? WHERE id = ?`,
		string(cfg), st.Status, st.Reason, st.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNoStream
	}
	return nil
}

func (s *state) deleteStream(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `DELETE FROM streams WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNoStream
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE stream = ?`, id); err != nil {
		return err
	}
	return tx.Commit()
}

// streams returns every stream, or the peer's alone when peer is not
// empty.
func (s *state) streams(ctx context.Context, peer string) ([]storedStream, error) {
	q, args := `SELECT id, peer, config, status, reason FROM streams ORDER BY created`, []any{}
	if peer != "" {
		q, args = `SELECT id, peer, config, status, reason FROM streams WHERE peer = ? ORDER BY created`, []any{peer}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storedStream
	for rows.Next() {
		var st storedStream
		var cfg string
		if err := rows.Scan(&st.ID, &st.Peer, &cfg, &st.Status, &st.Reason); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(cfg), &st.Stream); err != nil {
			return nil, fmt.Errorf("stream %s: %w", st.ID, err)
		}
		st.Stream.ID = st.ID
		out = append(out, st)
	}
	return out, rows.Err()
}

// queued is a SET in the outbox, signed when it is delivered (so that
// queueing costs no signature, and a SET is signed with the key current
// then).
type queued struct {
	Seq      int64
	Stream   string
	JTI      string
	Claims   []byte // JSON; iat is set when it is signed
	Attempts int
}

// enqueue adds SETs to the outbox in one transaction.
func (s *state) enqueue(ctx context.Context, sets []queued, now time.Time) error {
	if len(sets) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range sets {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox (stream, jti, claims, created, next_at) VALUES (?, ?, ?, ?, 0)`,
			q.Stream, q.JTI, string(q.Claims), now.UnixNano()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// due returns up to limit SETs of stream due at now (anyDue: every SET,
// as a poll takes them), oldest first.
func (s *state) due(ctx context.Context, stream string, now time.Time, anyDue bool, limit int) ([]queued, error) {
	by := now.UnixNano()
	if anyDue {
		by = math.MaxInt64
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, stream, jti, claims, attempts FROM outbox
		WHERE stream = ? AND next_at <= ? ORDER BY seq LIMIT ?`, stream, by, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queued
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.Seq, &q.Stream, &q.JTI, &q.Claims, &q.Attempts); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// remove takes SETs of stream out of the outbox (delivered or
// acknowledged) and returns how many were there.
func (s *state) remove(ctx context.Context, stream string, jtis []string) (int, error) {
	if len(jtis) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	n := 0
	for _, j := range jtis {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE stream = ? AND jti = ?`, stream, j)
		if err != nil {
			return 0, err
		}
		c, _ := res.RowsAffected()
		n += int(c)
	}
	return n, tx.Commit()
}

// retry puts a SET off until next after a failed delivery.
func (s *state) retry(ctx context.Context, seq int64, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE seq = ?`, next.UnixNano(), seq)
	return err
}

// depth returns how many SETs wait for each stream.
func (s *state) depth(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT stream, COUNT(*) FROM outbox GROUP BY stream`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// prune drops SETs queued before before and jtis seen before seenBefore;
// it returns how many SETs it dropped.
func (s *state) prune(ctx context.Context, before, seenBefore time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE created < ?`, before.UnixNano())
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM seen WHERE at < ?`, seenBefore.UnixNano()); err != nil {
		return 0, err
	}
	// Bounded: past maxSeenPerPeer jtis of a peer, the oldest go (a
	// replay of one of those within max_age is then taken again: it only
	// renews a fact).
	if _, err := s.db.ExecContext(ctx, `DELETE FROM seen WHERE rowid IN (
		SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER (PARTITION BY peer ORDER BY at DESC) AS n FROM seen) WHERE n > ?)`,
		maxSeenPerPeer); err != nil {
		return 0, err
	}
	return int(n), nil
}

// maxSeenPerPeer bounds the jtis remembered per peer.
var maxSeenPerPeer = 1_000_000

// markSeen records jti from peer at now; false when it was already
// there (a replay).
func (s *state) markSeen(ctx context.Context, peer, jti string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO seen (peer, jti, at) VALUES (?, ?, ?)`, peer, jti, now.UnixNano())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// seen reports whether jti from peer was received (and kept) before.
func (s *state) seen(ctx context.Context, peer, jti string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM seen WHERE peer = ? AND jti = ?`, peer, jti).Scan(&n)
	return n > 0, err
}

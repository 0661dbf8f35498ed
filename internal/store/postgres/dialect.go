package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlrec"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// dialect is how PostgreSQL differs for sqlrec.
var dialect = sqlrec.Dialect{
	NoRows: pgx.ErrNoRows,
	IsUnique: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == uniqueViolation
	},
	Text:     cleanText,
	Greatest: "greatest",
	// A challenge write never takes a passed, locked or expired challenge
	// back to pending, nor lowers its attempts, so that journals replayed
	// by several instances after an outage, in any order, cannot reopen
	// one.
	PutChallenge: sqlrec.PutChallengeSQL + `
		WHERE challenges.state = 'pending' AND (excluded.state <> 'pending' OR excluded.attempts >= challenges.attempts)`,
	SortUpserts: true,
}

// ScanFactors returns up to limit factors with an ID after after, by ID;
// every one for a limit <= 0.
func (s *Store) ScanFactors(ctx context.Context, after string, limit int) ([]store.Factor, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = int64(limit)
	}
	return sqlrec.List(ctx, s.db(), "scanning factors", sqlrec.ScanFactor,
		`SELECT `+sqlrec.FactorColumns+` FROM factors WHERE id > $1 ORDER BY id LIMIT $2::bigint`, after, lim)
}

// PutRecoveryCodes replaces the recovery codes of userID. Concurrent
// replacements for one user take turns (a transaction advisory lock), so
// one whole set wins.
func (s *Store) PutRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) error {
	for _, c := range codes {
		if err := sqlrec.CheckTimes(c.CreatedAt, c.UsedAt); err != nil {
			return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
		}
	}
	// One implicit transaction (see runBatch); the advisory lock lasts
	// until it ends.
	var q queued
	q.add("locking", `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(recoveryLockClass), userID)
	q.add("deleting", `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
	for i, c := range codes {
		q.add(fmt.Sprintf("code %d", i), `INSERT INTO recovery_codes (user_id, seq, hash, created_at, used_at)
			VALUES ($1, $2, $3, $4, $5)`, userID, int64(i), sqlrec.NonNil(c.Hash), sqlrec.UnixNano(c.CreatedAt),
			sqlrec.UnixNano(c.UsedAt))
	}
	err := s.runBatch(ctx, &q)
	if err != nil {
		return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
	}
	return nil
}

const (
	// claimSQL leases due notifications in one statement. FOR UPDATE SKIP
	// LOCKED passes over rows another claim holds, and PostgreSQL checks
	// the WHERE clause again on a row a committed claim moved, so no two
	// claims return the same notification while its lease runs. The
	// RETURNING list ends with the due time before the claim, to order by.
	claimSQL = `WITH due AS (
			SELECT id, next_attempt_at FROM notifications
			WHERE state = $1 AND next_attempt_at <= $2
			ORDER BY next_attempt_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE notifications n SET attempts = n.attempts + 1, next_attempt_at = $4
		FROM due WHERE n.id = due.id
		RETURNING n.id, n.dedupe_key, n.kind, n.channel, n.recipient, n.account, n.payload,
			n.created_at, n.next_attempt_at, n.attempts, n.state, n.last_error, n.sent_at,
			due.next_attempt_at`
)

// ClaimNotifications leases up to limit due pending notifications in one
// statement; see store.NotificationStore. Claims from any number of
// Stores on the database never return the same notification during its
// lease.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Notification, error) {
	if limit <= 0 {
		return nil, nil
	}
	until := now.Add(lease)
	if err := sqlrec.CheckTimes(now, until); err != nil {
		return nil, fmt.Errorf("claiming notifications: %w", err)
	}
	type claimed struct {
		n   store.Notification
		due int64
	}
	out, err := sqlrec.List(ctx, s.db(), "claiming notifications", func(sc sqlrec.Scanner) (claimed, error) {
		var c claimed
		n, err := sqlrec.ScanNotificationPlus(sc, &c.due)
		c.n = n
		return c, err
	}, claimSQL, store.NotificationPending, sqlrec.UnixNano(now), int64(limit), sqlrec.UnixNano(until))
	if err != nil {
		return nil, err
	}
	// RETURNING has no order: restore the claim's.
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.due, b.due), strings.Compare(a.n.ID, b.n.ID))
	})
	ns := make([]store.Notification, len(out))
	for i, c := range out {
		ns[i] = c.n
	}
	return ns, nil
}

// cleanText makes s storable as PostgreSQL text: invalid UTF-8 and NUL
// characters become U+FFFD.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

const reviewColumns = `id, event_id, user_id, session_id, order_id, amount, currency, reasons,
	incident_id, state, created_at, decided_at, decided_by, note`

// queueReviews inserts held orders in the batch's transaction; a review
// whose id is stored already is skipped.
func queueReviews(q *queued, rs []store.Review) error {
	for _, r := range rs {
		label := fmt.Sprintf("review %q", r.ID)
		if err := checkTimes(r.CreatedAt, r.DecidedAt); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		reasons, err := json.Marshal(nonNilStrings(r.Reasons))
		if err != nil {
			return fmt.Errorf("%s: encoding reasons: %w", label, err)
		}
		state := r.State
		if state == "" {
			state = store.ReviewPending
		}
		q.add(label, `INSERT INTO reviews (`+reviewColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.EventID, r.UserID, r.SessionID, r.OrderID, r.Amount, r.Currency, string(reasons),
			r.IncidentID, state, unixNano(r.CreatedAt), unixNano(r.DecidedAt), r.DecidedBy, r.Note)
	}
	return nil
}

func scanReview(sc scanner) (store.Review, error) {
	var r store.Review
	var reasons string
	var created, decided int64
	if err := sc.Scan(&r.ID, &r.EventID, &r.UserID, &r.SessionID, &r.OrderID, &r.Amount, &r.Currency, &reasons,
		&r.IncidentID, &r.State, &created, &decided, &r.DecidedBy, &r.Note); err != nil {
		return store.Review{}, err
	}
	if err := json.Unmarshal([]byte(reasons), &r.Reasons); err != nil {
		return store.Review{}, fmt.Errorf("review %q: decoding reasons: %w", r.ID, err)
	}
	r.CreatedAt, r.DecidedAt = fromUnixNano(created), fromUnixNano(decided)
	return r, nil
}

// ListReviews returns the reviews in state ("" for all), newest first.
func (s *Store) ListReviews(ctx context.Context, state string) ([]store.Review, error) {
	q := `SELECT ` + reviewColumns + ` FROM reviews`
	var args []any
	if state != "" {
		q += ` WHERE state = $1`
		args = append(args, state)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	return list(ctx, s.pool, "listing reviews", scanReview, q, args...)
}

// GetReview returns the review with id or store.ErrNotFound.
func (s *Store) GetReview(ctx context.Context, id string) (store.Review, error) {
	r, err := scanReview(s.pool.QueryRow(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE id = $1`, id))
	if err != nil {
		return store.Review{}, lookupErr("review", id, err)
	}
	return r, nil
}

// DecideReview decides a pending review; see store.ReviewStore. Of
// concurrent decisions on any Stores of the database, one wins: the
// pending condition is checked again on a row a concurrent decision
// changed.
func (s *Store) DecideReview(ctx context.Context, id, state, by, note string, at time.Time) (bool, error) {
	if err := checkTimes(at); err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE reviews SET state = $1, decided_by = $2, note = $3, decided_at = $4
		WHERE id = $5 AND state = $6`, state, by, note, unixNano(at), id, store.ReviewPending)
	if err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var one int32
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM reviews WHERE id = $1`, id).Scan(&one); err != nil {
		return false, lookupErr("review", id, err)
	}
	return false, nil
}

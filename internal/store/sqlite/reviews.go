package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

const reviewColumns = `id, event_id, user_id, session_id, order_id, amount, currency, reasons,
	incident_id, state, created_at, decided_at, decided_by, note`

// writeReviews inserts held orders inside the batch's transaction; a review
// whose id is stored already is skipped.
func writeReviews(ctx context.Context, tx *sql.Tx, rs []store.Review) error {
	if len(rs) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO reviews (`+reviewColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("preparing review insert: %w", err)
	}
	defer st.Close()
	for _, r := range rs {
		if err := checkTimes(r.CreatedAt, r.DecidedAt); err != nil {
			return fmt.Errorf("review %q: %w", r.ID, err)
		}
		reasons, err := json.Marshal(nonNilStrings(r.Reasons))
		if err != nil {
			return fmt.Errorf("review %q: encoding reasons: %w", r.ID, err)
		}
		state := r.State
		if state == "" {
			state = store.ReviewPending
		}
		if _, err := st.ExecContext(ctx, r.ID, r.EventID, r.UserID, r.SessionID, r.OrderID, r.Amount, r.Currency,
			string(reasons), r.IncidentID, state, unixNano(r.CreatedAt), unixNano(r.DecidedAt), r.DecidedBy, r.Note); err != nil {
			return fmt.Errorf("review %q: %w", r.ID, err)
		}
	}
	return nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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
	q := `SELECT ` + reviewColumns + ` FROM reviews WHERE (? = '' OR state = ?) ORDER BY created_at DESC, id DESC`
	return list(ctx, s.r, "reviews", scanReview, q, state, state)
}

// GetReview returns the review with id or store.ErrNotFound.
func (s *Store) GetReview(ctx context.Context, id string) (store.Review, error) {
	r, err := scanReview(s.r.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE id = ?`, id))
	if err != nil {
		return store.Review{}, lookupErr("review", id, err)
	}
	return r, nil
}

// DecideReview decides a pending review; see store.ReviewStore.
func (s *Store) DecideReview(ctx context.Context, id, state, by, note string, at time.Time) (bool, error) {
	if err := checkTimes(at); err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE reviews SET state = ?, decided_by = ?, note = ?, decided_at = ?
		WHERE id = ? AND state = ?`, state, by, note, unixNano(at), id, store.ReviewPending)
	if err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("deciding review %q: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	if _, err := s.GetReview(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

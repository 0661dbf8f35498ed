package memory

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

func copyReview(r store.Review) store.Review {
	r.Reasons = slices.Clone(r.Reasons)
	r.CreatedAt, r.DecidedAt = utc(r.CreatedAt), utc(r.DecidedAt)
	return r
}

func (s *Store) addReviewLocked(r store.Review) {
	if s.reviews == nil {
		s.reviews = make(map[string]store.Review)
	}
	if _, ok := s.reviews[r.ID]; ok {
		return
	}
	if r.State == "" {
		r.State = store.ReviewPending
	}
	s.reviews[r.ID] = copyReview(r)
}

// ListReviews returns the reviews in state ("" for all), newest first.
func (s *Store) ListReviews(ctx context.Context, state string) ([]store.Review, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.Review
	for _, r := range s.reviews {
		if state == "" || r.State == state {
			out = append(out, copyReview(r))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// GetReview returns the review with id or store.ErrNotFound.
func (s *Store) GetReview(ctx context.Context, id string) (store.Review, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.reviews[id]
	if !ok {
		return store.Review{}, store.ErrNotFound
	}
	return copyReview(r), nil
}

// DecideReview decides a pending review; see store.ReviewStore.
func (s *Store) DecideReview(ctx context.Context, id, state, by, note string, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reviews[id]
	if !ok {
		return false, store.ErrNotFound
	}
	if r.State != store.ReviewPending {
		return false, nil
	}
	r.State, r.DecidedBy, r.Note, r.DecidedAt = state, by, note, utc(at)
	s.reviews[id] = r
	return true, nil
}

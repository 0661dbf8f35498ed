package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/store"
)

// testReviews checks held orders: write once, list by state newest first,
// decide once.
func testReviews(t *testing.T, s store.Store) {
	ctx := context.Background()
	jst := time.FixedZone("JST", 9*3600)
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 123456789, jst)
	r1 := store.Review{ID: "rv_1", EventID: "ev_1", UserID: "u-1", SessionID: "s-1", OrderID: "o-1", Amount: 131800,
		Currency: "JPY", Reasons: []string{"order.contact_changed", "order.high_value"}, IncidentID: "inc_1",
		State: store.ReviewPending, CreatedAt: t0}
	r2 := store.Review{ID: "rv_2", EventID: "ev_2", UserID: "u-2", OrderID: "o-2", Amount: 2480, Currency: "JPY",
		Reasons: []string{"order.drop_point"}, State: store.ReviewPending, CreatedAt: t0.Add(time.Minute)}
	if err := s.Write(ctx, store.Batch{Reviews: []store.Review{r1, r2}}); err != nil {
		t.Fatal(err)
	}
	// Writing the same id again keeps the first.
	dup := r1
	dup.Amount = 1
	if err := s.Write(ctx, store.Batch{Reviews: []store.Review{dup}}); err != nil {
		t.Fatal(err)
	}
	opt := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	got, err := s.ListReviews(ctx, store.ReviewPending)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Review{r2, r1}, got, opt); diff != "" {
		t.Errorf("ListReviews(pending) (-want +got):\n%s", diff)
	}
	got[0].Reasons[0] = "mutated"
	if again, _ := s.GetReview(ctx, "rv_2"); again.Reasons[0] != "order.drop_point" {
		t.Error("a returned review shares memory with the store")
	}

	at := t0.Add(time.Hour)
	ok, err := s.DecideReview(ctx, "rv_1", store.ReviewRejected, "ops@example.jp", "victim confirmed", at)
	if err != nil || !ok {
		t.Fatalf("DecideReview = %v, %v; want true", ok, err)
	}
	if ok, err := s.DecideReview(ctx, "rv_1", store.ReviewApproved, "other", "", at); err != nil || ok {
		t.Errorf("second DecideReview = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.DecideReview(ctx, "rv_missing", store.ReviewApproved, "x", "", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DecideReview(missing) error = %v, want ErrNotFound", err)
	}
	want := r1
	want.State, want.DecidedBy, want.Note, want.DecidedAt = store.ReviewRejected, "ops@example.jp", "victim confirmed", at
	if got, err := s.GetReview(ctx, "rv_1"); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("decided review (-want +got):\n%s", diff)
	}
	if _, err := s.GetReview(ctx, "rv_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetReview(missing) error = %v, want ErrNotFound", err)
	}
	if all, _ := s.ListReviews(ctx, ""); len(all) != 2 {
		t.Errorf("ListReviews(\"\") = %d reviews, want 2", len(all))
	}
	if pending, _ := s.ListReviews(ctx, store.ReviewPending); len(pending) != 1 || pending[0].ID != "rv_2" {
		t.Errorf("pending after a decision: %+v", pending)
	}
}

package api_test

import (
	"net/http"
	"testing"
	"time"
)

// TestReviewQueue holds an order through the API, lists it, decides it
// once, and refuses a second decision.
func TestReviewQueue(t *testing.T) {
	f := newFixture(t, options{})
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	ctx := obj{"ip": "203.0.113.7", "device_id": "d-1", "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "accept_language": "ja-JP"}
	home := obj{"name": "山田 太郎", "postal_code": "100-0001", "country": "JP", "region": "東京都", "city": "千代田区", "line1": "千代田1-1"}
	order := func(id string, amount int64, sku string) obj {
		return obj{"order": obj{"id": id, "amount": amount, "currency": "JPY",
			"items":    []obj{{"sku": sku, "quantity": 1, "unit_price": amount}},
			"shipping": home, "payment": obj{"method": "card"}, "delivery": obj{"method": "home"}}}
	}
	steps := []struct {
		ev   obj
		want string
	}{
		{obj{"type": "login.succeeded", "occurred_at": at(0), "login": "taro@example.jp", "user": obj{"id": "u-1"}, "session_id": "s-1", "context": ctx}, "allow"},
		{obj{"type": "order.attempt", "occurred_at": at(time.Minute), "user": obj{"id": "u-1"}, "session_id": "s-1", "context": ctx, "properties": order("o-1", 1980, "usb-c-cable-1m")}, "allow"},
		{obj{"type": "profile.updated", "occurred_at": at(time.Hour), "user": obj{"id": "u-1"}, "session_id": "s-1", "context": ctx, "properties": obj{"fields": []string{"email"}}}, "allow"},
		{obj{"type": "order.attempt", "occurred_at": at(2 * time.Hour), "user": obj{"id": "u-1"}, "session_id": "s-1", "context": ctx, "properties": order("o-2", 131800, "iphone-x-256-silver")}, "review"},
	}
	var reviewID string
	for i, s := range steps {
		rec := f.do(t, request{"POST", "/v1/events", bearer(eventsSecret), mustJSON(s.ev)})
		if rec.Code != http.StatusOK {
			t.Fatalf("step %d: status %d: %s", i, rec.Code, rec.Body)
		}
		r := decodeJSON[struct {
			Decision string `json:"decision"`
			ReviewID string `json:"review_id"`
		}](t, rec)
		if r.Decision != s.want {
			t.Fatalf("step %d: decision %s, want %s", i, r.Decision, s.want)
		}
		reviewID = r.ReviewID
	}
	if reviewID == "" {
		t.Fatal("a held order has no review_id")
	}

	type review struct {
		ID        string     `json:"id"`
		State     string     `json:"state"`
		OrderID   string     `json:"order_id"`
		DecidedBy string     `json:"decided_by"`
		Note      string     `json:"note"`
		Reasons   []string   `json:"reasons"`
		DecidedAt *time.Time `json:"decided_at"`
	}
	list := decodeJSON[[]review](t, f.do(t, request{"GET", "/v1/reviews?state=pending", bearer(adminSecret), ""}))
	if len(list) != 1 || list[0].ID != reviewID || list[0].State != "pending" || list[0].OrderID != "o-2" || len(list[0].Reasons) == 0 {
		t.Fatalf("pending reviews = %+v", list)
	}
	if rec := f.do(t, request{"GET", "/v1/reviews", bearer(eventsSecret), ""}); rec.Code != http.StatusForbidden {
		t.Errorf("events key listing reviews: %d, want 403", rec.Code)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"action": "maybe"}`, "action"},
		{`{"action": "approve", "extra": 1}`, ""},
	} {
		if rec := f.do(t, request{"POST", "/v1/reviews/" + reviewID, bearer(adminSecret), bad.body}); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad.body, rec.Code)
		}
	}
	rec := f.do(t, request{"POST", "/v1/reviews/" + reviewID, bearer(adminSecret), `{"action": "reject", "note": "owner did not order"}`})
	if rec.Code != http.StatusOK {
		t.Fatalf("decide: %d %s", rec.Code, rec.Body)
	}
	got := decodeJSON[review](t, rec)
	if got.State != "rejected" || got.DecidedBy != "ops" || got.Note != "owner did not order" || got.DecidedAt == nil {
		t.Errorf("decided review = %+v", got)
	}
	if rec := f.do(t, request{"POST", "/v1/reviews/" + reviewID, bearer(adminSecret), `{"action": "approve"}`}); rec.Code != http.StatusConflict {
		t.Errorf("second decision: %d, want 409", rec.Code)
	}
	if rec := f.do(t, request{"POST", "/v1/reviews/rv_nope", bearer(adminSecret), `{"action": "approve"}`}); rec.Code != http.StatusNotFound {
		t.Errorf("unknown review: %d, want 404", rec.Code)
	}
	if rec := f.do(t, request{"GET", "/v1/reviews?state=bogus", bearer(adminSecret), ""}); rec.Code != http.StatusBadRequest {
		t.Errorf("bad state: %d, want 400", rec.Code)
	}
}

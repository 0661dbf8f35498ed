package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atoguard/atoguard/internal/store"
)

type reviewJSON struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	EventID    string     `json:"event_id"`
	UserID     string     `json:"user_id"`
	SessionID  string     `json:"session_id,omitempty"`
	OrderID    string     `json:"order_id"`
	Amount     int64      `json:"amount"`
	Currency   string     `json:"currency"`
	Reasons    []string   `json:"reasons"`
	IncidentID string     `json:"incident_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	DecidedAt  *time.Time `json:"decided_at"`
	DecidedBy  string     `json:"decided_by,omitempty"`
	Note       string     `json:"note,omitempty"`
}

func toReviewJSON(r store.Review) reviewJSON {
	out := reviewJSON{
		ID: r.ID, State: r.State, EventID: r.EventID, UserID: r.UserID, SessionID: r.SessionID, OrderID: r.OrderID,
		Amount: r.Amount, Currency: r.Currency, Reasons: r.Reasons, IncidentID: r.IncidentID, CreatedAt: r.CreatedAt,
		DecidedBy: r.DecidedBy, Note: r.Note,
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if !r.DecidedAt.IsZero() {
		t := r.DecidedAt
		out.DecidedAt = &t
	}
	return out
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request) error {
	state := r.URL.Query().Get("state")
	switch state {
	case "", store.ReviewPending, store.ReviewApproved, store.ReviewRejected:
	default:
		p := problem(http.StatusBadRequest, "invalid-field", "state must be pending, approved or rejected")
		p.Field = "state"
		return p
	}
	rs, err := s.records.ListReviews(r.Context(), state)
	if err != nil {
		return fmt.Errorf("listing reviews: %w", err)
	}
	out := make([]reviewJSON, len(rs))
	for i := range rs {
		out[i] = toReviewJSON(rs[i])
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) review(r *http.Request) (store.Review, error) {
	id := r.PathValue("id")
	rv, err := s.records.GetReview(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Review{}, problem(http.StatusNotFound, "not-found", fmt.Sprintf("no review %q", id))
	}
	if err != nil {
		return store.Review{}, fmt.Errorf("loading review: %w", err)
	}
	return rv, nil
}

func (s *Server) getReview(w http.ResponseWriter, r *http.Request) error {
	rv, err := s.review(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toReviewJSON(rv))
}

const maxNote = 1000

// decideReview approves or rejects a held order, recording who (the API
// key's name) and when.
func (s *Server) decideReview(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Action string `json:"action"`
		Note   string `json:"note"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return problem(http.StatusBadRequest, "invalid-json", "body must be {\"action\": \"approve\"|\"reject\", \"note\": \"...\"}: "+err.Error())
	}
	var state string
	switch in.Action {
	case "approve":
		state = store.ReviewApproved
	case "reject":
		state = store.ReviewRejected
	default:
		p := problem(http.StatusBadRequest, "invalid-field", "action must be approve or reject")
		p.Field = "action"
		return p
	}
	if len(in.Note) > maxNote || !utf8.ValidString(in.Note) || strings.ContainsRune(in.Note, 0) {
		p := problem(http.StatusBadRequest, "invalid-field", fmt.Sprintf("note must be valid text of at most %d bytes", maxNote))
		p.Field = "note"
		return p
	}
	rv, err := s.review(r)
	if err != nil {
		return err
	}
	key, _ := r.Context().Value(ctxKey{}).(store.APIKey)
	by := key.Name
	if by == "" {
		by = key.ID
	}
	ok, err := s.records.DecideReview(r.Context(), rv.ID, state, by, in.Note, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("deciding review: %w", err)
	}
	if !ok {
		return problem(http.StatusConflict, "conflict", fmt.Sprintf("review %q is already %s", rv.ID, rv.State))
	}
	rv, err = s.review(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toReviewJSON(rv))
}

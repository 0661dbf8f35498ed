package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem detail. Cause is logged, never sent.
type Problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail"`
	Field      string `json:"field,omitempty"`
	RetryAfter int    `json:"-"`
	Cause      error  `json:"-"`
}

func (p *Problem) Error() string { return p.Detail }

func (p *Problem) Unwrap() error { return p.Cause }

// problem returns a problem with a stable type suffix.
func problem(status int, kind, detail string) *Problem {
	return &Problem{Type: "about:blank#" + kind, Title: http.StatusText(status), Status: status, Detail: detail}
}

// handlerFunc is an HTTP handler that returns its error to one adapter.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt turns a handlerFunc into an http.Handler: a returned *Problem is
// sent as problem JSON; any other error becomes a 500 whose cause is
// logged but not sent.
func adapt(log *slog.Logger, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var p *Problem
		if !errors.As(err, &p) {
			p = problem(http.StatusInternalServerError, "internal", "internal error")
			p.Cause = err
		}
		level := slog.LevelInfo
		if p.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", p.Status, "type", p.Type}
		if p.Cause != nil {
			attrs = append(attrs, "cause", p.Cause.Error())
		}
		log.Log(r.Context(), level, "request failed", attrs...)
		writeProblem(w, p)
	})
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
	return nil
}

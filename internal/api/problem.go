package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	// Named apart from this package's problem constructor.
	rfc9457 "github.com/atoguard/atoguard/internal/problem"
)

// Problem is an RFC 9457 problem detail. Cause is logged, never sent.
type Problem = rfc9457.Problem

// problem returns a problem with a stable type suffix.
func problem(status int, kind, detail string) *Problem { return rfc9457.New(status, kind, detail) }

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
		p := rfc9457.From(err)
		level := slog.LevelInfo
		if p.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", p.Status, "type", p.Type}
		if p.Cause != nil {
			attrs = append(attrs, "cause", p.Cause.Error())
		}
		log.Log(r.Context(), level, "request failed", attrs...)
		rfc9457.Write(w, p)
	})
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

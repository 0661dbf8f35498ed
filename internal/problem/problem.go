// Package problem provides RFC 9457 problem details: the one shape in
// which the guard's HTTP handlers answer an error.
package problem

import (
	"encoding/json"
	"errors"
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
	RetryAfter int    `json:"-"` // seconds; sent as Retry-After when over 0
	Cause      error  `json:"-"`
}

func (p *Problem) Error() string { return p.Detail }

func (p *Problem) Unwrap() error { return p.Cause }

// New returns a problem of status whose type is about:blank#kind, a
// stable suffix clients branch on, and whose title is the status text.
func New(status int, kind, detail string) *Problem {
	return &Problem{Type: "about:blank#" + kind, Title: http.StatusText(status), Status: status, Detail: detail}
}

// From returns the problem err is or wraps; any other error becomes a
// 500 "internal error" whose cause is err, to be logged but not sent.
func From(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	p = New(http.StatusInternalServerError, "internal", "internal error")
	p.Cause = err
	return p
}

// Write sends p as application/problem+json, with Retry-After when p
// has one.
func Write(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

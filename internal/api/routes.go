package api

import (
	"net/http"
	"slices"
)

// router is the API's http.ServeMux that remembers the patterns it was
// given, so the routes the server serves can be listed (Server.Routes)
// and checked against the documented contract (docs/openapi.yaml).
type router struct {
	mux      *http.ServeMux
	patterns []string
}

func newRouter() *router { return &router{mux: http.NewServeMux()} }

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (r *router) Handle(pattern string, h http.Handler) {
	r.mux.Handle(pattern, h)
	r.patterns = append(r.patterns, pattern)
}

// HandleFunc registers f for pattern, as http.ServeMux.HandleFunc does.
func (r *router) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(f))
}

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// Routes returns the patterns the server registered, in the syntax of
// http.ServeMux ("POST /v1/events", "GET /v1/incidents/{id}"), in the
// order they were registered. The catch-all "/v1/" (an unknown route
// answered 404 with problem JSON) is among them.
func (s *Server) Routes() []string { return slices.Clone(s.mux.patterns) }

package api

import (
	"net/http"
	"net/http/pprof"
)

// serveProfiles registers the Go runtime's profiles (net/http/pprof) for
// `go tool pprof`: the CPU profile (?seconds=N, default 30), the heap
// (live objects) and allocs (everything allocated since start). Like
// /metrics, they are served to loopback clients or with the internal
// token only: a profile names the code, not the data, but taking one
// costs CPU.
func (s *Server) serveProfiles() {
	for _, p := range []struct {
		path string
		h    http.Handler
	}{
		{"/debug/pprof/profile", http.HandlerFunc(pprof.Profile)},
		{"/debug/pprof/heap", pprof.Handler("heap")},
		{"/debug/pprof/allocs", pprof.Handler("allocs")},
	} {
		s.mux.Handle("GET "+p.path, adapt(s.log, func(w http.ResponseWriter, r *http.Request) error {
			if !s.internal(r) {
				return problem(http.StatusForbidden, "forbidden", "profiles are served to loopback clients or with the internal token")
			}
			p.h.ServeHTTP(w, r)
			return nil
		}))
	}
}

package api_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The contract, loaded once for every test of the package.
var (
	contractOnce   sync.Once
	contractRouter routers.Router
	contractErr    error
)

func loadContract() (routers.Router, error) {
	contractOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(specPath)
		if err != nil {
			contractErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = err
			return
		}
		doc.Servers = nil // match the paths on any host: tests serve example.com
		contractRouter, contractErr = gorillamux.NewRouter(doc)
	})
	return contractRouter, contractErr
}

// contractOptions: the API key is the handler's to check (the tests send
// none, wrong and disabled ones on purpose), every status must be
// documented, and every error is reported.
var contractOptions = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true,
	MultiError:            true,
}

// validated wraps h so that every request a test sends and every answer
// it gets are checked against docs/openapi.yaml with kin-openapi: the
// answer must match the documented status, headers and body schema of its
// operation; a request the spec rejects must be rejected by the server
// too (4xx), and a request for no documented operation must get a 4xx.
// A request the spec accepts may still be refused (the spec cannot say,
// say, that context.ip parses): the answer is then checked as any other.
// The checks run when the test ends, so they do not slow the requests
// down (the rate-limit tests count on back-to-back requests).
func validated(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	router, err := loadContract()
	if err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	var (
		mu   sync.Mutex
		seen []exchange
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range seen {
			x.check(t, router)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body.Close()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		x := exchange{req: r.Clone(context.Background()), body: body}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		x.status, x.header, x.answer = res.StatusCode, res.Header.Clone(), rec.Body.Bytes()
		mu.Lock()
		seen = append(seen, x)
		mu.Unlock()

		maps.Copy(w.Header(), res.Header)
		w.WriteHeader(res.StatusCode)
		w.Write(x.answer)
	})
}

// exchange is one request a test sent and the answer it got.
type exchange struct {
	req    *http.Request
	body   []byte
	status int
	header http.Header
	answer []byte
}

// check validates the exchange against the contract (see validated).
func (x exchange) check(t testing.TB, router routers.Router) {
	t.Helper()
	r := x.req
	r.Body = io.NopCloser(bytes.NewReader(x.body))
	what := r.Method + " " + r.URL.RequestURI()
	is4xx := x.status >= 400 && x.status <= 499
	route, params, err := router.FindRoute(r)
	if err != nil {
		if !is4xx {
			t.Errorf("contract: %s is no documented operation (%v), but the server answered %d", what, err, x.status)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: contractOptions}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil && !is4xx {
		t.Errorf("contract: %s: the spec rejects the request, but the server answered %d:\n%v\nrequest body: %s", what, x.status, err, truncate(x.body))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: x.status, Header: x.header,
		Body: io.NopCloser(bytes.NewReader(x.answer)), Options: contractOptions,
	}
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		t.Errorf("contract: %s: the answer %d does not match the spec:\n%v\nanswer body: %s", what, x.status, err, truncate(x.answer))
	}
}

func truncate(b []byte) []byte {
	if len(b) > 2000 {
		return append(b[:2000:2000], "…"...)
	}
	return b
}

// TestContractCatchesDrift checks that the validator is wired: an answer
// the spec does not allow is reported.
func TestContractCatchesDrift(t *testing.T) {
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok","surprise":1}`))
	})
	for _, tt := range []struct {
		name, method, path string
		handler            http.Handler
	}{
		{"undocumented status", "GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })},
		{"answer without the decision", "POST", "/v1/events", bad},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := &recordingTB{TB: t}
			t.Cleanup(func() { // after validated's checks, which run at cleanup
				if !rt.failed {
					t.Errorf("validated did not report %s", tt.name)
				}
			})
			h := validated(rt, tt.handler)
			req := httptest.NewRequest(tt.method, tt.path, bytes.NewReader([]byte(eventJSON(nil))))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(httptest.NewRecorder(), req)
		})
	}
}

// recordingTB notes Errorf instead of failing the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(format string, args ...any) { r.failed = true }

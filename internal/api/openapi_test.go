package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// The documented contract, relative to this package.
var (
	specPath = filepath.Join("..", "..", "docs", "openapi.yaml")
	docPath  = filepath.Join("..", "..", "docs", "api.md")
)

// catchAll is the one method-less pattern the server registers: any other
// /v1 request is answered 404 with problem JSON. It is no route of its own
// and is not in the spec.
const catchAll = "/v1/"

// fullServer is the API with every optional part the guard gives it
// (step-up, breached-password ranges), as `atoguard serve` runs it, so
// that every route is registered.
func fullServer(t *testing.T) *api.Server {
	t.Helper()
	st := memory.New()
	sum := sha256.Sum256([]byte(federationSecret))
	if err := st.PutKey(context.Background(), store.APIKey{ID: "key_shop_b", Name: "shop-b", Hash: sum[:],
		Scopes: []string{store.ScopeFederation}}); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.New(clock.Event, nil)
	key := bytes.Repeat([]byte{7}, 32)
	eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clk, Policy: pol, Records: st, Writer: st, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := stepup.ParseKeys(stepup.NewKeyEntry("k1"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := stepup.New(stepup.Config{}, eng.ChallengeSettings(), clk, st, eng, keys, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := breach.OpenCorpus(filepath.Join(t.TempDir(), "idx"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { corpus.Close() })
	srv, err := api.New(api.Config{}, api.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engine: eng, Records: st, StepUp: svc, Ranges: corpus, Routes: federationRoutes(t)})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// federationSecret is the API key of peer shop-b (scope federation) in
// fullServer's records.
const federationSecret = "agk_shop-b-federation"

// federationRoutes are the Shared Signals routes of a guard with a peer
// shop-b, mounted as the guard mounts them.
func federationRoutes(t *testing.T) []api.Route {
	t.Helper()
	fed, err := ssf.New(ssf.Config{Issuer: "http://127.0.0.1:8080", Peers: []ssf.Peer{{Name: "shop-b",
		Issuer: "https://shop-b.example", Send: federation.Kinds}}},
		ssf.Deps{Log: slog.New(slog.DiscardHandler), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fed.Close() })
	var out []api.Route
	for _, rt := range fed.Routes() {
		r := api.Route{Pattern: rt.Pattern, Serve: rt.Serve}
		if rt.Authorized {
			r.Scope = store.ScopeFederation
		}
		out = append(out, r)
	}
	return out
}

type spec struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Schemas struct {
			EventType struct {
				Enum []string `yaml:"enum"`
			} `yaml:"EventType"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

func readSpec(t *testing.T) spec {
	t.Helper()
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var s spec
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	return s
}

// operations returns the spec's operations as ServeMux patterns
// ("POST /v1/events"), sorted.
func (s spec) operations() []string {
	var out []string
	for path, item := range s.Paths {
		for key := range item {
			switch key {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				out = append(out, strings.ToUpper(key)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIPathsMatchRoutes checks that docs/openapi.yaml documents
// exactly the routes the server registers: every method and path, and
// nothing it does not serve.
func TestOpenAPIPathsMatchRoutes(t *testing.T) {
	srv := fullServer(t)
	var served []string
	for _, p := range srv.Routes() {
		method, path, ok := strings.Cut(p, " ")
		switch {
		case !ok && (p == catchAll || p == "/"):
			continue // the 404 problem for every other path
		case !ok || method == "" || !strings.HasPrefix(path, "/"):
			t.Errorf("route %q has no method: it serves every method, which the spec cannot say; register it per method", p)
			continue
		}
		served = append(served, method+" "+path)
	}
	slices.Sort(served)
	if len(served) == 0 {
		t.Fatal("the server registered no routes")
	}
	documented := readSpec(t).operations()
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("the server serves %s, but %s does not document it", r, specPath)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("%s documents %s, but the server does not serve it", specPath, op)
		}
	}
}

var pathParam = regexp.MustCompile(`\{[a-z_]+\}`)

// TestOpenAPIOperationsAreRouted sends a request for every documented
// operation (path parameters filled in) and checks that a real route
// answers it, not the 404 of unknown /v1 routes nor a 405: the spec's path
// syntax means what the server's patterns mean.
func TestOpenAPIOperationsAreRouted(t *testing.T) {
	h := validated(t, fullServer(t).Handler())
	for _, op := range readSpec(t).operations() {
		method, path, _ := strings.Cut(op, " ")
		target := pathParam.ReplaceAllStringFunc(path, func(p string) string {
			if p == "{prefix}" {
				return "21BD1"
			}
			return "x_" + strings.Trim(p, "{}")
		})
		if path == "/debug/pprof/profile" {
			target += "?seconds=1" // not the default 30
		}
		w := httptest.NewRecorder()
		req := httptest.NewRequest(method, target, nil)
		req.RemoteAddr = "127.0.0.1:40000" // /metrics is served to loopback clients
		h.ServeHTTP(w, req)
		body := w.Body.String()
		switch {
		case w.Code == http.StatusMethodNotAllowed:
			t.Errorf("%s %s: 405", method, target)
		case strings.Contains(body, "no route "):
			t.Errorf("%s %s: not routed: %s", method, target, body)
		case strings.HasPrefix(path, "/v1/") && w.Code != http.StatusUnauthorized:
			t.Errorf("%s %s without a key: %d, want 401: %s", method, target, w.Code, body)
		case !strings.HasPrefix(path, "/v1/") && w.Code != http.StatusOK:
			t.Errorf("%s %s: %d, want 200: %s", method, target, w.Code, body)
		}
	}
}

// TestOpenAPIEventTypes checks the spec's EventType enum against the event
// types the decoder takes.
func TestOpenAPIEventTypes(t *testing.T) {
	got := readSpec(t).Components.Schemas.EventType.Enum
	var want []string
	for _, typ := range event.Types {
		want = append(want, string(typ))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: components.schemas.EventType.enum = %v, want the types of package event %v", specPath, got, want)
	}
}

// docReasonRow is a row of the reason-code table of docs/api.md.
var docReasonRow = regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|")

// TestAPIDocReasonCodes checks that docs/api.md lists every reason code
// the policy can report in its reason-code table, and no other; and that
// it documents every event type.
func TestAPIDocReasonCodes(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	_, section, ok := strings.Cut(doc, "\n## Reason codes\n")
	if !ok {
		t.Fatalf("%s has no \"## Reason codes\" section", docPath)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var listed []string
	for _, m := range docReasonRow.FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	var codes []string
	for _, rc := range policy.ReasonCodes() {
		codes = append(codes, rc.Code)
		if !slices.Contains(listed, rc.Code) {
			t.Errorf("%s does not list reason code %s (%s)", docPath, rc.Code, rc.Doc)
		}
	}
	for _, c := range listed {
		if !slices.Contains(codes, c) {
			t.Errorf("%s lists reason code %s, which package policy does not know", docPath, c)
		}
	}
	for _, typ := range event.Types {
		if !strings.Contains(doc, "| `"+string(typ)+"` |") {
			t.Errorf("%s has no row for event type %s", docPath, typ)
		}
	}
}

package breach

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The example of the Pwned Passwords API documentation for prefix 21BD1,
// and the entry of "P@ssw0rd" from the padding announcement.
var documented21BD1 = []string{
	"0018A45C4D1DEF81644B54AB7F969B88D65:1",
	"00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2",
	"011053FD0102E94D6AE2F8B83D76FAF94F6:1",
	"012A7CA357541F0AC487871FEEC1891C49C:2",
	"0136E006E24E7D152139815FB0FC6A50B15:2",
	"2DC183F740EE76F27B78EB39C8AD972A757:52579",
}

// serveRange mounts a RangeHandler like the API does.
func serveRange(t *testing.T, src Ranger, rnd io.Reader) *httptest.Server {
	t.Helper()
	h := &RangeHandler{Source: src, Rand: rnd}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /range/{prefix}", func(w http.ResponseWriter, r *http.Request) {
		if err := h.Serve(w, r); err != nil {
			if re, ok := IsRequestError(err); ok {
				http.Error(w, re.Field+": "+re.Detail, http.StatusBadRequest)
				return
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, padding bool) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if padding {
		req.Header.Set("Add-Padding", "true")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func importLines(t *testing.T, lines ...string) *Corpus {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "pwned.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), filepath.Join(dir, "idx"), []string{p}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(filepath.Join(dir, "idx"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRangeMatchesTheDocumentedFormat(t *testing.T) {
	// Imported out of order, in lowercase: the answer is sorted, uppercase.
	var lines []string
	for _, l := range []int{5, 2, 0, 4, 1, 3} {
		lines = append(lines, strings.ToLower("21BD1"+documented21BD1[l]))
	}
	lines = append(lines, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824")
	srv := serveRange(t, importLines(t, lines...), nil)

	for _, prefix := range []string{"21BD1", "21bd1"} {
		resp, body := get(t, srv.URL+"/range/"+prefix, false)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if want := strings.Join(documented21BD1, "\r\n"); body != want {
			t.Errorf("GET /range/%s:\n got %q\nwant %q", prefix, body, want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type = %q, want text/plain", ct)
		}
	}

	// "password": the imported count is larger than the built-in one.
	_, body := get(t, srv.URL+"/range/5BAA6", false)
	line := "1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824"
	if !regexp.MustCompile(`(^|\r\n)` + line + `(\r\n|$)`).MatchString(body) {
		t.Errorf("GET /range/5BAA6 has no line %s:\n%q", line, body)
	}
	format := regexp.MustCompile(`^([0-9A-F]{35}:[0-9]+\r\n)*[0-9A-F]{35}:[0-9]+$`)
	if !format.MatchString(body) {
		t.Errorf("GET /range/5BAA6 is not SUFFIX:COUNT lines joined by CRLF:\n%q", body)
	}

	// Every prefix answers 200, an empty body when nothing is known.
	if resp, body := get(t, srv.URL+"/range/00000", false); resp.StatusCode != 200 || body != "" {
		t.Errorf("GET /range/00000 = %d %q, want 200 and an empty body", resp.StatusCode, body)
	}
}

func TestRangeBuiltinPassword(t *testing.T) {
	srv := serveRange(t, Builtin(), nil)
	_, body := get(t, srv.URL+"/range/5BAA6", false)
	es, _ := Builtin().Range(0x5BAA6)
	var want []string
	for _, e := range es {
		want = append(want, e.Suffix()+":"+strconv.FormatInt(e.Count, 10))
	}
	if body != strings.Join(want, "\r\n") {
		t.Errorf("body %q, want %q", body, strings.Join(want, "\r\n"))
	}
	if !strings.Contains(body, "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10000") {
		t.Errorf("no entry for \"password\" in %q", body)
	}
}

func TestRangePadding(t *testing.T) {
	c := importLines(t, func() []string {
		var l []string
		for _, s := range documented21BD1 {
			l = append(l, "21BD1"+s)
		}
		return l
	}()...)
	rnd := rand.NewChaCha8([32]byte{1})
	srv := serveRange(t, c, rnd)
	line := regexp.MustCompile(`^[0-9A-F]{35}:[0-9]+$`)
	sizes := map[int]bool{}
	for i := 0; i < 20; i++ {
		resp, body := get(t, srv.URL+"/range/21BD1", true)
		if strings.HasSuffix(body, "\r\n") || strings.Contains(body, "\n\n") {
			t.Fatalf("bad line endings")
		}
		lines := strings.Split(body, "\r\n")
		if len(lines) < 800 || len(lines) > 1000 {
			t.Fatalf("%d entries, want 800 to 1000", len(lines))
		}
		sizes[len(lines)] = true
		real := 0
		for j, l := range lines {
			if !line.MatchString(l) {
				t.Fatalf("line %d %q is not SUFFIX:COUNT", j, l)
			}
			if j > 0 && l[:35] < lines[j-1][:35] {
				t.Fatalf("line %d %q comes after %q: one list sorted by suffix, as the README promises", j, l, lines[j-1])
			}
			if slices.Contains(documented21BD1, l) {
				real++
			} else if !strings.HasSuffix(l, ":0") {
				t.Fatalf("padding line %d = %q, want count 0", j, l)
			}
		}
		if real != len(documented21BD1) {
			t.Fatalf("%d real entries among the padding, want %d", real, len(documented21BD1))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
	}
	if len(sizes) < 5 {
		t.Errorf("padded sizes vary too little: %v", sizes)
	}
	// Add-Padding other than "true" pads nothing.
	if _, body := get(t, srv.URL+"/range/21BD1?mode=sha1", false); body != strings.Join(documented21BD1, "\r\n") {
		t.Errorf("unpadded body %q", body)
	}
}

func TestRangeBadRequests(t *testing.T) {
	srv := serveRange(t, Builtin(), nil)
	for _, path := range []string{"/range/5BAA", "/range/5BAA61", "/range/5BAG6", "/range/5BAA6?mode=ntlm"} {
		resp, body := get(t, srv.URL+path, false)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s = %d %q, want 400", path, resp.StatusCode, body)
		}
	}
}

package breach

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Ranger answers range queries.
type Ranger interface {
	Range(p Prefix) ([]Entry, error)
}

// RequestError is a bad range request: which part of it, and why.
type RequestError struct {
	Field  string // "prefix" or "mode"
	Detail string
}

func (e *RequestError) Error() string { return e.Detail }

// Padding bounds, from the Pwned Passwords API documentation: a padded
// answer holds between 800 and 1,000 entries, the padding being random
// suffixes with a count of 0.
const (
	padMin = 800
	padMax = 1000
)

// RangeHandler answers GET /range/{prefix} exactly like the Pwned Passwords
// k-anonymity API: the suffixes (35 uppercase hexadecimal digits) of every
// known digest under the five-digit prefix, each with its count, one
// "SUFFIX:COUNT" per line, lines separated by CRLF (no CRLF after the
// last), as text/plain. With the request header "Add-Padding: true" the
// answer is padded with random suffixes of count 0 to a random size of 800
// to 1,000 entries, appended after the real ones.
type RangeHandler struct {
	Source Ranger
	Rand   io.Reader // randomness for padding; nil means crypto/rand
}

// Serve writes the answer for the request's {prefix} path value. It
// returns a *RequestError for a bad prefix or mode, and other errors for
// failures to read the index; it writes nothing when it returns an error.
func (h *RangeHandler) Serve(w http.ResponseWriter, r *http.Request) error {
	p, err := ParsePrefix(r.PathValue("prefix"))
	if err != nil {
		return &RequestError{Field: "prefix", Detail: "the hash prefix must be the first five hexadecimal digits of the SHA-1"}
	}
	if m := r.URL.Query().Get("mode"); m != "" && !strings.EqualFold(m, "sha1") {
		return &RequestError{Field: "mode", Detail: "only SHA-1 digests are served (mode=sha1)"}
	}
	es, err := h.Source.Range(p)
	if err != nil {
		return fmt.Errorf("range %s: %w", p, err)
	}
	pad := 0
	if strings.EqualFold(r.Header.Get("Add-Padding"), "true") {
		if pad, err = h.padding(len(es)); err != nil {
			return err
		}
	}
	body, err := AppendRange(nil, es, pad, h.rand())
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Vary", "Add-Padding")
	if pad > 0 {
		hd.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

func (h *RangeHandler) rand() io.Reader {
	if h.Rand != nil {
		return h.Rand
	}
	return rand.Reader
}

// padding returns how many padding entries bring n real ones to a random
// total of 800 to 1,000 (none when n is already at least that total).
func (h *RangeHandler) padding(n int) (int, error) {
	var b [8]byte
	if _, err := io.ReadFull(h.rand(), b[:]); err != nil {
		return 0, fmt.Errorf("padding: %w", err)
	}
	total := padMin + int(binary.LittleEndian.Uint64(b[:])%(padMax-padMin+1))
	return max(total-n, 0), nil
}

// AppendRange appends the range answer for es and pad padding entries
// (random suffixes read from rnd, count 0) to b: one list sorted by
// suffix, so padding cannot be told apart by its place.
func AppendRange(b []byte, es []Entry, pad int, rnd io.Reader) ([]byte, error) {
	type line struct {
		suffix [35]byte
		count  int64
	}
	lines := make([]line, 0, len(es)+pad)
	var hx [40]byte
	for i := range es {
		hex.Encode(hx[:], es[i].SHA1[:])
		upper(hx[5:])
		var l line
		copy(l.suffix[:], hx[5:])
		l.count = es[i].Count
		lines = append(lines, l)
	}
	var rb [18]byte
	var rh [36]byte
	for range pad {
		if _, err := io.ReadFull(rnd, rb[:]); err != nil {
			return nil, fmt.Errorf("padding: %w", err)
		}
		hex.Encode(rh[:], rb[:])
		upper(rh[1:])
		var l line
		copy(l.suffix[:], rh[1:])
		lines = append(lines, l)
	}
	if pad > 0 {
		slices.SortFunc(lines, func(a, b line) int { return bytes.Compare(a.suffix[:], b.suffix[:]) })
	}
	for i, l := range lines {
		if i > 0 || len(b) > 0 {
			b = append(b, '\r', '\n')
		}
		b = append(b, l.suffix[:]...)
		b = append(b, ':')
		b = strconv.AppendInt(b, l.count, 10)
	}
	return b, nil
}

func upper(b []byte) {
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
}

// IsRequestError reports whether err is a bad range request, and which.
func IsRequestError(err error) (*RequestError, bool) {
	var re *RequestError
	ok := errors.As(err, &re)
	return re, ok
}

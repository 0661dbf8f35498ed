package breach

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// List is an in-memory set of entries, sorted by digest. It is safe for
// concurrent use once built.
type List struct {
	entries []Entry
}

// NewList returns a list of entries; a digest given twice keeps its
// larger count.
func NewList(entries []Entry) *List {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Entry) int { return compareSHA1(&a.SHA1, &b.SHA1) })
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 && out[n-1].SHA1 == e.SHA1 {
			out[n-1].Count = max(out[n-1].Count, e.Count)
			continue
		}
		out = append(out, e)
	}
	return &List{entries: out}
}

// Len returns the number of entries.
func (l *List) Len() int { return len(l.entries) }

// Count returns how often sha1 was seen.
func (l *List) Count(sha1 [20]byte) (int64, bool, error) {
	i := sort.Search(len(l.entries), func(i int) bool { return compareSHA1(&l.entries[i].SHA1, &sha1) >= 0 })
	if i == len(l.entries) || l.entries[i].SHA1 != sha1 {
		return 0, false, nil
	}
	return l.entries[i].Count, true, nil
}

// Range returns the entries under prefix p, sorted by digest.
func (l *List) Range(p Prefix) ([]Entry, error) {
	lo := sort.Search(len(l.entries), func(i int) bool { return PrefixOf(&l.entries[i].SHA1) >= p })
	hi := lo
	for hi < len(l.entries) && PrefixOf(&l.entries[hi].SHA1) == p {
		hi++
	}
	return slices.Clone(l.entries[lo:hi]), nil
}

// The built-in list: the most common passwords of zxcvbn 4.4.2's
// frequency list (see README.md in this directory), as raw SHA-1 digests
// in rank order, most common first.
//
//go:embed builtin_sha1.bin
var builtinSHA1 []byte

// BuiltinSource describes where the built-in list comes from.
const BuiltinSource = "zxcvbn 4.4.2 lib/frequency_lists.js, passwords (MIT)"

// builtinScale sets the synthetic counts of the built-in list: the
// password of rank r (1 for the most common) gets count ⌈builtinScale/r⌉,
// a Zipf-like curve, since zxcvbn ships ranks, not counts.
const builtinScale = 20000

var builtin = sync.OnceValue(func() *List {
	if len(builtinSHA1)%20 != 0 {
		panic(fmt.Sprintf("breach: built-in list is %d bytes, not a multiple of 20", len(builtinSHA1)))
	}
	es := make([]Entry, len(builtinSHA1)/20)
	for i := range es {
		copy(es[i].SHA1[:], builtinSHA1[20*i:])
		r := int64(i + 1)
		es[i].Count = (builtinScale + r - 1) / r
	}
	return NewList(es)
})

// Builtin returns the built-in list of common passwords.
func Builtin() *List { return builtin() }

// Package breach answers whether a password digest (SHA-1) appears in a
// corpus of breached passwords, and how often: an on-disk index imported
// from Have I Been Pwned "Pwned Passwords" files or plain password lists,
// a built-in list of common passwords, and the k-anonymity range queries
// (GET /range/{prefix}) that HIBP clients send.
//
// Clear-text passwords never reach this package's files: plain lists are
// hashed as they are read, and only SHA-1 digests and counts are stored.
package breach

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
)

// Entry is one breached password digest and how often it was seen.
type Entry struct {
	SHA1  [20]byte
	Count int64
}

// Suffix returns the 35 uppercase hexadecimal digits of the digest after
// its five-digit prefix, as range answers list them.
func (e Entry) Suffix() string {
	var b [40]byte
	hex.Encode(b[:], e.SHA1[:])
	return string(bytes.ToUpper(b[5:]))
}

// Prefix is the first five hexadecimal digits (20 bits) of a SHA-1: the
// key of a range query.
type Prefix uint32

// NumPrefixes is the number of distinct prefixes (16^5).
const NumPrefixes = 1 << 20

// PrefixOf returns the prefix of a digest.
func PrefixOf(sha1 *[20]byte) Prefix {
	return Prefix(uint32(sha1[0])<<12 | uint32(sha1[1])<<4 | uint32(sha1[2])>>4)
}

// String returns the prefix as five uppercase hexadecimal digits.
func (p Prefix) String() string { return fmt.Sprintf("%05X", uint32(p)) }

// ErrBadPrefix is returned for a range prefix that is not five hexadecimal
// digits.
var ErrBadPrefix = errors.New("not five hexadecimal digits")

// ParsePrefix parses five hexadecimal digits, in either case.
func ParsePrefix(s string) (Prefix, error) {
	if len(s) != 5 {
		return 0, fmt.Errorf("hash prefix %q: %w", truncate(s), ErrBadPrefix)
	}
	var p uint32
	for i := 0; i < 5; i++ {
		v, ok := unhex(s[i])
		if !ok {
			return 0, fmt.Errorf("hash prefix %q: %w", s, ErrBadPrefix)
		}
		p = p<<4 | uint32(v)
	}
	return Prefix(p), nil
}

func truncate(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// MaxCount is the largest count an index stores; larger counts are
// clamped to it. It is far above any count in the HIBP corpus (the most
// common password there is seen some tens of millions of times).
const MaxCount = 1<<28 - 1

// Source answers exact lookups and range queries. Index, List and Corpus
// implement it.
type Source interface {
	// Count returns how often sha1 was seen; ok is false when it was
	// not. The error is a technical failure (reading the index), never
	// "not found".
	Count(sha1 [20]byte) (n int64, ok bool, err error)
	// Range returns the entries under prefix p, sorted by digest.
	Range(p Prefix) ([]Entry, error)
}

var (
	_ Source = (*Index)(nil)
	_ Source = (*List)(nil)
	_ Source = (*Corpus)(nil)
)

func compareSHA1(a, b *[20]byte) int { return bytes.Compare(a[:], b[:]) }

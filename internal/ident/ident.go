// Package ident normalizes account identifiers (logins and email
// addresses) so that visually equal spellings name one identity.
package ident

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// fold is Unicode full case folding (ß → ss). A Fold caser is stateless and
// safe for concurrent use.
var fold = cases.Fold()

// maxRounds bounds the loop that looks for a fixed point. One round reaches
// it for every single code point (TestNormalizeEveryRune) and for every
// input FuzzNormalize has tried; the loop is a safety net.
const maxRounds = 4

// Normalize returns the canonical form of an account identifier: Unicode
// NFKC, full case folding, NFKC again, with leading and trailing white space
// and zero-width characters removed, and bidirectional formatting
// characters (overrides, isolates, marks) removed wherever they stand, so
// that no identifier can display as another (UTS #39, RFC 8264).
// "ＴＡＲＯ@Example.JP " and "taro@example.jp" normalize to the same
// string, and so do "ta\u202Eor" and "taor".
//
// Folding is language-neutral: "I" folds to "i" (never to the Turkish
// dotless "ı"), and "İ" (U+0130) folds to "i" followed by U+0307 COMBINING
// DOT ABOVE, so it does not equal "i". Invalid UTF-8 is replaced by U+FFFD,
// so the result is always valid UTF-8, and Normalize(Normalize(s)) equals
// Normalize(s).
func Normalize(s string) string {
	if ascii(s) {
		return strings.TrimFunc(lowerASCII(s), trimmed)
	}
	return normalizeUnicode(s)
}

// normalizeUnicode is Normalize without the ASCII fast path.
func normalizeUnicode(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for range maxRounds {
		n := round(s)
		if n == s {
			break
		}
		s = n
	}
	return s
}

// round is one pass of the normalization.
func round(s string) string {
	if strings.IndexFunc(s, bidiControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if bidiControl(r) {
				return -1
			}
			return r
		}, s)
	}
	s = norm.NFKC.String(s)
	s = fixCherokee(fold.String(s))
	if !norm.NFKC.IsNormalString(s) {
		s = norm.NFKC.String(s)
	}
	return strings.TrimFunc(s, trimmed)
}

// fixCherokee corrects x/text's case folding of Cherokee. CaseFolding.txt
// folds the small letters added in Unicode 8 (U+AB70–U+ABBF, U+13F8–U+13FD)
// to the capital letters, which fold to themselves; cases.Fold lower-cases
// the capitals instead, so folding twice would swap case back and forth.
func fixCherokee(s string) string {
	if strings.IndexFunc(s, cherokeeSmall) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if cherokeeSmall(r) {
			return unicode.ToUpper(r)
		}
		return r
	}, s)
}

func cherokeeSmall(r rune) bool {
	return ('\uAB70' <= r && r <= '\uABBF') || ('\u13F8' <= r && r <= '\u13FD')
}

// trimmed reports whether r is removed from the ends of an identifier:
// Unicode white space and the zero-width characters that NFKC keeps.
func trimmed(r rune) bool {
	switch r {
	case '\u180E', // MONGOLIAN VOWEL SEPARATOR (white space before Unicode 6.3)
		'\u200B', // ZERO WIDTH SPACE
		'\u200C', // ZERO WIDTH NON-JOINER
		'\u200D', // ZERO WIDTH JOINER
		'\u2060', // WORD JOINER
		'\uFEFF': // ZERO WIDTH NO-BREAK SPACE (byte order mark)
		return true
	}
	return unicode.IsSpace(r)
}

// bidiControl reports the bidirectional formatting characters
// (Bidi_Control): marks, embeddings, overrides and isolates, which can make
// text display in an order other than its own.
func bidiControl(r rune) bool {
	return r == '\u061C' || r == '\u200E' || r == '\u200F' ||
		('\u202A' <= r && r <= '\u202E') || ('\u2066' <= r && r <= '\u2069')
}

// ascii reports whether s is plain ASCII, for which NFKC is the identity and
// folding is lower-casing.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases A–Z, allocating only when s has an upper-case
// letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

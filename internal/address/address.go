// Package address normalizes postal addresses, with the variants of
// Japanese addresses in mind (full- and half-width characters, spaces,
// hyphen look-alikes, 丁目・番地・号 and kanji numerals), so that one place
// written in different ways gives one key.
package address

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Address is a delivery address as the shop sends it.
type Address struct {
	PostalCode string
	Country    string
	Region     string
	City       string
	Line1      string
	Line2      string
}

// Key returns the normalized form of a, equal for the written variants of
// one address; empty when a has no line or postal code at all.
func Key(a Address) string {
	postal := Postal(a.PostalCode)
	lines := Normalize(a.Region + a.City + a.Line1 + a.Line2)
	if postal == "" && lines == "" {
		return ""
	}
	country := strings.ToUpper(strings.TrimSpace(a.Country))
	return country + "|" + postal + "|" + lines
}

// Postal keeps the digits of a postal code: "〒100-0001" and "１００－０００１"
// both give "1000001".
func Postal(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKC.String(s) {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// hyphens are characters written for the hyphen in addresses.
const hyphens = "-‐‑‒–—―−ｰ─━－˗⁃﹣"

// Normalize folds one address text: NFKC width folding, no spaces, one
// hyphen, lower-case Latin letters, kanji numerals as digits, and
// 丁目/番地/番/号 between numbers as hyphens.
func Normalize(s string) string {
	s = norm.NFKC.String(s)
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			continue
		case strings.ContainsRune(hyphens, r):
			r = '-'
		default:
			r = unicode.ToLower(r)
		}
		rs = append(rs, r)
	}
	// The prolonged sound mark ー stands for a hyphen between digits.
	for i := 1; i+1 < len(rs); i++ {
		if rs[i] == 'ー' && isDigitish(rs[i-1]) && isDigitish(rs[i+1]) {
			rs[i] = '-'
		}
	}
	// 号室 is a room number, not the end of a block number.
	out := strings.ReplaceAll(kanjiNumbers(string(rs)), "号室", "\x00")
	for _, m := range []struct{ from, to string }{
		{"丁目", "-"}, {"番地の", "-"}, {"番地", "-"}, {"番の", "-"}, {"番", "-"}, {"号", ""}, {"の", "-"},
	} {
		out = replaceAfterDigit(out, m.from, m.to)
	}
	out = strings.ReplaceAll(out, "\x00", "号室")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	return strings.TrimSuffix(out, "-")
}

func isDigitish(r rune) bool {
	return (r >= '0' && r <= '9') || strings.ContainsRune("〇一二三四五六七八九十", r)
}

// replaceAfterDigit replaces from with to where from follows a digit.
func replaceAfterDigit(s, from, to string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, from)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		prev := rune(0)
		if i > 0 {
			prev = []rune(s[:i])[len([]rune(s[:i]))-1]
		}
		b.WriteString(s[:i])
		if prev >= '0' && prev <= '9' {
			b.WriteString(to)
		} else {
			b.WriteString(from)
		}
		s = s[i+len(from):]
	}
}

var kanjiDigit = map[rune]int{'〇': 0, '一': 1, '二': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}

// kanjiNumbers turns runs of kanji numerals followed by 丁目, 番 or 号 (and
// the runs between hyphens) into digits: 一丁目 → 1丁目, 二十三番 → 23番.
// Other kanji (e.g. 九段 in a place name) are left alone.
func kanjiNumbers(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && (kanjiDigit[rs[j]] > 0 || rs[j] == '〇' || rs[j] == '十') {
			j++
		}
		if j > i && j < len(rs) && (rs[j] == '丁' || rs[j] == '番' || rs[j] == '号') {
			b.WriteString(itoa(kanjiValue(rs[i:j])))
			i = j
			continue
		}
		if j > i {
			b.WriteString(string(rs[i:j]))
			i = j
			continue
		}
		b.WriteRune(rs[i])
		i++
	}
	return b.String()
}

// kanjiValue reads a kanji numeral below 100: 三, 十, 十五, 二十, 二十三, or
// digit by digit (一〇 = 10).
func kanjiValue(rs []rune) int {
	if idx := indexRune(rs, '十'); idx >= 0 {
		tens, ones := 1, 0
		if idx > 0 {
			tens = kanjiDigit[rs[idx-1]]
		}
		if idx+1 < len(rs) {
			ones = kanjiDigit[rs[idx+1]]
		}
		return tens*10 + ones
	}
	v := 0
	for _, r := range rs {
		v = v*10 + kanjiDigit[r]
	}
	return v
}

func indexRune(rs []rune, r rune) int {
	for i, x := range rs {
		if x == r {
			return i
		}
	}
	return -1
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

package ident

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"ascii lower", "taro@example.jp", "taro@example.jp"},
		{"ascii mixed case", "Taro.Yamada@Example.JP", "taro.yamada@example.jp"},
		{"full-width", "ＴＡＲＯ@Example.JP ", "taro@example.jp"},
		{"full-width at sign and digits", "ｔａｒｏ１２３＠ｅｘａｍｐｌｅ．ｊｐ", "taro123@example.jp"},
		{"half-width katakana becomes full-width", "ﾀﾛｳ", "タロウ"},
		{"ideographic space trimmed", "\u3000taro\u3000", "taro"},
		{"ascii white space trimmed", " \t\r\ntaro\n", "taro"},
		{"no-break space trimmed", "\u00a0taro\u00a0", "taro"},
		{"zero-width space trimmed", "\u200btaro\u200b", "taro"},
		{"byte order mark trimmed", "\ufefftaro", "taro"},
		{"word joiner and zwj trimmed", "\u2060\u200dtaro\u200c", "taro"},
		{"interior space kept", "taro yamada", "taro yamada"},
		{"interior zero-width space kept", "ta\u200bro", "ta\u200bro"},
		{"right-to-left override removed", "moc.elpmaxe@\u202Eoru", "moc.elpmaxe@oru"},
		{"override spoofing another address", "evil\u202Egnp.exe@example.jp", "evilgnp.exe@example.jp"},
		{"isolates and marks removed", "\u2066taro\u2069\u200e@\u200fexample.jp\u061c", "taro@example.jp"},
		{"embeddings removed", "\u202Ata\u202Bro\u202C", "taro"},
		{"only white space", " \u3000\u200b ", ""},
		{"german sharp s folds to ss", "Straße", "strasse"},
		{"capital sharp s folds to ss", "STRAẞE", "strasse"},
		{"greek final sigma", "ΟΔΟΣ", "οδοσ"},
		{"kelvin sign", "\u212a", "k"},
		{"ligature fi", "\ufb01le", "file"},
		{"circled letter", "Ⓐ", "a"},
		{"composed and decomposed e acute agree", "e\u0301", "é"},
		{"fraction", "½", "1⁄2"},
		{"superscript", "x²", "x2"},
		// Folding is not Turkish-aware: "I" becomes "i", and the dotted
		// capital I keeps its dot as a combining mark, so "İ" ≠ "i".
		{"turkish: I folds to i", "ISTANBUL", "istanbul"},
		{"turkish: dotted capital I keeps the dot", "İstanbul", "i\u0307stanbul"},
		{"turkish: dotless i unchanged", "ı", "ı"},
		{"invalid utf-8 replaced", "ta\xffro", "ta\ufffdro"},
		{"cjk unchanged", "山田太郎", "山田太郎"},
		// CaseFolding.txt folds Cherokee small letters to the capitals.
		{"cherokee small letter folds to capital", "\uab84", "\u13b4"},
		{"cherokee capital letter unchanged", "\u13b4", "\u13b4"},
		{"cherokee small mv", "\u13fd", "\u13f5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeEqualIdentities(t *testing.T) {
	pairs := [][2]string{
		{"ＴＡＲＯ@example.jp", "taro@example.jp"},
		{"Taro.Yamada@Example.jp", "taro.yamada@example.jp"},
		{"STRASSE@example.de", "straße@example.de"},
		{"\u200b taro@example.jp", "taro@example.jp"},
	}
	for _, p := range pairs {
		if a, b := Normalize(p[0]), Normalize(p[1]); a != b {
			t.Errorf("Normalize(%+q) = %+q, Normalize(%+q) = %+q; want equal", p[0], a, p[1], b)
		}
	}
	if Normalize("İ") == Normalize("i") {
		t.Error("dotted capital I normalizes like i; the documented behaviour changed")
	}
}

func TestNormalizeASCIIFastPath(t *testing.T) {
	var b strings.Builder
	for c := 0; c < utf8.RuneSelf; c++ {
		b.WriteByte(byte(c))
	}
	all := b.String()
	for _, s := range []string{all, " " + all + " ", "\t\v\f\r\n x \x1c\x1d\x1e\x1f\x85"} {
		if got, want := Normalize(s), normalizeUnicode(s); got != want {
			t.Errorf("Normalize(%+q) = %+q, slow path gives %+q", s, got, want)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, in := range []string{"Taro.Yamada@Example.jp", "ＴＡＲＯ.ＹＡＭＡＤＡ@example.jp"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Normalize(in)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"", "taro@example.jp", "ＴＡＲＯ@Example.JP ", "Straße", "İstanbul", "ı",
		"\u200btaro\ufeff", "ta\xffro", "\u00b4", " \u0301x", "ﾀﾞ", "\u0345\u0399",
		"ǅ", "ΐ", "\ufdfa", "\u1e9e", "ﬀ", "\u0130\u0307",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%+q) = %+q is not valid UTF-8", s, n)
		}
		if nn := Normalize(n); nn != n {
			t.Fatalf("not idempotent: Normalize(%+q) = %+q, Normalize of that = %+q", s, n, nn)
		}
		if strings.TrimFunc(n, trimmed) != n {
			t.Fatalf("Normalize(%+q) = %+q is not trimmed", s, n)
		}
		if ascii(s) {
			if slow := normalizeUnicode(s); slow != n {
				t.Fatalf("ASCII fast path: Normalize(%+q) = %+q, slow path %+q", s, n, slow)
			}
		}
	})
}

// TestNormalizeEveryRune checks that one round of normalization is a fixed
// point for every single code point, which is how the x/text Cherokee
// folding bug was found.
func TestNormalizeEveryRune(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bad := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		n := round(s)
		if nn := round(n); nn != n {
			bad++
			if bad <= 10 {
				t.Errorf("round(%+q) = %+q, round of that = %+q", s, n, nn)
			}
		}
	}
	if bad > 10 {
		t.Errorf("%d code points in all", bad)
	}
}

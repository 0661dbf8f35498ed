// Command gendefault regenerates internal/breach/builtin_sha1.bin, the
// built-in list of common passwords, from zxcvbn's lib/frequency_lists.js:
// it takes the first -n entries of the "passwords" list (most common first)
// and writes their SHA-1 digests, 20 raw bytes each, in rank order. The
// clear-text passwords are only held in memory while hashing.
//
//	go run ./internal/breach/gendefault -in package/lib/frequency_lists.js -out internal/breach/builtin_sha1.bin
package main

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	in := flag.String("in", "", "zxcvbn lib/frequency_lists.js")
	out := flag.String("out", "internal/breach/builtin_sha1.bin", "output file")
	n := flag.Int("n", 20000, "number of passwords to keep, most common first")
	flag.Parse()
	if err := run(*in, *out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gendefault:", err)
		os.Exit(1)
	}
}

func run(in, out string, n int) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	list, err := passwords(src)
	if err != nil {
		return err
	}
	if len(list) < n {
		return fmt.Errorf("the list has %d passwords, want at least %d", len(list), n)
	}
	var b bytes.Buffer
	seen := map[[20]byte]bool{}
	for _, p := range list[:n] {
		sum := sha1.Sum([]byte(p))
		if seen[sum] {
			return errors.New("the list repeats a password")
		}
		seen[sum] = true
		b.Write(sum[:])
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d digests, %d bytes\n", out, n, b.Len())
	return nil
}

// passwords extracts the comma-separated `passwords: "..."` string of the
// CoffeeScript-generated module, undoing the JavaScript escapes it uses.
func passwords(src []byte) ([]string, error) {
	const key = "\n  passwords: \""
	i := bytes.Index(src, []byte(key))
	if i < 0 {
		return nil, errors.New(`no "passwords" list found`)
	}
	s := src[i+len(key):]
	var sb strings.Builder
	for j := 0; ; j++ {
		if j >= len(s) {
			return nil, errors.New("unterminated passwords string")
		}
		switch c := s[j]; c {
		case '"':
			return strings.Split(sb.String(), ","), nil
		case '\\':
			j++
			if j >= len(s) || !strings.ContainsRune(`\'"`, rune(s[j])) {
				return nil, fmt.Errorf("unsupported escape at byte %d", i+len(key)+j)
			}
			sb.WriteByte(s[j])
		default:
			sb.WriteByte(c)
		}
	}
}

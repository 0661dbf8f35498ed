package breach

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
)

// Input formats of Import.
const (
	FormatAuto  = "auto"  // decided by the file's first non-empty line
	FormatHIBP  = "hibp"  // SHA1HEX:COUNT lines (the count is optional)
	FormatPlain = "plain" // one password per line
)

// ErrBadLine is returned for a line that is not SHA1HEX or SHA1HEX:COUNT.
var ErrBadLine = errors.New("not SHA1HEX:COUNT")

// ParseHIBPLine parses one line of a Pwned Passwords file: 40 hexadecimal
// digits (either case), then optionally ':' and a decimal count. A
// trailing "\r" (CRLF files) is ignored; a line without a count counts
// once. The error wraps ErrBadLine.
func ParseHIBPLine(line []byte) ([20]byte, int64, error) {
	var sum [20]byte
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) < 40 {
		return sum, 0, badLine(line, "shorter than 40 hexadecimal digits")
	}
	for i := 0; i < 20; i++ {
		hi, ok1 := unhex(line[2*i])
		lo, ok2 := unhex(line[2*i+1])
		if !ok1 || !ok2 {
			return sum, 0, badLine(line, "not hexadecimal")
		}
		sum[i] = hi<<4 | lo
	}
	rest := line[40:]
	if len(rest) == 0 {
		return sum, 1, nil
	}
	if rest[0] != ':' {
		return sum, 0, badLine(line, "no ':' after the 40 hexadecimal digits")
	}
	rest = rest[1:]
	if len(rest) == 0 || len(rest) > 18 {
		return sum, 0, badLine(line, "the count is not 1 to 18 decimal digits")
	}
	var n int64
	for _, c := range rest {
		if c < '0' || c > '9' {
			return sum, 0, badLine(line, "the count is not decimal")
		}
		n = n*10 + int64(c-'0')
	}
	return sum, n, nil
}

func badLine(line []byte, why string) error {
	if len(line) > 60 {
		line = line[:60]
	}
	return fmt.Errorf("%q: %s: %w", line, why, ErrBadLine)
}

// looksHIBP reports whether the first non-empty line of a file says it is
// a Pwned Passwords file. A password list whose first password is itself
// 40 hexadecimal digits needs --format plain.
func looksHIBP(line []byte) bool {
	_, _, err := ParseHIBPLine(line)
	return err == nil
}

// plainSHA1 hashes one line of a password list (without its line ending).
func plainSHA1(line []byte) [20]byte { return sha1.Sum(line) }

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

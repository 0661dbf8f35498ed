package stepup

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// maxCodeInput bounds a code as the client sent it, before normalizing.
const maxCodeInput = 64

// parseDigits normalizes a numeric one-time code: ASCII spaces and hyphens
// are dropped, and exactly n ASCII digits must remain. Errors never repeat
// the code.
func parseDigits(field, code string, n int) (string, error) {
	if code == "" {
		return "", fieldError(field, "is required")
	}
	if len(code) > maxCodeInput {
		return "", fieldError(field, fmt.Sprintf("must be %d digits", n))
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == ' ' || c == '-':
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			return "", fieldError(field, fmt.Sprintf("must be %d digits", n))
		}
	}
	if b.Len() != n {
		return "", fieldError(field, fmt.Sprintf("must be %d digits", n))
	}
	return b.String(), nil
}

// randomDigits returns n uniformly random decimal digits.
func randomDigits(n int) string {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, _ := rand.Int(rand.Reader, limit) // crypto/rand never fails
	return fmt.Sprintf("%0*d", n, v)
}

// Recovery codes are 16 characters of Crockford's base32 (80 random bits)
// shown as four groups of four: xxxx-xxxx-xxxx-xxxx.
const (
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryLen      = 16
	recoveryCount    = 10
)

// newRecoveryCode returns a fresh recovery code as shown to the user.
func newRecoveryCode() string {
	raw := make([]byte, recoveryLen)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(recoveryAlphabet[r&31]) // 256 is a multiple of 32: uniform
	}
	return b.String()
}

// parseRecoveryCode normalizes a recovery code as a user may type it:
// case, spaces and hyphens do not matter, and the letters Crockford's
// base32 leaves out are read as the digits they resemble (o as 0, i and l
// as 1). Errors never repeat the code.
func parseRecoveryCode(code string) (string, error) {
	bad := fieldError("code", fmt.Sprintf("must be a recovery code of %d letters and digits", recoveryLen))
	if code == "" {
		return "", fieldError("code", "is required")
	}
	if len(code) > maxCodeInput {
		return "", bad
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		c := code[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case ' ', '-':
			continue
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(recoveryAlphabet, c) < 0 {
			return "", bad
		}
		b.WriteByte(c)
	}
	if b.Len() != recoveryLen {
		return "", bad
	}
	return b.String(), nil
}

// Package ids makes the identifiers of records: a prefix, the time in
// milliseconds and 64 random bits, so that ids sort by time.
package ids

import (
	"crypto/rand"
	"fmt"
	"time"
)

// New returns a new identifier with the given prefix: the prefix, '_',
// the time t in milliseconds as 12 hex digits and 64 random bits as 16,
// e.g. inc_019c21acec65 and 16 more hex digits.
func New(prefix string, t time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%s_%012x%x", prefix, t.UnixMilli(), b)
}

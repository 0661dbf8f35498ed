// Package sqlrec is what the SQL record backends (packages sqlite and
// postgres) share: how each record maps to columns and back (column lists,
// row scanners, times as unix nanoseconds), the statements both dialects
// spell alike, written with ? placeholders, and the store methods built
// only from those, run through a small DB adapter each backend provides.
package sqlrec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Scanner is a row: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows iterates the rows of a query.
type Rows interface {
	Scanner
	Next() bool
	Err() error
	Close()
}

// DB runs statements written with ? placeholders; a backend whose driver
// wants $1, $2, … rewrites them with Numbered.
type DB interface {
	QueryRow(ctx context.Context, query string, args ...any) Scanner
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Exec returns the number of rows the statement changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Numbered rewrites the ? placeholders of query as $1, $2, … (PostgreSQL).
// The statements of this package hold no ? other than placeholders.
func Numbered(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// LookupErr wraps err, an error of a lookup of what (id, when not empty):
// as store.ErrNotFound when it is the driver's noRows.
func LookupErr(what, id string, err, noRows error) error {
	if id != "" {
		what += fmt.Sprintf(" %q", id)
	}
	if errors.Is(err, noRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("getting %s: %w", what, err)
}

// List runs query on db and scans every row it returns; what names the
// list in errors.
func List[T any](ctx context.Context, db DB, what string, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Times are stored as unix nanoseconds, which hold the years 1678 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// CheckTimes reports an error for a non-zero time that UnixNano cannot
// store.
func CheckTimes(ts ...time.Time) error {
	for _, t := range ts {
		if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			return fmt.Errorf("time %s is outside the years 1678 to 2262", t.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// UnixNano is how a time is stored; the zero time is 0.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNano is the time UnixNano stored as n, in UTC.
func FromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NonNil turns a nil slice into an empty one for NOT NULL binary columns.
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// NonNilStrings encodes a nil list as [] rather than null.
func NonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

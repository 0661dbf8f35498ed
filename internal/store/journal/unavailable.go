package journal

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means the database could not be reached
// or went away mid-write, as opposed to refusing the write: network and
// connection errors, timeouts (context.DeadlineExceeded included: the
// inner write's own timeout ended it), pgx connect errors and a closed
// connection, and PostgreSQL's connection exceptions (class 08), shutdown
// (57P01..57P03) and too many connections (53300). A PostgreSQL error of
// any other class (a constraint or a bad value) is not unavailability,
// nor is context.Canceled. An error with a method Unavailable() bool that
// returns true is unavailability too (a store that has not reached its
// database yet: postgres.OpenLater).
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var marked interface{ Unavailable() bool }
	if errors.As(err, &marked) && marked.Unavailable() {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08",
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03",
			pgErr.Code == "53300":
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.As(err, &connectErr), errors.As(err, &netErr),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	return false
}

package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// envRecords names the variable that --records defaults to, so that a URL
// with a password need not be on the command line.
const envRecords = "ATOGUARD_RECORDS"

// recordsStore is what the commands that manage keys and operators need
// of the records.
type recordsStore interface {
	PutKey(ctx context.Context, k store.APIKey) error
	ListKeys(ctx context.Context) ([]store.APIKey, error)
	store.OperatorStore
	Close() error
}

// Any backend keeps what the commands and the dashboard need.
var (
	_ recordsStore        = store.Store(nil)
	_ dashboard.Records   = store.Store(nil)
	_ dashboard.Operators = store.Store(nil)
)

// addRecordsFlag adds --records to cmd, read by recordsURL.
func addRecordsFlag(cmd *cobra.Command, records *string) {
	cmd.Flags().StringVar(records, "records", "",
		"records: a postgres:// URL shared by several guards, or empty for SQLite in --data (default: $"+envRecords+")")
}

// recordsURL returns --records if it was given (even empty), else
// $ATOGUARD_RECORDS.
func recordsURL(cmd *cobra.Command, records string, getenv func(string) string) string {
	if cmd.Flags().Changed("records") {
		return records
	}
	return getenv(envRecords)
}

// openRecords opens the records url names: SQLite in the data directory
// when url is empty, else the PostgreSQL database of a postgres:// or
// postgresql:// URL, whose schema it brings up to date.
func openRecords(ctx context.Context, data, url string) (recordsStore, error) {
	switch {
	case url == "":
		st, err := sqlite.Open(ctx, data, sqlite.Options{})
		if err != nil {
			return nil, err
		}
		return st, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		st, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			return nil, err
		}
		return st, nil
	default:
		// Not the URL itself in the message: it may hold a password.
		return nil, errors.New("--records (or " + envRecords + "): not a postgres:// URL (leave it empty for SQLite in --data)")
	}
}

package sqlrec

import (
	"context"
	"database/sql"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// Migrate brings the schema of db up to date with the goose migrations in
// the folder migrations of fsys. It does not close db.
func Migrate(ctx context.Context, dialect goose.Dialect, db *sql.DB, fsys fs.FS, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(fsys, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db, sub, append(opts, goose.WithDisableGlobalRegistry(true))...)
	if err != nil {
		return err
	}
	// Not p.Close: that closes db, which the caller may keep using.
	_, err = p.Up(ctx)
	return err
}

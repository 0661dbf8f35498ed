package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
)

// Snapshot writes a consistent copy of the database in dir to the file
// dest (which must not exist), mode 0600, synced to disk. It runs VACUUM
// INTO on a connection of its own, so a guard may keep writing the
// database meanwhile: the copy is the database as of one moment (WAL
// mode), compacted, in one file without a -wal beside it. dir must hold a
// database; Snapshot never creates one.
func Snapshot(ctx context.Context, dir, dest string) error {
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("snapshot: no records: %w", err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("snapshot: %s exists", dest)
	}
	db, err := sql.Open("sqlite", dsn(path, "FULL", false)) // query_only would refuse VACUUM INTO; VACUUM INTO writes only dest
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		_ = os.Remove(dest) // a partial copy is no copy
		return fmt.Errorf("snapshot of %s into %s: %w", path, dest, err)
	}
	if err := os.Chmod(dest, 0o600); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return syncFile(dest)
}

// syncFile flushes the file at path to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

// Package backup copies what a guard on SQLite needs to start again
// elsewhere: a consistent snapshot of its records, taken while it serves,
// and the key files beside them. Restore puts a backup in place for a
// guard that is not running.
package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// Names of the files in a backup directory.
const (
	RecordsName     = sqlite.FileName          // the records
	SecretKeyName   = config.SecretKeyFileName // the key of keyed hashes
	FactorKeysName  = stepup.KeyFileName       // the keys that seal factor secrets
	SigningKeysName = ssf.KeyFileName          // the keys federation SETs are signed with
)

// Layout is where a guard keeps what a backup holds.
type Layout struct {
	Data       string // the data directory, where the records are
	SecretKey  string // the secret key's file
	FactorKeys string // the factor keys' file; empty: they come from the environment
	// SigningKeys is the federation's signing keys' file, backed up when
	// it exists (a guard with ssf.issuer set made it).
	SigningKeys string
}

// LayoutOf returns the layout of the guard of cfg, whose environment
// getenv reads (the factor keys may be in it).
func LayoutOf(cfg config.Config, getenv func(string) string) Layout {
	l := Layout{Data: cfg.Data, SecretKey: cfg.SecretKeyPath(), FactorKeys: cfg.StepUp.EncryptionKeyFile,
		SigningKeys: filepath.Join(cfg.Data, ssf.KeyFileName)}
	if l.FactorKeys == "" && getenv(stepup.EnvFactorKey) == "" {
		l.FactorKeys = filepath.Join(cfg.Data, stepup.KeyFileName)
	}
	return l
}

// File is a file copied, by its name in the backup and its place in the
// guard's layout.
type File struct {
	Name, Path string
}

// Report says what a backup or a restore did.
type Report struct {
	Copied []File
	Notes  []string // what was left out, and why
}

// Create writes a backup of the guard of l into dir, which must be empty
// or not exist: a snapshot of the records (consistent while the guard
// serves), the secret key and the factor keys. On an error it removes
// what it wrote.
func Create(ctx context.Context, l Layout, dir string) (rep Report, err error) {
	if err := emptyDir(dir); err != nil {
		return Report{}, err
	}
	defer func() {
		if err != nil {
			for _, f := range rep.Copied {
				_ = os.Remove(filepath.Join(dir, f.Name))
			}
		}
	}()
	if err := sqlite.Snapshot(ctx, l.Data, filepath.Join(dir, RecordsName)); err != nil {
		return rep, fmt.Errorf("backing up the records: %w", err)
	}
	rep.Copied = append(rep.Copied, File{RecordsName, filepath.Join(l.Data, RecordsName)})
	if err := copyFile(l.SecretKey, filepath.Join(dir, SecretKeyName)); err != nil {
		return rep, fmt.Errorf("backing up the secret key: %w", err)
	}
	rep.Copied = append(rep.Copied, File{SecretKeyName, l.SecretKey})
	if l.FactorKeys == "" {
		rep.Notes = append(rep.Notes, "factor keys: in "+stepup.EnvFactorKey+", not in the backup; keep them apart")
	} else {
		if err := copyFile(l.FactorKeys, filepath.Join(dir, FactorKeysName)); err != nil {
			return rep, fmt.Errorf("backing up the factor keys: %w", err)
		}
		rep.Copied = append(rep.Copied, File{FactorKeysName, l.FactorKeys})
	}
	if _, err := os.Stat(l.SigningKeys); err == nil {
		if err := copyFile(l.SigningKeys, filepath.Join(dir, SigningKeysName)); err != nil {
			return rep, fmt.Errorf("backing up the federation signing keys: %w", err)
		}
		rep.Copied = append(rep.Copied, File{SigningKeysName, l.SigningKeys})
	}
	return rep, syncDir(dir)
}

// Restore puts the backup in dir in place for the guard of l, which must
// not be running: the records into the data directory, which must hold
// none, and the key files where l keeps them, which must not exist or
// hold the same bytes already. It checks every place before it copies
// anything. The guard brings the records' schema up to date when it
// starts.
func Restore(l Layout, dir string) (Report, error) {
	var rep Report
	var todo []File // Name in dir, Path in l
	var errs []error
	// place plans to copy the key file name to path, unless path holds
	// it already.
	place := func(name, path string, required bool) {
		src := filepath.Join(dir, name)
		if _, err := os.Stat(src); err != nil {
			if required || !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("backup: %w", err))
			}
			return
		}
		if path == "" {
			rep.Notes = append(rep.Notes, name+": not restored, the guard reads its factor keys from "+stepup.EnvFactorKey)
			return
		}
		switch same, err := sameContent(src, path); {
		case err == nil && same:
			rep.Notes = append(rep.Notes, name+": "+path+" holds it already")
		case err == nil:
			errs = append(errs, fmt.Errorf("%s exists and differs from the backup's %s: move it away first", path, name))
		case errors.Is(err, fs.ErrNotExist):
			todo = append(todo, File{name, path})
		default:
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RecordsName)); err != nil {
		errs = append(errs, fmt.Errorf("backup: %w", err))
	}
	todo = append(todo, File{RecordsName, filepath.Join(l.Data, RecordsName)})
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Lstat(filepath.Join(l.Data, RecordsName+suffix)); err == nil {
			errs = append(errs, fmt.Errorf("%s holds %s%s: restore into a fresh data directory", l.Data, RecordsName, suffix))
		}
	}
	place(SecretKeyName, l.SecretKey, true)
	place(FactorKeysName, l.FactorKeys, false)
	if l.SigningKeys != "" {
		place(SigningKeysName, l.SigningKeys, false)
	}
	if err := errors.Join(errs...); err != nil {
		return Report{}, err
	}
	if err := os.MkdirAll(l.Data, 0o700); err != nil {
		return Report{}, fmt.Errorf("creating the data directory: %w", err)
	}
	for _, f := range todo {
		if err := copyFile(filepath.Join(dir, f.Name), f.Path); err != nil {
			return rep, fmt.Errorf("restoring %s: %w", f.Name, err)
		}
		rep.Copied = append(rep.Copied, f)
	}
	return rep, syncDir(l.Data)
}

// emptyDir makes sure dir is an empty directory, creating it (mode 0700)
// when it does not exist.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating the backup directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("backup directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("backup directory %s is not empty: a backup never overwrites one", dir)
	}
	return nil
}

// copyFile copies src to dst, which must not exist, mode 0600, synced.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return out.Sync()
}

// sameContent reports whether the files a and b hold the same bytes; the
// error of reading b when it does not exist is fs.ErrNotExist.
func sameContent(a, b string) (bool, error) {
	db, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	da, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	return bytes.Equal(da, db), nil
}

// syncDir flushes dir's entries to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

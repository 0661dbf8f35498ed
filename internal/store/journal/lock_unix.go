//go:build unix

package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockRejected takes an exclusive lock on the rejected file of dir, so
// that a guard appending to it and `atoguard journal` rewriting it never
// lose each other's batches. It waits for the lock.
func lockRejected(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, rejectedLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking rejected batches: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking rejected batches: %w", err)
	}
	return func() { f.Close() }, nil
}

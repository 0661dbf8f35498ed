//go:build !unix

package breach

// lock is a no-op where flock is not available: run one import at a time.
func lock(string) (func(), error) { return func() {}, nil }

//go:build !unix

package journal

// lockRejected does not lock where flock is missing: run `atoguard
// journal replay` and `discard` only while no guard uses the directory.
func lockRejected(string) (func(), error) { return func() {}, nil }

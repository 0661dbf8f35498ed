//go:build race

package simulate

// raceOn: the tests run under the race detector. The two-shop day
// (TestTwoShopsOneCrew) runs in one goroutine and takes minutes under
// it; .ci/run runs it without -race.
const raceOn = true

//go:build race

package guard

// raceOn: the tests run under the race detector, where the two-shop test
// over the wire takes minutes; .ci/run runs it without -race.
const raceOn = true

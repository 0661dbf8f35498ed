//go:build race

package engine

// raceOn: the tests run under the race detector, which makes the engine
// some ten times slower. The replays of whole scenarios that prove no
// concurrency (crash recovery, two instances) then take their smallest
// scenario; .ci/run also runs this package without -race, where they take
// every scenario.
const raceOn = true

//go:build !race

package engine

// raceOn: see race_on_test.go.
const raceOn = false

//go:build race

package export

// raceDetector is whether the tests run under the race detector, which
// makes the largest export test take minutes: it runs in make test's
// second, race-free pass instead.
const raceDetector = true

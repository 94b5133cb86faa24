// Package startup starts a function: it reads the function's settings once,
// at init, and stops the function with one line naming what is wrong, as
// Lambda reports a failed init; or, when the binary is run as
// `bootstrap -check`, it reports whether the settings are good and which
// variables the function read, and exits without serving.
//
// The check is how `make dev` refuses a bad setting before it says ready,
// and how the tests prove that template.yaml declares every variable each
// function reads. Lambda never passes arguments to a bootstrap, so the flag
// cannot be set in AWS.
package startup

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// CheckFlag is the argument that runs the start-up check.
const CheckFlag = "-check"

// Setup builds what a function serves with (its handler) from its settings,
// logging to logger. It must make no network call.
type Setup[H any] func(get settings.Lookup, logger *slog.Logger) (H, error)

// Init prepares the function named name from the process environment, as
// its main's first step, and returns its handler:
//
//	func main() {
//		h := startup.Init("me", newHandler)
//		lambda.Start(h.handle)
//	}
//
// A setting that is missing or malformed ends the process with one line on
// stderr, which Lambda reports as a failed init. Run with CheckFlag, Init
// runs Check and exits.
func Init[H any](name string, setup Setup[H]) H {
	if len(os.Args) == 2 && os.Args[1] == CheckFlag {
		os.Exit(Check(name, settings.OS, setup, os.Stdout))
	}
	h, logger, err := prepare(settings.OS, setup, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	// What logs through slog's default (a shared package without a logger
	// of its own) writes the function's JSON lines too.
	slog.SetDefault(logger)
	return h
}

// Prepare reads LOG_LEVEL, makes the function's logger on w and runs setup.
func Prepare[H any](get settings.Lookup, setup Setup[H], w io.Writer) (H, error) {
	h, _, err := prepare(get, setup, w)
	return h, err
}

func prepare[H any](get settings.Lookup, setup Setup[H], w io.Writer) (H, *slog.Logger, error) {
	var zero H
	level, err := settings.LogLevel(get)
	if err != nil {
		return zero, nil, err
	}
	logger := logging.New(w, level)
	h, err := setup(get, logger)
	return h, logger, err
}

// Report is what Check prints, as one JSON line.
type Report struct {
	Function string `json:"function"`
	// Reads are the variables the function read at start, sorted.
	Reads []string `json:"reads"`
	// Error is the one-line reason the function would not start; empty
	// when it would.
	Error string `json:"error,omitempty"`
}

// Check runs the function's start-up as Lambda would, without serving,
// writes its Report to w and returns the exit status: 0 when the function
// would start, 1 when it would not.
func Check[H any](name string, get settings.Lookup, setup Setup[H], w io.Writer) int {
	rec := settings.Record(get)
	_, err := Prepare(rec.Lookup, setup, io.Discard)
	r := Report{Function: name, Reads: rec.Names()}
	if err != nil {
		r.Error = err.Error()
	}
	_ = json.NewEncoder(w).Encode(r)
	if err != nil {
		return 1
	}
	return 0
}

package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"clerk-lambda/dev/emulator"
)

// lambdaFunction is a function as the benchmarks run it under the emulator,
// with the template's memory size and a timeout no invocation comes near.
func lambdaFunction(name, bootstrap string, env map[string]string) emulator.Function {
	return emulator.Function{Name: name, Bootstrap: bootstrap, Env: env, Timeout: 10 * time.Second, MemoryMB: 128}
}

// emulated is one execution environment of a function under the emulator,
// with the end of its output for error messages.
type emulated struct {
	*emulator.Instance
	out *tail
}

// startEmulated starts fn under the emulator and returns once it listens;
// the emulator starts the function on the first invocation, as Lambda does.
func (b *bench) startEmulated(fn emulator.Function) (*emulated, error) {
	out := &tail{max: 2 << 10}
	inst, err := emulator.Start(emulator.Config{RIE: b.rie, Output: out}, fn)
	if err != nil {
		return nil, err
	}
	return &emulated{Instance: inst, out: out}, nil
}

// call invokes the function and has check accept its answer; it returns
// how long the invocation took, without the check. A failure quotes the end
// of the function's output.
func (e *emulated) call(ctx context.Context, payload []byte, check func([]byte) error) (time.Duration, error) {
	t0 := time.Now()
	out, err := e.Invoke(ctx, payload)
	took := time.Since(t0)
	if err == nil {
		err = check(out)
	}
	if err != nil {
		return 0, fmt.Errorf("%w; its output ends: %s", err, e.out)
	}
	return took, nil
}

// coldStart is one measured cold start: from just before the emulator
// process starts to the first answer, which check must accept.
func (b *bench) coldStart(ctx context.Context, fn emulator.Function, payload []byte, check func([]byte) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t0 := time.Now()
	e, err := b.startEmulated(fn)
	if err != nil {
		return 0, err
	}
	defer e.Stop()
	started := time.Since(t0)
	first, err := e.call(ctx, payload, check)
	if err != nil {
		return 0, fmt.Errorf("%s: first invocation: %w", fn.Name, err)
	}
	return started + first, nil
}

// coldStarts measures n cold starts of each function, taking them in turn
// so that the machine's load falls on all alike.
func (b *bench) coldStarts(ctx context.Context, fns []emulator.Function, payloads map[string][]byte, checks map[string]func([]byte) error, n int) (map[string]coldStats, error) {
	wall := map[string][]time.Duration{}
	for range n {
		for _, fn := range fns {
			w, err := b.coldStart(ctx, fn, payloads[fn.Name], checks[fn.Name])
			if err != nil {
				return nil, err
			}
			wall[fn.Name] = append(wall[fn.Name], w)
		}
	}
	out := map[string]coldStats{}
	for _, fn := range fns {
		out[fn.Name] = newColdStats(wall[fn.Name])
	}
	return out, nil
}

// coldStats summarises one function's cold starts, in seconds.
type coldStats struct {
	N                int
	Median, Min, Max float64
}

func newColdStats(wall []time.Duration) coldStats {
	w := durations(wall)
	sort.Float64s(w)
	s := coldStats{N: len(w), Median: median(w)}
	if len(w) > 0 {
		s.Min, s.Max = w[0], w[len(w)-1]
	}
	return s
}

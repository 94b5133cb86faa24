package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

const invokePath = "/2015-03-31/functions/function/invocations"

// lambdaFn is a function built for this machine, with its environment.
type lambdaFn struct {
	Name      string
	Bootstrap string
	Env       map[string]string
}

// emulated is one Runtime Interface Emulator process running a function,
// as one Lambda execution environment.
type emulated struct {
	p      *proc
	url    string
	client *http.Client
	out    *tail // the end of the emulator's and the function's output
}

// startEmulated starts the emulator on two free loopback ports with the
// function as its bootstrap. The emulator starts the function on the first
// invocation, as Lambda does.
func (b *bench) startEmulated(ctx context.Context, fn lambdaFn) (*emulated, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	api := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	runtimeAPI := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cmd := command(ctx, filepath.Dir(fn.Bootstrap), lambdaEnviron(fn), b.rie,
		"--log-level", "error",
		"--runtime-interface-emulator-address", api,
		"--runtime-api-address", runtimeAPI,
		fn.Bootstrap)
	e := &emulated{
		url:    "http://" + api + invokePath,
		client: &http.Client{Timeout: 30 * time.Second},
		out:    &tail{max: 2 << 10},
	}
	cmd.Stdout, cmd.Stderr = e.out, e.out
	if e.p, err = start(cmd); err != nil {
		return nil, err
	}
	return e, nil
}

// invoke sends one event and returns the function's answer. Until the
// emulator listens, the connection is refused and tried again.
func (e *emulated) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		resp, err := e.client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) && !e.p.exited() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			if e.p.exited() {
				return nil, fmt.Errorf("the emulator exited: %s", e.out)
			}
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("the emulator answered %d: %.200s", resp.StatusCode, body)
		}
		return body, nil
	}
}

// stop ends the emulator and the function under it.
func (e *emulated) stop() {
	e.client.CloseIdleConnections()
	e.p.stop(syscall.SIGTERM, 2*time.Second)
}

// coldStart is one measured cold start: from just before the emulator
// process starts to the first answer, which check must accept.
func (b *bench) coldStart(ctx context.Context, fn lambdaFn, payload []byte, check func([]byte) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t0 := time.Now()
	e, err := b.startEmulated(ctx, fn)
	if err != nil {
		return 0, err
	}
	defer e.stop()
	out, err := e.invoke(ctx, payload)
	wall := time.Since(t0)
	if err == nil {
		err = check(out)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: first invocation: %w", fn.Name, err)
	}
	return wall, nil
}

// coldStarts measures n cold starts of each function, taking them in turn
// so that the machine's load falls on all alike.
func (b *bench) coldStarts(ctx context.Context, fns []lambdaFn, payloads map[string][]byte, checks map[string]func([]byte) error, n int) (map[string]coldStats, error) {
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

// lambdaEnviron is the emulator's environment, which it passes on to the
// function: what Lambda sets, then the function's own settings. Nothing is
// inherited from this process, so no real credentials or settings leak in.
func lambdaEnviron(fn lambdaFn) []string {
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "10",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "bench",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT":                filepath.Dir(fn.Bootstrap),
		"PATH":                            os.Getenv("PATH"),
		"TZ":                              ":UTC",
	}
	for k, v := range fn.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

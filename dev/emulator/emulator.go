// Package emulator runs Lambda functions on this machine, each instance as
// its own AWS Lambda Runtime Interface Emulator (aws-lambda-rie) process with
// the function's real binary as its bootstrap, and builds those binaries.
//
// One emulator process serves one invocation at a time, as one Lambda
// execution environment does, so a Runner, which serves the local API,
// keeps a small pool of instances per function: concurrent requests start
// more instances up to a limit and queue beyond it. Start runs a single
// instance, as the benchmarks time it.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"clerk-lambda/internal/lockedio"
	"clerk-lambda/internal/proctree"
)

// Function is what the emulator needs to run one function.
type Function struct {
	// Name is the function's logical id; it prefixes the function's output.
	Name string
	// Bootstrap is the path of the built binary.
	Bootstrap string
	// Env is the function's environment, complete: the emulator adds only
	// the variables that Lambda itself sets (AWS_LAMBDA_FUNCTION_NAME and
	// the like), and nothing of this process's environment but PATH.
	Env      map[string]string
	Timeout  time.Duration
	MemoryMB int
}

// Config configures a Runner.
type Config struct {
	// RIE is the path of the aws-lambda-rie binary.
	RIE string
	// MaxInstances is the most instances per function; 0 means 4.
	MaxInstances int
	// Output receives the functions' stdout and stderr, one line at a time,
	// each prefixed with the function's name; nil discards them.
	Output io.Writer

	// kill ends an emulator's process tree: the emulator and the bootstraps
	// it starts, each in a process group of its own. nil means
	// proctree.KillTree; tests wrap that to see what is killed.
	kill func(pid int)
}

// withDefaults fills in what cfg leaves unset.
func (cfg Config) withDefaults() Config {
	if cfg.MaxInstances <= 0 {
		cfg.MaxInstances = 4
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	if cfg.kill == nil {
		cfg.kill = proctree.KillTree
	}
	return cfg
}

// FunctionError is a failure of the function itself: an error it returned,
// a panic, an exit, or running past its timeout. API Gateway answers all of
// these 500.
type FunctionError struct {
	Function string
	// Type is Lambda's errorType, such as errorString, Runtime.ExitError or
	// Sandbox.Timedout.
	Type    string
	Message string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("%s failed: %s: %s", e.Function, e.Type, e.Message)
}

// ErrUnknownFunction is returned for a function the Runner was not given.
var ErrUnknownFunction = errors.New("unknown function")

// Runner runs functions under the emulator. It is safe for concurrent use.
type Runner struct {
	cfg    Config
	out    *lockedio.Writer
	mu     sync.Mutex
	pools  map[string]*pool
	closed bool
}

// NewRunner returns a Runner with no functions.
func NewRunner(cfg Config) *Runner {
	cfg = cfg.withDefaults()
	return &Runner{cfg: cfg, out: lockedio.NewWriter(cfg.Output), pools: map[string]*pool{}}
}

// Set adds a function or replaces its settings and binary. Instances of the
// old version finish what they are doing and are then stopped; new
// invocations start fresh instances.
func (r *Runner) Set(fn Function) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if p, ok := r.pools[fn.Name]; ok {
		p.replace(fn)
		return
	}
	r.pools[fn.Name] = newPool(fn, r.cfg, r.out)
}

// Invoke calls the function with payload and returns its answer. It returns
// a *FunctionError when the function failed, and ctx.Err() when ctx ends
// first (the invocation itself then runs on to its end, as in Lambda).
func (r *Runner) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	r.mu.Lock()
	p, ok := r.pools[name]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %s", ErrUnknownFunction, name)
	}
	return p.invoke(ctx, payload)
}

// Functions lists the functions the Runner has, by name.
func (r *Runner) Functions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.pools))
	for name := range r.pools {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Close stops every instance, waiting for the processes to end.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	pools := r.pools
	r.pools = map[string]*pool{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close()
		}()
	}
	wg.Wait()
	return nil
}

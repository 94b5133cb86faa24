package emulator

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"clerk-lambda/internal/proctree"
)

// startTimeout bounds how long an emulator may take to listen.
const startTimeout = 10 * time.Second

// Instance is one emulator process running one function, as one Lambda
// execution environment: it serves one invocation at a time, and the
// emulator starts the function's process on the first, as Lambda does.
type Instance struct {
	fn      Function
	version int // the pool's version of fn
	url     string
	proc    *proctree.Process
	client  *http.Client
	// kill ends the emulator's process tree, given its pid.
	kill     func(pid int)
	stopOnce sync.Once
}

// Start starts one instance of fn outside any Runner, and returns once its
// emulator listens: for timing a cold start, or the warm invocations of one
// execution environment. cfg.MaxInstances does not apply. The caller stops
// the instance.
func Start(cfg Config, fn Function) (*Instance, error) {
	cfg = cfg.withDefaults()
	return startInstance(cfg, fn, 0, cfg.Output)
}

// startInstance starts an emulator for fn on two free loopback ports and
// waits until it listens. A port taken between choosing and binding makes
// the emulator exit; that is retried with other ports.
func startInstance(cfg Config, fn Function, version int, out io.Writer) (*Instance, error) {
	var lastErr error
	for range 3 {
		inst, err := tryStart(cfg, fn, version, out)
		if err == nil {
			return inst, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStart(cfg Config, fn Function, version int, out io.Writer) (*Instance, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	runtimeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cmd := exec.Command(cfg.RIE,
		"--log-level", "error",
		"--runtime-interface-emulator-address", apiAddr,
		"--runtime-api-address", runtimeAddr,
		fn.Bootstrap)
	cmd.Dir = filepath.Dir(fn.Bootstrap)
	cmd.Env = environ(fn)
	w := functionOutput(out, fn.Name)
	cmd.Stdout, cmd.Stderr = w, w
	proc, err := proctree.Start(cmd, w.Flush)
	if err != nil {
		return nil, fmt.Errorf("start the Lambda Runtime Interface Emulator: %w", err)
	}
	inst := &Instance{
		fn:      fn,
		version: version,
		url:     "http://" + apiAddr + invokePath,
		proc:    proc,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
		kill:    cfg.kill,
	}
	if err := inst.awaitListening(apiAddr); err != nil {
		inst.Stop()
		return nil, fmt.Errorf("%s: the Lambda Runtime Interface Emulator did not start: %w", fn.Name, err)
	}
	return inst, nil
}

// awaitListening polls the emulator's address every millisecond, so that
// a cold start timed across Start is not rounded up by the polling.
func (i *Instance) awaitListening(addr string) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-i.proc.Done():
			return errors.New("it exited")
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("not listening after %s", startTimeout)
}

// Stop ends the emulator and the function's process, and waits for them.
// It acts once however often it is called (Runner.Close and the end of a
// busy invocation both stop an instance), and an emulator that has already
// exited is not signalled at all: its pid may belong to another process by
// then, whose tree a kill would end.
func (i *Instance) Stop() {
	i.stopOnce.Do(func() {
		defer i.client.CloseIdleConnections()
		i.proc.Kill(i.kill)
	})
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

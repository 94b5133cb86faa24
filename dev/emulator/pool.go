package emulator

import (
	"context"
	"errors"
	"sync"

	"clerk-lambda/internal/lockedio"
)

// errClosed is the answer to an invocation once the Runner is closing.
var errClosed = errors.New("the local API is shutting down")

// brokenError marks an instance that must not serve again: the pool
// stops it instead of keeping it idle.
type brokenError struct{ err error }

func (e *brokenError) Error() string { return e.err.Error() }
func (e *brokenError) Unwrap() error { return e.err }

func isBroken(err error) bool {
	var b *brokenError
	return errors.As(err, &b)
}

// pool holds the instances of one function.
type pool struct {
	cfg   Config
	out   *lockedio.Writer
	slots chan struct{} // one per running invocation, at most MaxInstances

	mu      sync.Mutex
	fn      Function
	version int // bumped by replace; instances of older versions are retired
	idle    []*Instance
	all     map[*Instance]bool
	closed  bool
}

func newPool(fn Function, cfg Config, out *lockedio.Writer) *pool {
	return &pool{
		cfg:   cfg,
		out:   out,
		slots: make(chan struct{}, cfg.MaxInstances),
		fn:    fn,
		all:   map[*Instance]bool{},
	}
}

// invoke runs one invocation on an idle instance, or a new one, waiting for
// a free slot when MaxInstances are busy.
func (p *pool) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	inst, err := p.take()
	if err != nil {
		<-p.slots
		return nil, err
	}
	type result struct {
		answer []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		// The invocation runs to its end even when ctx ends first, as in
		// Lambda.
		answer, err := inst.Invoke(context.Background(), payload)
		p.release(inst, err)
		<-p.slots
		done <- result{answer, err}
	}()
	select {
	case res := <-done:
		return res.answer, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take returns an idle instance of the current version, or starts one.
func (p *pool) take() (*Instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	fn, version := p.fn, p.version
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	inst, err := startInstance(p.cfg, fn, version, p.out)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go inst.Stop()
		return nil, errClosed
	}
	p.all[inst] = true
	return inst, nil
}

// release returns an instance after an invocation. An instance that broke,
// belongs to an older version, or outlived the pool is stopped instead.
func (p *pool) release(inst *Instance, err error) {
	p.mu.Lock()
	keep := !p.closed && inst.version == p.version && !isBroken(err)
	if keep {
		p.idle = append(p.idle, inst)
	} else {
		delete(p.all, inst)
	}
	p.mu.Unlock()
	if !keep {
		inst.Stop()
	}
}

// replace switches the pool to a new version of the function: idle old
// instances stop now, busy ones when they finish.
func (p *pool) replace(fn Function) {
	p.mu.Lock()
	p.fn = fn
	p.version++
	idle := p.idle
	p.idle = nil
	for _, inst := range idle {
		delete(p.all, inst)
	}
	p.mu.Unlock()
	for _, inst := range idle {
		inst.Stop()
	}
}

// close stops every instance, busy or not.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.all = map[*Instance]bool{}
	p.idle = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for inst := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst.Stop()
		}()
	}
	wg.Wait()
}

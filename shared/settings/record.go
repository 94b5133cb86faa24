package settings

import (
	"slices"
	"sync"
)

// Recorder is a Lookup that remembers every name it was asked for, so a
// function's start-up check can list the variables the function reads.
type Recorder struct {
	get   Lookup
	mu    sync.Mutex
	names map[string]bool
}

// Record wraps get.
func Record(get Lookup) *Recorder {
	return &Recorder{get: get, names: map[string]bool{}}
}

// Lookup looks name up with the wrapped Lookup and remembers it.
func (r *Recorder) Lookup(name string) (string, bool) {
	r.mu.Lock()
	r.names[name] = true
	r.mu.Unlock()
	return r.get(name)
}

// Names are the names looked up so far, sorted.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// watchedDirs are the source folders a change in which rebuilds functions.
var watchedDirs = []string{"functions", "shared"}

// stamp is what a file change alters.
type stamp struct {
	mod  time.Time
	size int64
}

// snapshot maps source files (relative to the module root) to stamps.
type snapshot map[string]stamp

// scan stamps the Go sources under the watched folders and the module files.
func scan(root string) snapshot {
	snap := snapshot{}
	add := func(path string, info fs.FileInfo) {
		if rel, err := filepath.Rel(root, path); err == nil {
			snap[filepath.ToSlash(rel)] = stamp{info.ModTime(), info.Size()}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if info, err := os.Stat(filepath.Join(root, f)); err == nil {
			add(filepath.Join(root, f), info)
		}
	}
	for _, dir := range watchedDirs {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return nil
			}
			if info, err := d.Info(); err == nil {
				add(path, info)
			}
			return nil
		})
	}
	return snap
}

// changes lists files added, removed or modified between two snapshots.
func changes(before, after snapshot) []string {
	var changed []string
	for path, st := range after {
		if old, ok := before[path]; !ok || old != st {
			changed = append(changed, path)
		}
	}
	for path := range before {
		if _, ok := after[path]; !ok {
			changed = append(changed, path)
		}
	}
	return changed
}

// affected names the functions to rebuild for changed files: a file inside
// a function's own folder rebuilds that function; anything else (shared
// packages, go.mod) may reach every function, so all are rebuilt, and those
// whose binary comes out identical are left running.
func affected(changed []string, dirs map[string]string) []string {
	set := map[string]bool{}
	for _, path := range changed {
		owner := ""
		for name, dir := range dirs {
			if strings.HasPrefix(path, filepath.ToSlash(dir)+"/") {
				owner = name
			}
		}
		if owner == "" && strings.HasPrefix(path, "functions/") {
			continue // a function the API does not use
		}
		if owner == "" {
			for name := range dirs {
				set[name] = true
			}
			continue
		}
		set[owner] = true
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	return names
}

// watch polls the sources and rebuilds what changed until Close.
func (s *devServer) watch(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	s.watchDone = make(chan struct{})
	dirs := map[string]string{}
	for name, f := range s.fns {
		dirs[name] = f.dir
	}
	go func() {
		defer close(s.watchDone)
		last := scan(s.cfg.Root)
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			now := scan(s.cfg.Root)
			names := affected(changes(last, now), dirs)
			last = now
			if len(names) > 0 {
				s.rebuild(ctx, names)
			}
		}
	}()
}

// rebuild builds the named functions again and restarts those whose
// binary changed. A build that fails keeps the running version.
func (s *devServer) rebuild(ctx context.Context, names []string) {
	for _, name := range names {
		f := s.fns[name]
		changed, err := s.build(ctx, f)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.logf("rebuild failed, still running the previous %s: %v", name, err)
		case changed:
			s.runner.Set(f.emulated())
			if s.isAuthorizer(name) {
				s.gw.ForgetAuthorizations()
			}
			s.logf("rebuilt %s (%s): new instances start with the next request", name, f.dir)
		}
	}
}

func (s *devServer) isAuthorizer(name string) bool {
	for _, r := range s.api.Routes {
		if r.Authorizer != nil && r.Authorizer.Function == name {
			return true
		}
	}
	return false
}

func (s *devServer) logf(format string, args ...any) {
	fmt.Fprintf(s.out, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

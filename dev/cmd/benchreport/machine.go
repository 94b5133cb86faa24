package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPU   string
	Cores int
	OS    string // GOOS/GOARCH
	Go    string
	Node  string // "" when Node is not installed
}

func (m Machine) String() string {
	node := m.Node
	if node == "" {
		node = "not installed"
	}
	return fmt.Sprintf("%s, %d cores, %s, Go %s, Node %s", m.CPU, m.Cores, m.OS, strings.TrimPrefix(m.Go, "go"), strings.TrimPrefix(node, "v"))
}

// describeMachine finds the CPU model, the core count and the toolchains
// the benchmarks run with.
func describeMachine(ctx context.Context, root string) Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(f)
		f.Close()
	}
	if out, err := run(ctx, time.Minute, root, nil, "go", "env", "GOVERSION"); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	if out, err := run(ctx, 30*time.Second, root, nil, "node", "--version"); err == nil {
		m.Node = strings.TrimSpace(string(out))
	}
	return m
}

// cpuModel reads the CPU's model from /proc/cpuinfo: "model name" on x86,
// else the other names ARM and others use.
func cpuModel(r io.Reader) string {
	found := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if ok && value != "" && found[key] == "" {
			found[key] = value
		}
	}
	for _, key := range []string{"model name", "Model", "Hardware", "cpu model", "CPU part"} {
		if v := found[key]; v != "" {
			return oneLine(v)
		}
	}
	return "unknown CPU"
}

package emulator_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/lockedio"
	"clerk-lambda/internal/projectroot"
)

// rieBin is the emulator, from the environment that make test sets up.
func rieBin(t *testing.T) string {
	t.Helper()
	rie := os.Getenv("RIE_BIN")
	if rie == "" {
		t.Skip("RIE_BIN is not set: run make test (it builds the Lambda Runtime Interface Emulator)")
	}
	if _, err := os.Stat(rie); err != nil {
		t.Skipf("RIE_BIN %s: %v: run make test (it builds the Lambda Runtime Interface Emulator)", rie, err)
	}
	return rie
}

var (
	buildOnce sync.Once
	fixture   string
	buildErr  error
	buildDir  string
)

// fixtureBinary builds testdata/fixturefn once per test run.
func fixtureBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "devapi-fixture")
		if buildErr != nil {
			return
		}
		fixture = filepath.Join(buildDir, "fixturefn", "bootstrap")
		buildErr = emulator.Build(context.Background(), moduleRoot(t), "dev/cmd/devapi/testdata/fixturefn", fixture)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return fixture
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// moduleRoot is the folder holding go.mod, above the test's folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := projectroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// newRunner returns a Runner with the fixture as "Fixture", closed at the
// end of the test.
func newRunner(t *testing.T, timeout time.Duration, env map[string]string, out *lockedio.Buffer) *emulator.Runner {
	t.Helper()
	rie := rieBin(t)
	cfg := emulator.Config{RIE: rie}
	if out != nil {
		cfg.Output = out
	}
	r := emulator.NewRunner(cfg)
	t.Cleanup(func() { r.Close() })
	r.Set(emulator.Function{Name: "Fixture", Bootstrap: fixtureBinary(t), Env: env, Timeout: timeout, MemoryMB: 128})
	return r
}

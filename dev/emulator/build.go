package emulator

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildError is a function that does not compile; Output is the compiler's.
type BuildError struct {
	Dir    string
	Output string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("%s does not build:\n%s", e.Dir, strings.TrimRight(e.Output, "\n"))
}

// Build compiles the Go package dir (relative to the project root) for this
// machine into out, as Lambda's provided runtimes expect: a static binary
// without the RPC shim. It builds inside dir, so the package may belong to
// the product module or to the development module in dev/. The binary is
// replaced atomically, so running instances keep the one they started with.
func Build(ctx context.Context, root, dir, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if info, err := os.Stat(filepath.Join(root, dir)); err != nil || !info.IsDir() {
		return &BuildError{Dir: dir, Output: "no such folder"}
	}
	tmp := out + ".new"
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", tmp, ".")
	cmd.Dir = filepath.Join(root, dir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	output, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &BuildError{Dir: dir, Output: string(output)}
	}
	return os.Rename(tmp, out)
}

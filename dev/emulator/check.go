package emulator

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"time"

	"clerk-lambda/shared/startup"
)

// Check runs a built function's own start-up check (bootstrap -check, see
// shared/startup) with env as its whole environment, PATH aside, and returns
// its report. ok is false when the binary printed no report: its main does
// not use shared/startup.
func Check(ctx context.Context, bootstrap string, env map[string]string) (r startup.Report, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bootstrap, startup.CheckFlag)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, _ := cmd.Output()
	if json.Unmarshal(out, &r) != nil || r.Function == "" {
		return startup.Report{}, false
	}
	return r, true
}

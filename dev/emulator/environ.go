package emulator

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// environ is the process environment of an emulator: the emulator passes
// its own environment to the function, so this is the function's
// environment plus what Lambda sets and what the emulator reads. Nothing
// else is inherited from this process, so no real credentials or settings
// reach the function.
func environ(fn Function) []string {
	env := map[string]string{
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":   "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":  "local",
		"AWS_EXECUTION_ENV":           "AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT":            filepath.Dir(fn.Bootstrap),
		"PATH":                        os.Getenv("PATH"),
		"TZ":                          ":UTC",
	}
	for k, v := range fn.Env {
		env[k] = v
	}
	// Set last: these describe the function and are Lambda's to set.
	env["AWS_LAMBDA_FUNCTION_NAME"] = fn.Name
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(fn.MemoryMB)
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(timeoutSeconds(fn.Timeout))
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// timeoutSeconds rounds a timeout up to the whole seconds the emulator
// takes, at least one.
func timeoutSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/lockedio"
)

func TestInvokeOutcomes(t *testing.T) {
	t.Parallel()
	r := newRunner(t, time.Second, nil, nil)
	ctx := context.Background()
	tests := []struct {
		mode    string
		errType string // "" for success
	}{
		{"echo", ""},
		{"error", "errorString"},
		{"echo", ""}, // the same instance serves on after a returned error
		{"panic", "string"},
		{"echo", ""}, // and after a panic, which the emulator restarts
		{"exit", "Runtime.ExitError"},
		{"echo", ""},
		{"sleep", "Sandbox.Timedout"}, // 3 s against a 1 s timeout
		{"echo", ""},
	}
	for _, tc := range tests {
		payload := `{"mode":"` + tc.mode + `","ms":"3000"}`
		answer, err := r.Invoke(ctx, "Fixture", []byte(payload))
		var fe *emulator.FunctionError
		switch {
		case tc.errType == "" && err != nil:
			t.Errorf("%s: %v", tc.mode, err)
		case tc.errType == "" && !strings.Contains(string(answer), `"mode":"echo"`):
			t.Errorf("%s: answer %s, want the event back", tc.mode, answer)
		case tc.errType != "" && (!errors.As(err, &fe) || fe.Type != tc.errType):
			t.Errorf("%s: error %v, want a FunctionError of type %s", tc.mode, err, tc.errType)
		}
	}
}

func TestEnvironmentAndOutput(t *testing.T) {
	t.Parallel()
	out := &lockedio.Buffer{}
	r := newRunner(t, 3*time.Second, map[string]string{"GREETING": "hello"}, out)
	for name, want := range map[string]string{
		"GREETING":                        "hello",
		"AWS_LAMBDA_FUNCTION_NAME":        "Fixture",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_REGION":                      "us-east-1",
	} {
		answer, err := r.Invoke(context.Background(), "Fixture", []byte(`{"mode":"env","name":"`+name+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Value string }
		if err := json.Unmarshal(answer, &got); err != nil || got.Value != want {
			t.Errorf("%s = %q (%s), want %q", name, got.Value, answer, want)
		}
	}
	if !strings.Contains(out.String(), "Fixture | fixture mode env\n") {
		t.Errorf("output %q, want the function's lines prefixed with its name", out.String())
	}
	if strings.Contains(out.String(), "REPORT RequestId") {
		t.Errorf("output %q holds the emulator's REPORT lines", out.String())
	}
}

func TestSetStartsTheNewVersion(t *testing.T) {
	t.Parallel()
	r := newRunner(t, 3*time.Second, map[string]string{"V": "1"}, nil)
	get := func() string {
		answer, err := r.Invoke(context.Background(), "Fixture", []byte(`{"mode":"env","name":"V"}`))
		if err != nil {
			t.Fatal(err)
		}
		return string(answer)
	}
	if got := get(); got != `{"value":"1"}` {
		t.Fatalf("first version answered %s", got)
	}
	r.Set(emulator.Function{Name: "Fixture", Bootstrap: fixtureBinary(t), Env: map[string]string{"V": "2"}, Timeout: 3 * time.Second, MemoryMB: 128})
	if got := get(); got != `{"value":"2"}` {
		t.Errorf("after Set answered %s, want the new version", got)
	}
}

func TestUnknownFunction(t *testing.T) {
	t.Parallel()
	r := emulator.NewRunner(emulator.Config{RIE: "unused"})
	if _, err := r.Invoke(context.Background(), "Nope", nil); !errors.Is(err, emulator.ErrUnknownFunction) {
		t.Errorf("error %v, want ErrUnknownFunction", err)
	}
}

func TestBuildError(t *testing.T) {
	t.Parallel()
	err := emulator.Build(context.Background(), moduleRoot(t), "dev/cmd/devapi/testdata/nosuchfn", t.TempDir()+"/bootstrap")
	var be *emulator.BuildError
	if !errors.As(err, &be) || be.Dir != "dev/cmd/devapi/testdata/nosuchfn" || be.Output == "" {
		t.Errorf("Build error %v, want a BuildError with the compiler's output", err)
	}
}

package deploy

import (
	"crypto/rand"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sam build runs `make build-<LogicalId>` with ARTIFACTS_DIR set and zips
// what lands there; Lambda's provided.al2023 on arm64 runs ./bootstrap.
// One test builds them all, one after the other, to spare a small machine.
func TestBuildTargetsMakeArm64Bootstraps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function; skipped with -short")
	}
	s := template(t)
	for _, id := range s.functionIDs() {
		dir := t.TempDir()
		if out, err := runMake(t, nil, "build-"+id, "ARTIFACTS_DIR="+dir); err != nil {
			t.Errorf("make build-%s (what sam build runs) failed: %v\n%s", id, err, out)
			continue
		}
		if err := checkBootstrap(filepath.Join(dir, "bootstrap")); err != nil {
			t.Errorf("make build-%s: %v", id, err)
		}
	}
}

// checkBootstrap says why path is not a static linux/arm64 executable.
func checkBootstrap(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("no bootstrap in ARTIFACTS_DIR: %w", err)
	}
	if info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("bootstrap is not executable (mode %v)", info.Mode())
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("bootstrap is not an ELF executable: %w", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		return fmt.Errorf("bootstrap is built for %v (%v), want arm64 (EM_AARCH64): Lambda runs the functions on Graviton", f.Machine, f.Class)
	}
	if f.Type != elf.ET_EXEC {
		return fmt.Errorf("bootstrap is of ELF type %v, want an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("bootstrap is dynamically linked; build with CGO_ENABLED=0 so it runs without the build machine's libc")
		}
	}
	return nil
}

func TestBuildTargetNeedsArtifactsDir(t *testing.T) {
	t.Parallel()
	out, err := runMake(t, nil, "-n", "build-"+authorizerID)
	if err == nil || !strings.Contains(out, "ARTIFACTS_DIR is not set") {
		t.Errorf("make build-%s without ARTIFACTS_DIR should stop and say ARTIFACTS_DIR is not set; got %v:\n%s", authorizerID, err, out)
	}
}

// `make build` runs the same build-<LogicalId> targets, into bin/<dir>.
func TestMakeBuildCoversEveryFunction(t *testing.T) {
	t.Parallel()
	out, _ := runMake(t, nil, "-n", "build")
	for _, l := range functionsOf(t) {
		want := "/bin/" + l.dir + "/bootstrap ./functions/" + l.dir
		if !strings.Contains(strings.ReplaceAll(out, "\\\n  ", ""), want) {
			t.Errorf("make build does not build %s into bin/%s/bootstrap with the build-%s recipe:\n%s", l.dir, l.dir, l.id, out)
		}
	}
}

// dryRun is `make -n` of a target, with continuation lines joined.
func dryRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := runMake(t, env, append([]string{"-n"}, args...)...)
	if err != nil {
		t.Fatalf("make -n %s failed: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.ReplaceAll(out, "\\\n", " ")
}

func TestDeployDryRun(t *testing.T) {
	t.Parallel()
	out := dryRun(t, nil, "deploy")
	build, deploy := strings.Index(out, "\nsam build"), strings.Index(out, "\nsam deploy")
	if build < 0 || deploy < 0 || deploy < build {
		t.Errorf("make deploy should run sam build, then sam deploy:\n%s", out)
	}
	if strings.Contains(out, "--guided") {
		t.Errorf("make deploy without GUIDED must not run sam deploy --guided:\n%s", out)
	}
	if out := dryRun(t, nil, "deploy", "GUIDED=1"); !strings.Contains(out, "\nsam deploy --guided") {
		t.Errorf("make deploy GUIDED=1 should run sam deploy --guided:\n%s", out)
	}
	if !strings.Contains(out, "command -v sam") {
		t.Errorf("make deploy should check that sam is installed before running it:\n%s", out)
	}
}

func TestPutSecretDryRun(t *testing.T) {
	t.Parallel()
	key := fakeSecretKey(t)
	out := dryRun(t, []string{"CLERK_SECRET_KEY=" + key}, "put-secret")
	if strings.Contains(out, key) {
		t.Fatalf("make -n put-secret prints the secret key")
	}
	for _, want := range []string{"aws ssm put-parameter", "--type SecureString", "--name /clerk/secret-key", "--overwrite", "--value file:///dev/stdin"} {
		if !strings.Contains(out, want) {
			t.Errorf("make put-secret should run %q:\n%s", want, out)
		}
	}
}

func fakeSecretKey(t *testing.T) string {
	t.Helper()
	return "sk_test_" + strings.ReplaceAll(rand.Text(), "-", "")
}

// The real put-secret, against a stand-in aws that records what it gets:
// the key arrives on standard input only, never as an argument or in output.
func TestPutSecretSendsKeyOnStdin(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	rec := t.TempDir()
	script := "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" > '" + rec + "/args'\ncat > '" + rec + "/stdin'\necho 3\n"
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")
	key := fakeSecretKey(t)
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, []byte("OTHER=1\nexport CLERK_SECRET_KEY=\""+key+"\"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		env  []string
	}{
		{"from the environment", []string{path, "CLERK_SECRET_KEY=" + key}},
		{"from the env file", []string{path}},
	}
	for _, c := range cases {
		os.Remove(filepath.Join(rec, "stdin"))
		out, err := runMake(t, c.env, "put-secret", "ENV_FILE="+envFile)
		if err != nil {
			t.Errorf("%s: make put-secret failed: %v\n%s", c.name, err, out)
			continue
		}
		if strings.Contains(out, key) {
			t.Errorf("%s: make put-secret printed the key", c.name)
		}
		args, _ := os.ReadFile(filepath.Join(rec, "args"))
		stdin, _ := os.ReadFile(filepath.Join(rec, "stdin"))
		if strings.Contains(string(args), key) {
			t.Errorf("%s: the key is on aws's command line, where ps shows it", c.name)
		}
		if string(stdin) != key {
			t.Errorf("%s: aws read %q on standard input, want exactly the key", c.name, stdin)
		}
		if !strings.Contains(out, "version 3") {
			t.Errorf("%s: make put-secret should report the stored version:\n%s", c.name, out)
		}
	}

	os.Remove(filepath.Join(rec, "stdin"))
	out, err := runMake(t, []string{path, "CLERK_SECRET_KEY=pk_test_notasecret"}, "put-secret", "ENV_FILE="+envFile)
	if err == nil || !strings.Contains(out, "is not a Clerk secret key") {
		t.Errorf("make put-secret should refuse a value that is not sk_test_/sk_live_; got %v:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(rec, "stdin")); err == nil {
		t.Error("make put-secret called aws with a malformed key")
	}
	out, err = runMake(t, []string{path}, "put-secret", "ENV_FILE="+filepath.Join(t.TempDir(), "absent"))
	if err == nil || !strings.Contains(out, "CLERK_SECRET_KEY is not set") {
		t.Errorf("make put-secret without a key should say CLERK_SECRET_KEY is not set; got %v:\n%s", err, out)
	}
}

func TestLogsAndDestroyDryRun(t *testing.T) {
	t.Parallel()
	stack, _ := lookup(readSAMConfig(t), "default", "global", "parameters", "stack_name").(string)
	if out := dryRun(t, nil, "logs", "FN=MeFunction"); !strings.Contains(out, "\nsam logs --stack-name "+stack+" --name MeFunction --tail") {
		t.Errorf("make logs FN=MeFunction should follow MeFunction's logs in stack %s:\n%s", stack, out)
	}
	out := dryRun(t, nil, "destroy")
	if !strings.Contains(out, "\nsam delete --stack-name "+stack) {
		t.Errorf("make destroy should run sam delete on stack %s:\n%s", stack, out)
	}
	if !strings.Contains(out, "read -r -p") || strings.Index(out, "read -r -p") > strings.Index(out, "sam delete") {
		t.Errorf("make destroy should ask for confirmation before sam delete:\n%s", out)
	}
}

// Without sam or aws, each target says what is missing and where to get it,
// instead of failing halfway with "command not found".
func TestMissingToolsAreNamed(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	bin := t.TempDir()
	if err := os.Symlink(bash, filepath.Join(bin, "bash")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin, "CLERK_SECRET_KEY=" + fakeSecretKey(t)}
	for target, tool := range map[string]string{"deploy": "sam", "logs": "sam", "destroy": "sam", "put-secret": "aws"} {
		out, err := runMake(t, env, target, "FN=MeFunction")
		if err == nil {
			t.Errorf("make %s succeeded without %s on PATH", target, tool)
		}
		if !strings.Contains(out, tool+" is not installed") || !strings.Contains(out, "https://docs.aws.amazon.com/") {
			t.Errorf("make %s without %s should say it is not installed and where to get it:\n%s", target, tool, out)
		}
	}
}

// make put-secret stores the key where the deployed stack looks for it.
func TestSecretParameterNamesAgree(t *testing.T) {
	t.Parallel()
	s := template(t)
	want := render(s.typed.Parameters[secretParamRef].Default)
	if got, ok := parameterOverrides(t, readSAMConfig(t))[secretParamRef]; ok && got != want {
		t.Errorf("samconfig.toml deploys %s=%s but the template's default is %s", secretParamRef, got, want)
	}
	if out := dryRun(t, []string{"CLERK_SECRET_KEY=" + fakeSecretKey(t)}, "put-secret"); !strings.Contains(out, "--name "+want+" ") {
		t.Errorf("make put-secret does not store the key under %s, where the stack reads it:\n%s", want, out)
	}
}

func TestHelpListsTargets(t *testing.T) {
	t.Parallel()
	out, err := runMake(t, nil, "help")
	if err != nil {
		t.Fatalf("make help failed: %v\n%s", err, out)
	}
	for _, target := range []string{"help", "tools", "test", "lint", "build", "bench", "dev", "deploy", "put-secret", "logs", "destroy"} {
		if !strings.Contains(out, "make "+target+" ") {
			t.Errorf("make help does not list %s:\n%s", target, out)
		}
	}
}

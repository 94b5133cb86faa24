package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/lockedio"
	"clerk-lambda/shared/export"
	"clerk-lambda/shared/export/exporttest"
	"clerk-lambda/shared/settings"
)

var s3srv *exporttest.Server

// runMainEnv makes the test binary run main, to test what only main does:
// reading .env.
const runMainEnv = "CLERK_USERS_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) != "" {
		os.Args = append([]string{"clerk-users"}, strings.Fields(os.Getenv(runMainEnv))...)
		main()
		return
	}
	os.Exit(exporttest.Main(m, &s3srv))
}

// result is what a run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// cmd runs the command line args with env as the environment.
func cmd(env map[string]string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(args, settings.Map(env), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// clerkEnv is the environment that points the command at fake.
func clerkEnv(fake *clerkfake.Server) map[string]string {
	return map[string]string{"CLERK_SECRET_KEY": fake.SecretKey(), "CLERK_API_URL": fake.URL()}
}

func TestList(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 30)
	fake.AddUser(clerkfake.User{ID: "user_nameless", EmailAddresses: nil})
	fake.AddUser(clerkfake.User{ID: "user_sneaky", FirstName: "Eve\x1b]0;owned\x07", LastName: "\u202eSmith\nX",
		EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "eve@example.com"}}})
	users := fake.Users() // oldest first; list shows newest first
	for _, tc := range []struct {
		name  string
		args  []string
		lines []string // "id email name" with single spaces
	}{
		{"default page", []string{"list", "--limit", "3"}, []string{
			"user_sneaky eve@example.com Eve?]0;owned? ?Smith?X",
			"user_nameless - -",
			line(users[29]),
		}},
		{"query", []string{"list", "--query", users[3].EmailAddresses[0].EmailAddress}, []string{line(users[3])}},
		{"limit with =", []string{"list", "--limit=1"}, []string{"user_sneaky eve@example.com Eve?]0;owned? ?Smith?X"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cmd(clerkEnv(fake), tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var got []string
			for l := range strings.Lines(r.stdout) {
				got = append(got, strings.Join(strings.Fields(l), " "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.lines, "\n") {
				t.Errorf("list printed\n%s\nwant\n%s", r.stdout, strings.Join(tc.lines, "\n"))
			}
		})
	}
	if r := cmd(clerkEnv(fake), "list"); strings.Count(r.stdout, "\n") != 10 {
		t.Errorf("list without --limit printed %d lines, want 10 (Clerk's default)", strings.Count(r.stdout, "\n"))
	}
}

func line(u clerkfake.User) string {
	return u.ID + " " + u.EmailAddresses[0].EmailAddress + " " + u.FirstName + " " + u.LastName
}

func TestGet(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 3)
	u := fake.Users()[1]
	email := u.EmailAddresses[0].EmailAddress
	for _, args := range [][]string{{"get", u.ID}} {
		if r := cmd(clerkEnv(fake), args...); r.code != 0 || r.stdout != email+"\n" || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %s", args, r.code, r.stdout, r.stderr, email)
		}
	}
	for _, args := range [][]string{{"get", "--json", u.ID}, {"get", u.ID, "--json"}} {
		r := cmd(clerkEnv(fake), args...)
		var got struct {
			ID             string `json:"id"`
			FirstName      string `json:"first_name"`
			EmailAddresses []struct {
				EmailAddress string `json:"email_address"`
			} `json:"email_addresses"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
			t.Fatalf("%v: exit %d, %v:\n%s", args, r.code, err, r.stdout)
		}
		if got.ID != u.ID || got.FirstName != u.FirstName || got.EmailAddresses[0].EmailAddress != email {
			t.Errorf("%v printed %+v, want user %s", args, got, u.ID)
		}
	}
	bare := fake.AddUser(clerkfake.User{FirstName: "Nomail"})
	for _, tc := range []struct {
		id, want string
	}{
		{"user_doesnotexist", "clerk-users: no user with id \"user_doesnotexist\"\n"},
		{"../jwks", "clerk-users: no user with id \"../jwks\"\n"},
		{bare.ID, "clerk-users: user " + bare.ID + " has no email address\n"},
	} {
		if r := cmd(clerkEnv(fake), "get", tc.id); r.code != 1 || r.stderr != tc.want || r.stdout != "" {
			t.Errorf("get %s: exit %d, stderr %q; want 1, %q", tc.id, r.code, r.stderr, tc.want)
		}
	}
}

func TestExportToFile(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 1_200)
	dir := t.TempDir()
	out := filepath.Join(dir, "users.jsonl.gz")
	r := cmd(clerkEnv(fake), "export", "--out", out)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !regexp.MustCompile(`^exported 1200 users \(0\.\d MB\) to .*users\.jsonl\.gz in \d.*\n$`).MatchString(r.stdout) {
		t.Errorf("summary = %q", r.stdout)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exporttest.CheckUsers(t, f, exporttest.IDs(fake))
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files; want the export alone", len(entries))
	}
}

// An export that fails leaves no file behind, not even a temporary one, and
// an existing file as it was.
func TestFailedExportToFileLeavesNothing(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 1_200)
	fake.Fail(clerkfake.Failure{ServerErrors: 1_000, Paths: []string{"/v1/users"}})
	dir := t.TempDir()
	out := filepath.Join(dir, "users.jsonl.gz")
	if err := os.WriteFile(out, []byte("yesterday"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cmd(clerkEnv(fake), "export", "--out", out)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "clerk-users: export stopped after 0 users: clerkapi: list users: gave up after 4 attempts: HTTP 500") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files; want the old export alone", len(entries))
	}
	if b, _ := os.ReadFile(out); string(b) != "yesterday" {
		t.Errorf("the old export became %q", b)
	}
}

// Exporting to s3:// writes what the scheduled function writes. (t.Setenv
// for the AWS settings: not parallel.)
func TestExportToS3(t *testing.T) {
	srv := exporttest.Need(t, s3srv)
	fake := exporttest.Clerk(t, 1_200)
	bucket := srv.Bucket(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	env := clerkEnv(fake)
	env["CLERK_PUBLISHABLE_KEY"] = fake.PublishableKey()
	r := cmd(env, "export", "--out", "s3://"+bucket+"/team/users/")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	client := srv.Client()
	m, err := export.Latest(context.Background(), client, bucket, "team/users")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Key, "team/users/") || m.Users != 1_200 || m.Issuer != fake.Issuer() {
		t.Errorf("latest.json = %+v", m)
	}
	want := "exported 1200 users (" + megabytes(m.Bytes) + ") to s3://" + bucket + "/" + m.Key + ", named by team/users/latest.json in "
	if !strings.HasPrefix(r.stdout, want) {
		t.Errorf("summary = %q, want it to start %q", r.stdout, want)
	}
	obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(m.Key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	exporttest.CheckUsers(t, obj.Body, exporttest.IDs(fake))

	delete(env, "CLERK_PUBLISHABLE_KEY")
	if r := cmd(env, "export", "--out", "s3://"+bucket); r.code != 1 || !strings.HasPrefix(r.stderr, "clerk-users: CLERK_ISSUER or CLERK_PUBLISHABLE_KEY must be set") {
		t.Errorf("without an issuer: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Mistakes on the command line give one line saying what is wrong, with the
// command's usage, and exit status 2, before anything is sent to Clerk.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "clerk-users: no command given (usage: clerk-users list|get|export ...; clerk-users help for more)\n"},
		{[]string{"lst"}, "clerk-users: unknown command \"lst\" (usage: clerk-users list|get|export ...; clerk-users help for more)\n"},
		{[]string{"get"}, "clerk-users: get: missing user id (usage: clerk-users get [--json] ID)\n"},
		{[]string{"get", "user_1", "user_2"}, "clerk-users: get: unexpected argument \"user_2\" (usage: clerk-users get [--json] ID)\n"},
		{[]string{"list", "--limit", "0"}, "clerk-users: list: --limit must be between 1 and 500 (usage: clerk-users list [--limit N] [--query Q])\n"},
		{[]string{"list", "--limit", "501"}, "clerk-users: list: --limit must be between 1 and 500 (usage: clerk-users list [--limit N] [--query Q])\n"},
		{[]string{"list", "--limit", "ten"}, "clerk-users: list: invalid value \"ten\" for flag -limit: parse error (usage: clerk-users list [--limit N] [--query Q])\n"},
		{[]string{"list", "--all"}, "clerk-users: list: flag provided but not defined: -all (usage: clerk-users list [--limit N] [--query Q])\n"},
		{[]string{"list", "--\x1b]0;owned\a"}, "clerk-users: list: flag provided but not defined: -?]0;owned? (usage: clerk-users list [--limit N] [--query Q])\n"},
		{[]string{"list", "extra"}, "clerk-users: list: unexpected argument \"extra\" (usage: clerk-users list [--limit N] [--query Q])\n"},
		{[]string{"export"}, "clerk-users: export: --out is required (usage: clerk-users export --out FILE|s3://BUCKET/PREFIX [--checkpoint FILE] [--resume FILE])\n"},
		{[]string{"export", "--out", "s3://Bad_Bucket/x"}, "clerk-users: export: --out s3://Bad_Bucket/x: bucket not a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens) (usage: clerk-users export --out FILE|s3://BUCKET/PREFIX [--checkpoint FILE] [--resume FILE])\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			// No Clerk settings at all: a usage error is found first.
			r := cmd(nil, tc.args...)
			if r.code != 2 || r.stderr != tc.want || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2, %q", r.code, r.stderr, r.stdout, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"list", "-h"}, {"get", "--help"}, {"export", "-help"}, {"list", "--limit", "5", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := cmd(nil, args...)
			if r.code != 0 || !strings.Contains(r.stdout, usageList) || !strings.Contains(r.stdout, usageExport) || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and the help on stdout", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// Failures to reach Clerk give one line and exit status 1.
func TestClerkErrors(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 3)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong secret", map[string]string{"CLERK_SECRET_KEY": "sk_test_wrong", "CLERK_API_URL": fake.URL()},
			"clerk-users: clerkapi: list users: HTTP 401 clerk_key_invalid: The provided Clerk Secret Key is invalid."},
		{"no secret", map[string]string{"CLERK_API_URL": fake.URL()},
			"clerk-users: CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set (in the environment or in .env)"},
		{"plain http", map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERK_API_URL": "http://api.example.com/v1"},
			"clerk-users: CLERK_API_URL: must use https (plain http only to a local stand-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cmd(tc.env, "list")
			if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line starting %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "sk_test_wrong") {
				t.Error("the error shows the secret key")
			}
		})
	}
}

// main reads .env from the current directory; the environment wins over it.
func TestDotEnv(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 1)
	u := fake.Users()[0]
	dir := t.TempDir()
	dotenv := "CLERK_SECRET_KEY=" + fake.SecretKey() + "\nCLERK_API_URL=" + fake.URL() + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		env      []string
		code     int
		out, err string
	}{
		{"from .env", nil, 0, u.EmailAddresses[0].EmailAddress + "\n", ""},
		{"environment wins", []string{"CLERK_SECRET_KEY=sk_test_wrong"}, 1, "", "clerk-users: clerkapi: get user: HTTP 401 clerk_key_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := exec.Command(os.Args[0])
			c.Dir = dir
			c.Env = append([]string{runMainEnv + "=get " + u.ID, "HOME=" + dir}, tc.env...)
			var stdout, stderr bytes.Buffer
			c.Stdout, c.Stderr = &stdout, &stderr
			_ = c.Run()
			if code := c.ProcessState.ExitCode(); code != tc.code || stdout.String() != tc.out || !strings.HasPrefix(stderr.String(), tc.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.out, tc.err)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{0, 10_000, 0, "[                              ] 0/10000 users  0/s"},
		{2_500, 10_000, time.Second, "[=======                       ] 2500/10000 users  2500/s  ETA 3s"},
		{10_000, 10_000, 4 * time.Second, "[==============================] 10000/10000 users  2500/s"},
		{10_050, 10_000, 4 * time.Second, "[==============================] 10050/10000 users  2512/s"},
		{700, 0, 2 * time.Second, "700 users  350/s"},
	} {
		if got := progressLine(tc.done, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("progressLine(%d, %d, %s) = %q, want %q", tc.done, tc.total, tc.elapsed, got, tc.want)
		}
	}
}

// The bar redraws as users are done and clears its line when stopped.
func TestProgressDrawsAndClears(t *testing.T) {
	t.Parallel()
	w := &lockedio.Buffer{}
	p := startProgress(w, 100, time.Millisecond)
	p.set(50)
	for !strings.Contains(w.String(), "50/100 users") {
		time.Sleep(time.Millisecond) // poll: the bar draws on its own ticker
	}
	p.stop()
	p.stop()
	if !strings.HasSuffix(w.String(), "\r\033[K") {
		t.Errorf("the bar did not clear its line: %q", w.String())
	}
	var none *progress
	none.set(1)
	none.stop()
}

func TestProgressTotalDoesNotHoldUpTheExport(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 30)
	c := &cli{env: settings.Map(clerkEnv(fake))}
	api, err := c.api()
	if err != nil {
		t.Fatal(err)
	}
	if got := progressTotal(context.Background(), api, time.Minute); got != 30 {
		t.Errorf("total %d, want 30", got)
	}
	fake.Fail(clerkfake.Failure{Latency: time.Hour})
	if got := progressTotal(context.Background(), api, 50*time.Millisecond); got != 0 {
		t.Errorf("total %d from a Clerk that does not answer, want 0 (no total)", got)
	}
}

// An export to S3 that stops part-way (Clerk failing past its retries)
// leaves its checkpoint file and says how to continue; --resume continues
// it to the end, every user once, and removes the file. (t.Setenv: not
// parallel.)
func TestExportResumes(t *testing.T) {
	srv := exporttest.Need(t, s3srv)
	fake := exporttest.Clerk(t, 0)
	noise := make([]byte, 6<<10)
	for range 3_000 { // about three 5 MiB parts
		_, _ = rand.Read(noise)
		fake.AddUser(clerkfake.User{PublicMetadata: map[string]any{"notes": base64.StdEncoding.EncodeToString(noise)}})
	}
	bucket := srv.Bucket(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	env := clerkEnv(fake)
	env["CLERK_PUBLISHABLE_KEY"] = fake.PublishableKey()
	file := filepath.Join(t.TempDir(), "run.json")
	saved := func() bool { _, err := os.Stat(file); return err == nil }

	// Slow pages, so the run is still reading when the first checkpoint
	// is saved; then Clerk fails for good.
	fake.Fail(clerkfake.Failure{Latency: 100 * time.Millisecond})
	done := make(chan result)
	go func() { done <- cmd(env, "export", "--out", "s3://"+bucket, "--checkpoint", file) }()
	for deadline := time.Now().Add(30 * time.Second); !saved() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	fake.Fail(clerkfake.Failure{ServerErrors: 100_000, Paths: []string{"/v1/users"}})
	r := <-done
	if r.code != 1 || !strings.Contains(r.stderr, "continue it with --resume "+file) || !saved() {
		t.Fatalf("interrupted run: exit %d, stderr %q, file kept %v", r.code, r.stderr, saved())
	}
	fake.Fail(clerkfake.Failure{})
	r = cmd(env, "export", "--out", "s3://"+bucket, "--checkpoint", file, "--resume", file)
	if r.code != 0 || saved() {
		t.Fatalf("resumed run: exit %d, stderr %q, file left %v", r.code, r.stderr, saved())
	}
	m, err := export.Latest(context.Background(), srv.Client(), bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(m.Key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	exporttest.CheckUsers(t, obj.Body, exporttest.IDs(fake))
	if m.Slices < 2 {
		t.Errorf("the run took %d slices; want more than one", m.Slices)
	}
	if r := cmd(env, "export", "--out", "s3://"+bucket, "--resume", filepath.Join(t.TempDir(), "none.json")); r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("--resume of a missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}

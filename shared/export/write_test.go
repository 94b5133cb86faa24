package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export/exporttest"
)

// failingUsers yields n users, then fails.
type failingUsers struct {
	n   int
	err error
}

func (f failingUsers) WalkUsers(ctx context.Context, _ *clerkapi.Cursor, fn func(json.RawMessage) error) error {
	for i := range f.n {
		if err := fn(userJSON(&clerk.User{Object: "user", ID: bulkyUsers(0).id(i), CreatedAt: 1})); err != nil {
			return err
		}
	}
	return f.err
}

func TestWriteAndReadRoundTrip(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 1_200)
	var buf bytes.Buffer
	var progress []int64
	n, err := Write(context.Background(), exporttest.API(t, fake), &buf, func(n int64) {
		if n%500 == 0 {
			progress = append(progress, n)
		}
	})
	if err != nil || n != 1_200 {
		t.Fatalf("Write = %d, %v; want 1200 users", n, err)
	}
	if len(progress) != 2 || progress[0] != 500 || progress[1] != 1_000 {
		t.Errorf("progress reported %v; want 500 and 1000 among the counts", progress)
	}
	exporttest.CheckUsers(t, bytes.NewReader(buf.Bytes()), exporttest.IDs(fake))

	want := fake.Users()
	i := 0
	err = Read(bytes.NewReader(buf.Bytes()), func(u *clerk.User) error {
		w := want[i]
		if u.ID != w.ID || u.EmailAddresses[0].EmailAddress != w.EmailAddresses[0].EmailAddress || u.CreatedAt != w.CreatedAt.UnixMilli() {
			t.Errorf("line %d is %s <%s>, want %s <%s>", i+1, u.ID, u.EmailAddresses[0].EmailAddress, w.ID, w.EmailAddresses[0].EmailAddress)
		}
		i++
		return nil
	})
	if err != nil || i != len(want) {
		t.Errorf("Read: %v after %d users; want %d users", err, i, len(want))
	}
}

// apiUsers is the stand-in's answer to GET /users in creation order: each
// user exactly as the Backend API returns it.
func apiUsers(t *testing.T, fake *clerkfake.Server) []json.RawMessage {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fake.URL()+"/users?limit=500&order_by=%2Bcreated_at", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fake.SecretKey())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page
}

func TestWriteKeepsEveryFieldOfTheAPIUser(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 30)
	var buf bytes.Buffer
	if _, err := Write(context.Background(), exporttest.API(t, fake), &buf, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	want := apiUsers(t, fake)
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, raw := range want {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		if lines[i] != compact.String() {
			t.Errorf("line %d is\n%s\nwant the Backend API's user\n%s", i+1, lines[i], compact.String())
		}
	}
}

func TestWriteReportsHowFarItGot(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	n, err := Write(context.Background(), failingUsers{n: 7, err: boom}, &bytes.Buffer{}, nil)
	if n != 7 || !errors.Is(err, boom) {
		t.Errorf("Write = %d, %v; want 7, boom", n, err)
	}
}

func TestReadRejectsWhatIsNotAnExport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, input, want string
	}{
		{"not gzip", "{\"id\":\"user_1\"}\n", "read export: gzip: invalid header"},
		{"not JSON", gzipped(t, "{\"id\":\"user_1\"}\nnot json\n"), "read export: line 2: invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Read(strings.NewReader(tc.input), func(*clerk.User) error { return nil })
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Read: %v; want an error starting %q", err, tc.want)
			}
		})
	}
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1_000: "1,000", 3_500: "3,500", 1_234_567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

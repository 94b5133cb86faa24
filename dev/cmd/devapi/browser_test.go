package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestSiteInBrowser opens the example site that make dev serves in its
// cross-origin mode (-site-cross-origin) in a real headless Chromium and
// clicks through it as a person would, against the real functions and the
// Clerk stand-in: every call crosses origins, as it does from a site hosted
// elsewhere. Then it opens the same page from an origin the API does not
// allow and checks that the browser blocks it.
func TestSiteInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	t.Parallel()
	s, log := startProjectEnv(t, map[string]string{"DEV_SITE_CROSS_ORIGIN": "1"})
	ctx := newBrowser(t, chromium)

	page := browserPage{t: t, ctx: ctx}
	page.open(s.siteOrigins[0])
	for _, step := range []struct {
		as, path, status, body string
	}{
		{"", "/public", "200 OK", "Hello from the public endpoint"},
		{"user", "/private", "200 OK", `"userId": "` + userID + `"`},
		{"user", "/me", "200 OK", "alice@example.com"},
		{"user", "/admin/users", "403 Forbidden", `"code": "forbidden"`},
		{"admin", "/admin/users", "200 OK", `"id": "` + userID + `"`},
	} {
		status, body := page.click(step.as, step.path)
		if status != step.status || !strings.Contains(body, step.body) {
			t.Errorf("as %q, %s shows %q and\n%s\nwant %q with %s", step.as, step.path, status, body, step.status, step.body)
		}
		if step.as == "admin" {
			page.screenshot()
		}
	}

	// The same page from an origin the API does not allow: the API answers,
	// but the browser keeps the answer from the page, and the dev-token
	// endpoint refuses the page a token.
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := siteHandler(filepath.Join(root, "web"), s.siteConfig)
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewServer(foreign)
	t.Cleanup(other.Close)
	answered := len(log.linesFor("/public 200"))
	page.open(other.URL)
	for _, step := range []struct{ as, path, status, body string }{
		{"", "/public", "blocked", "CORS"},
		{"user", "/private", "no token", "Could not get a session token"},
	} {
		status, body := page.click(step.as, step.path)
		if status != step.status || !strings.Contains(body, step.body) {
			t.Errorf("from %s, as %q, %s shows %q and %q, want %q with %s", other.URL, step.as, step.path, status, body, step.status, step.body)
		}
	}
	if got := len(log.linesFor("/public 200")); got != answered+1 {
		t.Errorf("the API answered /public %d times for the other origin, want once: the block is the browser's CORS check", got-answered)
	}
}

// TestSameOriginSiteInBrowser opens the example site in make dev's default
// mode, the API under /api on the site's own origin as CloudFront serves
// it: the page works under the template's Content-Security-Policy with no
// console error, calls /api/private as a signed-in user and as an admin,
// and sends no preflight.
func TestSameOriginSiteInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	t.Parallel()
	s, log := startProject(t)
	if s.siteConfig.APIURL != "/api" || s.siteHeaders["Content-Security-Policy"] == "" {
		t.Fatalf("site config %+v, headers %v: want the API on /api under a CSP", s.siteConfig, s.siteHeaders)
	}
	ctx := newBrowser(t, chromium)
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				for _, a := range ev.Args {
					msg += " " + string(a.Value) + a.Description
				}
				msg = "console." + string(ev.Type) + ":" + msg
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			// The browser's own request for /favicon.ico, which web/ does not
			// have, is not the page's.
			if ev.Entry.Level == cdplog.EntryLevelError && !strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				msg = "log " + string(ev.Entry.Source) + ": " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			mu.Lock()
			problems = append(problems, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, enable := range []cdp.Command[cdp.Empty, cdp.Empty]{cdplog.Enable, runtime.Enable} {
		if _, err := chromedp.Call(ctx, enable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
	}

	page := browserPage{t: t, ctx: ctx}
	page.open(s.siteOrigins[0])
	for _, step := range []struct {
		as, path, status, body string
	}{
		{"", "/public", "200 OK", "Hello from the public endpoint"},
		{"user", "/private", "200 OK", `"userId": "` + userID + `"`},
		{"admin", "/private", "200 OK", `"userId": "`},
		{"admin", "/admin/users", "200 OK", `"id": "` + userID + `"`},
	} {
		status, body := page.click(step.as, step.path)
		if status != step.status || !strings.Contains(body, step.body) {
			t.Errorf("as %q, %s shows %q and\n%s\nwant %q with %s", step.as, step.path, status, body, step.status, step.body)
		}
	}
	if got := len(log.linesFor("/private 200")); got != 2 {
		t.Errorf("the API answered /private with 200 %d times, want twice (user, admin):\n%s", got, log.String())
	}
	if got := log.linesFor("OPTIONS"); len(got) > 0 {
		t.Errorf("the page sent a preflight to its own origin:\n%s", strings.Join(got, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the console showed, under the CSP %q:\n%s", s.siteHeaders["Content-Security-Policy"], strings.Join(problems, "\n"))
	}
}

// chromiumPath is Debian's chromium, or a skip; under CI, where .ci/run
// installs it, its absence fails the test instead.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	const msg = "install Debian's chromium to run the browser test: apt-get install chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile that reaches
// nothing beyond what the pages ask for, and ends it with the test. The
// test's whole browser session has one deadline.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 1000),
	)
	deadline, cancelDeadline := context.WithTimeout(context.Background(), time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelDeadline()
	})
	return ctx
}

// browserPage drives the example site in one tab.
type browserPage struct {
	t   *testing.T
	ctx context.Context
}

// open loads the site at url and waits until it is set up.
func (p browserPage) open(url string) {
	p.t.Helper()
	err := chromedp.Do(p.ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
	)
	if err != nil {
		p.t.Fatalf("open %s: %v", url, err)
	}
}

// click chooses the dev user (as: user, admin, or "" for nobody), clicks
// the route's button and returns what the page then shows as the status
// and the body. The status is cleared first, so that what is read is the
// answer to this click.
func (p browserPage) click(as, path string) (status, body string) {
	p.t.Helper()
	err := chromedp.Do(p.ctx,
		chromedp.SetValue(chromedp.ID("dev-user"), as),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status").textContent = ""`),
		chromedp.Click(chromedp.CSS(`button[data-path="`+path+`"]`)),
	)
	if err != nil {
		p.t.Fatalf("click %s: %v", path, err)
	}
	shown, err := chromedp.Run(p.ctx, chromedp.Poll[[]string](`(() => {
		const status = document.getElementById("status").textContent;
		return status !== "" && status !== "…" && [status, document.getElementById("body").textContent];
	})()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || len(shown) != 2 {
		p.t.Fatalf("the page showed no answer to %s: %v", path, err)
	}
	return shown[0], shown[1]
}

// screenshot keeps the whole page as PNG in the test's temporary folder.
func (p browserPage) screenshot() {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(p.t.TempDir(), "site.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is Debian's chromium, headless, driven over the DevTools
// protocol; it records every JavaScript exception and console or log
// error, which the console's tests require to be none.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu   sync.Mutex
	errs []string
}

// chromiumPath is the browser the console tests drive, "" when there is
// none.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no chromium installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	b := &browser{t: t, ctx: ctx}
	// The first Run starts the browser; the console subscription then
	// hears everything the pages write.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A form's 400 is a page, not a script's error: network
			// messages are the server's answers, which tests check
			// themselves.
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" {
				b.record(m.String())
			}
		}
	}()
	return b
}

func (b *browser) record(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

// errors returns what went wrong in the browser so far and forgets it.
func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.errs
	b.errs = nil
	return out
}

// run runs actions, failing the test on an error, within limit.
func (b *browser) run(limit time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (browser errors: %v)", err, b.errors())
	}
}

// open navigates to url and waits for the page's main element.
func (b *browser) open(url string) {
	b.t.Helper()
	b.run(20*time.Second, chromedp.Navigate(url))
	b.waitJS(20*time.Second, `document.readyState === "complete" && document.getElementById("page") && document.documentElement.dataset.left !== "1"`)
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: %s: %v (browser errors: %v)", expr, err, b.errors())
	}
	return v
}

// waitJS waits until the expression is true in the page.
func (b *browser) waitJS(limit time.Duration, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("not true within %v in the browser: %s (last error %v; browser errors %v)", limit, expr, err, b.errors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the page to path.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// noErrors fails the test with what the browser logged, if anything.
func (b *browser) noErrors(where string) {
	b.t.Helper()
	if errs := b.errors(); len(errs) > 0 {
		b.t.Errorf("%s: JavaScript errors in the browser:\n%s", where, strings.Join(errs, "\n"))
	}
}

// textOf returns the text content of the first element matching sel.
func (b *browser) textOf(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel))
}

package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumTimeout is how long the context that Chromium returns lives: a
// bound for a hung step, not a budget for the journey. One tab serves a
// whole journey, which takes 20 to 30 s on a quiet machine and was seen
// past 80 s with the machine's two cores shared by other test binaries.
const ChromiumTimeout = 3 * time.Minute

// chromeBrowser is the one headless Chromium of this test binary.
type chromeBrowser struct {
	ctx context.Context // a chromedp context that owns the browser
}

var chromiumOnce once[*chromeBrowser]

// Chromium returns a chromedp context for a new tab of the headless Chromium
// of this test binary, started on first use and stopped by Main. The tab
// lives in a browser context of its own, so its cookies and storage are not
// shared with other tests, even for servers on the same host. The context
// expires after ChromiumTimeout and is cancelled when the test ends.
//
// Use it with the chromedp v0.23 API:
//
//	ctx := testenv.Chromium(t)
//	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil { … }
//	text, err := chromedp.Run(ctx, chromedp.Text("h1"))
func Chromium(tb testing.TB) context.Context {
	tb.Helper()
	requireMain(tb)
	b, err := chromiumOnce.get(startChromium)
	if err != nil {
		fail(tb, err)
	}
	tabCtx, cancelTab := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(tabCtx, ChromiumTimeout)
	tb.Cleanup(func() {
		cancelTimeout()
		cancelTab()
	})
	// The first Run opens the tab and binds it to ctx.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("testenv: opening a Chromium tab: %v", err)
	}
	return ctx
}

// findChromium returns the path of the browser, or "".
func findChromium() string {
	return lookFor("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
}

func startChromium() (*chromeBrowser, error) {
	path := findChromium()
	if path == "" {
		return nil, notInstalled("chromium", "apt-get install chromium (Debian)")
	}
	root, err := rootDir()
	if err != nil {
		return nil, err
	}
	// A fresh profile inside this process's directory, so that a binary
	// killed before Main leaves nothing behind that the next one does not
	// remove.
	profile, err := os.MkdirTemp(root, "chromium-")
	if err != nil {
		return nil, fmt.Errorf("chromium: %w", err)
	}
	out := &tailBuffer{}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// This machine has no network beyond loopback: keep Chromium from
		// calling home.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
	)
	// Neither context has a deadline: the browser lives as long as the
	// context of its first Run, which is the whole test binary.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-time.After(startTimeout):
		err = fmt.Errorf("no answer after %v", startTimeout)
	}
	if err != nil {
		cancel()
		cancelAlloc()
		killUsing(profile)
		return nil, fmt.Errorf("chromium: starting %s: %v; its output:\n%s", path, err, outputOrNone(out))
	}
	onStop(func() {
		// Close the browser gracefully, then make sure it is gone.
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(sctx)
		scancel()
		cancel()
		cancelAlloc()
		// Children of Chromium, such as the zygote, can outlive it.
		killUsing(profile)
	})
	return &chromeBrowser{ctx: ctx}, nil
}

// killUsing kills every process that runs with the Chromium profile dir,
// until none is left for a few looks in a row.
func killUsing(dir string) {
	want := []byte("--user-data-dir=" + dir)
	deadline := time.Now().Add(5 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		found := 0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					found++
					break
				}
			}
		}
		if found == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

func outputOrNone(b *tailBuffer) string {
	if s := b.String(); s != "" {
		return s
	}
	return "(no output)"
}

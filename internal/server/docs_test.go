package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/testenv"
)

// TestDocsPage: /docs answers the reference's page, with the relaxed
// policy (inline styles, nothing else) there and nowhere else; the page
// loads nothing from another origin; its scripts are served.
func TestDocsPage(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	p := b.Get("/docs")
	if p.StatusCode != 200 {
		t.Fatalf("GET /docs: %d", p.StatusCode)
	}
	// The strict policy, with inline styles allowed: nothing else.
	strict := b.Get("/login").Header.Get("Content-Security-Policy")
	csp := p.Header.Get("Content-Security-Policy")
	if want := strings.Replace(strict, "style-src 'self';", "style-src 'self' 'unsafe-inline';", 1); csp != want || csp == strict {
		t.Errorf("/docs CSP %q, want %q", csp, want)
	}
	for _, path := range []string{"/login", "/signup", "/v1/openapi.json", "/static/js/docs.js", "/nope"} {
		if got := b.Get(path).Header.Get("Content-Security-Policy"); strings.Contains(got, "unsafe") || !strings.Contains(got, "style-src 'self';") {
			t.Errorf("%s CSP %q: not the strict one", path, got)
		}
	}

	if n := p.Doc.Find(`#reference[data-url="/v1/openapi.json"]`).Length(); n != 1 {
		t.Errorf("no reference element naming the document (%d)", n)
	}
	if href, _ := p.Doc.Find(`[data-testid="docs-back"]`).Attr("href"); href != "/dashboard" {
		t.Errorf("back link %q", href)
	}
	if title := p.Doc.Find("title").Text(); !strings.Contains(title, "Keyhold") {
		t.Errorf("title %q", title)
	}
	// No URL of another origin anywhere in the page, and every src and
	// href is a path of ours.
	for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+[^"'\s<>]*`).FindAllString(p.Body, -1) {
		if !strings.HasPrefix(u, h.URL) {
			t.Errorf("the page names %s", u)
		}
	}
	var scripts int
	p.Doc.Find("[src], [href]").Each(func(_ int, s *goquery.Selection) {
		for _, a := range []string{"src", "href"} {
			v, ok := s.Attr(a)
			if ok && (!strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//")) {
				t.Errorf("%s=%q is not a path of ours", a, v)
			}
			if ok && a == "src" && strings.HasPrefix(v, "/static/js/") {
				scripts++
				if res := b.Get(v); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
					t.Errorf("%s: %d %s", v, res.StatusCode, res.Header.Get("Content-Type"))
				}
			}
		}
	})
	if scripts != 2 {
		t.Errorf("%d scripts, want the renderer and ours", scripts)
	}
}

// TestDocsBrowser: in Chromium, /docs renders the reference from the
// document (the summary of GET /v1/audit shows, and of POST /v1/verify)
// without one violation of its Content-Security-Policy, one console error
// or warning, or a page wider than the window, at desktop and phone widths.
// With KEYHOLD_SHOTS=dir it saves screenshots there (docs-desktop.png,
// docs-phone.png).
func TestDocsBrowser(t *testing.T) {
	h := MustServer(t)
	ctx := testenv.Chromium(t)

	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() || m.Source == "security" {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s %s)", m, m.Source, m.URL))
				mu.Unlock()
			}
		}
	}()
	// Reported by the page itself too, in case the browser's log misses
	// one: a script added through CDP is not subject to the page's policy.
	const listen = `window.__csp = []; document.addEventListener("securitypolicyviolation",
		e => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber + ":" + e.columnNumber + " " + e.sample));`
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: listen}); err != nil {
		t.Fatal(err)
	}

	shots := os.Getenv("KEYHOLD_SHOTS")
	for _, size := range []struct {
		name          string
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{{"desktop", 1280, 900, nil}, {"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch}}} {
		t.Run(size.name, func(t *testing.T) {
			err := chromedp.Do(ctx,
				chromedp.EmulateViewport(size.width, size.height, size.opts...),
				chromedp.Navigate(h.URL+"/docs"),
				// The first section (Scalar renders the others, and the
				// operations, as they scroll near).
				chromedp.Poll[chromedp.Void](`document.body.innerText.includes("Your customers' accounts")`,
					chromedp.WithPollingTimeout(30*time.Second)),
			)
			if err != nil {
				t.Fatalf("the reference did not render: %v", err)
			}
			// The sidebar lists every operation; on a phone it is folded
			// away, and Scalar renders sections only as they scroll near.
			if size.name == "desktop" {
				text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
				if err != nil {
					t.Fatal(err)
				}
				for _, summary := range documentSummaries(t, h) {
					if !strings.Contains(text, summary) {
						t.Errorf("the reference does not list %q", summary)
					}
				}
			}
			title, err := chromedp.Run(ctx, chromedp.Title())
			if err != nil || !strings.Contains(title, "Keyhold") {
				t.Errorf("title %q, %v", title, err)
			}
			overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
			if err != nil || overflow {
				t.Errorf("the page is wider than the %d px window (%v)", size.width, err)
			}
			if shots != "" {
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, "docs-"+size.name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Nothing the reference rendered points to another origin.
			out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("[href], [src], [action]")]
				.flatMap(e => ["href", "src", "action"].map(a => e.getAttribute(a)))
				.filter(u => u && !u.startsWith("#") && !u.startsWith("data:") && new URL(u, location.href).origin !== location.origin)`))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range out {
				t.Errorf("the rendered reference links to %s", u)
			}
			violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range violations {
				t.Errorf("CSP violation: %s", v)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
}

// TestDocsLinks: the dashboard's quickstart and the console's root keys
// page link to /docs.
func TestDocsLinks(t *testing.T) {
	h := MustServer(t)
	dev := h.Browser()
	dev.MustSignup("dev@example.com")
	if href, ok := dev.Get("/dashboard").Doc.Find(`[data-testid="quickstart"] [data-testid="docs-link"]`).Attr("href"); !ok || href != "/docs" {
		t.Errorf("the quickstart's link to the reference: %q %v", href, ok)
	}
	op := h.MustAdmin("op@example.com")
	if href, ok := op.Get("/admin/root-keys").Doc.Find(`[data-testid="docs-link"]`).Attr("href"); !ok || href != "/docs" {
		t.Errorf("the root keys page's link to the reference: %q %v", href, ok)
	}
}

// documentSummaries are the summaries of every operation of the served
// document.
func documentSummaries(t *testing.T, h *harness) []string {
	t.Helper()
	c := h.call("GET", "/v1/openapi.json", "", nil)
	var doc struct {
		Paths map[string]map[string]struct{ Summary string }
	}
	if err := json.Unmarshal(c.Body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ops := range doc.Paths {
		for _, op := range ops {
			out = append(out, op.Summary)
		}
	}
	if len(out) < 14 {
		t.Fatalf("only %d operations in the document", len(out))
	}
	return out
}

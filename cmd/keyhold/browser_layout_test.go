package main

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPhoneWidthAndCharts is a phone-sized look at the portal, in
// a real browser running app.js under the real CSP: the rows of tabs that
// scroll sideways show which edge has more and keep the active tab in
// view, the quickstart folds and stays folded, and a tapped chart bar
// shows its numbers.
func TestBrowserPhoneWidthAndCharts(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	ops := mustCreateOperator(t, env)
	a := MustRun(t, env)
	c := a.Client(t)
	c.MustLogin(ops, testPassword)
	secret := c.MustCreateKey("Production backend", "read")
	for range 3 {
		if ans := verifyKey(t, a, secret); ans.Status != http.StatusOK {
			t.Fatalf("verify: %d", ans.Status)
		}
	}
	// A graceful stop writes the usage; the next start serves it.
	a.MustStop(t)
	a = MustRun(t, env)

	br := mustSessionTab(t, a, ops, testPassword)
	br.Do("phone viewport", chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile, chromedp.EmulateTouch))

	// row reports on a scroll row: whether its active item lies inside
	// it, how far it is scrolled, and its edge marks.
	type rowState struct {
		ActiveInView bool
		ScrollLeft   float64
		More         string // "start", "end", "start end" or ""
	}
	row := func(css string) rowState {
		t.Helper()
		st, err := chromedp.Run(br.ctx, chromedp.Evaluate[rowState](`(() => {
			const row = document.querySelector(`+jsString(css)+`);
			const a = row.querySelector('[aria-current="page"]').getBoundingClientRect();
			const r = row.getBoundingClientRect();
			const more = ["start", "end"].filter(s => row.hasAttribute("data-more-" + s)).join(" ");
			return {ActiveInView: a.left >= r.left - 1 && a.right <= r.right + 1, ScrollLeft: row.scrollLeft, More: more};
		})()`))
		if err != nil {
			t.Fatalf("reading %s: %v", css, err)
		}
		return st
	}

	br.Do("open the last console tab", chromedp.Navigate(a.URL+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-nav"]`)))
	for _, css := range []string{`[data-testid="admin-nav"]`, `[data-testid="nav"]`} {
		st := row(css)
		if !st.ActiveInView || st.ScrollLeft <= 0 {
			t.Errorf("%s on /admin/webhooks: %+v, want the active (last) tab scrolled into view", css, st)
		}
		if st.More != "start" {
			t.Errorf("%s on /admin/webhooks marks %q, want start (the row is scrolled to its end)", css, st.More)
		}
	}
	br.Do("open the first console tab", chromedp.Navigate(a.URL+"/admin"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="admin-nav"]`)))
	if st := row(`[data-testid="admin-nav"]`); !st.ActiveInView || st.ScrollLeft != 0 || st.More != "end" {
		t.Errorf("admin tabs on /admin: %+v, want unscrolled with more at the end", st)
	}

	// The quickstart folds, and stays folded on the next visit.
	open := func() bool {
		t.Helper()
		v, err := chromedp.Run(br.ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="quickstart"]').open`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	br.Do("open the dashboard", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="quickstart-toggle"]`)))
	if !open() {
		t.Fatal("the quickstart starts folded")
	}
	// The toggle event comes a moment after the click: wait for app.js to
	// have remembered it before leaving the page.
	remembered := func(v string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`localStorage.getItem("keyhold:open:quickstart") === "` + v + `"`)
	}
	br.Do("fold the quickstart", chromedp.Click(chromedp.CSS(`[data-testid="quickstart-toggle"]`)), remembered("0"))
	br.Do("come back", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="quickstart-toggle"]`)))
	if open() {
		t.Error("the folded quickstart is open again on the next visit")
	}
	br.Do("unfold it", chromedp.Click(chromedp.CSS(`[data-testid="quickstart-toggle"]`)), remembered("1"))
	br.Do("come back again", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="quickstart-toggle"]`)))
	if !open() {
		t.Error("the unfolded quickstart is folded on the next visit")
	}

	// A tap on today's bar shows its numbers; a tap elsewhere hides them.
	const today = `[data-testid="account-usage"] [data-testid="chart-bar"]:last-child`
	tipShown := func() string {
		t.Helper()
		v, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`(() => {
			const tip = document.querySelector(`+jsString(today+` [data-testid="chart-tip"]`)+`);
			return getComputedStyle(tip).display === "none" ? "" : tip.innerText;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if tip := tipShown(); tip != "" {
		t.Errorf("a bar's numbers show before a tap: %q", tip)
	}
	br.Do("tap today's bar", chromedp.Click(chromedp.CSS(today)))
	if tip := br.Text(today + ` [data-testid="chart-tip"] [data-outcome="valid"]`); tip != "Valid 3" {
		t.Errorf("today's numbers say %q, want Valid 3", tip)
	}
	if tip := tipShown(); tip == "" {
		t.Error("today's numbers do not show after a tap")
	}
	br.Do("tap elsewhere", chromedp.Click(chromedp.CSS("h1")))
	if tip := tipShown(); tip != "" {
		t.Errorf("the numbers stay after a tap elsewhere: %q", tip)
	}
	br.CheckConsole()
}

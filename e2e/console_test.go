package e2e

// The helpers that the browser tests of both consoles use
// (account_console_test.go, admin_console_test.go): what the consoles do alike
// (status regions, focus, contrast, screenshots, the switch that removes them)
// is checked one way.

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	// consoleScreenshotsEnv set to 1 rewrites the screenshots under docs/screenshots.
	consoleScreenshotsEnv = "TOKTOK_UPDATE_SCREENSHOTS"
	// consoleMaxScreenshot bounds the size of a committed screenshot.
	consoleMaxScreenshot = 150 << 10
)

// consoleAct clears the status region statusID (so that a repeated outcome is told
// from the previous one), runs a (a click, a key), and waits until the region shows an
// outcome and nothing is busy.
func consoleAct(b *browserSession, statusID, what string, a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	status := `document.getElementById(` + browserJSString(statusID) + `)`
	browserEval[chromedp.Void](b, "clear #"+statusID, `(() => { const s = `+status+`; s.removeAttribute('data-state'); s.textContent = ''; })()`)
	browserRun(b, what, a)
	browserWaitFor(b, "the outcome of: "+what, `(() => {
  const st = `+status+`.getAttribute('data-state');
  return (st === 'ok' || st === 'error') && document.querySelectorAll('[aria-busy="true"]').length === 0;
})()`)
}

// consoleScreenshot saves the viewport as docs/screenshots/<name> when
// TOKTOK_UPDATE_SCREENSHOTS=1, else into the test's temp dir, and checks its size. The
// picture shows no caret nor focus ring, and the page from the element with the id top
// ("": from the page's top); the page is scrolled back to its top afterwards.
func consoleScreenshot(b *browserSession, name, top string) {
	b.t.Helper()
	dir := b.t.TempDir()
	if os.Getenv(consoleScreenshotsEnv) == "1" {
		dir = filepath.Join("..", "docs", "screenshots")
	}
	browserEval[chromedp.Void](b, "blur", `document.activeElement && document.activeElement.blur()`)
	scroll := `window.scrollTo(0, 0)`
	if top != "" {
		scroll = `window.scrollTo(0, document.getElementById(` + browserJSString(top) + `).getBoundingClientRect().top + window.scrollY - 16)`
		defer browserEval[chromedp.Void](b, "scroll back", `window.scrollTo(0, 0)`)
	}
	browserEval[chromedp.Void](b, "scroll for "+name, scroll)
	png := browserRun(b, "screenshot "+name, chromedp.CaptureScreenshot())
	if len(png) == 0 || len(png) > consoleMaxScreenshot {
		b.t.Errorf("screenshot %s: %d bytes, want some and at most %d", name, len(png), consoleMaxScreenshot)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(png))
}

// consoleContrastJS lists the visible texts of the page whose colour has a contrast
// below 4.5:1 (WCAG 2 AA for normal text) against the first background behind them,
// disabled buttons (shown faded on purpose) and the skip link (off-screen until
// focused) aside, and counts the texts measured.
const consoleContrastJS = `(() => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const bad = [];
  let checked = 0;
  for (const el of document.querySelectorAll('body *')) {
    if (el.getClientRects().length === 0 || el.closest('button:disabled, .skip-link')) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '')) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || Number(cs.opacity) < 1) continue;
    const a = lum(parse(cs.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked++;
    if (ratio < 4.5) bad.push(el.tagName + '#' + el.id + ' "' + el.textContent.trim().slice(0, 40) + '": ' + ratio.toFixed(2));
  }
  return { checked, bad };
})()`

// consoleCheckA11y checks the contrast of what the page shows, and that the control
// which Tab focuses next shows a visible focus ring.
func consoleCheckA11y(b *browserSession, what string) {
	b.t.Helper()
	res := browserEval[struct {
		Checked int
		Bad     []string
	}](b, "measure the contrast", consoleContrastJS)
	if res.Checked < 10 || len(res.Bad) > 0 {
		b.t.Errorf("%s: %d texts measured; below 4.5:1: %v", what, res.Checked, res.Bad)
	}
	b.t.Logf("%s: the contrast of %d texts measured", what, res.Checked)
	browserRun(b, "press Tab", chromedp.KeyEvent("\t"))
	ring := browserEval[struct {
		ID, Style string
		Width     float64
	}](b, "read the focus ring", `(() => {
  const el = document.activeElement, cs = getComputedStyle(el);
  return { id: el.id || el.tagName, style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
})()`)
	b.t.Logf("%s: Tab focuses %s (outline %s %vpx)", what, ring.ID, ring.Style, ring.Width)
	if ring.Style == "none" || ring.Width < 2 {
		b.t.Errorf("%s: Tab focuses %s, with outline %s %vpx: no visible focus", what, ring.ID, ring.Style, ring.Width)
	}
}

// consoleGetStatus answers the HTTP status of GET path on e's server.
func consoleGetStatus(t *testing.T, e *testEnv, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

package dashboard_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/api"
)

// axeSource is axe-core, vendored for this test only (testdata/axe-core).
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// EnvRequireBrowser makes the browser test fail instead of skipping when
// Chromium is absent (CI sets it).
const EnvRequireBrowser = "HERALD_REQUIRE_BROWSER"

// EnvScreenshots names a directory for the browser test's screenshots;
// empty means the test's artifact directory (kept with go test -artifacts
// -outputdir DIR).
const EnvScreenshots = "HERALD_SCREENSHOTS"

// chromium finds Debian's chromium, or skips (fails under
// HERALD_REQUIRE_BROWSER=1).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(EnvRequireBrowser) == "1" {
		t.Fatal("chromium is not installed and HERALD_REQUIRE_BROWSER=1: apt-get install -y chromium")
	}
	t.Skip("chromium is not installed: apt-get install -y chromium to run the browser test (HERALD_REQUIRE_BROWSER=1 makes this a failure)")
	return ""
}

// browser drives one headless Chromium with a fresh profile and no
// network but the loopback test server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot directory
	n    int
}

func newBrowser(t *testing.T, base string) *browser {
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: bctx, base: base, shot: dir}
	if _, err := chromedp.Call(bctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// media emulates a color scheme.
func (b *browser) media(scheme string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
		b.t.Fatal(err)
	}
}

// viewport emulates a screen of width × height CSS pixels; zero clears it.
func (b *browser) viewport(width, height int64) {
	b.t.Helper()
	var err error
	if width == 0 {
		_, err = chromedp.Call(b.ctx, emulation.ClearDeviceMetricsOverride, struct{}{})
	} else {
		_, err = chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: height, DeviceScaleFactor: 2, Mobile: true})
	}
	if err != nil {
		b.t.Fatal(err)
	}
}

// wait polls the page until the JavaScript expression is true, across
// navigations, for at most 30 seconds.
func (b *browser) wait(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		ok, err = chromedp.Run(b.ctx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
		if err == nil && ok {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`))
	b.t.Fatalf("waiting for %s on %s (last error %v); the page reads:\n%s", expr, loc, err, text)
}

// setValue sets a form control's value, as a script would.
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
			`(e => { e.value = %q; e.dispatchEvent(new Event("change", {bubbles: true})); return true })(document.querySelector(%q))`, value, sel)))
		return err
	})
}

// eval evaluates expr on the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to path and waits for the page to load.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + path))
	b.wait(`document.readyState === "complete"`)
}

// screenshot saves the whole page as NN-name.png.
func (b *browser) screenshot(name, what string) {
	b.t.Helper()
	b.wait(`document.readyState === "complete" && document.body.getBoundingClientRect().width > 0`)
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	b.n++
	path := filepath.Join(b.shot, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s: %s", path, what)
}

// axe runs axe-core on the page and fails on serious or critical
// violations.
func (b *browser) axe(page string) {
	b.t.Helper()
	if !eval[bool](b, `typeof axe !== "undefined"`) {
		eval[bool](b, axeSource+"\n;true")
	}
	found, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
			id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe on %s: %v", page, err)
	}
	var violations []json.RawMessage
	if err := json.Unmarshal([]byte(found), &violations); err != nil {
		b.t.Fatalf("axe on %s: %v: %s", page, err, found)
	}
	for _, v := range violations {
		b.t.Errorf("axe on %s: %s", page, v)
	}
}

// keyboard checks that Tab reaches the skip link first, then the
// navigation.
func (b *browser) keyboard(page string) {
	b.t.Helper()
	b.run(chromedp.KeyEvent("\t"))
	first := eval[string](b, `document.activeElement.className + ":" + document.activeElement.textContent`)
	if !strings.Contains(first, "Skip to content") {
		b.t.Errorf("%s: the first Tab reaches %q, want the skip link", page, first)
	}
}

func TestBrowser(t *testing.T) {
	f := newFixture(t, fixtureOptions{live: 100 * time.Millisecond})
	b := newBrowser(t, f.srv.URL)

	// Sign in.
	b.open("/runs")
	b.wait(`location.pathname === "/signin"`)
	b.screenshot("signin", "the sign-in page, reached from /runs before signing in")
	b.axe("sign-in")
	b.keyboard("sign-in")
	b.run(chromedp.SendKeys(chromedp.CSS("#token"), aliceToken), chromedp.Submit(chromedp.CSS("#token")))
	b.wait(`location.pathname === "/runs" && !!document.querySelector("h1")`)

	// Create a schedule; the preview shows its next fire times as it is typed.
	b.open("/schedules/new")
	b.run(chromedp.SendKeys(chromedp.CSS("#name"), "e2e-report"),
		setValue("#agent", "slow"),
		setValue("#timezone", ""),
		chromedp.SendKeys(chromedp.CSS("#timezone"), "America/New_York"),
		chromedp.SendKeys(chromedp.CSS("#when"), "0 9 * * 1-5"),
		chromedp.SendKeys(chromedp.CSS("#deliver"), "log ops"))
	b.wait(`document.querySelectorAll("#preview li").length === 5 && document.querySelector("#preview").textContent.includes("09:00:00 EST")`)
	b.screenshot("schedule-new-preview", "the new-schedule form, with the live preview of the next five fire times in America/New_York")
	b.axe("new schedule")
	// A mistake is shown beside its field, and the preview says why.
	b.run(setValue("#when", ""), chromedp.SendKeys(chromedp.CSS("#when"), "0 25 * * *"))
	b.wait(`!!document.querySelector("#preview .errors")`)
	b.run(chromedp.Click(chromedp.CSS(`#schedule-form button[type=submit]`)))
	b.wait(`!!document.querySelector("#when-error")`)
	b.screenshot("schedule-form-error", "the form sent with hour 25: the API's validation error beside the When field")
	b.axe("schedule form with errors")
	b.run(setValue("#when", ""), chromedp.SendKeys(chromedp.CSS("#when"), "0 9 * * 1-5"),
		chromedp.Click(chromedp.CSS(`#schedule-form button[type=submit]`)))
	b.wait(`!!document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Schedule created")`)
	schedPath := eval[string](b, `location.pathname`)

	// Run it now, and watch the run appear and finish without reloading.
	b.run(chromedp.Click(chromedp.CSS(`form[action$="/run"] button`)))
	b.wait(`document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Run queued")`)
	eval[any](b, `window.e2eMarker = "same page"`)
	b.wait(`!!document.querySelector("#live .st.run")`)
	b.screenshot("schedule-running", "the schedule's page after Run now: its run shown running by a live update")
	f.release <- struct{}{}
	b.wait(`!!document.querySelector("#live .st.ok") && window.e2eMarker === "same page"`)
	b.screenshot("schedule-succeeded", "the same page, not reloaded: the run has succeeded")
	b.axe("schedule")

	// Cancel a long run, and open its detail.
	b.run(chromedp.Click(chromedp.CSS(`form[action$="/run"] button`)))
	b.wait(`document.querySelector("#live .st.run, #live .st.wait") !== null`)
	b.open("/runs")
	b.wait(`document.querySelectorAll("#live tbody tr").length === 2`)
	b.screenshot("runs", "the runs page: one run succeeded, one running")
	b.axe("runs")
	b.run(chromedp.Click(chromedp.CSS(`#live tbody tr:first-child a`)))
	b.wait(`location.pathname.startsWith("/runs/") && !!document.querySelector("form[action$='/cancel']")`)
	b.run(chromedp.SendKeys(chromedp.CSS("#reason"), "stopped by the e2e test"),
		chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button`)))
	b.wait(`!!document.querySelector(".flash") && document.querySelector("#live").textContent.includes("cancelled")`)
	b.screenshot("run-cancelled", "the detail of the cancelled run: status, timings, the reason as its error")
	b.axe("run detail")

	// A run that reports progress moves its bar live.
	var acc api.RunAccepted
	f.apiCall(aliceToken, "POST", "/v1/runs", map[string]any{"agent": "backfill", "payload": map[string]any{"workspace": "acme"}}, &acc)
	b.open("/runs/" + acc.RunID)
	b.wait(`!!document.querySelector("#live progress[max='4'][value='0']")`)
	eval[any](b, `window.e2eMarker = "progress"`)
	f.steps <- struct{}{}
	f.steps <- struct{}{}
	b.wait(`!!document.querySelector("#live progress[max='4'][value='2']") && window.e2eMarker === "progress"`)
	b.screenshot("run-progress", "a backfill run's detail: the progress bar at 2 of 4 channels, moved by live updates")
	f.steps <- struct{}{}
	f.steps <- struct{}{}
	b.wait(`!!document.querySelector("#live .st.ok")`)

	// Webhook events.
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/webhooks/hook", strings.NewReader(`{"action":"opened","title":"<b>hello</b>"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Delivery", "gh-delivery-42")
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	b.open("/events")
	b.wait(`document.querySelectorAll("#live tbody tr").length === 1`)
	b.screenshot("events", "the webhook events page: one event from source hook and its run")
	b.axe("events")
	b.run(chromedp.Click(chromedp.CSS(`#live tbody tr:first-child a`)))
	b.wait(`location.pathname.startsWith("/events/") && document.readyState === "complete" && !!document.querySelector("h1")`)
	b.screenshot("event-user", "an event's detail as its owner (a user): no body, which admins only see")
	b.axe("event detail")

	// The overview, on a laptop, in dark mode and on a phone.
	b.open("/")
	b.wait(`!!document.querySelector("svg.spark")`)
	b.screenshot("overview", "the overview: counts by status, queue, throughput sparkline, failure rates, next fire times")
	b.axe("overview")
	b.keyboard("overview")
	b.media("dark")
	b.open("/")
	b.screenshot("overview-dark", "the overview in dark mode")
	b.axe("overview (dark)")
	b.open(schedPath)
	b.screenshot("schedule-dark", "the schedule's page in dark mode")
	b.axe("schedule (dark)")
	b.viewport(390, 844)
	b.open("/runs")
	b.screenshot("runs-phone", "the runs page on a phone-sized screen, dark")
	b.axe("runs (phone)")
	b.viewport(0, 0)
	b.media("light")

	// Times are in the viewer's zone (Europe/Paris here), UTC on hover.
	b.open("/runs")
	title := eval[string](b, `document.querySelector("#live time.l").title`)
	text := eval[string](b, `document.querySelector("#live time.l").textContent`)
	if !strings.HasSuffix(title, "UTC") || !strings.Contains(text, "CET") {
		t.Errorf("a run's time reads %q with title %q, want CET and UTC on hover", text, title)
	}

	// A second user does not see the first user's schedule.
	b.run(chromedp.Click(chromedp.CSS(`form[action$="/signout"] button`)))
	b.wait(`location.pathname === "/signin"`)
	b.run(chromedp.SendKeys(chromedp.CSS("#token"), bobToken), chromedp.Submit(chromedp.CSS("#token")))
	b.wait(`location.pathname === "/" && !!document.querySelector("h1")`)
	b.open("/schedules")
	body := eval[string](b, `document.body.textContent`)
	if strings.Contains(body, "e2e-report") || !strings.Contains(body, "No schedules yet") {
		t.Error("bob sees alice's schedule")
	}
	b.screenshot("schedules-bob", "the schedules page as bob: alice's schedule is not there")
	b.open(schedPath)
	body = eval[string](b, `document.querySelector("h1").textContent`)
	if body != "Not found" {
		t.Errorf("bob opens alice's schedule: %q, want Not found", body)
	}

	// An admin sees it, on the schedules page.
	b.run(chromedp.Click(chromedp.CSS(`form[action$="/signout"] button`)))
	b.wait(`location.pathname === "/signin"`)
	b.run(chromedp.SendKeys(chromedp.CSS("#token"), opsToken), chromedp.Submit(chromedp.CSS("#token")))
	b.wait(`location.pathname === "/"`)
	b.open("/schedules")
	b.wait(`document.body.textContent.includes("e2e-report")`)
	b.screenshot("schedules-admin", "the schedules page as an admin: every owner's schedules, with trigger in words and next fire times")
	b.axe("schedules")
	var evs api.EventList
	f.apiCall(opsToken, "GET", "/v1/events", nil, &evs)
	b.open("/events/" + evs.Events[0].ID)
	b.wait(`document.body.textContent.includes("gh-delivery-42") && document.body.textContent.includes("<b>hello</b>")`)
	b.screenshot("event-admin", "an event's detail as an admin: headers and body, escaped")
}

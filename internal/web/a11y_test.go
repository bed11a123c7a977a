package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trustward/trustward/internal/db/dbtest"
)

// Accessibility: every page of the browser UI, as each kind of user sees
// it, passes axe-core's WCAG 2.0 and 2.1 A and AA rules (and its best
// practices for landmarks, headings and skip links), and the main pages
// can be worked with the keyboard alone. Decision 0042 says why axe and
// what is checked here directly.

// axeTags are the axe-core rule tags run on every page.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"}

// axeSource returns axe-core's axe.min.js: the file TRUSTWARD_AXE names
// (scripts/test.sh fetches it, pinned by its SHA-256), else one that
// test.sh left in the user's cache folder. Without it the test skips, or
// fails when TRUSTWARD_TEST_REQUIRE names axe.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TRUSTWARD_AXE")
	if path == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			found, _ := filepath.Glob(filepath.Join(dir, "trustward", "axe-core-*", "axe.min.js"))
			if len(found) > 0 {
				// The newest fetched, should there be several versions.
				slices.SortFunc(found, func(a, b string) int { return modTime(b).Compare(modTime(a)) })
				path = found[0]
			}
		}
	}
	if path == "" {
		dbtest.Missing(t, "axe", errors.New("no axe-core: set TRUSTWARD_AXE to axe.min.js, or run scripts/test.sh once to fetch it"))
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		dbtest.Missing(t, "axe", err)
		return ""
	}
	return string(b)
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// axeFinding is one failed rule on one page.
type axeFinding struct {
	ID, Impact, Help string
	Nodes            []struct{ Target, Summary string }
}

// runAxe audits the page open in ctx: it loads axe-core into the page
// (through the DevTools protocol, which the page's Content-Security-Policy
// does not govern) unless it is there, and returns the rules that failed,
// and the elements whose colour contrast axe could not judge (text in an
// SVG chart), for contrastOf to measure.
func runAxe(ctx context.Context, src string) (failed []axeFinding, unjudged []string, err error) {
	var loaded bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(`typeof axe === 'object'`, &loaded)); err != nil {
		return nil, nil, err
	}
	if !loaded {
		if err := chromedp.Run(ctx, chromedp.Evaluate(src+";0", nil)); err != nil {
			return nil, nil, fmt.Errorf("loading axe-core: %w", err)
		}
	}
	tags := `["` + strings.Join(axeTags, `","`) + `"]`
	js := `axe.run(document, {runOnly: {type: 'tag', values: ` + tags + `}, resultTypes: ['violations']}).then(r => ({
		Failed: r.violations.map(v => ({
			ID: v.id, Impact: v.impact || '', Help: v.help,
			Nodes: v.nodes.map(n => ({Target: n.target.map(String).join(' '), Summary: n.failureSummary || ''}))})),
		Unjudged: r.incomplete.filter(v => v.id === 'color-contrast').flatMap(v => v.nodes.map(n => n.target.map(String).join(' ')))}))`
	var out struct {
		Failed   []axeFinding
		Unjudged []string
	}
	err = chromedp.Run(ctx, chromedp.Evaluate(js, &out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	return out.Failed, out.Unjudged, err
}

// contrastJS measures, for each selector in the array it is given, the
// contrast of the element's text colour (its fill, in SVG) with the first
// opaque background behind it, against WCAG 2.1's 4.5:1 (3:1 for large
// text); it returns what falls short.
const contrastJS = `(sels => sels.flatMap(sel => {
	const e = document.querySelector(sel);
	if (!e) return [sel + ': not found'];
	const rgb = c => (c.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number);
	const lum = c => { const v = rgb(c).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	const opaque = c => { const v = rgb(c); return c !== 'transparent' && (v.length < 4 || v[3] > 0); };
	const s = getComputedStyle(e);
	const fg = e instanceof SVGElement ? s.fill : s.color;
	let b = e;
	while (b && !opaque(getComputedStyle(b).backgroundColor)) b = b.parentElement;
	const bg = b ? getComputedStyle(b).backgroundColor : 'rgb(255, 255, 255)';
	const px = parseFloat(s.fontSize), large = px >= 24 || (px >= 18.66 && Number(s.fontWeight) >= 700);
	const ratio = (Math.max(lum(fg), lum(bg)) + 0.05) / (Math.min(lum(fg), lum(bg)) + 0.05);
	return ratio < (large ? 3 : 4.5) ? [sel + ': ' + fg + ' on ' + bg + ', contrast ' + ratio.toFixed(2) + ':1'] : [];
}))`

// a11yVisit is one page, or one state of a page, to audit: the route it
// belongs to (the pattern as registered, "" for a state reached by a POST
// whose page another visit covers), who is signed in, and how to get
// there. ready is a selector found only on that page once it is shown.
type a11yVisit struct {
	name, route, user string
	steps             chromedp.Tasks
	ready             string
}

// a11yNotPages are the GET routes of the browser mux that are not HTML
// pages (downloads), with why.
var a11yNotPages = map[string]string{
	"GET /portal/accesses/{event}/proof": "a JSON proof bundle to download",
	"GET /office/findings/export":        "a CSV file to download",
}

// nav opens path on base.
func nav(base, path string) chromedp.Tasks {
	return chromedp.Tasks{chromedp.Navigate(base + path)}
}

// a11yVisits lists every page, in the order the test walks them: one
// browser tab, the users one after the other. Later visits rely on
// earlier ones (Ben's and Luc's accesses appear in the patient's list; the
// patient's report in the privacy office).
func a11yVisits(t *testing.T, base string) []a11yVisit {
	badCSV := filepath.Join(t.TempDir(), "bad.csv")
	var secret string    // of the administrator's authenticator app
	var enrolment string // the code an administrator gave Luc
	return []a11yVisit{
		{"home", "GET /{$}", "", nav(base, "/"), `a.button[href="/signin"]`},
		{"sign-in", "GET /signin", "", nav(base, "/signin"), `#username`},
		{"sign-in refused", "", "", chromedp.Tasks{
			chromedp.SendKeys(`#username`, "ben", chromedp.ByID),
			chromedp.SendKeys(`#password`, "not the password at all", chromedp.ByID),
			chromedp.Submit(`#password`, chromedp.ByID),
		}, `#signin-error`},
		{"second step without a sign-in", "", "", nav(base, "/signin/second-factor"), `#signin-error`},
		{"registration", "GET /register", "", nav(base, "/register"), `#code`},
		{"registration refused", "", "", chromedp.Tasks{
			chromedp.SendKeys(`#code`, "AAAA-BBBB-CCCC", chromedp.ByID),
			chromedp.SendKeys(`#name`, "Someone", chromedp.ByID),
			chromedp.SendKeys(`#username`, "someone", chromedp.ByID),
			chromedp.SendKeys(`#password`, "a long enough passphrase here", chromedp.ByID),
			chromedp.Submit(`#password`, chromedp.ByID),
		}, `#register-error`},
		{"trust", "GET /trust", "", nav(base, "/trust"), `#practices`},
		{"not found", "/", "", nav(base, "/no-such-page"), `main .banner.bad`},
		{"recovery", "GET /recover", "", nav(base, "/recover"), `#recover-code`},
		{"recovery code refused", "", "", chromedp.Tasks{
			chromedp.SendKeys(`#code`, "aaaaa-bbbbb-ccccc-ddddd", chromedp.ByID),
			chromedp.Submit(`#code`, chromedp.ByID),
		}, `#recover-error`},
		{"recovery link refused", "GET /recover/{token}", "", nav(base, "/recover/not-a-link"), `main .banner.bad`},
		{"recovery without a link", "GET /recover/continue", "", nav(base, "/recover/continue"), `main .banner.bad`},
		{"recovery done", "GET /recover/done", "", nav(base, "/recover/done"), `#recover-done`},

		{"clinician: patients", "GET /console", "ben", nav(base, "/console"), `#my-patients`},
		{"clinician: search", "GET /console/search", "ben", nav(base, "/console/search?q=Quillfeather"), `#results`},
		{"clinician: search refused", "", "ben", nav(base, "/console/search?q=x"), `main .banner.bad`},
		{"clinician: chart", "GET /console/patients/{id}", "ben", nav(base, "/console/patients/pat-1"), `#access-basis`},
		{"clinician: recent accesses", "GET /console/accesses", "ben", nav(base, "/console/accesses"), `#accesses`},
		{"clinician: account security", "GET /console/account", "ben", nav(base, "/console/account"), `#sessions-end-others`},
		{"clinician: confirm it is you", "GET /reauth", "ben", nav(base, "/reauth?next=/console/account"), `#reauth-password`},
		{"clinician: confirmation refused", "", "ben", chromedp.Tasks{
			chromedp.SendKeys(`#reauth-password`, "not the password at all", chromedp.ByID),
			chromedp.Submit(`#reauth-password`, chromedp.ByID),
		}, `#reauth-error`},
		{"clinician: other sessions ended", "", "ben", chromedp.Tasks{
			chromedp.Navigate(base + "/console/account"),
			chromedp.WaitVisible(`#sessions-end-others`, chromedp.ByID),
			chromedp.Click(`#sessions-end-others`, chromedp.ByID),
		}, `#sessions-ended`},
		{"clinician: forbidden page", "", "ben", nav(base, "/office/devices"), `main .banner.bad`},

		{"clinician: access denied", "", "luc", nav(base, "/console/patients/pat-1"), `#denied-reason`},
		{"clinician: broken glass", "", "luc", chromedp.Tasks{
			chromedp.SetValue(`#reason`, "emergency", chromedp.ByID),
			chromedp.SendKeys(`#explanation`, "Patient collapsed in clinic; I am the responding physician.", chromedp.ByID),
			chromedp.Submit(`#explanation`, chromedp.ByID),
		}, `#break-glass-banner`},

		{"patient: home", "GET /portal", "marisol", nav(base, "/portal"), `#checklist`},
		{"patient: who accessed my record", "GET /portal/accesses", "marisol", chromedp.Tasks{
			chromedp.Navigate(base + "/portal/accesses"),
			chromedp.WaitVisible(`#timeline`, chromedp.ByID),
			// Audit the page as it settles: each proof checked in the browser.
			chromedp.Poll(`Array.from(document.querySelectorAll('.proof-status')).every(e => e.textContent !== 'Checking…')`, nil, chromedp.WithPollingTimeout(15*time.Second)),
		}, `#timeline`},
		{"patient: report filed", "", "marisol", chromedp.Tasks{
			chromedp.SendKeys(`#timeline textarea`, "I do not know this doctor.", chromedp.ByQuery),
			chromedp.Submit(`#timeline textarea`, chromedp.ByQuery),
		}, `#report-ok`},
		{"patient: account security", "GET /portal/security", "marisol", nav(base, "/portal/security"), `#step-totp`},

		{"privacy office", "GET /office", "privacy", nav(base, "/office"), `#report-queue`},
		{"privacy cases", "GET /office/cases", "privacy", nav(base, "/office/cases"), `#case-queue`},
		{"privacy case", "GET /office/cases/{id}", "privacy", chromedp.Tasks{
			chromedp.Click(`#case-queue tbody tr:first-child a`, chromedp.ByQuery),
			chromedp.WaitVisible(`#take`, chromedp.ByID),
			chromedp.Click(`#take`, chromedp.ByID),
		}, `#flash`},
		{"ingestion", "GET /office/ingest", "privacy", nav(base, "/office/ingest"), `#ingest`},

		{"devices", "GET /office/devices", "sec", nav(base, "/office/devices"), `#fleet`},
		{"devices: import refused", "", "sec", chromedp.Tasks{
			chromedp.ActionFunc(func(context.Context) error {
				return os.WriteFile(badCSV, []byte("id,name\nx,y\n"), 0o600)
			}),
			chromedp.SetUploadFiles(`#inventory`, []string{badCSV}, chromedp.ByID),
			chromedp.Submit(`#inventory`, chromedp.ByID),
		}, `#import-error`},
		{"device", "GET /office/devices/{id}", "sec", chromedp.Tasks{
			chromedp.Navigate(base + "/office/devices/pump-001"),
			chromedp.WaitVisible(`#device-findings`, chromedp.ByID),
			// Open every finding's history and forms, so that they are audited too.
			chromedp.Evaluate(`document.querySelectorAll('details').forEach(d => d.open = true)`, nil),
		}, `#device-findings form`},
		{"vulnerability queue", "GET /office/queue", "sec", nav(base, "/office/queue"), `#queue`},

		{"staff sign-in", "GET /office/users", "admin", nav(base, "/office/users"), `#accounts`},
		{"authenticator app set-up", "", "admin", chromedp.Tasks{
			chromedp.Navigate(base + "/console/account"),
			chromedp.WaitVisible(`#totp-begin`, chromedp.ByID),
			chromedp.Click(`#totp-begin`, chromedp.ByID),
		}, `#totp-qr`},
		{"authenticator app code refused", "", "admin", chromedp.Tasks{
			chromedp.Text(`#totp-secret`, &secret, chromedp.ByID),
			chromedp.SendKeys(`#code`, "000000", chromedp.ByID),
			chromedp.Submit(`#code`, chromedp.ByID),
		}, `#totp-error`},
		{"recovery codes", "", "admin", chromedp.Tasks{
			chromedp.ActionFunc(func(ctx context.Context) error {
				code := totpCode(t, strings.ReplaceAll(secret, " ", ""), 0)
				return chromedp.SetValue(`#code`, code, chromedp.ByID).Do(ctx)
			}),
			chromedp.Submit(`#code`, chromedp.ByID),
		}, `#recovery-codes`},
		{"staff sign-in: enrolment code", "", "admin", chromedp.Tasks{
			chromedp.Navigate(base + "/office/users"),
			chromedp.WaitVisible(`#reason-luc`, chromedp.ByID),
			chromedp.SendKeys(`#reason-luc`, "verified in person, badge checked", chromedp.ByID),
			chromedp.Submit(`#reason-luc`, chromedp.ByID),
			chromedp.WaitVisible(`#enrolment-code`, chromedp.ByID),
			chromedp.Text(`#enrolment-code`, &enrolment, chromedp.ByID),
		}, `#enrolment`},
		{"recovery: a new password", "", "", chromedp.Tasks{
			chromedp.ActionFunc(func(ctx context.Context) error {
				return chromedp.Navigate(base + "/recover/" + strings.TrimSpace(enrolment)).Do(ctx)
			}),
		}, `#recover-password`},
		{"recovery: passwords differ", "", "", chromedp.Tasks{
			chromedp.SendKeys(`#password`, "a brand new passphrase for luc", chromedp.ByID),
			chromedp.SendKeys(`#password2`, "another passphrase altogether", chromedp.ByID),
			chromedp.Submit(`#password2`, chromedp.ByID),
		}, `#recover-error`},
		{"second step", "GET /signin/second-factor", "", chromedp.Tasks{
			chromedp.Navigate(base + "/signin"),
			chromedp.WaitVisible(`#username`, chromedp.ByID),
			chromedp.SendKeys(`#username`, "admin", chromedp.ByID),
			chromedp.SendKeys(`#password`, password, chromedp.ByID),
			chromedp.Submit(`#password`, chromedp.ByID),
		}, `#code`},
	}
}

// a11yWorld is a Trustward with something on every page: a simulated
// week of accesses scored into privacy cases (sent through the ingestion
// API), devices with an SBOM, a VEX and advisories, and a patient account
// for pat-1, and a second session of Ben's (an API token). It returns the
// app and the patient's password.
func a11yWorld(t *testing.T) (*testApp, string) {
	t.Helper()
	ctx := context.Background()
	a := newAppWith(t, "sqlite", bigBodies)
	w, _ := monitorWorld()
	if _, err := a.Cases.PutContext(ctx, strings.NewReader(string(w.context))); err != nil {
		t.Fatal(err)
	}
	po := apiToken(t, a, "privacy")
	if res, body := postNDJSON(t, a, po, "/api/v1/audit-events", "application/fhir+ndjson", w.events); res.StatusCode != http.StatusOK {
		t.Fatalf("events: %d %s", res.StatusCode, body)
	}
	if err := a.Cases.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	withAdvisories(t, a)
	if _, err := a.Assessor.ReloadAdvisories(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	apiToken(t, a, "ben") // a second session, for the session list's End buttons
	sec := apiToken(t, a, "sec")
	if res, body := postNDJSON(t, a, sec, "/api/v1/devices/pump-001/sboms", "application/vnd.cyclonedx+json", []byte(readTestdata(t, "pump.cdx.json"))); res.StatusCode != http.StatusCreated {
		t.Fatalf("SBOM: %d %s", res.StatusCode, body)
	}
	if res, body := postNDJSON(t, a, sec, "/api/v1/devices/pump-001/vex", "application/json", []byte(readTestdata(t, "acme.openvex.json"))); res.StatusCode/100 != 2 {
		t.Fatalf("VEX: %d %s", res.StatusCode, body)
	}
	code, err := a.Identity.NewInvitation(ctx, "pat-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "tulip harbour lantern cobalt"
	if res, _ := postForm(t, a.browser(t), a.srv.URL+"/register", url.Values{"code": {code}, "name": {"Marisol Quillfeather"}, "username": {"marisol"}, "email": {"marisol@example.org"}, "password": {pw}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d", res.StatusCode)
	}
	return a, pw
}

// a11ySignIn signs user in, in a tab without cookies.
func a11ySignIn(ctx context.Context, base, user, pw string) error {
	return chromedp.Run(ctx,
		network.ClearBrowserCookies(),
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, user, chromedp.ByID),
		chromedp.SendKeys(`#password`, pw, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error {
			// The page goes away under a script that asks while it is
			// replaced: ask again until the next page is loaded.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				var done bool
				err := chromedp.Evaluate(`location.pathname !== '/signin' && document.readyState === 'complete'`, &done).Do(ctx)
				if err == nil && done {
					return nil
				}
			}
			return errors.New("still on the sign-in page")
		}),
	)
}

// TestA11yEveryPage runs axe-core on every page as each kind of user sees
// it, and fails with each broken rule, its impact and the elements.
func TestA11yEveryPage(t *testing.T) {
	src := axeSource(t)
	a, patientPW := a11yWorld(t)
	ctx := newBrowser(t)
	base := a.srv.URL

	// First, a page with a known fault of each kind, to show that axe runs
	// here and that the rules we rely on are among those run.
	bad := `<!doctype html><html><head><title>bad</title></head><body><main><h1>Bad</h1>` +
		`<img src="x.png"><p style="color:#aaa">faint text</p><input type="text" name="q"><h3>skipped a level</h3>` +
		`<svg role="img" aria-label="chart" viewBox="0 0 100 20"><text x="2" y="12" font-size="11" fill="#bbb">faint label</text></svg></main></body></html>`
	if err := chromedp.Run(ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(bad))); err != nil {
		t.Fatal(err)
	}
	seeded, unjudged, err := runAxe(ctx, src)
	if err != nil {
		t.Fatalf("axe on a seeded page: %v", err)
	}
	var low []string
	arg, _ := json.Marshal(unjudged)
	if err := chromedp.Run(ctx, chromedp.Evaluate(contrastJS+"("+string(arg)+")", &low)); err != nil || len(low) != 1 || !strings.Contains(low[0], "text") {
		t.Fatalf("faint SVG text on a seeded page: axe left %q unjudged, measured %q (%v)", unjudged, low, err)
	}
	var ids []string
	for _, f := range seeded {
		ids = append(ids, f.ID)
	}
	for _, want := range []string{"html-has-lang", "image-alt", "color-contrast", "label", "heading-order"} {
		if !slices.Contains(ids, want) {
			t.Fatalf("axe did not find %s on a page made to fail it: found %v", want, ids)
		}
	}

	var version string
	user := ""
	var failures []string
	audited, measured := 0, 0
	for _, v := range a11yVisits(t, base) {
		if v.user != user {
			pw := password
			if v.user == "marisol" {
				pw = patientPW
			}
			var err error
			if v.user == "" {
				err = chromedp.Run(ctx, network.ClearBrowserCookies())
			} else {
				err = a11ySignIn(ctx, base, v.user, pw)
			}
			if err != nil {
				t.Fatalf("sign in as %q: %v", v.user, err)
			}
			user = v.user
		}
		err := chromedp.Run(ctx, v.steps, chromedp.WaitVisible(v.ready, chromedp.ByQuery))
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		found, unjudged, err := runAxe(ctx, src)
		if err != nil {
			t.Fatalf("%s: axe: %v", v.name, err)
		}
		audited++
		if len(unjudged) > 0 {
			var low []string
			arg, _ := json.Marshal(unjudged)
			if err := chromedp.Run(ctx, chromedp.Evaluate(contrastJS+"("+string(arg)+")", &low)); err != nil {
				t.Fatalf("%s: contrast: %v", v.name, err)
			}
			measured += len(unjudged)
			for _, l := range low {
				failures = append(failures, fmt.Sprintf("%s (%s): color-contrast measured here (axe could not judge it): %s", v.name, v.user, l))
			}
		}
		for _, f := range found {
			var nodes []string
			for _, n := range f.Nodes {
				nodes = append(nodes, "      "+n.Target+": "+strings.ReplaceAll(n.Summary, "\n", " "))
			}
			failures = append(failures, fmt.Sprintf("%s (%s): %s [%s] %s\n%s", v.name, v.user, f.ID, f.Impact, f.Help, strings.Join(nodes, "\n")))
		}
	}
	if err := chromedp.Run(ctx, chromedp.Evaluate(`axe.version`, &version)); err != nil {
		t.Fatal(err)
	}
	t.Logf("axe-core %s, tags %v: %d pages audited; the contrast of %d elements that axe could not judge measured here", version, axeTags, audited, measured)
	if len(failures) > 0 {
		t.Errorf("%d accessibility failures:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

// TestA11yCoversEveryPage: every GET route of the browser UI registered
// in this package is audited by TestA11yEveryPage, or named as not a page.
// A new page fails here until it is added to a11yVisits.
func TestA11yCoversEveryPage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var routes []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			p, _ := strconv.Unquote(lit.Value)
			path := strings.TrimPrefix(p, "GET ")
			if p != "/" && path == p { // another method, or any method on a prefix
				return true
			}
			for _, prefix := range []string{"/api/", "/fhir", "/log/", "/static/", "/healthz"} {
				if strings.HasPrefix(path, prefix) {
					return true
				}
			}
			routes = append(routes, p)
			return true
		})
	}
	covered := map[string]bool{}
	for _, v := range a11yVisits(t, "") {
		covered[v.route] = true
	}
	if len(routes) < 20 {
		t.Fatalf("found only %d browser routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		if !covered[r] && a11yNotPages[r] == "" {
			t.Errorf("browser route %q is not audited: add it to a11yVisits", r)
		}
	}
}

// tabStopsJS lists the elements that the Tab key should reach, in
// document order (what the HTML standard makes focusable, less what is
// disabled, hidden, out of the tab order, or a radio button other than
// its group's stop), keeps them in the page for tabCheckJS, and notes each
// one's style while it does not have focus.
const tabStopsJS = `(() => {
	const shown = e => e.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true});
	const all = Array.from(document.querySelectorAll('a[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable=""], [contenteditable=true]'));
	const stops = all.filter(e => e.tabIndex >= 0 && !e.disabled && e.type !== 'hidden' && shown(e) && !e.closest('[inert]') &&
		!(e.tagName === 'SUMMARY' && e.parentElement.tagName !== 'DETAILS') &&
		!(e.type === 'radio' && e.name && (() => {
			const group = Array.from(document.querySelectorAll('input[type=radio]')).filter(r => r.name === e.name && r.form === e.form);
			const checked = group.find(r => r.checked);
			return checked ? checked !== e : group[0] !== e;
		})()));
	const look = e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.backgroundColor, s.color, s.textDecorationLine].join('|'); };
	window.twStops = stops;
	window.twLooks = stops.map(look);
	return stops.map(e => e.outerHTML.slice(0, 120));
})()`

// tabCheckJS reports the element that has focus: its place among the tab
// stops (-1 if none), and what is wrong with its focus indicator: it must
// change the element's look, and be an outline at least 2 px wide (or a box
// shadow) whose colour has a contrast of at least 3:1 with what is behind
// it (WCAG 2.1 SC 1.4.11 and 2.4.7).
const tabCheckJS = `(() => {
	const e = document.activeElement;
	const i = window.twStops.indexOf(e);
	const s = getComputedStyle(e);
	const look = [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.backgroundColor, s.color, s.textDecorationLine].join('|');
	const rgb = c => (c.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number);
	const lum = c => { const v = rgb(c).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
	const opaque = c => { const v = rgb(c); return c !== 'transparent' && (v.length < 4 || v[3] > 0); };
	let behind = parseFloat(s.outlineOffset) > 0 ? e.parentElement : e;
	while (behind && !opaque(getComputedStyle(behind).backgroundColor)) behind = behind.parentElement;
	const bg = behind ? getComputedStyle(behind).backgroundColor : 'rgb(255, 255, 255)';
	let problem = '';
	if (i < 0) problem = '';
	else if (look === window.twLooks[i]) problem = 'looks the same with and without focus';
	else if (s.boxShadow === 'none' && (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2)) problem = 'no outline of 2px or more: ' + s.outlineStyle + ' ' + s.outlineWidth;
	else if (s.boxShadow === 'none') {
		const a = lum(s.outlineColor), b = lum(bg);
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		if (ratio < 3) problem = 'outline ' + s.outlineColor + ' on ' + bg + ': contrast ' + ratio.toFixed(2) + ':1';
	}
	return {Index: i, Element: e.outerHTML.slice(0, 120), Problem: problem};
})()`

// walkTabs presses Tab from the top of the page open in ctx once for
// each tab stop, and returns what went wrong: the first stop that is not
// the skip link, the first press that went elsewhere than the next stop in
// document order (the walk ends there), and each stop whose focus
// indicator tabCheckJS finds wanting.
func walkTabs(ctx context.Context) ([]string, error) {
	var stops []string
	err := chromedp.Run(ctx,
		// Focusing the body moves the point that Tab starts from to the
		// top, past an autofocus field.
		chromedp.Evaluate(`document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex'); window.scrollTo(0, 0); 0`, nil),
		chromedp.Evaluate(tabStopsJS, &stops),
	)
	if err != nil {
		return nil, err
	}
	if len(stops) < 2 || !strings.Contains(stops[0], `class="skip"`) {
		return []string{fmt.Sprintf("the first tab stop is not the skip link: %q", stops)}, nil
	}
	var problems []string
	for want := range stops {
		var got struct {
			Index            int
			Element, Problem string
		}
		if err := chromedp.Run(ctx, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(tabCheckJS, &got)); err != nil {
			return nil, err
		}
		if got.Index != want {
			return append(problems, fmt.Sprintf("Tab %d went to %s, want %s", want+1, got.Element, stops[want])), nil
		}
		if got.Problem != "" {
			problems = append(problems, fmt.Sprintf("focus on %s: %s", got.Element, got.Problem))
		}
	}
	return problems, nil
}

// TestKeyboardMainPages: on the main pages, the Tab key moves the focus
// through every link, button and form field in document order, starting
// with the skip link, and each shows a visible focus indicator; the skip
// link takes the focus past the navigation.
func TestKeyboardMainPages(t *testing.T) {
	a, patientPW := a11yWorld(t)
	ctx := newBrowser(t)
	base := a.srv.URL
	// follow, when set, is a link to click on the page at path: the page
	// it opens is the one walked.
	pages := []struct{ user, path, follow, ready string }{
		{"", "/signin", "", `#username`},
		{"", "/register", "", `#code`},
		{"", "/recover", "", `#recover-code`},
		{"ben", "/console/search?q=Quillfeather", "", `#results`},
		{"ben", "/console/patients/pat-1", "", `#access-basis`},
		{"ben", "/console/account", "", `#sessions-end-others`},
		{"luc", "/console/patients/pat-1", "", `#denied-reason`},
		{"marisol", "/portal", "", `#checklist`},
		{"marisol", "/portal/accesses", "", `#timeline`},
		{"privacy", "/office", "", `#h-review`},
		{"privacy", "/office/cases", "", `#case-queue`},
		{"privacy", "/office/cases", `#case-queue tbody tr:first-child a`, `#decide-form`},
		{"sec", "/office/devices", "", `#fleet`},
		{"sec", "/office/devices/pump-001", "", `#device-findings`},
		{"admin", "/office/users", "", `#accounts`},
	}
	// Pages made to fail, to show that the checks find what they look for.
	for _, seed := range []struct{ page, want string }{
		{`<a class="skip" href="#m">Skip</a><main id="m"><button style="outline:none">plain</button></main>`, "looks the same"},
		{`<a class="skip" href="#m">Skip</a><main id="m"><a href="#a">first</a> <a href="#b" tabindex="2">jumps the queue</a></main>`, "went to"},
	} {
		if err := chromedp.Run(ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(`<!doctype html><html lang="en"><title>seed</title>`+seed.page))); err != nil {
			t.Fatal(err)
		}
		problems, err := walkTabs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, seed.want) }) {
			t.Fatalf("on a page made to fail (%q), the keyboard check found %q", seed.want, problems)
		}
	}

	user := "-"
	for _, p := range pages {
		if p.user != user {
			pw := password
			if p.user == "marisol" {
				pw = patientPW
			}
			var err error
			if p.user == "" {
				err = chromedp.Run(ctx, network.ClearBrowserCookies())
			} else {
				err = a11ySignIn(ctx, base, p.user, pw)
			}
			if err != nil {
				t.Fatalf("sign in as %q: %v", p.user, err)
			}
			user = p.user
		}
		where, open := p.path, chromedp.Tasks{chromedp.Navigate(base + p.path)}
		if p.follow != "" {
			where += " then " + p.follow
			open = append(open, chromedp.Click(p.follow, chromedp.ByQuery))
		}
		if err := chromedp.Run(ctx, open, chromedp.WaitVisible(p.ready, chromedp.ByQuery)); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		problems, err := walkTabs(ctx)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		for _, pr := range problems {
			t.Errorf("%s (%s): %s", where, p.user, pr)
		}
	}

	// The skip link: Tab, Enter, Tab lands on the first stop in <main>.
	var inMain bool
	var at string
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/office/devices"),
		chromedp.WaitVisible(`#fleet`, chromedp.ByID),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(kb.Enter),
		chromedp.KeyEvent(kb.Tab),
		chromedp.Evaluate(`document.activeElement.closest('main') !== null`, &inMain),
		chromedp.Evaluate(`document.activeElement.outerHTML.slice(0, 120)`, &at),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !inMain {
		t.Errorf("after the skip link, Tab went to %s, not into <main>", at)
	}
}

package web_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db/dbtest"
)

// newBrowser starts a headless Debian Chromium, or skips (fails in CI,
// where TRUSTWARD_TEST_REQUIRE names chromium) when there is none.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("TRUSTWARD_CHROMIUM")
	if path == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		}
	}
	if path == "" {
		dbtest.Missing(t, "chromium", errors.New("no chromium binary found (apt-get install chromium)"))
		return nil
	}
	// The profile folder is ours, not t.TempDir: Chromium may still write to
	// it for a moment after it is told to close, which would fail the
	// test's own clean-up.
	profile, err := os.MkdirTemp("", "tw-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelT()
		cancelC()
		cancelA()
		for i := 0; i < 20; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		dbtest.Missing(t, "chromium", err)
		return nil
	}
	return ctx
}

func signInBrowser(t *testing.T, ctx context.Context, base, user string) {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, user, chromedp.ByID),
		chromedp.SendKeys(`#password`, password, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#q`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
}

// unlabelled returns the form controls a screen reader could not name.
const unlabelled = `Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea')).filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)`

func TestBrowserClinicianChartIsAudited(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := newBrowser(t)
	base := a.srv.URL
	signInBrowser(t, ctx, base, "ben")
	var name, basis, accesses string
	var missing []string
	err := chromedp.Run(ctx,
		chromedp.Evaluate(unlabelled, &missing),
		chromedp.SendKeys(`#q`, "Quillfeather", chromedp.ByID),
		chromedp.Submit(`#q`, chromedp.ByID),
		chromedp.WaitVisible(`#results a`, chromedp.ByQuery),
		chromedp.Click(`#results a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#patient-name`, chromedp.ByID),
		chromedp.Text(`#patient-name`, &name, chromedp.ByID),
		chromedp.Text(`#access-basis`, &basis, chromedp.ByID),
		chromedp.Navigate(base+"/console/accesses"),
		chromedp.WaitVisible(`#accesses`, chromedp.ByID),
		chromedp.Text(`#accesses`, &accesses, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 0 {
		t.Errorf("form controls without a label: %v", missing)
	}
	if name != "Marisol Quillfeather" || !strings.Contains(basis, "care team") {
		t.Fatalf("chart shows %q (%q)", name, basis)
	}
	if !strings.Contains(accesses, "Opened chart") || !strings.Contains(accesses, "Marisol Quillfeather") {
		t.Fatalf("my recent accesses: %q", accesses)
	}
	evs, err := a.Audit.Events(context.Background(), audit.Query{PatientID: "pat-1"})
	if err != nil || len(evs) != 1 || evs[0].Event.Actor.UserID != "u-ben" || !strings.Contains(evs[0].Event.UserAgent, "Chrome") {
		t.Fatalf("audit store after the browser opened the chart: %+v %v", evs, err)
	}
}

func TestBrowserBreakTheGlass(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := newBrowser(t)
	base := a.srv.URL
	signInBrowser(t, ctx, base, "luc")
	var denied, banner, allergies string
	var missing []string
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/patients/pat-1"),
		chromedp.WaitVisible(`#denied-reason`, chromedp.ByID),
		chromedp.Text(`#denied-reason`, &denied, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &missing),
		chromedp.SetValue(`#reason`, "emergency", chromedp.ByID),
		chromedp.SendKeys(`#explanation`, "Patient collapsed in clinic; I am the responding physician.", chromedp.ByID),
		chromedp.Submit(`#explanation`, chromedp.ByID),
		chromedp.WaitVisible(`#break-glass-banner`, chromedp.ByID),
		chromedp.Text(`#break-glass-banner`, &banner, chromedp.ByID),
		chromedp.Text(`#allergies`, &allergies, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(denied, "not on this patient's care team") {
		t.Errorf("denial reason: %q", denied)
	}
	if len(missing) != 0 {
		t.Errorf("form controls without a label: %v", missing)
	}
	if !strings.Contains(banner, "Break-the-glass access") || !strings.Contains(allergies, "Penicillin") {
		t.Fatalf("after breaking the glass: banner %q allergies %q", banner, allergies)
	}
}

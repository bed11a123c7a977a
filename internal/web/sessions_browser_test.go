package web_test

import (
	"context"
	"net"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/identity"
)

// newLocalhostAppAt is newLocalhostApp on the test clock clk.
func newLocalhostAppAt(t *testing.T, clk *testClock) (*testApp, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://localhost:" + port
	a := newAppAt(t, "sqlite", func(c *config.Config) { c.PublicURL = base }, clk.now)
	srv := httptest.NewUnstartedServer(a.Web)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return a, base
}

// TestBrowserBreakGlassAfterReauth: a clinician who signed in (password
// and authenticator app) more than five minutes ago breaks the glass, is
// asked to confirm it is them, does so with the password and a code, and
// lands on the chart with the glass broken, the explanation typed before
// kept. Later, on another patient, the passkey does it in one touch.
func TestBrowserBreakGlassAfterReauth(t *testing.T) {
	clk := &testClock{}
	a, base := newLocalhostAppAt(t, clk)
	ctx := newBrowser(t)
	if _, err := exec.LookPath("oathtool"); err != nil {
		dbtest.Missing(t, "oathtool", err)
	}
	bg := context.Background()
	if _, err := a.Records.Import(bg, strings.NewReader(`{"resourceType":"Patient","id":"pat-2","name":[{"family":"Ashdown","given":["Tobias"]}],"gender":"male","birthDate":"1975-02-03"}`+"\n"), nil); err != nil {
		t.Fatal(err)
	}
	secret := giveTOTP(t, a, clk, "u-luc")
	addAuthenticator(t, ctx, base, true)
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, "luc", chromedp.ByID),
		chromedp.SendKeys(`#password`, password, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#code`, chromedp.ByID),
		chromedp.SendKeys(`#code`, totpCode(t, secret, clk.offset()+30*time.Second), chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#q`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("sign-in with password and code: %v", err)
	}
	registerPasskey(t, ctx, base, "/console/account", "Ward badge")

	clk.advance(6 * time.Minute)
	var why, banner, allergies, where string
	var missing []string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/patients/pat-1"),
		chromedp.WaitVisible(`#denied-reason`, chromedp.ByID),
		chromedp.SetValue(`#reason`, "emergency", chromedp.ByID),
		chromedp.SendKeys(`#explanation`, "Patient collapsed in clinic; I am the responding physician.", chromedp.ByID),
		chromedp.Submit(`#explanation`, chromedp.ByID),
		chromedp.WaitVisible(`#reauth-why`, chromedp.ByID),
		chromedp.Text(`#reauth-why`, &why, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &missing),
	)
	if err != nil {
		t.Fatalf("breaking the glass after six minutes: %v", err)
	}
	if !strings.Contains(why, "break the glass") {
		t.Errorf("the re-authentication page says %q", why)
	}
	if len(missing) != 0 {
		t.Errorf("unlabelled controls on the re-authentication page: %v", missing)
	}
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#reauth-password`, password, chromedp.ByID),
		chromedp.SendKeys(`#reauth-code`, totpCode(t, secret, clk.offset()), chromedp.ByID),
		chromedp.Submit(`#reauth-code`, chromedp.ByID),
		chromedp.WaitVisible(`#break-glass-banner`, chromedp.ByID),
		chromedp.Text(`#break-glass-banner`, &banner, chromedp.ByID),
		chromedp.Text(`#allergies`, &allergies, chromedp.ByID),
		chromedp.Location(&where),
	)
	if err != nil {
		t.Fatalf("re-authenticating with password and code: %v", err)
	}
	if !strings.Contains(banner, "Break-the-glass access") || !strings.Contains(allergies, "Penicillin") || !strings.HasSuffix(where, "/console/patients/pat-1") {
		t.Fatalf("after re-authenticating: banner %q, allergies %q, at %s", banner, allergies, where)
	}

	// Another emergency later: the passkey, one touch.
	clk.advance(6 * time.Minute)
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/console/patients/pat-2"),
		chromedp.WaitVisible(`#denied-reason`, chromedp.ByID),
		chromedp.SetValue(`#reason`, "emergency", chromedp.ByID),
		chromedp.SendKeys(`#explanation`, "Unresponsive in the waiting room; I am the nearest physician.", chromedp.ByID),
		chromedp.Submit(`#explanation`, chromedp.ByID),
		chromedp.WaitVisible(`#passkey-confirm`, chromedp.ByID),
		chromedp.Click(`#passkey-confirm`, chromedp.ByID),
		chromedp.WaitVisible(`#break-glass-banner`, chromedp.ByID),
		chromedp.Location(&where),
	)
	if err != nil {
		var status string
		_ = chromedp.Run(ctx, chromedp.Text(`#passkey-status`, &status, chromedp.ByID))
		t.Fatalf("re-authenticating with the passkey: %v (status %q)", err, status)
	}
	if !strings.HasSuffix(where, "/console/patients/pat-2") {
		t.Fatalf("after the passkey: at %s", where)
	}

	ev := subtypes(t, a)
	for _, want := range []string{"0 u-luc password and second factor", "0 u-luc passkey"} {
		if !hasEvent(ev[identity.SubtypeReauth], want) {
			t.Errorf("no re-authentication event %q in %q", want, ev[identity.SubtypeReauth])
		}
	}
	var grants int
	if err := a.DB.QueryRow(bg, `SELECT COUNT(*) FROM break_glass WHERE user_id = 'u-luc'`).Scan(&grants); err != nil || grants != 2 {
		t.Fatalf("luc's break-glass grants: %d %v", grants, err)
	}
}

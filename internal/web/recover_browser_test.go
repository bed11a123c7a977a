package web_test

import (
	"context"
	"net"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify/smtptest"
)

// newLocalhostMailApp is newLocalhostApp with email to a loopback SMTP
// receiver, so that links in emails name the address the browser uses.
func newLocalhostMailApp(t *testing.T) (*testApp, string, *smtptest.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://localhost:" + port
	a, mail := newMailApp(t, "sqlite", base)
	srv := httptest.NewUnstartedServer(a.Web)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return a, base, mail
}

// TestBrowserPatientRecoversWithTOTP: a patient with an authenticator app
// forgets the password, asks for a link from the sign-in page, opens the
// emailed link, gets a wrong code refused, passes with a code from
// oathtool, sets a new password and signs in with it (and the next code).
func TestBrowserPatientRecoversWithTOTP(t *testing.T) {
	a, base, mail := newLocalhostMailApp(t)
	ctx := newBrowser(t)
	if _, err := exec.LookPath("oathtool"); err != nil {
		dbtest.Missing(t, "oathtool", err)
	}
	u := addPatient(t, a)
	secret, _, _, err := a.MFA.BeginTOTP(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	// The enrolment spends the previous step, so that the code typed
	// during the recovery (this step) and the one at sign-in (the next)
	// are each fresh.
	if _, err := a.MFA.ConfirmTOTP(context.Background(), u, totpCode(t, secret, -30*time.Second), identity.Client{}); err != nil {
		t.Fatal(err)
	}

	var sent string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#signin-recover a`, chromedp.ByQuery),
		chromedp.Click(`#signin-recover a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#who`, chromedp.ByID),
		chromedp.SendKeys(`#who`, "marisol@example.org", chromedp.ByID),
		chromedp.Submit(`#who`, chromedp.ByID),
		chromedp.WaitVisible(`#recover-sent`, chromedp.ByID),
		chromedp.Text(`#recover-sent`, &sent, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("asking for a link: %v", err)
	}
	if !strings.Contains(sent, "If an account has this email address") {
		t.Errorf("answer: %q", sent)
	}
	link := linkRE.FindString(waitMail(t, mail, 1).Data)
	if !strings.HasPrefix(link, base+"/recover/") {
		t.Fatalf("link %q is not at %s", link, base)
	}

	var wrong, account, location string
	err = chromedp.Run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#code`, chromedp.ByID),
		chromedp.Location(&location),
		chromedp.Text(`#recover-account`, &account, chromedp.ByID),
		chromedp.SendKeys(`#code`, totpCode(t, secret, -3*time.Minute), chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#recover-error`, chromedp.ByID),
		chromedp.Text(`#recover-error`, &wrong, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("the second factor: %v", err)
	}
	if location != base+"/recover/continue" {
		t.Errorf("the token stayed in the address bar: %s", location)
	}
	if !strings.Contains(account, "marisol") {
		t.Errorf("account line: %q", account)
	}
	if !strings.Contains(wrong, "not right") || !strings.Contains(wrong, "4 more tries") {
		t.Errorf("wrong code: %q", wrong)
	}
	var unlabelledControls []string
	const pw = "violet anchor meadow thunder"
	var done string
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#code`, totpCode(t, secret, 0), chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#password`, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &unlabelledControls),
		chromedp.SendKeys(`#password`, pw, chromedp.ByID),
		chromedp.SendKeys(`#password2`, pw, chromedp.ByID),
		chromedp.Submit(`#password2`, chromedp.ByID),
		chromedp.WaitVisible(`#recover-done`, chromedp.ByID),
		chromedp.Text(`#recover-done`, &done, chromedp.ByID),
		chromedp.Click(`#recover-signin`, chromedp.ByID),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if len(unlabelledControls) != 0 {
		t.Errorf("unlabelled controls on the recovery page: %v", unlabelledControls)
	}
	if !strings.Contains(done, "signed out") {
		t.Errorf("done: %q", done)
	}
	if res, _ := postForm(t, a.browser(t), base+"/signin", url.Values{"username": {"marisol"}, "password": {patientPassword}}); res.StatusCode != 401 {
		t.Errorf("the old password after the recovery: %d", res.StatusCode)
	}
	if msg := secondStep(t, ctx, base, "marisol", pw, totpCode(t, secret, 30*time.Second)); msg != "" {
		t.Fatalf("signing in with the new password and the next code: %q", msg)
	}
	ev := subtypes(t, a)
	if !hasEvent(ev[identity.SubtypeAccountRecovered], "0 u-pat account recovered by a link sent by email, after the second factor; new password set") ||
		!hasEvent(ev[identity.SubtypeFactorFailed], "4 u-pat totp: account recovery: wrong code") ||
		!hasEvent(ev[identity.SubtypeFactorUsed], "0 u-pat totp: account recovery: code accepted") {
		t.Errorf("audit events: %q %q %q", ev[identity.SubtypeAccountRecovered], ev[identity.SubtypeFactorFailed], ev[identity.SubtypeFactorUsed])
	}
}

// TestBrowserRecoveryWithPasskeys: a clinician given an enrolment code
// finishes with a new passkey instead of a password (the old password then
// stops working) and signs in with it; a patient passes the recovery's
// second factor with their passkey and sets a new password.
func TestBrowserRecoveryWithPasskeys(t *testing.T) {
	a, base, mail := newLocalhostMailApp(t)
	ctx := newBrowser(t)
	addAuthenticator(t, ctx, base, true)
	bg := context.Background()
	admin, err := a.Identity.UserByID(bg, "u-adm")
	if err != nil {
		t.Fatal(err)
	}
	en, err := a.Recovery.IssueEnrolment(bg, admin, "u-ben", "verified in person, badge checked", identity.Client{})
	if err != nil {
		t.Fatal(err)
	}
	var replaces, who string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/recover"),
		chromedp.WaitVisible(`#code`, chromedp.ByID),
		chromedp.SendKeys(`#code`, en.Code, chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#passkey-add`, chromedp.ByID),
		chromedp.Text(`#recover-replaces`, &replaces, chromedp.ByID),
		chromedp.SendKeys(`#passkey-name`, "Ward phone", chromedp.ByID),
		chromedp.Click(`#passkey-add`, chromedp.ByID),
		chromedp.WaitVisible(`#recover-done`, chromedp.ByID),
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#passkey-signin`, chromedp.ByID),
		chromedp.Click(`#passkey-signin`, chromedp.ByID),
		chromedp.WaitVisible(`#q`, chromedp.ByID),
		chromedp.Text(`header.top .who span`, &who, chromedp.ByQuery),
	)
	if err != nil {
		var status string
		_ = chromedp.Run(ctx, chromedp.Text(`#passkey-status`, &status, chromedp.ByID))
		t.Fatalf("enrolment with a passkey: %v (status %q)", err, status)
	}
	if !strings.Contains(replaces, "removed") || !strings.Contains(who, "Dr Ben Okafor") {
		t.Errorf("replaces %q, signed in as %q", replaces, who)
	}
	if res, _ := postForm(t, a.browser(t), base+"/signin", url.Values{"username": {"ben"}, "password": {password}}); res.StatusCode != 401 {
		t.Errorf("the old password after a passkey enrolment: %d", res.StatusCode)
	}
	signOutBrowser(t, ctx, base)

	// The patient: a passkey first, then a recovery that uses it.
	addPatient(t, a)
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#username`, "marisol", chromedp.ByID),
		chromedp.SendKeys(`#password`, patientPassword, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#checklist`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("patient sign-in: %v", err)
	}
	registerPasskey(t, ctx, base, "/portal/security", "My phone")
	signOutBrowser(t, ctx, base)
	if res, _ := postForm(t, a.browser(t), base+"/recover", url.Values{"who": {"marisol"}}); res.StatusCode != 200 {
		t.Fatalf("request: %d", res.StatusCode)
	}
	link := waitLink(t, mail)
	const pw = "violet anchor meadow thunder"
	err = chromedp.Run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#passkey-signin`, chromedp.ByID),
		chromedp.Click(`#passkey-signin`, chromedp.ByID),
		chromedp.WaitVisible(`#password`, chromedp.ByID),
		chromedp.SendKeys(`#password`, pw, chromedp.ByID),
		chromedp.SendKeys(`#password2`, pw, chromedp.ByID),
		chromedp.Submit(`#password2`, chromedp.ByID),
		chromedp.WaitVisible(`#recover-done`, chromedp.ByID),
	)
	if err != nil {
		var status string
		_ = chromedp.Run(ctx, chromedp.Text(`#passkey-status`, &status, chromedp.ByID))
		t.Fatalf("recovery with the passkey as second factor: %v (status %q)", err, status)
	}
	// The passkey stays: the new password leads to the second step.
	if res, _ := postForm(t, a.browser(t), base+"/signin", url.Values{"username": {"marisol"}, "password": {pw}}); res.StatusCode != 303 || res.Header.Get("Location") != "/signin/second-factor" {
		t.Errorf("the new password: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	ev := subtypes(t, a)
	if !hasEvent(ev[identity.SubtypeAccountRecovered], "0 u-ben account recovered by an enrolment code from Ada Admin (u-adm); new passkey added; the old password no longer works") ||
		!hasEvent(ev[identity.SubtypeAccountRecovered], "0 u-pat account recovered by a link sent by email, after the second factor; new password set") ||
		!hasEvent(ev[identity.SubtypeFactorUsed], "0 u-pat passkey: account recovery: passkey accepted") {
		t.Errorf("audit events: %q %q", ev[identity.SubtypeAccountRecovered], ev[identity.SubtypeFactorUsed])
	}
}

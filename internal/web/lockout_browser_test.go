package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPasskeyWithPasswordHardLocked: an account whose password has
// reached the hard cap of 100 failures (decision 0035) is refused by
// password, with the way out named, and still signs in with its passkey.
func TestBrowserPasskeyWithPasswordHardLocked(t *testing.T) {
	a, base := newLocalhostApp(t, "sqlite")
	ctx := newBrowser(t)
	addAuthenticator(t, ctx, base, true)
	signInBrowser(t, ctx, base, "ben")
	registerPasskey(t, ctx, base, "/console/account", "Ward laptop")
	signOutBrowser(t, ctx, base)
	// Reaching the cap takes two weeks of guesses against the schedule
	// (identity's TestLockoutHardCap walks it with a fake clock); here the
	// count is set where those guesses leave it.
	if _, err := a.DB.Exec(context.Background(), `UPDATE users SET failed_logins = 100 WHERE id = 'u-ben'`); err != nil {
		t.Fatal(err)
	}
	res, body := post(t, a.browser(t), base+"/signin", "application/x-www-form-urlencoded", url.Values{"username": {"ben"}, "password": {password}}.Encode(), nil)
	if res.StatusCode != http.StatusUnauthorized || hasSession(res) || res.Header.Get("Retry-After") != "" || !strings.Contains(body, "locked until an administrator unlocks it") {
		t.Fatalf("right password with the password hard-locked: %d Retry-After %q %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	var who string
	err := chromedp.Run(ctx,
		chromedp.Click(`#passkey-signin`, chromedp.ByID),
		chromedp.WaitVisible(`#q`, chromedp.ByID),
		chromedp.Text(`header.top .who span`, &who, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("passkey sign-in with the password hard-locked: %v", err)
	}
	if !strings.Contains(who, "Dr Ben Okafor") {
		t.Errorf("signed in as %q", who)
	}
}

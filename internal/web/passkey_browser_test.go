package web_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/identity"
)

// newLocalhostApp serves a test app at http://localhost:PORT, the
// relying party passkeys are bound to (a passkey cannot be bound to an IP
// address, and public_url names it).
func newLocalhostApp(t *testing.T, engine string) (*testApp, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://localhost:" + port
	a := newAppWith(t, engine, func(c *config.Config) { c.PublicURL = base })
	srv := httptest.NewUnstartedServer(a.Web)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return a, base
}

// addAuthenticator gives the browser a virtual platform authenticator
// (CTAP2, internal transport, resident keys, user verification).
func addAuthenticator(t *testing.T, ctx context.Context, base string, verified bool) webauthn.AuthenticatorID {
	t.Helper()
	var id webauthn.AuthenticatorID
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/trust"),
		webauthn.Enable().WithEnableUI(false),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			id, err = webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: verified, AutomaticPresenceSimulation: true,
			}).Do(ctx)
			return err
		}),
	)
	if err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
	return id
}

// registerPasskey adds a passkey named name from the account page.
func registerPasskey(t *testing.T, ctx context.Context, base, page, name string) string {
	t.Helper()
	var added, list string
	var missing []string
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+page),
		chromedp.WaitVisible(`#passkey-add`, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &missing),
		chromedp.SendKeys(`#passkey-name`, name, chromedp.ByID),
		chromedp.Click(`#passkey-add`, chromedp.ByID),
		chromedp.WaitVisible(`#security-added`, chromedp.ByID),
		chromedp.Text(`#security-added`, &added, chromedp.ByID),
		chromedp.Text(`#passkeys`, &list, chromedp.ByID),
	)
	if err != nil {
		var status string
		_ = chromedp.Run(ctx, chromedp.Text(`#passkey-status`, &status, chromedp.ByID))
		t.Fatalf("adding a passkey: %v (status %q)", err, status)
	}
	if len(missing) != 0 {
		t.Errorf("form controls without a label on %s: %v", page, missing)
	}
	if !strings.Contains(added, "passkey is ready") {
		t.Errorf("after adding: %q", added)
	}
	return list
}

func signOutBrowser(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	var signin string
	err := chromedp.Run(ctx,
		chromedp.Submit(`form[action="/signout"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`body`, chromedp.ByQuery),
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#passkey-signin`, chromedp.ByID),
		chromedp.Text(`h1`, &signin, chromedp.ByQuery),
	)
	if err != nil || signin != "Sign in" {
		t.Fatalf("signing out: %v %q", err, signin)
	}
}

func TestBrowserPasskeyClinician(t *testing.T) {
	a, base := newLocalhostApp(t, "sqlite")
	ctx := newBrowser(t)
	addAuthenticator(t, ctx, base, true)
	signInBrowser(t, ctx, base, "ben")
	list := registerPasskey(t, ctx, base, "/console/account", "Ward laptop")
	if !strings.Contains(list, "Ward laptop") || !strings.Contains(list, "not yet") {
		t.Fatalf("passkey list: %q", list)
	}
	signOutBrowser(t, ctx, base)

	// Discoverable sign-in: nothing typed.
	var who string
	err := chromedp.Run(ctx,
		chromedp.Click(`#passkey-signin`, chromedp.ByID),
		chromedp.WaitVisible(`#q`, chromedp.ByID),
		chromedp.Text(`header.top .who span`, &who, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("passkey sign-in: %v", err)
	}
	if !strings.Contains(who, "Dr Ben Okafor") {
		t.Errorf("signed in as %q", who)
	}
	evs, err := a.Audit.Events(context.Background(), audit.Query{ActorID: "u-ben", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var added, passkeyLogin bool
	for _, e := range evs {
		added = added || (e.Event.Subtype == identity.SubtypeFactorAdded && e.Event.Outcome == audit.OutcomeSuccess)
		passkeyLogin = passkeyLogin || (e.Event.Subtype == "login" && e.Event.Outcome == audit.OutcomeSuccess && e.Event.OutcomeDesc == "passkey")
	}
	if !added || !passkeyLogin {
		t.Errorf("audit: passkey added %v, passkey sign-in %v", added, passkeyLogin)
	}
	// The passkey's last use is shown.
	var list2 string
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/console/account"), chromedp.Text(`#passkeys`, &list2, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list2, "not yet") {
		t.Errorf("last use not recorded: %q", list2)
	}
}

// TestBrowserPasskeyUnverifiedRefused: an authenticator that reports the
// user as not verified does not sign anyone in, whether the browser stops
// it (isUserVerified false) or the answer reaches the server with the UV
// flag cleared (the authenticator lies).
func TestBrowserPasskeyUnverifiedRefused(t *testing.T) {
	a, base := newLocalhostApp(t, "sqlite")
	ctx := newBrowser(t)
	id := addAuthenticator(t, ctx, base, true)
	signInBrowser(t, ctx, base, "luc")
	registerPasskey(t, ctx, base, "/console/account", "Desk PC")
	signOutBrowser(t, ctx, base)

	attempt := func(t *testing.T) string {
		t.Helper()
		var status string
		var cookies []*network.Cookie
		err := chromedp.Run(ctx,
			chromedp.Navigate(base+"/signin"),
			chromedp.WaitVisible(`#passkey-signin`, chromedp.ByID),
			chromedp.Click(`#passkey-signin`, chromedp.ByID),
			chromedp.WaitVisible(`#passkey-status.err`, chromedp.ByQuery),
			chromedp.Text(`#passkey-status`, &status, chromedp.ByID),
			chromedp.ActionFunc(func(ctx context.Context) error {
				var err error
				cookies, err = network.GetCookies().Do(ctx)
				return err
			}),
		)
		if err != nil {
			t.Fatalf("refused passkey sign-in: %v", err)
		}
		for _, c := range cookies {
			if c.Name == "tw_session" {
				t.Errorf("a session cookie was set after a refused passkey")
			}
		}
		return status
	}

	t.Run("authenticator lies about user verification", func(t *testing.T) {
		if err := chromedp.Run(ctx, webauthn.SetResponseOverrideBits(id).WithIsBadUV(true)); err != nil {
			t.Fatal(err)
		}
		status := attempt(t)
		if !strings.Contains(status, "did not confirm it was you") {
			t.Errorf("status: %q", status)
		}
		evs, err := a.Audit.Events(context.Background(), audit.Query{ActorID: "u-luc", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs {
			found = found || (e.Event.Subtype == "login" && e.Event.Outcome == audit.OutcomeDenied && strings.Contains(e.Event.OutcomeDesc, "user not verified"))
		}
		if !found {
			t.Error("the refused passkey sign-in is not audited")
		}
		if err := chromedp.Run(ctx, webauthn.SetResponseOverrideBits(id).WithIsBadUV(false)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("isUserVerified false", func(t *testing.T) {
		if err := chromedp.Run(ctx, webauthn.SetUserVerified(id, false)); err != nil {
			t.Fatal(err)
		}
		if status := attempt(t); status == "" {
			t.Error("no explanation shown")
		}
	})
}

package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/identity"
)

func post(t *testing.T, c *http.Client, u, ctype, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func hasSession(res *http.Response) bool {
	for _, c := range res.Cookies() {
		if c.Name == "tw_session" && c.MaxAge >= 0 && c.Value != "" {
			return true
		}
	}
	return false
}

func TestPasskeyEndpointsRefuseBadInput(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		before, err := a.Audit.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := a.browser(t)
		// No ceremony cookie: nothing was started in this browser.
		res, body := post(t, c, a.srv.URL+"/passkey/signin/finish", "application/json", `{"credential":{}}`, nil)
		if res.StatusCode != 401 || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") || !strings.Contains(body, "not started in this browser") || hasSession(res) {
			t.Errorf("finish without a ceremony: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		// A started ceremony, then bad bodies: refused, and the challenge
		// is not spent by a body that cannot be read.
		res, body = post(t, c, a.srv.URL+"/passkey/signin/begin", "application/json", `{}`, nil)
		if res.StatusCode != 200 || !strings.Contains(body, `"userVerification":"required"`) || !strings.Contains(body, `"rpId":"localhost"`) {
			t.Fatalf("begin: %d %s", res.StatusCode, body)
		}
		for _, b := range []string{`{`, `{"credential":{},"x":1}`, `{"credential":{"id":"AA","rawId":"AA","type":"public-key","response":{}}}`} {
			res, body = post(t, c, a.srv.URL+"/passkey/signin/finish", "application/json", b, nil)
			if res.StatusCode != 400 || hasSession(res) {
				t.Errorf("finish with %q: %d %s", b, res.StatusCode, body)
			}
		}
		// Forged cross-site request (CSRF): refused before any handler.
		res, _ = post(t, c, a.srv.URL+"/passkey/signin/begin", "application/json", `{}`, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		if res.StatusCode != 403 {
			t.Errorf("cross-site begin: %d", res.StatusCode)
		}
		res, _ = post(t, c, a.srv.URL+"/signin/second-factor", "application/x-www-form-urlencoded", "code=123456", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		if res.StatusCode != 403 {
			t.Errorf("cross-site second factor: %d", res.StatusCode)
		}
		// Registration needs a session; the answer is JSON, not a redirect.
		res, body = post(t, c, a.srv.URL+"/passkey/register/begin", "application/json", `{}`, nil)
		if res.StatusCode != 401 || !strings.Contains(body, "sign in") {
			t.Errorf("register without a session: %d %s", res.StatusCode, body)
		}
		// The second step without a held sign-in.
		res, body = post(t, c, a.srv.URL+"/signin/second-factor", "application/x-www-form-urlencoded", "code=123456", nil)
		if res.StatusCode != 401 || hasSession(res) || !strings.Contains(body, "Sign in") {
			t.Errorf("second step without a password: %d", res.StatusCode)
		}
		// Oversize body.
		res, _ = post(t, c, a.srv.URL+"/passkey/signin/finish", "application/json", `{"credential":{"id":"`+strings.Repeat("A", 40<<10)+`"}}`, nil)
		if res.StatusCode != 413 && res.StatusCode != 400 {
			t.Errorf("oversize finish: %d", res.StatusCode)
		}
		after, err := a.Audit.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Only sign-in refusals were recorded (one per finish that reached
		// identity), no account changed.
		evs, err := a.Audit.Events(ctx, audit.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Event.Outcome == audit.OutcomeSuccess {
				t.Errorf("a successful event after bad input: %+v", e.Event)
			}
		}
		if after < before {
			t.Errorf("audit count went from %d to %d", before, after)
		}
	})
}

// TestSecondFactorRequiredAfterPassword: with an authenticator app set,
// a correct password alone opens no session, and a cookie planted before
// sign-in (session fixation) never becomes one.
func TestSecondFactorRequiredAfterPassword(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		ben, err := a.Identity.UserByID(ctx, "u-ben")
		if err != nil {
			t.Fatal(err)
		}
		cl := identity.Client{Address: "127.0.0.1", UserAgent: "test"}
		secret, _, _, err := a.MFA.BeginTOTP(ctx, ben)
		if err != nil {
			t.Fatal(err)
		}
		codes, err := a.MFA.ConfirmTOTP(ctx, ben, totpCode(t, secret, 0), cl)
		if err != nil || len(codes) != identity.RecoveryCodeCount {
			t.Fatalf("confirm: %d codes, %v", len(codes), err)
		}
		c := a.browser(t)
		base, _ := url.Parse(a.srv.URL)
		c.Jar.SetCookies(base, []*http.Cookie{{Name: "tw_session", Value: "planted-by-an-attacker", Path: "/"}})
		res, _ := post(t, c, a.srv.URL+"/signin", "application/x-www-form-urlencoded", url.Values{"username": {"ben"}, "password": {password}, "next": {"/console"}}.Encode(), nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin/second-factor" || hasSession(res) {
			t.Fatalf("password with a second factor set: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if res, _ := get(t, c, a.srv.URL+"/console"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
			t.Fatalf("console before the second factor: %d", res.StatusCode)
		}
		res, body := post(t, c, a.srv.URL+"/signin/second-factor", "application/x-www-form-urlencoded", "code=000000", nil)
		if res.StatusCode != 401 || !strings.Contains(body, "second-error") || hasSession(res) {
			t.Fatalf("a wrong code: %d", res.StatusCode)
		}
		res, _ = post(t, c, a.srv.URL+"/signin/second-factor", "application/x-www-form-urlencoded", url.Values{"code": {codes[3]}}.Encode(), nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console" || !hasSession(res) {
			t.Fatalf("a recovery code: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		for _, ck := range res.Cookies() {
			if ck.Name == "tw_session" && ck.Value == "planted-by-an-attacker" {
				t.Error("the planted session cookie was kept")
			}
		}
		// The API's token sign-in cannot skip the second factor.
		api := &http.Client{}
		res, body = post(t, api, a.srv.URL+"/api/v1/sessions", "application/json", `{"username":"ben","password":"`+password+`"}`, nil)
		if res.StatusCode != 401 || strings.Contains(body, "token") {
			t.Errorf("API sign-in without the second factor: %d %s", res.StatusCode, body)
		}
		res, body = post(t, api, a.srv.URL+"/api/v1/sessions", "application/json", `{"username":"ben","password":"`+password+`","code":"`+codes[4]+`"}`, nil)
		if res.StatusCode != 201 || !strings.Contains(body, "token") {
			t.Errorf("API sign-in with a recovery code: %d %s", res.StatusCode, body)
		}
		if res, body := get(t, c, a.srv.URL+"/console/account"); res.StatusCode != 200 || !strings.Contains(body, "8 unused recovery codes") {
			t.Errorf("account page after using a recovery code: %d", res.StatusCode)
		}
	})
}

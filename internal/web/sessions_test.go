package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/notify/smtptest"
)

// testClock is the system clock moved forward by what the test asks: the
// app's sessions, fresh sign-ins and TOTP steps follow it.
type testClock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.skew)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.skew += d
	c.mu.Unlock()
}

func (c *testClock) offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skew
}

func newClockApp(t *testing.T, engine string, configure func(*config.Config)) (*testApp, *testClock) {
	t.Helper()
	clk := &testClock{}
	return newAppAt(t, engine, configure, clk.now), clk
}

// uaTransport sends every request with one User-Agent.
type uaTransport struct{ ua string }

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return http.DefaultTransport.RoundTrip(r)
}

// browserAs is a.browser whose requests say they come from ua.
func (a *testApp) browserAs(t *testing.T, ua string) *http.Client {
	c := a.browser(t)
	c.Transport = uaTransport{ua}
	return c
}

const (
	firefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	chromeLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// sessionID is the session-list id of c's session: the hex SHA-256 of
// its cookie.
func (a *testApp) sessionID(t *testing.T, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(a.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "tw_session" {
			h := sha256.Sum256([]byte(ck.Value))
			return hex.EncodeToString(h[:])
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func signedIn(t *testing.T, a *testApp, c *http.Client) bool {
	t.Helper()
	res, _ := get(t, c, a.srv.URL+"/console/account")
	return res.StatusCode == http.StatusOK
}

var endForm = regexp.MustCompile(`action="/account/sessions/([0-9a-f]{64})/end"`)

// The security page lists the account's sessions with a readable device,
// marks this one, and ends another one (its browser is signed out) or all
// the others; each ending is audited; a session of someone else, an id
// that is not one, and the session in use cannot be ended this way.
func TestSessionListAndEnd(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		laptop := a.browserAs(t, firefoxWindows)
		a.signIn(t, laptop, "ben")
		ward := a.browserAs(t, chromeLinux)
		a.signIn(t, ward, "ben")
		luc := a.browser(t)
		a.signIn(t, luc, "luc")

		res, body := get(t, laptop, a.srv.URL+"/console/account")
		if res.StatusCode != 200 {
			t.Fatalf("account page: %d", res.StatusCode)
		}
		current := regexp.MustCompile(`<tr id="session-current"><td>([^<]*) <span class="tag">this device</span>`).FindStringSubmatch(body)
		if current == nil || current[1] != "Firefox on Windows" {
			t.Fatalf("this device is not marked Firefox on Windows:\n%s", body)
		}
		if !strings.Contains(body, "<td>Chrome on Linux</td><td>Staff pages</td>") || !strings.Contains(body, `id="sessions-end-others"`) || !strings.Contains(body, "127.0.0.1") {
			t.Fatalf("the other session is not listed:\n%s", body)
		}
		ends := endForm.FindAllStringSubmatch(body, -1)
		if len(ends) != 1 || ends[0][1] != a.sessionID(t, ward) {
			t.Fatalf("End buttons: %v, want the ward computer's only", ends)
		}

		// Refused: this session, an id that is not one, someone else's.
		for _, tc := range []struct {
			id     string
			status int
		}{{a.sessionID(t, laptop), 400}, {"not-a-session", 400}, {a.sessionID(t, luc), 404}} {
			if res, _ := postForm(t, laptop, a.srv.URL+"/account/sessions/"+tc.id+"/end", nil); res.StatusCode != tc.status {
				t.Errorf("ending %s: %d, want %d", tc.id, res.StatusCode, tc.status)
			}
		}
		if !signedIn(t, a, laptop) || !signedIn(t, a, luc) || !signedIn(t, a, ward) {
			t.Fatal("a refused ending signed someone out")
		}

		res, _ = postForm(t, laptop, a.srv.URL+"/account/sessions/"+ends[0][1]+"/end", nil)
		if res.StatusCode != 303 || res.Header.Get("Location") != "/console/account?ended=1#step-sessions" {
			t.Fatalf("end: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if res, _ := get(t, ward, a.srv.URL+"/console"); res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
			t.Errorf("the ended session still works: %d", res.StatusCode)
		}
		if !signedIn(t, a, laptop) {
			t.Fatal("ending another session signed this one out")
		}
		if _, body := get(t, laptop, a.srv.URL+"/console/account?ended=1"); !strings.Contains(body, "1 other session was signed out") || endForm.MatchString(body) {
			t.Errorf("after ending: no confirmation, or the session is still listed")
		}
		if res, _ := postForm(t, laptop, a.srv.URL+"/account/sessions/"+ends[0][1]+"/end", nil); res.StatusCode != 404 {
			t.Errorf("ending an ended session: %d", res.StatusCode)
		}

		// Sign out everywhere else.
		others := []*http.Client{a.browserAs(t, safariIPhone), a.browser(t)}
		for _, c := range others {
			a.signIn(t, c, "ben")
		}
		tok := apiToken(t, a, "ben")
		res, _ = postForm(t, laptop, a.srv.URL+"/account/sessions/end-others", nil)
		if res.StatusCode != 303 || res.Header.Get("Location") != "/console/account?ended=3#step-sessions" {
			t.Fatalf("end others: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		for i, c := range others {
			if signedIn(t, a, c) {
				t.Errorf("other browser %d still signed in", i)
			}
		}
		if res, _ := apiCall(t, a, tok, "GET", "/api/v1/me/patients", ""); res.StatusCode != 401 {
			t.Errorf("the API token survived: %d", res.StatusCode)
		}
		if !signedIn(t, a, laptop) || !signedIn(t, a, luc) {
			t.Fatal("signing out everywhere else signed out this session or another user")
		}
		if _, body := get(t, laptop, a.srv.URL+"/console/account?ended=3"); !strings.Contains(body, "3 other sessions were signed out") || strings.Contains(body, `id="sessions-end-others"`) {
			t.Error("after signing out everywhere else: no confirmation, or the button is still shown")
		}
		ev := subtypes(t, a)[identity.SubtypeSessionRevoked]
		for _, want := range []string{"0 u-ben 1 session ended from the session list", "0 u-ben 3 other session(s) ended: signed out everywhere else"} {
			if !hasEvent(ev, want) {
				t.Errorf("no event %q in %q", want, ev)
			}
		}
	})
}

func apiCall(t *testing.T, a *testApp, tok, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(t, req)
}

// giveTOTP sets up an authenticator app for user (codes from oathtool at
// the app's time) and returns its secret.
func giveTOTP(t *testing.T, a *testApp, clk *testClock, userID string) string {
	t.Helper()
	ctx := context.Background()
	u, err := a.Identity.UserByID(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, _, err := a.MFA.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.MFA.ConfirmTOTP(ctx, u, totpCode(t, secret, clk.offset()), identity.Client{}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// signInWithCode signs user in with the password and a second factor.
func signInWithCode(t *testing.T, a *testApp, c *http.Client, user, code string) {
	t.Helper()
	res, _ := postForm(t, c, a.srv.URL+"/signin", url.Values{"username": {user}, "password": {password}, "next": {"/console"}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/signin/second-factor" {
		t.Fatalf("password step: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = postForm(t, c, a.srv.URL+"/signin/second-factor", url.Values{"code": {code}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/console" {
		t.Fatalf("second step: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// A change of sign-in methods signs out every other session of the
// account (browsers and API tokens), keeps the one that made it, and
// says how many it ended.
func TestCredentialChangeEndsOtherSessions(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		here, there := a.browser(t), a.browser(t)
		a.signIn(t, here, "ben")
		a.signIn(t, there, "ben")
		tok := apiToken(t, a, "ben")
		luc := a.browser(t)
		a.signIn(t, luc, "luc")

		// New recovery codes: the page with the codes says what ended.
		res, body := postForm(t, here, a.srv.URL+"/account/recovery-codes", nil)
		if res.StatusCode != 200 || !strings.Contains(body, `id="recovery-codes"`) || !strings.Contains(body, "2 other sessions were signed out, because your sign-in methods changed") {
			t.Fatalf("new recovery codes: %d\n%s", res.StatusCode, body)
		}
		if signedIn(t, a, there) {
			t.Error("the other browser is still signed in")
		}
		if res, _ := apiCall(t, a, tok, "GET", "/api/v1/me/patients", ""); res.StatusCode != 401 {
			t.Errorf("the API token survived: %d", res.StatusCode)
		}
		if !signedIn(t, a, here) || !signedIn(t, a, luc) {
			t.Fatal("the change signed out its own session, or another user")
		}

		// An authenticator app, set up in the page: the redirect says what ended.
		a.signIn(t, there, "ben")
		res, page := postForm(t, here, a.srv.URL+"/account/totp/begin", nil)
		m := regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`).FindStringSubmatch(page)
		if res.StatusCode != 200 || m == nil {
			t.Fatalf("totp begin: %d", res.StatusCode)
		}
		if !signedIn(t, a, there) {
			t.Fatal("starting a set-up (not yet a change) signed out the other browser")
		}
		secret := strings.ReplaceAll(m[1], " ", "")
		res, _ = postForm(t, here, a.srv.URL+"/account/totp/confirm", url.Values{"code": {totpCode(t, secret, 0)}})
		if res.StatusCode != 303 || res.Header.Get("Location") != "/console/account?added=totp&ended=1" {
			t.Fatalf("totp confirm: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if _, body := get(t, here, a.srv.URL+res.Header.Get("Location")); !strings.Contains(body, "1 other session was signed out, because your sign-in methods changed") {
			t.Error("no confirmation of the ended session after adding an authenticator app")
		}
		if signedIn(t, a, there) {
			t.Error("adding an authenticator app left the other browser signed in")
		}

		// Removing it: nothing else open, nothing said.
		res, _ = postForm(t, here, a.srv.URL+"/account/totp/remove", nil)
		if res.StatusCode != 303 || res.Header.Get("Location") != "/console/account" {
			t.Fatalf("totp remove: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		ev := subtypes(t, a)[identity.SubtypeSessionRevoked]
		for _, want := range []string{"0 u-ben 2 other session(s) ended: new recovery codes", "0 u-ben 1 other session(s) ended: authenticator app added"} {
			if !hasEvent(ev, want) {
				t.Errorf("no event %q in %q", want, ev)
			}
		}
	})
}

// Breaking the glass more than five minutes after signing in sends the
// form to /reauth, which keeps it; a wrong password changes nothing; the
// right one (and the second factor) breaks the glass as asked.
func TestBreakGlassNeedsFreshSignIn(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			a, clk := newClockApp(t, engine, nil)
			ctx := context.Background()
			secret := giveTOTP(t, a, clk, "u-luc")
			c := a.browser(t)
			signInWithCode(t, a, c, "luc", totpCode(t, secret, clk.offset()+30*time.Second))

			// Within five minutes: no question asked.
			res, _ := postForm(t, c, a.srv.URL+"/console/patients/pat-1/break-glass", url.Values{"reason": {"emergency"}, "explanation": {"too short"}})
			if res.StatusCode != 400 {
				t.Fatalf("a fresh sign-in was sent to re-authenticate: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			clk.advance(5*time.Minute + time.Second)
			form := url.Values{"reason": {"emergency"}, "explanation": {"Arrest on the ward & I am the responding doctor"}}
			res, _ = postForm(t, c, a.srv.URL+"/console/patients/pat-1/break-glass", form)
			want := "/reauth?next=" + url.QueryEscape("/console/patients/pat-1/break-glass")
			if res.StatusCode != http.StatusTemporaryRedirect || res.Header.Get("Location") != want {
				t.Fatalf("stale break-glass: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			grants := func() int {
				var n int
				if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM break_glass`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if grants() != 0 {
				t.Fatal("the glass was broken without a fresh sign-in")
			}
			// The browser sends the same form there (307).
			res, body := postForm(t, c, a.srv.URL+want, form)
			if res.StatusCode != 200 || !strings.Contains(body, "To break the glass and open a patient&#39;s record") ||
				!strings.Contains(body, `name="explanation" value="Arrest on the ward &amp; I am the responding doctor"`) ||
				!strings.Contains(body, `name="reauth.method" value="POST"`) || !strings.Contains(body, `id="reauth-code"`) || strings.Contains(body, `id="passkey-confirm"`) {
				t.Fatalf("re-authentication page: %d\n%s", res.StatusCode, body)
			}
			kept := url.Values{"reason": {"emergency"}, "explanation": form["explanation"], "reauth.method": {"POST"}}
			try := func(pw, code string) (*http.Response, string) {
				v := url.Values{}
				for k, vs := range kept {
					v[k] = vs
				}
				v.Set("reauth.password", pw)
				v.Set("reauth.code", code)
				return postForm(t, c, a.srv.URL+want, v)
			}
			code := totpCode(t, secret, clk.offset())
			for _, bad := range [][2]string{{"not the password", code}, {password, ""}, {password, "000000"}} {
				res, body := try(bad[0], bad[1])
				if res.StatusCode != 401 || !strings.Contains(body, `id="reauth-error"`) || !strings.Contains(body, `name="reason" value="emergency"`) {
					t.Errorf("re-authentication with %q: %d\n%s", bad, res.StatusCode, body)
				}
			}
			if grants() != 0 {
				t.Fatal("a failed re-authentication broke the glass")
			}
			res, _ = try(password, code)
			if res.StatusCode != 303 || res.Header.Get("Location") != "/console/patients/pat-1" || grants() != 1 {
				t.Fatalf("after re-authenticating: %d %s, %d grants", res.StatusCode, res.Header.Get("Location"), grants())
			}
			if res, body := get(t, c, a.srv.URL+"/console/patients/pat-1"); res.StatusCode != 200 || !strings.Contains(body, "Penicillin") {
				t.Fatalf("the chart after breaking the glass: %d", res.StatusCode)
			}
			if _, body := get(t, c, a.srv.URL+"/console/accesses"); !strings.Contains(body, "Confirmed it was me (re-authentication)") {
				t.Error("the re-authentication is not in the clinician's own list")
			}
			ev := subtypes(t, a)
			if !hasEvent(ev[identity.SubtypeReauth], "4 u-luc password: wrong password") || !hasEvent(ev[identity.SubtypeReauth], "4 u-luc second factor refused") ||
				!hasEvent(ev[identity.SubtypeReauth], "0 u-luc password and second factor") {
				t.Errorf("re-authentication events: %q", ev[identity.SubtypeReauth])
			}
			if !hasEvent(ev["break-glass"], "0 u-luc") {
				t.Errorf("break-glass events: %q", ev["break-glass"])
			}
		})
	}
}

// /reauth sends the browser back only to a path on this site.
func TestReauthRefusesOpenRedirect(t *testing.T) {
	a, clk := newClockApp(t, "sqlite", nil)
	c := a.browser(t)
	a.signIn(t, c, "ben")
	clk.advance(10 * time.Minute)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)", "/reauth"} {
		action := "/reauth?next=" + url.QueryEscape(next)
		if _, body := get(t, c, a.srv.URL+action); !strings.Contains(body, `action="/reauth?next=%2f"`) && !strings.Contains(body, `action="/reauth?next=%2F"`) {
			t.Errorf("the page for next=%q keeps it", next)
		}
		res, _ := postForm(t, c, a.srv.URL+action, url.Values{"reauth.method": {"GET"}, "reauth.password": {password}})
		if res.StatusCode != 303 || res.Header.Get("Location") != "/" {
			t.Errorf("next=%q: %d %q", next, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// A path on this site is kept, query and all.
	res, _ := postForm(t, c, a.srv.URL+"/reauth?next="+url.QueryEscape("/console/search?q=quill"), url.Values{"reauth.method": {"GET"}, "reauth.password": {password}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/console/search?q=quill" {
		t.Errorf("a same-site next: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// An export (a GET) is sent to /reauth and back after a fresh sign-in;
// the API answers 401 with a problem that says so until the token is
// re-authenticated.
func TestExportNeedsFreshSignIn(t *testing.T) {
	a, clk := newClockApp(t, "sqlite", nil)
	c := a.browser(t)
	a.signIn(t, c, "sec")
	tok := apiToken(t, a, "sec")
	if res, _ := get(t, c, a.srv.URL+"/office/findings/export"); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("a fresh export: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res, _ := apiCall(t, a, tok, "GET", "/api/v1/findings/export", ""); res.StatusCode != 200 {
		t.Fatalf("a fresh API export: %d", res.StatusCode)
	}
	clk.advance(6 * time.Minute)
	res, _ := get(t, c, a.srv.URL+"/office/findings/export?format=csv")
	want := "/reauth?next=" + url.QueryEscape("/office/findings/export?format=csv")
	if res.StatusCode != 303 || res.Header.Get("Location") != want {
		t.Fatalf("a stale export: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := get(t, c, a.srv.URL+want)
	if res.StatusCode != 200 || !strings.Contains(body, "To export data") || !strings.Contains(body, `name="reauth.method" value="GET"`) || strings.Contains(body, `id="reauth-code"`) {
		t.Fatalf("re-authentication page: %d\n%s", res.StatusCode, body)
	}
	res, _ = postForm(t, c, a.srv.URL+want, url.Values{"reauth.method": {"GET"}, "reauth.password": {password}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/office/findings/export?format=csv" {
		t.Fatalf("after re-authenticating: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := get(t, c, a.srv.URL+res.Header.Get("Location")); res.StatusCode != 200 {
		t.Fatalf("the export after re-authenticating: %d", res.StatusCode)
	}

	res, body = apiCall(t, a, tok, "GET", "/api/v1/findings/export", "")
	var p struct {
		Type, Detail string
		Status       int
	}
	_ = json.Unmarshal([]byte(body), &p)
	if res.StatusCode != 401 || res.Header.Get("Content-Type") != "application/problem+json" || p.Type != "urn:trustward:problem:fresh-authentication-required" ||
		!strings.Contains(p.Detail, "POST /api/v1/sessions/current/reauth") || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="insufficient_user_authentication"`) ||
		!strings.Contains(res.Header.Get("WWW-Authenticate"), "max_age=300") {
		t.Fatalf("a stale API export: %d %v %s", res.StatusCode, res.Header, body)
	}
	if res, _ := apiCall(t, a, tok, "POST", "/api/v1/sessions/current/reauth", `{"password":"wrong"}`); res.StatusCode != 401 {
		t.Fatalf("API re-authentication with a wrong password: %d", res.StatusCode)
	}
	if res, _ := apiCall(t, a, tok, "POST", "/api/v1/sessions/current/reauth", `{"password":"`+password+`","extra":1}`); res.StatusCode != 400 {
		t.Fatalf("API re-authentication with an unknown field: %d", res.StatusCode)
	}
	if res, _ := apiCall(t, a, tok, "GET", "/api/v1/findings/export", ""); res.StatusCode != 401 {
		t.Fatal("refused re-authentications made the token fresh")
	}
	if res, body := apiCall(t, a, tok, "POST", "/api/v1/sessions/current/reauth", `{"password":"`+password+`"}`); res.StatusCode != 204 {
		t.Fatalf("API re-authentication: %d %s", res.StatusCode, body)
	}
	if res, _ := apiCall(t, a, tok, "GET", "/api/v1/findings/export", ""); res.StatusCode != 200 {
		t.Fatalf("the API export after re-authenticating: %d", res.StatusCode)
	}

	// API break-the-glass, stale: refused, nothing granted.
	luc := apiToken(t, a, "luc")
	clk.advance(6 * time.Minute)
	if res, _ := apiCall(t, a, luc, "POST", "/api/v1/patients/pat-1/break-glass", `{"reason":"emergency","explanation":"Arrest on the ward, responding"}`); res.StatusCode != 401 {
		t.Fatalf("a stale API break-glass: %d", res.StatusCode)
	}
	var n int
	if err := a.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM break_glass`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("grants after a refused API break-glass: %d %v", n, err)
	}
}

// The API lists the token's user's sessions and ends one by its id.
func TestAPISessions(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		tok, other := apiToken(t, a, "ben"), apiToken(t, a, "ben")
		lucTok := apiToken(t, a, "luc")
		res, body := apiCall(t, a, tok, "GET", "/api/v1/sessions", "")
		var out struct {
			Sessions []struct {
				ID, Area, Device, Address string
				Current                   bool
				Created                   time.Time
			}
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil || res.StatusCode != 200 || len(out.Sessions) != 2 {
			t.Fatalf("sessions: %d %s", res.StatusCode, body)
		}
		var otherID string
		currents := 0
		for _, s := range out.Sessions {
			if s.Area != "api" || s.Device != "a Go program" || s.Address != "127.0.0.1" || s.Created.IsZero() || len(s.ID) != 64 {
				t.Errorf("session %+v", s)
			}
			if s.Current {
				currents++
			} else {
				otherID = s.ID
			}
		}
		if currents != 1 || otherID == "" {
			t.Fatalf("current marked %d times", currents)
		}
		if res, _ := apiCall(t, a, tok, "DELETE", "/api/v1/sessions/not-an-id", ""); res.StatusCode != 400 {
			t.Errorf("a bad id: %d", res.StatusCode)
		}
		_, lucBody := apiCall(t, a, lucTok, "GET", "/api/v1/sessions", "")
		lucID := regexp.MustCompile(`"id":"([0-9a-f]{64})"`).FindStringSubmatch(lucBody)[1]
		if res, _ := apiCall(t, a, tok, "DELETE", "/api/v1/sessions/"+lucID, ""); res.StatusCode != 404 {
			t.Errorf("ending another user's session: %d", res.StatusCode)
		}
		if res, _ := apiCall(t, a, tok, "DELETE", "/api/v1/sessions/"+otherID, ""); res.StatusCode != 204 {
			t.Fatalf("end: %d", res.StatusCode)
		}
		if res, _ := apiCall(t, a, other, "GET", "/api/v1/sessions", ""); res.StatusCode != 401 {
			t.Errorf("the ended token still works: %d", res.StatusCode)
		}
		if res, _ := apiCall(t, a, lucTok, "GET", "/api/v1/sessions", ""); res.StatusCode != 200 {
			t.Errorf("luc's token: %d", res.StatusCode)
		}
		if res, _ := apiCall(t, a, "", "GET", "/api/v1/sessions", ""); res.StatusCode != 401 {
			t.Errorf("no token: %d", res.StatusCode)
		}
	})
}

func newSignInNotices(t *testing.T, a *testApp, userID string) []notify.Notice {
	t.Helper()
	ns, err := a.Notices.ForUser(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Notice
	for _, n := range ns {
		if n.Kind == notify.KindNewSignIn {
			out = append(out, n)
		}
	}
	return out
}

// A sign-in from a browser the account has not used is told to its owner
// once (when, which device, from where, what to do); the same browser
// (its device cookie) is not announced again; the account's first
// browser is not announced at all. A patient's notice reaches the
// portal, and its email says nothing of it.
func TestNewDeviceNotice(t *testing.T) {
	mail := smtptest.Start(t)
	a := newAppWith(t, "sqlite", func(c *config.Config) {
		c.SMTPAddr, c.SMTPFrom, c.PublicURL = mail.Addr, "no-reply@riverside.example", "https://trust.riverside.example"
	})
	ctx := context.Background()
	first := a.browserAs(t, firefoxWindows)
	a.signIn(t, first, "ben")
	if ns := newSignInNotices(t, a, "u-ben"); len(ns) != 0 {
		t.Fatalf("the account's first browser was announced: %+v", ns)
	}
	// The cookie: HttpOnly, a year and more, a random id.
	res, err := first.PostForm(a.srv.URL+"/signin", url.Values{"username": {"ben"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var set *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "tw_device" {
			set = ck
		}
	}
	if set == nil || !set.HttpOnly || set.MaxAge < 365*24*3600 || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || len(set.Value) != 43 {
		t.Fatalf("device cookie: %+v", set)
	}
	if ns := newSignInNotices(t, a, "u-ben"); len(ns) != 0 {
		t.Fatalf("the same browser was announced: %+v", ns)
	}

	second := a.browserAs(t, chromeLinux)
	a.signIn(t, second, "ben")
	ns := newSignInNotices(t, a, "u-ben")
	if len(ns) != 1 {
		t.Fatalf("%d notices after a new browser, want 1", len(ns))
	}
	for _, want := range []string{"Your account ben was signed in on ", "Chrome on Linux", "from the address 127.0.0.1", "https://trust.riverside.example/console/account", "If it was not you, end that session"} {
		if !strings.Contains(ns[0].Body, want) {
			t.Errorf("the notice lacks %q: %s", want, ns[0].Body)
		}
	}
	if ns[0].Title != "A sign-in from a new device" {
		t.Errorf("title %q", ns[0].Title)
	}
	// Again from either browser: nothing new.
	a.signIn(t, second, "ben")
	a.signIn(t, first, "ben")
	if ns := newSignInNotices(t, a, "u-ben"); len(ns) != 1 {
		t.Fatalf("%d notices after signing in again from known browsers", len(ns))
	}
	// A device cookie that is not ours counts as a new browser.
	u, _ := url.Parse(a.srv.URL)
	second.Jar.SetCookies(u, []*http.Cookie{{Name: "tw_device", Value: "made-up"}})
	a.signIn(t, second, "ben")
	if ns := newSignInNotices(t, a, "u-ben"); len(ns) != 2 {
		t.Fatalf("%d notices after a made-up device cookie, want 2", len(ns))
	}
	// Staff read them on their security page.
	if _, body := get(t, first, a.srv.URL+"/console/account"); !strings.Contains(body, `id="account-notices"`) || !strings.Contains(body, "A sign-in from a new device") {
		t.Error("the staff security page does not show the notice")
	}
	// A program through the API: one device per User-Agent.
	apiToken(t, a, "ben")
	apiToken(t, a, "ben")
	if ns := newSignInNotices(t, a, "u-ben"); len(ns) != 3 || !strings.Contains(ns[0].Body, "was given an API token") {
		t.Fatalf("API sign-ins: %d notices", len(ns))
	}

	// A patient: registered in one browser, signed in from another.
	code, err := a.Identity.NewInvitation(ctx, "pat-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pat := a.browserAs(t, firefoxWindows)
	form := url.Values{"code": {code}, "name": {"Marisol Quillfeather"}, "username": {"marisol"}, "password": {"a long enough passphrase here"}, "email": {"marisol@example.org"}}
	if res, _ := postForm(t, pat, a.srv.URL+"/register", form); res.StatusCode != 303 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	phone := a.browserAs(t, safariIPhone)
	if res, _ := postForm(t, phone, a.srv.URL+"/signin", url.Values{"username": {"marisol"}, "password": {"a long enough passphrase here"}}); res.StatusCode != 303 {
		t.Fatalf("patient sign-in: %d", res.StatusCode)
	}
	if _, body := get(t, pat, a.srv.URL+"/portal"); !strings.Contains(body, "A sign-in from a new device") || !strings.Contains(body, "Safari on iPhone") || !strings.Contains(body, "/portal/security") {
		t.Fatalf("the portal does not show the notice:\n%s", body)
	}
	m := waitMail(t, mail, 1)
	if m.To[0] != "marisol@example.org" {
		t.Fatalf("email to %v", m.To)
	}
	for _, private := range []string{"Safari", "iPhone", "127.0.0.1", "marisol\r", "Marisol", "pat-1"} {
		if strings.Contains(m.Data, private) {
			t.Errorf("the email carries %q:\n%s", private, m.Data)
		}
	}
	var rows int
	if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM known_devices WHERE user_id = 'u-ben'`).Scan(&rows); err != nil || rows != 4 {
		t.Errorf("ben's known devices: %d %v, want 4 (two browsers, a made-up cookie's replacement, one program)", rows, err)
	}
}

// Portal sessions last as long as portal_session_ttl and
// portal_session_idle say.
func TestPortalSessionLifetimeFromConfig(t *testing.T) {
	a, clk := newClockApp(t, "sqlite", func(c *config.Config) { c.PortalSessionTTL, c.PortalSessionIdle = 2*time.Hour, 30*time.Minute })
	code, err := a.Identity.NewInvitation(context.Background(), "pat-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pat := a.browser(t)
	res, _ := postForm(t, pat, a.srv.URL+"/register", url.Values{"code": {code}, "name": {"Marisol Quillfeather"}, "username": {"marisol"}, "password": {"a long enough passphrase here"}})
	var maxAge int
	for _, ck := range res.Cookies() {
		if ck.Name == "tw_session" {
			maxAge = ck.MaxAge
		}
	}
	if res.StatusCode != 303 || maxAge != 7200 {
		t.Fatalf("register: %d, session cookie max-age %d, want 7200", res.StatusCode, maxAge)
	}
	clk.advance(29 * time.Minute)
	if res, _ := get(t, pat, a.srv.URL+"/portal"); res.StatusCode != 200 {
		t.Fatalf("portal within the idle time: %d", res.StatusCode)
	}
	clk.advance(31 * time.Minute)
	if res, _ := get(t, pat, a.srv.URL+"/portal"); res.StatusCode != 303 {
		t.Fatalf("portal after 31 idle minutes: %d", res.StatusCode)
	}
}

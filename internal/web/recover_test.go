package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify/smtptest"
)

const patientPassword = "tulip harbour lantern cobalt"

// newMailApp is a test app that sends email to a loopback SMTP receiver
// and names public in its links.
func newMailApp(t *testing.T, engine, public string) (*testApp, *smtptest.Server) {
	t.Helper()
	mail := smtptest.Start(t)
	a := newAppWith(t, engine, func(c *config.Config) {
		c.SMTPAddr, c.SMTPFrom, c.PublicURL, c.Org = mail.Addr, "no-reply@riverside.example", public, "Riverside Health"
	})
	return a, mail
}

// addPatient gives pat-1 an account with an email address.
func addPatient(t *testing.T, a *testApp) identity.User {
	t.Helper()
	ctx := context.Background()
	u, err := a.Identity.CreateUser(ctx, identity.User{ID: "u-pat", Username: "marisol", DisplayName: "Marisol Quillfeather", Role: identity.RolePatient, PatientID: "pat-1"}, patientPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Identity.SetEmail(ctx, u.ID, "marisol@example.org"); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitMail waits for the n-th message (1-based) and returns it.
func waitMail(t *testing.T, mail *smtptest.Server, n int) smtptest.Message {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if m := mail.Messages(); len(m) >= n {
			return m[n-1]
		}
		select {
		case <-mail.Wait():
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no email number %d; got %d", n, len(mail.Messages()))
		}
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s]+/recover/([A-Za-z0-9_-]{43})`)

// waitLink waits for an email with a recovery link and returns the link.
func waitLink(t *testing.T, mail *smtptest.Server) string {
	t.Helper()
	for n := 1; ; n++ {
		if l := linkRE.FindString(waitMail(t, mail, n).Data); l != "" {
			return l
		}
	}
}

func recoveryCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "tw_recovery" {
			return c
		}
	}
	return nil
}

func subtypes(t *testing.T, a *testApp) map[string][]string {
	t.Helper()
	evs, err := a.Audit.Events(context.Background(), audit.Query{Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range evs {
		out[e.Event.Subtype] = append(out[e.Event.Subtype], e.Event.Outcome+" "+e.Event.Actor.UserID+" "+e.Event.OutcomeDesc)
	}
	return out
}

func hasEvent(evs []string, sub string) bool {
	for _, e := range evs {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

// A patient recovers by the link in a real email: the answer is the same
// page whoever was asked for, the email names neither the patient nor the
// account, the link works once, every session ends, and the patient is
// told in the portal and by email.
func TestRecoveryByEmailOverHTTP(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			a, mail := newMailApp(t, engine, "https://portal.riverside.example")
			ctx := context.Background()
			addPatient(t, a)
			if err := a.Identity.SetEmail(ctx, "u-ben", "ben@riverside.example"); err != nil {
				t.Fatal(err)
			}
			c := a.browser(t)
			if _, body := get(t, c, a.srv.URL+"/signin"); !strings.Contains(body, `href="/recover"`) || !strings.Contains(body, "ask an administrator") {
				t.Fatal("the sign-in page has no way to recover")
			}
			// A session the recovery must end.
			old := a.browser(t)
			if res, _ := postForm(t, old, a.srv.URL+"/signin", url.Values{"username": {"marisol"}, "password": {patientPassword}}); res.StatusCode != 303 || res.Header.Get("Location") != "/portal" {
				t.Fatalf("patient sign-in: %d %s", res.StatusCode, res.Header.Get("Location"))
			}

			answers := map[string]string{}
			for _, who := range []string{"nobody@example.org", "ben", "ben@riverside.example", "Marisol@Example.org"} {
				start := time.Now()
				res, body := postForm(t, c, a.srv.URL+"/recover", url.Values{"who": {who}})
				took := time.Since(start)
				if res.StatusCode != 200 || !strings.Contains(body, `id="recover-sent"`) {
					t.Fatalf("%s: %d %s", who, res.StatusCode, body)
				}
				if took < 300*time.Millisecond {
					t.Errorf("%s: answered in %v, before the 300 ms floor", who, took)
				}
				answers[who] = body
			}
			for who, body := range answers {
				if body != answers["nobody@example.org"] {
					t.Errorf("the answer for %s differs from the one for an unknown address", who)
				}
			}
			m := waitMail(t, mail, 1)
			if m.To[0] != "marisol@example.org" || !strings.Contains(m.Data, "Subject: Recover your account at Riverside Health") {
				t.Fatalf("email: %+v", m)
			}
			for _, private := range []string{"Marisol", "Quillfeather", "marisol\r", "pat-1", "u-pat"} {
				if strings.Contains(m.Data, private) {
					t.Errorf("the email carries %q:\n%s", private, m.Data)
				}
			}
			link := linkRE.FindStringSubmatch(m.Data)
			if link == nil || !strings.HasPrefix(link[0], "https://portal.riverside.example/recover/") || !strings.Contains(m.Data, "within 30 minutes") {
				t.Fatalf("no link in the email:\n%s", m.Data)
			}
			path := "/recover/" + link[1]

			// Opening the link moves it into a cookie and changes nothing.
			res, _ := get(t, c, a.srv.URL+path)
			if res.StatusCode != 303 || res.Header.Get("Location") != "/recover/continue" || recoveryCookie(res) == nil || !recoveryCookie(res).HttpOnly {
				t.Fatalf("open: %d %s %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
			}
			res, body := get(t, c, a.srv.URL+"/recover/continue")
			if res.StatusCode != 200 || !strings.Contains(body, `id="recover-password"`) || !strings.Contains(body, "marisol") || strings.Contains(body, `id="recover-factor"`) {
				t.Fatalf("continue: %d %s", res.StatusCode, body)
			}
			for _, bad := range []url.Values{
				{"password": {"violet anchor meadow thunder"}, "password2": {"violet anchor meadow thunde"}},
				{"password": {"short one"}, "password2": {"short one"}},
			} {
				if res, body := postForm(t, c, a.srv.URL+"/recover/password", bad); res.StatusCode != 400 || !strings.Contains(body, `id="recover-error"`) {
					t.Errorf("bad new password: %d %s", res.StatusCode, body)
				}
			}
			res, _ = postForm(t, c, a.srv.URL+"/recover/password", url.Values{"password": {"violet anchor meadow thunder"}, "password2": {"violet anchor meadow thunder"}})
			if res.StatusCode != 303 || res.Header.Get("Location") != "/recover/done" || recoveryCookie(res) == nil || recoveryCookie(res).MaxAge >= 0 {
				t.Fatalf("complete: %d %s %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
			}
			if _, body := get(t, c, a.srv.URL+"/recover/done"); !strings.Contains(body, `id="recover-done"`) {
				t.Fatal("no done page")
			}
			if res, _ := get(t, old, a.srv.URL+"/portal"); res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
				t.Errorf("the earlier session survived: %d", res.StatusCode)
			}
			if res, _ := postForm(t, a.browser(t), a.srv.URL+"/signin", url.Values{"username": {"marisol"}, "password": {patientPassword}}); res.StatusCode != 401 {
				t.Errorf("old password: %d", res.StatusCode)
			}
			p := old // a browser the account knows: no new-device notice (decision 0038)
			if res, _ := postForm(t, p, a.srv.URL+"/signin", url.Values{"username": {"marisol"}, "password": {"violet anchor meadow thunder"}}); res.StatusCode != 303 {
				t.Fatalf("new password: %d", res.StatusCode)
			}
			// Used once.
			res, body = get(t, a.browser(t), a.srv.URL+path)
			if res.StatusCode != 404 || !strings.Contains(body, "already been used") || recoveryCookie(res) != nil && recoveryCookie(res).MaxAge >= 0 {
				t.Errorf("replayed link: %d %s", res.StatusCode, body)
			}
			// Told in the portal and by email.
			if _, body := get(t, p, a.srv.URL+"/portal"); !strings.Contains(body, "Your account was recovered") || !strings.Contains(body, "If it was not you") {
				t.Errorf("no notice of the recovery in the portal:\n%s", body)
			}
			if m := waitMail(t, mail, 2); m.To[0] != "marisol@example.org" || !strings.Contains(m.Data, "A new notice") {
				t.Errorf("notice email: %+v", m)
			}
			if n := len(mail.Messages()); n != 2 {
				t.Errorf("%d emails, want the link and the notice only (none to staff or unknown addresses)", n)
			}
			ev := subtypes(t, a)
			for _, want := range []string{"4 unknown no account has this email address", "4 u-ben staff accounts are recovered by an administrator only", "0 u-pat recovery link sent by email"} {
				if !hasEvent(ev[identity.SubtypeRecoveryRequested], want) {
					t.Errorf("no event %q in %q", want, ev[identity.SubtypeRecoveryRequested])
				}
			}
			if !hasEvent(ev[identity.SubtypeAccountRecovered], "0 u-pat account recovered by a link sent by email; new password set") ||
				!hasEvent(ev[identity.SubtypeRecoveryRefused], "4 u-pat recovery link already used") {
				t.Errorf("recovery events: %q %q", ev[identity.SubtypeAccountRecovered], ev[identity.SubtypeRecoveryRefused])
			}
		})
	}
}

// Bad links and codes get a clear page and change nothing but the audit
// log, one event each; the steps need the browser's recovery; forged
// cross-site posts are refused.
func TestRecoveryBadInputOverHTTP(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		c := a.browser(t)
		rows := func() int {
			var n int
			if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM account_recoveries`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tc := range []struct {
			method, path, body string
			status             int
			want               string
		}{
			{"GET", "/recover/short", "", 400, "is not a recovery link or an enrolment code"},
			{"GET", "/recover/" + strings.Repeat("A", 43), "", 404, "is not valid"},
			{"GET", "/recover/" + strings.Repeat("x", 5000), "", 400, "too long"},
			{"POST", "/recover/code", "code=abcde-fghjk-mnpqr-stvwx", 404, "is not valid"},
			{"POST", "/recover/code", "code=https://elsewhere.example/recover/nonsense", 400, "is not a recovery link"},
		} {
			before, err := a.Audit.Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var res *http.Response
			var body string
			if tc.method == "GET" {
				res, body = get(t, c, a.srv.URL+tc.path)
			} else {
				res, body = post(t, c, a.srv.URL+tc.path, "application/x-www-form-urlencoded", tc.body, nil)
			}
			if res.StatusCode != tc.status || !strings.Contains(body, tc.want) || (recoveryCookie(res) != nil && recoveryCookie(res).MaxAge >= 0) {
				t.Errorf("%s %.60s: %d, %v\n%s", tc.method, tc.path, res.StatusCode, res.Cookies(), body)
			}
			after, _ := a.Audit.Count(ctx)
			if after != before+1 {
				t.Errorf("%s %.60s: %d audit events, want 1", tc.method, tc.path, after-before)
			}
		}
		// The steps without a recovery in this browser.
		for _, p := range []string{"/recover/password", "/recover/second-factor"} {
			if res, body := postForm(t, c, a.srv.URL+p, url.Values{"password": {"violet anchor meadow thunder"}, "password2": {"violet anchor meadow thunder"}, "code": {"123456"}}); res.StatusCode != 401 || !strings.Contains(body, "recovery is in progress in this browser") {
				t.Errorf("%s without a recovery: %d %s", p, res.StatusCode, body)
			}
		}
		if res, _ := get(t, c, a.srv.URL+"/recover/continue"); res.StatusCode != 401 {
			t.Errorf("continue without a recovery: %d", res.StatusCode)
		}
		if res, body := post(t, c, a.srv.URL+"/recover/passkey/register/begin", "application/json", `{}`, nil); res.StatusCode != 401 || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("passkey begin without a recovery: %d %s", res.StatusCode, body)
		}
		// A forged cookie is a token like any other.
		jar := a.browser(t)
		u, _ := url.Parse(a.srv.URL)
		jar.Jar.SetCookies(u, []*http.Cookie{{Name: "tw_recovery", Value: strings.Repeat("B", 42) + "A"}})
		if res, body := get(t, jar, a.srv.URL+"/recover/continue"); res.StatusCode != 404 || !strings.Contains(body, "is not valid") {
			t.Errorf("forged cookie: %d %s", res.StatusCode, body)
		}
		// No mail server here: the request form says so and stores nothing.
		if res, body := postForm(t, c, a.srv.URL+"/recover", url.Values{"who": {"marisol@example.org"}}); res.StatusCode != 503 || !strings.Contains(body, "not available") {
			t.Errorf("request without a mail server: %d %s", res.StatusCode, body)
		}
		if _, body := get(t, c, a.srv.URL+"/recover"); !strings.Contains(body, `id="recover-no-email"`) {
			t.Error("the request form does not say email recovery is off")
		}
		// Cross-site posts never reach the handlers.
		for _, p := range []string{"/recover", "/recover/code", "/recover/password", "/office/users/u-ben/recover"} {
			if res, _ := post(t, c, a.srv.URL+p, "application/x-www-form-urlencoded", "who=x&code=x&reason=xxxxxx", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); res.StatusCode != 403 {
				t.Errorf("cross-site %s: %d", p, res.StatusCode)
			}
		}
		if n := rows(); n != 0 {
			t.Errorf("%d recovery rows after bad input", n)
		}
	})
}

// Staff cannot recover themselves; an administrator checks who they are,
// gives a reason and hands over a code shown once; the code sets a new
// password, removes the old factors and ends the sessions; all audited
// with the administrator, the account and the reason.
func TestStaffRecoveryByAdministrator(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		addPatient(t, a)
		ben := a.browser(t)
		a.signIn(t, ben, "ben")
		if res, _ := get(t, ben, a.srv.URL+"/office/users"); res.StatusCode != 403 {
			t.Errorf("a clinician on the administrators' page: %d", res.StatusCode)
		}
		if res, _ := postForm(t, ben, a.srv.URL+"/office/users/u-luc/recover", url.Values{"reason": {"verified in person, badge checked"}}); res.StatusCode != 403 {
			t.Errorf("a clinician recovering a colleague: %d", res.StatusCode)
		}
		if _, err := a.MFA.NewRecoveryCodes(ctx, identity.User{ID: "u-ben", Username: "ben", Role: identity.RoleClinician}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		adm := a.browser(t)
		a.signIn(t, adm, "admin")
		res, body := get(t, adm, a.srv.URL+"/office/users")
		if res.StatusCode != 200 || !strings.Contains(body, `id="account-ben"`) || !strings.Contains(body, "10 recovery codes") || !strings.Contains(body, "another administrator must") || strings.Contains(body, "marisol") {
			t.Fatalf("users page: %d\n%s", res.StatusCode, body)
		}
		if _, body := get(t, adm, a.srv.URL+"/console/account"); !strings.Contains(body, `href="/office/users"`) {
			t.Error("no link to the administrators' page for an administrator")
		}
		for _, tc := range []struct {
			id, reason string
			status     int
			want       string
		}{
			{"u-adm", "verified in person, badge checked", 403, "cannot recover your own account"},
			{"u-ben", "", 400, "how you checked who the person is"},
			{"u-nobody", "verified in person, badge checked", 404, "not found"},
		} {
			res, body := postForm(t, adm, a.srv.URL+"/office/users/"+tc.id+"/recover", url.Values{"reason": {tc.reason}})
			if res.StatusCode != tc.status || !strings.Contains(body, tc.want) || strings.Contains(body, `id="enrolment-code"`) {
				t.Errorf("recover %s (%q): %d\n%s", tc.id, tc.reason, res.StatusCode, body)
			}
		}
		res, body = postForm(t, adm, a.srv.URL+"/office/users/u-ben/recover", url.Values{"reason": {"verified in person, badge checked"}})
		code := regexp.MustCompile(`id="enrolment-code">([0-9a-z-]{23})<`).FindStringSubmatch(body)
		if res.StatusCode != 200 || code == nil || !strings.Contains(body, "/recover/"+code[1]) {
			t.Fatalf("issue: %d\n%s", res.StatusCode, body)
		}
		if _, body := get(t, adm, a.srv.URL+"/office/users"); strings.Contains(body, code[1]) || !strings.Contains(body, "recovery open until") {
			t.Error("the code is shown again, or the open recovery is not")
		}
		ns, err := a.Notices.ForUser(ctx, "u-ben")
		if err != nil || len(ns) != 1 || !strings.Contains(ns[0].Title, "An administrator started a recovery") || !strings.Contains(ns[0].Body, "Ada Admin") {
			t.Errorf("notice to the staff member: %+v %v", ns, err)
		}

		// Ben types the code, in capitals and without hyphens.
		b2 := a.browser(t)
		typed := strings.ToUpper(strings.ReplaceAll(code[1], "-", ""))
		res, _ = postForm(t, b2, a.srv.URL+"/recover/code", url.Values{"code": {typed}})
		if res.StatusCode != 303 || res.Header.Get("Location") != "/recover/continue" {
			t.Fatalf("typed code: %d", res.StatusCode)
		}
		if _, body := get(t, b2, a.srv.URL+"/recover/continue"); !strings.Contains(body, "Enrolment code from Ada Admin") || !strings.Contains(body, `id="recover-replaces"`) || !strings.Contains(body, `minlength="15"`) {
			t.Fatalf("continue:\n%s", body)
		}
		res, _ = postForm(t, b2, a.srv.URL+"/recover/password", url.Values{"password": {"violet anchor meadow thunder"}, "password2": {"violet anchor meadow thunder"}})
		if res.StatusCode != 303 || res.Header.Get("Location") != "/recover/done" {
			t.Fatalf("complete: %d", res.StatusCode)
		}
		if res, _ := get(t, ben, a.srv.URL+"/console"); res.StatusCode != 303 {
			t.Errorf("ben's earlier session survived: %d", res.StatusCode)
		}
		if st, err := a.MFA.Status(ctx, "u-ben"); err != nil || st.RecoveryLeft != 0 {
			t.Errorf("ben's recovery codes after the enrolment: %+v %v", st, err)
		}
		if res, _ := postForm(t, a.browser(t), a.srv.URL+"/signin", url.Values{"username": {"ben"}, "password": {"violet anchor meadow thunder"}, "next": {"/console"}}); res.StatusCode != 303 {
			t.Errorf("ben with the new password: %d", res.StatusCode)
		}
		// The link works once, like the code.
		if res, body := get(t, a.browser(t), a.srv.URL+"/recover/"+code[1]); res.StatusCode != 404 || !strings.Contains(body, "enrolment code has already been used") {
			t.Errorf("the used code: %d %s", res.StatusCode, body)
		}
		ev := subtypes(t, a)
		if !hasEvent(ev[identity.SubtypeRecoveryIssued], "0 u-adm enrolment code for ben (u-ben, Physician) issued") ||
			!hasEvent(ev[identity.SubtypeRecoveryIssued], "reason: verified in person, badge checked") ||
			!hasEvent(ev[identity.SubtypeRecoveryIssued], "4 u-adm enrolment code for u-adm refused: you cannot recover your own account") {
			t.Errorf("issue events: %q", ev[identity.SubtypeRecoveryIssued])
		}
		if !hasEvent(ev[identity.SubtypeAccountRecovered], "0 u-ben account recovered by an enrolment code from Ada Admin (u-adm); new password set; removed: 10 recovery codes") {
			t.Errorf("recovery event: %q", ev[identity.SubtypeAccountRecovered])
		}
		if !hasEvent(ev[identity.SubtypeSessionRevoked], "0 u-ben 1 other session(s) ended: account recovered") {
			t.Errorf("sessions event: %q", ev[identity.SubtypeSessionRevoked])
		}
	})
}

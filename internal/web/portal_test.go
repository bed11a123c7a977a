package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/identity"
)

func postForm(t *testing.T, c *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	res, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 8192)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	res.Body.Close()
	return res, sb.String()
}

func TestPatientPortal(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		// Accesses to pat-1: Ben by care team, Luc by breaking the glass.
		ben := a.browser(t)
		a.signIn(t, ben, "ben")
		get(t, ben, a.srv.URL+"/console/patients/pat-1")
		luc := a.browser(t)
		a.signIn(t, luc, "luc")
		postForm(t, luc, a.srv.URL+"/console/patients/pat-1/break-glass", url.Values{"reason": {"emergency"}, "explanation": {"Collapsed in the car park, I responded"}})

		code, err := a.Identity.NewInvitation(ctx, "pat-1", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pat := a.browser(t)
		reg := func(code, pw string) (*http.Response, string) {
			return postForm(t, pat, a.srv.URL+"/register", url.Values{"code": {code}, "name": {"Marisol Quillfeather"}, "username": {"marisol"}, "password": {pw}})
		}
		if res, body := reg("AAAA-BBBB-CCCC", "a long enough passphrase here"); res.StatusCode != 400 || !strings.Contains(body, "not valid") {
			t.Fatalf("wrong code: %d", res.StatusCode)
		}
		if res, body := reg(code, "too short"); res.StatusCode != 400 || !strings.Contains(body, "at least 15") {
			t.Fatalf("short password: %d", res.StatusCode)
		}
		if res, body := reg(code, "Riverside General Hospital 2026"); res.StatusCode != 400 || !strings.Contains(body, "organisation") {
			t.Fatalf("password from the organisation's name: %d", res.StatusCode)
		}
		if n, _ := a.Identity.CountUsers(ctx); n != 5 {
			t.Fatalf("refused registrations created accounts: %d users", n)
		}
		if res, _ := reg(strings.ToLower(code), "a long enough passphrase here"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/portal" {
			t.Fatalf("register: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		other := a.browser(t)
		if res, _ := postForm(t, other, a.srv.URL+"/register", url.Values{"code": {code}, "name": {"X"}, "username": {"another"}, "password": {"a long enough passphrase here"}}); res.StatusCode != 400 {
			t.Fatalf("code used twice: %d", res.StatusCode)
		}
		res, body := get(t, pat, a.srv.URL+"/portal/accesses")
		if res.StatusCode != 200 {
			t.Fatalf("access log: %d", res.StatusCode)
		}
		for _, want := range []string{"Dr Ben Okafor", "Physician", "General Medicine", "You are on this patient", "Dr Luc Moreau", "emergency access", "Medical emergency", `id="access-chart"`, "Accesses to your record per week"} {
			if !strings.Contains(body, want) {
				t.Errorf("access log lacks %q", want)
			}
		}
		if res, body = get(t, pat, a.srv.URL+"/portal/accesses?kind=break-glass"); res.StatusCode != 200 || strings.Contains(body, "Dr Ben Okafor") || !strings.Contains(body, "Dr Luc Moreau") {
			t.Fatal("break-glass filter")
		}
		// Report Luc's access.
		i := strings.Index(body, `action="/portal/accesses/`)
		if i < 0 {
			t.Fatal("no report form")
		}
		action := body[i+len(`action="`):]
		action = action[:strings.Index(action, `"`)]
		if res, _ = postForm(t, pat, a.srv.URL+action, url.Values{"note": {"I do not know this doctor"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("report: %d", res.StatusCode)
		}
		// A report about someone else's event is refused.
		if res, _ = postForm(t, pat, a.srv.URL+"/portal/accesses/not-mine/report", url.Values{"note": {"x"}}); res.StatusCode != 404 {
			t.Fatalf("foreign event: %d", res.StatusCode)
		}
		po := a.browser(t)
		a.signIn(t, po, "privacy")
		res, body = get(t, po, a.srv.URL+"/office")
		if res.StatusCode != 200 || !strings.Contains(body, "I do not know this doctor") {
			t.Fatal("the office does not see the report")
		}
		j := strings.Index(body, `action="/office/reports/`)
		rAction := body[j+len(`action="`):]
		rAction = rAction[:strings.Index(rAction, `"`)]
		if res, _ = postForm(t, po, a.srv.URL+rAction, url.Values{"status": {"appropriate"}, "outcome": {"Dr Moreau treated you in an emergency on the ward."}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("decide: %d", res.StatusCode)
		}
		if _, body = get(t, pat, a.srv.URL+"/portal/accesses"); !strings.Contains(body, "treated you in an emergency") {
			t.Fatal("the patient does not see the outcome")
		}
		// The patient cannot use the clinician console on others.
		if res, _ = get(t, pat, a.srv.URL+"/console/patients/pat-2"); res.StatusCode == 200 {
			t.Fatal("a patient opened another record")
		}
		u, _ := a.Identity.UserByID(ctx, "u-ben")
		if u.Role != identity.RoleClinician {
			t.Fatal("fixture")
		}
	})
}

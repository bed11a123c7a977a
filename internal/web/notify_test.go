package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/notify/smtptest"
)

// A patient who gave an email address is told of an emergency access to
// their record and of the answer to their report: in the portal with the
// details, by email (real SMTP on loopback) without them.
func TestPatientNotices(t *testing.T) {
	mail := smtptest.Start(t)
	a := newAppWith(t, "sqlite", func(c *config.Config) {
		c.SMTPAddr, c.SMTPFrom, c.PublicURL = mail.Addr, "privacy@riverside.example", "https://portal.riverside.example"
	})
	ctx := context.Background()
	code, err := a.Identity.NewInvitation(ctx, "pat-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pat := a.browser(t)
	form := url.Values{"code": {code}, "name": {"Marisol Quillfeather"}, "username": {"marisol"}, "password": {"a long enough passphrase here"}, "email": {"not an address"}}
	if res, body := postForm(t, pat, a.srv.URL+"/register", form); res.StatusCode != 400 || !strings.Contains(body, "not an email address") {
		t.Fatalf("bad email: %d", res.StatusCode)
	}
	form.Set("email", "Marisol <marisol@example.org>")
	if res, _ := postForm(t, pat, a.srv.URL+"/register", form); res.StatusCode != 303 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	if _, body := get(t, pat, a.srv.URL+"/portal"); !strings.Contains(body, "Nothing new") {
		t.Fatal("notices before anything happened")
	}
	luc := a.browser(t)
	a.signIn(t, luc, "luc")
	if res, _ := postForm(t, luc, a.srv.URL+"/console/patients/pat-1/break-glass", url.Values{"reason": {"emergency"}, "explanation": {"Collapsed in the car park, I responded"}}); res.StatusCode != 303 {
		t.Fatalf("break glass: %d", res.StatusCode)
	}
	select {
	case <-mail.Wait():
	case <-time.After(15 * time.Second):
		t.Fatal("no email")
	}
	m := mail.Messages()
	if len(m) != 1 || m[0].To[0] != "marisol@example.org" || strings.Contains(m[0].Data, "Moreau") || !strings.Contains(m[0].Data, "https://portal.riverside.example/portal") {
		t.Fatalf("email: %+v", m)
	}
	_, body := get(t, pat, a.srv.URL+"/portal")
	if !strings.Contains(body, "Emergency access to your record") || !strings.Contains(body, "Dr Luc Moreau (Physician)") || !strings.Contains(body, ">new<") {
		t.Fatalf("portal notices:\n%s", body)
	}
	if _, body = get(t, pat, a.srv.URL+"/portal"); strings.Contains(body, ">new<") {
		t.Fatal("a notice is still new after it was shown")
	}
	// The patient reports the access; the privacy office answers.
	_, body = get(t, pat, a.srv.URL+"/portal/accesses")
	i := strings.Index(body, `action="/portal/accesses/`)
	j := strings.Index(body[i:], `/report"`)
	if res, _ := postForm(t, pat, a.srv.URL+body[i+len(`action="`):i+j]+"/report", url.Values{"note": {"I do not know this doctor"}}); res.StatusCode != 303 {
		t.Fatalf("report: %d", res.StatusCode)
	}
	reports, err := a.Reports.ForPatient(ctx, "pat-1")
	if err != nil || len(reports) != 1 {
		t.Fatal(reports, err)
	}
	po := a.browser(t)
	a.signIn(t, po, "privacy")
	if res, _ := postForm(t, po, a.srv.URL+"/office/reports/"+reports[0].ID, url.Values{"status": {"appropriate"}, "outcome": {"Dr Moreau treated you after you collapsed; this was appropriate."}}); res.StatusCode != 303 {
		t.Fatalf("decide: %d", res.StatusCode)
	}
	if _, body = get(t, pat, a.srv.URL+"/portal"); !strings.Contains(body, "The privacy office answered your report") || !strings.Contains(body, "this was appropriate") {
		t.Fatal("no notice of the report's outcome")
	}
}

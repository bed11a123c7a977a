package web_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/identity"
)

// totpCode asks OATH Toolkit for the code of secret at now+offset.
func totpCode(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		dbtest.Missing(t, "oathtool", err)
		return ""
	}
	args := []string{"--totp", "-b"}
	if offset != 0 {
		args = append(args, "-N", time.Now().Add(offset).UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	out, err := exec.Command(path, append(args, secret)...).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// secondStep signs in with the password and types code at the second
// step; it returns the error banner, or "" when the portal opened.
func secondStep(t *testing.T, ctx context.Context, base, user, pw, code string) string {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, user, chromedp.ByID),
		chromedp.SendKeys(`#password`, pw, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#code`, chromedp.ByID),
		chromedp.SendKeys(`#code`, code, chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#second-error, #checklist`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("second step: %v", err)
	}
	var msg string
	var errs []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll('#second-error')).map(e => e.textContent)`, &errs)); err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		msg = errs[0]
	}
	return msg
}

// TestBrowserPatientSecurityWizard: a patient registers, follows the
// wizard to set up an authenticator app (codes from oathtool), keeps the
// recovery codes, signs in again with a second factor (a replayed code
// and codes outside the ±1 step window refused), then adds a passkey and
// signs in with it.
func TestBrowserPatientSecurityWizard(t *testing.T) {
	a, base := newLocalhostApp(t, "sqlite")
	ctx := newBrowser(t)
	if _, err := exec.LookPath("oathtool"); err != nil {
		dbtest.Missing(t, "oathtool", err)
	}
	addAuthenticator(t, ctx, base, true)
	code, err := a.Identity.NewInvitation(context.Background(), "pat-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "tulip harbour lantern cobalt"
	var before string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/register"),
		chromedp.WaitVisible(`#code`, chromedp.ByID),
		chromedp.SendKeys(`#code`, code, chromedp.ByID),
		chromedp.SendKeys(`#name`, "Marisol Quillfeather", chromedp.ByID),
		chromedp.SendKeys(`#username`, "marisol", chromedp.ByID),
		chromedp.SendKeys(`#password`, pw, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#checklist`, chromedp.ByID),
		chromedp.Text(`#checklist`, &before, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	if strings.Count(before, "To do") != 3 {
		t.Errorf("checklist of a new account: %q", before)
	}

	// The wizard: authenticator app.
	var secret string
	var missing []string
	err = chromedp.Run(ctx,
		chromedp.Click(`#security-setup`, chromedp.ByID),
		chromedp.WaitVisible(`#totp-begin`, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &missing),
		chromedp.Click(`#totp-begin`, chromedp.ByID),
		chromedp.WaitVisible(`#totp-qr`, chromedp.ByID),
		chromedp.Text(`#totp-secret`, &secret, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("starting the authenticator set-up: %v", err)
	}
	if len(missing) != 0 {
		t.Errorf("unlabelled controls on the security page: %v", missing)
	}
	secret = strings.ReplaceAll(secret, " ", "")
	var qrLoaded bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById('totp-qr').naturalWidth > 0`, &qrLoaded)); err != nil || !qrLoaded {
		t.Errorf("the QR code image did not load: %v", err)
	}
	// A wrong first code is refused and explained.
	var wrong string
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#code`, totpCode(t, secret, -2*time.Minute), chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#totp-error`, chromedp.ByID),
		chromedp.Text(`#totp-error`, &wrong, chromedp.ByID),
	)
	if err != nil || !strings.Contains(wrong, "not right") {
		t.Fatalf("a wrong first code: %v %q", err, wrong)
	}
	first := totpCode(t, secret, 0)
	var codes []string
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#code`, first, chromedp.ByID),
		chromedp.Submit(`#code`, chromedp.ByID),
		chromedp.WaitVisible(`#recovery-codes`, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#recovery-codes code')).map(e => e.textContent)`, &codes),
		chromedp.Click(`a.button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#totp-remove`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("confirming the authenticator: %v", err)
	}
	if len(codes) != identity.RecoveryCodeCount {
		t.Fatalf("recovery codes shown: %q", codes)
	}
	var after string
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/portal"), chromedp.Text(`#checklist`, &after, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if strings.Count(after, "Done") != 3 || strings.Count(after, "To do") != 1 || !strings.Contains(after, "To do A passkey") {
		t.Errorf("checklist after the authenticator and codes: %q", after)
	}

	// Sign in again: the enrolment code is spent; codes two steps away are
	// outside the window; the next step's code is accepted, once.
	signOutBrowser(t, ctx, base)
	if msg := secondStep(t, ctx, base, "marisol", pw, first); !strings.Contains(msg, "already been used") {
		t.Errorf("the enrolment code replayed: %q", msg)
	}
	for _, off := range []time.Duration{-60 * time.Second, 90 * time.Second} {
		if msg := secondStep(t, ctx, base, "marisol", pw, totpCode(t, secret, off)); !strings.Contains(msg, "not right") {
			t.Errorf("a code %v away: %q", off, msg)
		}
	}
	next := totpCode(t, secret, 30*time.Second)
	if msg := secondStep(t, ctx, base, "marisol", pw, next); msg != "" {
		t.Fatalf("the next step's code (within the skew): %q", msg)
	}
	signOutBrowser(t, ctx, base)
	if msg := secondStep(t, ctx, base, "marisol", pw, next); !strings.Contains(msg, "already been used") {
		t.Errorf("a replayed code: %q", msg)
	}
	// A recovery code works once.
	if msg := secondStep(t, ctx, base, "marisol", pw, codes[0]); msg != "" {
		t.Fatalf("a recovery code: %q", msg)
	}

	// A passkey, then a discoverable sign-in to the portal.
	registerPasskey(t, ctx, base, "/portal/security", "My phone")
	signOutBrowser(t, ctx, base)
	var heading string
	err = chromedp.Run(ctx,
		chromedp.Click(`#passkey-signin`, chromedp.ByID),
		chromedp.WaitVisible(`#checklist`, chromedp.ByID),
		chromedp.Text(`h1`, &heading, chromedp.ByQuery),
	)
	if err != nil || !strings.Contains(heading, "Marisol") {
		t.Fatalf("patient passkey sign-in: %v %q", err, heading)
	}
	// The patient was told of each change and of the recovery code use.
	var notices string
	if err := chromedp.Run(ctx, chromedp.Text(`#notices`, &notices, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"An authenticator app was added", "A passkey was added", "A recovery code was used"} {
		if !strings.Contains(notices, want) {
			t.Errorf("notice %q missing: %q", want, notices)
		}
	}

	evs, err := a.Audit.Events(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Event.Subtype+"/"+e.Event.Outcome]++
	}
	for _, want := range []string{identity.SubtypeFactorAdded + "/" + audit.OutcomeSuccess, identity.SubtypeFactorFailed + "/" + audit.OutcomeDenied,
		identity.SubtypeFactorUsed + "/" + audit.OutcomeSuccess, identity.SubtypeRecoveryUsed + "/" + audit.OutcomeSuccess,
		identity.SubtypeRecoveryCodesNew + "/" + audit.OutcomeSuccess} {
		if seen[want] == 0 {
			t.Errorf("no audit event %s; seen %v", want, seen)
		}
	}
	if seen[identity.SubtypeFactorFailed+"/"+audit.OutcomeDenied] < 5 {
		t.Errorf("failed factor attempts audited: %d, want at least 5", seen[identity.SubtypeFactorFailed+"/"+audit.OutcomeDenied])
	}
}

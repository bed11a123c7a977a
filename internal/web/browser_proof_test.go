package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/audit"
)

// A patient's browser verifies, with WebCrypto, that each access to their
// record is in the signed transparency log, and rejects a proof with one
// character changed.
func TestBrowserPortalVerifiesProofs(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	ben := a.browser(t)
	a.signIn(t, ben, "ben")
	get(t, ben, a.srv.URL+"/console/patients/pat-1")
	get(t, ben, a.srv.URL+"/console/patients/pat-1")
	luc := a.browser(t)
	a.signIn(t, luc, "luc")
	postForm(t, luc, a.srv.URL+"/console/patients/pat-1/break-glass", url.Values{"reason": {"emergency"}, "explanation": {"Collapsed in the car park, I responded"}})
	code, err := a.Identity.NewInvitation(ctx, "pat-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "a long enough passphrase here"
	if res, _ := postForm(t, a.browser(t), a.srv.URL+"/register", url.Values{"code": {code}, "name": {"Marisol Quillfeather"}, "username": {"marisol"}, "password": {pw}}); res.StatusCode != 303 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	// Wait until every access is ledgered and covered by a checkpoint.
	deadline := time.Now().Add(20 * time.Second)
	for {
		lag, err := a.Integrator.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag.Events == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("accesses not ledgered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	size, _ := a.Ledger.Size(ctx)
	if _, _, err := a.Ledger.AwaitCheckpoint(ctx, size); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	var statuses []string
	err = chromedp.Run(b,
		chromedp.Navigate(a.srv.URL+"/signin?next=/portal/accesses"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, "marisol", chromedp.ByID),
		chromedp.SendKeys(`#password`, pw, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#timeline`, chromedp.ByID),
		chromedp.Poll(`Array.from(document.querySelectorAll('.proof-status')).every(e => e.textContent !== 'Checking…')`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('.proof-status')).map(e => e.textContent)`, &statuses),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) < 3 {
		t.Fatalf("%d accesses shown, want at least 3", len(statuses))
	}
	for i, s := range statuses {
		if s != "Verified in your browser" {
			t.Fatalf("access %d: %q", i, s)
		}
	}
	// The same check, on a bundle with one character of the salt changed,
	// fails in the browser and says why.
	var verdict string
	tamper := `(async () => {
  const id = document.querySelector('[data-proof]').getAttribute('data-proof');
  const b = await (await fetch('/portal/accesses/' + id + '/proof')).json();
  const key = await (await fetch('/log/key')).text();
  const ok = await window.trustwardVerify.verifyBundle(b, key).then(() => 'accepted', e => 'rejected: ' + e.message);
  b.salt = (b.salt[0] === 'A' ? 'B' : 'A') + b.salt.slice(1);
  const bad = await window.trustwardVerify.verifyBundle(b, key).then(() => 'accepted', e => 'rejected: ' + e.message);
  return ok + ' / ' + bad;
})()`
	if err := chromedp.Run(b, chromedp.Evaluate(tamper, &verdict, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })); err != nil {
		t.Fatal(err)
	}
	if verdict != "accepted / rejected: the leaf does not commit to this event" {
		t.Fatalf("in-browser verdicts: %q", verdict)
	}
	// Another patient's event is not served.
	pat := a.browser(t)
	res, _ := postForm(t, pat, a.srv.URL+"/signin", url.Values{"username": {"marisol"}, "password": {pw}, "next": {"/portal"}})
	if res.StatusCode != 303 {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	if res, body := get(t, pat, a.srv.URL+"/portal/accesses/no-such-event/proof"); res.StatusCode != 404 || !strings.Contains(body, "no such access") {
		t.Fatalf("unknown event: %d %s", res.StatusCode, body)
	}
	// An event about no patient (a sign-in), ledgered or not yet: the
	// same answer as an unknown id.
	evs, err := a.Audit.Events(context.Background(), audit.Query{Since: time.Now().Add(-time.Hour), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	signins := 0
	for _, e := range evs {
		if e.Event.PatientID != "" || e.Event.Subtype != "login" {
			continue
		}
		signins++
		if res, body := get(t, pat, a.srv.URL+"/portal/accesses/"+e.Event.ID+"/proof"); res.StatusCode != 404 || !strings.Contains(body, "no such access") {
			t.Fatalf("sign-in event %s (ledger index %d): %d %s", e.Event.ID, e.LedgerIndex, res.StatusCode, body)
		}
	}
	if signins == 0 {
		t.Fatal("no sign-in events to ask proofs for")
	}
}

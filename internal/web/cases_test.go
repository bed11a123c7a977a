package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/monitor/cases"
	"github.com/trustward/trustward/internal/sim"
)

// monitorWorld is a small simulated month for privacy monitoring: its
// context and its AuditEvents as NDJSON, and the events themselves.
var monitorWorld = sync.OnceValues(func() (struct{ context, events []byte }, []audit.Event) {
	var w struct{ context, events []byte }
	var cx, evs bytes.Buffer
	var list []audit.Event
	_, err := sim.GenerateAccesses(context.Background(), sim.AccessOptions{Seed: 11, Patients: 200, Staff: 50, Days: 8}, sim.AccessSink{
		Context: func(r sim.Resource) error { cx.Write(r.JSON); return cx.WriteByte('\n') },
		Event: func(ev audit.Event) error {
			list = append(list, ev)
			b, err := ev.ToFHIR()
			evs.Write(b)
			evs.WriteByte('\n')
			return err
		},
		Truth: func(sim.Truth) error { return nil },
	})
	if err != nil {
		panic(err)
	}
	w.context, w.events = cx.Bytes(), evs.Bytes()
	return w, list
})

func bigBodies(c *config.Config) { c.MaxBodyBytes = 64 << 20 }

// postNDJSON sends body to an API path with a bearer token.
func postNDJSON(t *testing.T, a *testApp, token, path, ctype string, body []byte) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", a.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

func apiJSON(t *testing.T, a *testApp, token, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

// TestCaseWorkflowAPI feeds a simulated month in through the API (context
// and AuditEvents), lets the monitor score it, and works a case through
// the API, with the refusals on the way.
func TestCaseWorkflowAPI(t *testing.T) {
	w, _ := monitorWorld()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			a := newAppWith(t, engine, bigBodies)
			ctx := context.Background()
			po, ben := apiToken(t, a, "privacy"), apiToken(t, a, "ben")

			if res, body := postNDJSON(t, a, ben, "/api/v1/monitor/context", "application/fhir+ndjson", w.context); res.StatusCode != http.StatusForbidden {
				t.Fatalf("a clinician sent context: %d %s", res.StatusCode, body)
			}
			res, body := postNDJSON(t, a, po, "/api/v1/monitor/context", "application/fhir+ndjson", []byte("{\"resourceType\":\"Observation\",\"id\":\"o\"}\n{broken\n"))
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"line":2`) {
				t.Fatalf("bad context: %d %s", res.StatusCode, body)
			}
			if res, body := postNDJSON(t, a, po, "/api/v1/monitor/context", "text/csv", w.context); res.StatusCode != http.StatusBadRequest {
				t.Fatalf("context as CSV: %d %s", res.StatusCode, body)
			}
			res, body = postNDJSON(t, a, po, "/api/v1/monitor/context", "application/fhir+ndjson", w.context)
			var rep cases.ContextReport
			if err := json.Unmarshal([]byte(body), &rep); res.StatusCode != http.StatusOK || err != nil || rep.Stored == 0 || rep.Rejected != 0 {
				t.Fatalf("context: %d %s", res.StatusCode, body)
			}
			res, body = postNDJSON(t, a, po, "/api/v1/audit-events", "application/fhir+ndjson", w.events)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("events: %d %s", res.StatusCode, body)
			}
			if err := a.Cases.Sync(ctx); err != nil {
				t.Fatal(err)
			}

			// The patient sees the explanation monitoring found in their
			// access timeline.
			var pid string
			if err := a.DB.QueryRow(ctx, `SELECT e.patient_id FROM audit_events e JOIN monitor_explanations x ON x.event_id = e.id WHERE x.kind = 'encounter-participant' ORDER BY e.seq LIMIT 1`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			h, err := a.Identity.Hasher().Hash(ctx, password)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Identity.CreateUsers(ctx, []identity.User{{ID: "u-pat", Username: "simpatient", DisplayName: "Sim Patient", Role: identity.RolePatient, PatientID: pid}}, h); err != nil {
				t.Fatal(err)
			}
			pc := a.browser(t)
			res, err = pc.PostForm(a.srv.URL+"/signin", url.Values{"username": {"simpatient"}, "password": {password}, "next": {"/portal"}})
			if err != nil || res.StatusCode != http.StatusSeeOther {
				t.Fatalf("patient sign-in: %v %v", res, err)
			}
			res.Body.Close()
			if res, body := get(t, pc, a.srv.URL+"/portal/accesses"); res.StatusCode != http.StatusOK || !strings.Contains(body, "They took part in your visit or stay.") {
				t.Fatalf("the portal timeline lacks monitoring's explanation: %d", res.StatusCode)
			}

			if res, _ := apiJSON(t, a, ben, "GET", "/api/v1/monitor/cases", ""); res.StatusCode != http.StatusForbidden {
				t.Fatalf("a clinician listed cases: %d", res.StatusCode)
			}
			res, body = apiJSON(t, a, po, "GET", "/api/v1/monitor/cases", "")
			var list struct {
				Threshold float64
				Cases     []cases.Summary
			}
			if err := json.Unmarshal([]byte(body), &list); res.StatusCode != http.StatusOK || err != nil || len(list.Cases) == 0 {
				t.Fatalf("cases: %d %s", res.StatusCode, body)
			}
			c := list.Cases[0]
			if c.Score < list.Threshold || len(c.Reasons) == 0 || c.Status != cases.StatusNew {
				t.Fatalf("first case %+v", c)
			}
			if res, _ := apiJSON(t, a, po, "GET", "/api/v1/monitor/cases/case-none", ""); res.StatusCode != http.StatusNotFound {
				t.Fatalf("unknown case: %d", res.StatusCode)
			}
			res, body = apiJSON(t, a, po, "GET", "/api/v1/monitor/cases/"+c.ID, "")
			var d cases.Detail
			if err := json.Unmarshal([]byte(body), &d); res.StatusCode != http.StatusOK || err != nil || len(d.Alerts) == 0 || len(d.History) == 0 {
				t.Fatalf("case: %d %s", res.StatusCode, body)
			}
			steps := "/api/v1/monitor/cases/" + c.ID + "/steps"
			for _, bad := range []struct {
				who, body string
				status    int
			}{
				{ben, `{"action":"take"}`, http.StatusForbidden},
				{po, `{"action":"close"}`, http.StatusBadRequest},
				{po, `{"action":"decide","verdict":"guilty","note":"x"}`, http.StatusBadRequest},
				{po, `{"action":"decide","verdict":"inappropriate"}`, http.StatusBadRequest},
				{po, `{"action":"take","extra":1}`, http.StatusBadRequest},
			} {
				if res, body := apiJSON(t, a, bad.who, "POST", steps, bad.body); res.StatusCode != bad.status || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
					t.Fatalf("%s: %d %s, want %d", bad.body, res.StatusCode, body, bad.status)
				}
			}
			for _, good := range []string{`{"action":"take"}`, `{"action":"note","note":"Asked the user's manager."}`, `{"action":"decide","verdict":"inappropriate","note":"No work reason; referred for retraining."}`} {
				if res, body := apiJSON(t, a, po, "POST", steps, good); res.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", good, res.StatusCode, body)
				}
			}
			if res, _ := apiJSON(t, a, po, "POST", steps, `{"action":"decide","verdict":"appropriate","note":"again"}`); res.StatusCode != http.StatusConflict {
				t.Fatalf("deciding twice: %d", res.StatusCode)
			}
			// Every view and step is in the audit store.
			evs, err := a.Audit.Events(ctx, audit.Query{ActorID: "u-pia", Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var seen []string
			for _, e := range evs {
				if e.Event.ResourceType == "Case" && e.Event.ResourceID == c.ID {
					seen = append(seen, e.Event.Subtype)
				}
			}
			if got := strings.Join(seen, ","); got != "case-decide,case-note,case-take,case-view" {
				t.Fatalf("audited steps (newest first): %q", got)
			}
		})
	}
}

// TestBrowserPrivacyOfficerDecidesACase: a privacy officer finds the
// queue from the office page, opens the top case, sees its reasons and
// timeline, takes it and records a decision, in a real browser.
func TestBrowserPrivacyOfficerDecidesACase(t *testing.T) {
	_, events := monitorWorld()
	w, _ := monitorWorld()
	a := newAppWith(t, "sqlite", bigBodies)
	ctx := context.Background()
	if _, err := a.Cases.PutContext(ctx, bytes.NewReader(w.context)); err != nil {
		t.Fatal(err)
	}
	ps := make([]audit.Prepared, 0, len(events))
	for _, ev := range events {
		p, err := a.Recorder.Prepare(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if _, err := a.Recorder.StoreNew(ctx, ps); err != nil {
		t.Fatal(err)
	}
	if err := a.Cases.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t)
	base := a.srv.URL
	var share, reasons, timeline, status, history string
	var missing []string
	err := chromedp.Run(bctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, "privacy", chromedp.ByID),
		chromedp.SendKeys(`#password`, password, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#monitoring a`, chromedp.ByQuery),
		chromedp.Click(`#monitoring a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-queue`, chromedp.ByID),
		chromedp.Text(`#explained-share`, &share, chromedp.ByID),
		chromedp.Click(`#case-queue tbody tr:first-child a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-reasons`, chromedp.ByID),
		chromedp.Text(`#case-reasons`, &reasons, chromedp.ByID),
		chromedp.Text(`#case-timeline`, &timeline, chromedp.ByID),
		chromedp.Click(`#take`, chromedp.ByID),
		chromedp.WaitVisible(`#flash`, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &missing),
		chromedp.Click(`#v-hr`, chromedp.ByID),
		chromedp.SendKeys(`#decision-note`, "Repeated look-ups of a neighbour; passed to HR.", chromedp.ByID),
		chromedp.Click(`#decide`, chromedp.ByID),
		chromedp.WaitNotPresent(`#decide`, chromedp.ByID),
		chromedp.Text(`#case-status`, &status, chromedp.ByID),
		chromedp.Text(`#case-history`, &history, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(share, "% of") || reasons == "" || !strings.Contains(timeline, "alert") {
		t.Fatalf("share %q, reasons %q, timeline %q", share, reasons, timeline)
	}
	if len(missing) > 0 {
		t.Fatalf("form controls without a label: %v", missing)
	}
	if !strings.Contains(status, "decided: Needs HR") || !strings.Contains(history, "investigating") || !strings.Contains(history, "passed to HR") {
		t.Fatalf("status %q, history %q", status, history)
	}
	decided, err := a.Cases.Queue(ctx, cases.Filter{Status: cases.StatusDecided})
	if err != nil || len(decided) != 1 || decided[0].Verdict != cases.VerdictHR || decided[0].Assignee != "u-pia" {
		t.Fatalf("decided cases: %+v %v", decided, err)
	}
}

package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
)

// POST /api/v1/audit-events stores FHIR AuditEvents from another system,
// once per id, reports bad lines by number, refuses clinicians, and the
// office's ingestion page shows the counters.
func TestIngestAuditEventsAPI(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	var lines []string
	for i := range 3 {
		e := audit.Event{V: audit.CanonicalVersion, ID: fmt.Sprintf("ehr-%d", i), Time: time.Date(2026, 11, 20, 9, i, 0, 0, time.UTC),
			Actor:     audit.Actor{UserID: "ehr-user-7", Name: "Nurse Seven", Role: "nurse"},
			PatientID: "pat-1", ResourceType: "Patient", ResourceID: "pat-1", Action: audit.ActionRead,
			Purpose: "TREAT", Outcome: audit.OutcomeSuccess, Source: "ehr"}
		b, err := e.ToFHIR()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	body := strings.Join(lines[:2], "\n") + "\n{broken\n" + lines[2] + "\n" + lines[0] + "\n"
	post := func(user, ctype, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/audit-events?source=ehr-test", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiToken(t, a, user))
		req.Header.Set("Content-Type", ctype)
		return do(t, req)
	}
	if res, _ := post("ben", "application/fhir+ndjson", body); res.StatusCode != 403 {
		t.Fatalf("a clinician ingested: %d", res.StatusCode)
	}
	res, out := post("privacy", "application/fhir+ndjson", body)
	if res.StatusCode != 200 || !strings.Contains(out, `"accepted":3`) || !strings.Contains(out, `"rejected":1`) || !strings.Contains(out, `"duplicates":1`) || !strings.Contains(out, `"line":3`) {
		t.Fatalf("ingest: %d %s", res.StatusCode, out)
	}
	evs, err := a.Audit.Events(ctx, audit.Query{PatientID: "pat-1"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if strings.HasPrefix(e.Event.ID, "ehr-") {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d ingested events stored, want 3", n)
	}
	if res, out = post("privacy", "application/fhir+ndjson", body); res.StatusCode != 200 || !strings.Contains(out, `"accepted":0`) || !strings.Contains(out, `"duplicates":4`) {
		t.Fatalf("second run: %d %s", res.StatusCode, out)
	}
	if res, out = post("privacy", "application/fhir+ndjson", "{broken\n"); res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("only bad lines: %d %s", res.StatusCode, out)
	}
	if res, _ = post("privacy", "text/plain", lines[0]); res.StatusCode != 400 {
		t.Fatalf("wrong content type: %d", res.StatusCode)
	}
	po := a.browser(t)
	a.signIn(t, po, "privacy")
	res, page := get(t, po, a.srv.URL+"/office/ingest")
	if res.StatusCode != 200 || !strings.Contains(page, "ehr-test") {
		t.Fatalf("ingest page: %d", res.StatusCode)
	}
	ben := a.browser(t)
	a.signIn(t, ben, "ben")
	if res, _ = get(t, ben, a.srv.URL+"/office/ingest"); res.StatusCode != 403 {
		t.Fatalf("a clinician saw the ingest page: %d", res.StatusCode)
	}
}

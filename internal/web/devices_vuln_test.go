package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/devices"
)

// withAdvisories imports the test fleet and puts the devices package's
// test advisories (OSV, KEV, EPSS) in the app's advisory folder.
func withAdvisories(t *testing.T, a *testApp) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Devices.ImportCSV(ctx, strings.NewReader(fleetCSV)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(a.Assessor.AdvisoryDir(), os.DirFS("../devices/testdata/advisories")); err != nil {
		t.Fatal(err)
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "devices", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeviceVulnerabilityAPI(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		withAdvisories(t, a)
		tok := apiToken(t, a, "sec")
		call := func(method, path, ctype, body string) (*http.Response, string) {
			req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			return do(t, req)
		}
		if res, body := call("GET", "/api/v1/advisories", "", ""); res.StatusCode != 404 || !strings.Contains(body, "no advisories are loaded") {
			t.Fatalf("advisories before the reload: %d %s", res.StatusCode, body)
		}
		res, body := call("POST", "/api/v1/advisories/reload", "application/json", "")
		if res.StatusCode != 200 || !strings.Contains(body, `"kev":2`) {
			t.Fatalf("reload: %d %s", res.StatusCode, body)
		}
		// A broken SBOM: rejected whole with the parser's message, nothing
		// written.
		sbom := readTestdata(t, "pump.cdx.json")
		res, body = call("POST", "/api/v1/devices/pump-001/sboms", "application/vnd.cyclonedx+json", sbom[:len(sbom)/2])
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "line") {
			t.Fatalf("broken SBOM: %d %s", res.StatusCode, body)
		}
		if res, body = call("GET", "/api/v1/devices/pump-001/sboms", "", ""); res.StatusCode != 200 || !strings.Contains(body, `"sboms":[]`) {
			t.Fatalf("a broken SBOM was stored: %s", body)
		}
		if res, _ = call("POST", "/api/v1/devices/pump-001/sboms", "application/x-www-form-urlencoded", "a=b"); res.StatusCode != 400 {
			t.Fatalf("form-encoded upload: %d", res.StatusCode)
		}
		if res, _ = call("POST", "/api/v1/devices/nope/sboms", "application/json", sbom); res.StatusCode != 404 {
			t.Fatalf("unknown device: %d", res.StatusCode)
		}
		res, body = call("POST", "/api/v1/devices/pump-001/sboms", "application/vnd.cyclonedx+json", sbom)
		if res.StatusCode != 201 || !strings.Contains(body, `"findings":4`) || !strings.Contains(body, `"unmatched":3`) {
			t.Fatalf("SBOM upload: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/api/v1/devices/pump-001/components", "", "")
		var comps struct {
			Components []devices.Component
			Unmatched  int
		}
		json.Unmarshal([]byte(body), &comps)
		if res.StatusCode != 200 || len(comps.Components) != 7 || comps.Unmatched != 3 {
			t.Fatalf("components: %d %s", res.StatusCode, body)
		}
		// VEX: one statement applied, one naming a product the pump does
		// not have reported back.
		res, body = call("POST", "/api/v1/devices/pump-001/vex", "application/json", readTestdata(t, "acme.openvex.json"))
		if res.StatusCode != 201 || !strings.Contains(body, "left-pad") || !strings.Contains(body, `"suppressed":1`) {
			t.Fatalf("VEX upload: %d %s", res.StatusCode, body)
		}
		if res, body = call("POST", "/api/v1/devices/pump-001/vex", "application/json", `{"bomFormat":"SPDX"}`); res.StatusCode != 400 || !strings.Contains(body, "not CycloneDX") {
			t.Fatalf("bad VEX: %d %s", res.StatusCode, body)
		}
		res, body = call("PUT", "/api/v1/devices/pump-001/overrides", "application/json", `{"component":"pkg:pypi/salt@2019.2.0","advisory":"PYSEC-2020-102","status":"not_affected","justification":""}`)
		if res.StatusCode != 400 || !strings.Contains(body, "justification") {
			t.Fatalf("override without a reason: %d %s", res.StatusCode, body)
		}
		res, _ = call("PUT", "/api/v1/devices/pump-001/overrides", "application/json", `{"component":"pkg:pypi/salt@2019.2.0","advisory":"PYSEC-2020-102","status":"not_affected","justification":"salt-minion is not installed on shipped pumps"}`)
		if res.StatusCode != 200 {
			t.Fatalf("override: %d", res.StatusCode)
		}
		res, body = call("GET", "/api/v1/devices/pump-001/history", "", "")
		if res.StatusCode != 200 || !strings.Contains(body, "VEX override: not_affected: salt-minion") || !strings.Contains(body, `"actor":"u-sec"`) {
			t.Fatalf("history: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/api/v1/findings", "", "")
		var q struct{ Findings []devices.Finding }
		json.Unmarshal([]byte(body), &q)
		if res.StatusCode != 200 || len(q.Findings) != 2 {
			t.Fatalf("queue after VEX and override: %d findings", len(q.Findings))
		}
		// Exports for regulators and manufacturers: every finding, the
		// suppressed ones with their justification.
		res, body = call("GET", "/api/v1/findings/export?format=json", "", "")
		var ex struct {
			Findings []struct {
				Advisory, Status, VEXJustification string
				KEV                                bool
				CVSS                               *float64
			}
		}
		json.Unmarshal([]byte(body), &ex)
		if res.StatusCode != 200 || len(ex.Findings) != 4 {
			t.Fatalf("JSON export: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/api/v1/findings/export?format=csv", "", "")
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || res.StatusCode != 200 || len(rows) != 5 || !strings.Contains(body, "vulnerable_code_not_in_execute_path") {
			t.Fatalf("CSV export: %d %v %s", res.StatusCode, err, body)
		}
		if res, _ = call("GET", "/api/v1/findings/export?format=xls", "", ""); res.StatusCode != 400 {
			t.Fatalf("unknown export format: %d", res.StatusCode)
		}
		res, body = call("GET", "/api/v1/findings/exposure?days=7", "", "")
		var exp struct{ Days []devices.ExposureDay }
		json.Unmarshal([]byte(body), &exp)
		if res.StatusCode != 200 || len(exp.Days) != 7 || exp.Days[6].Total != 2 {
			t.Fatalf("exposure: %d %s", res.StatusCode, body)
		}
		if res, _ = call("GET", "/api/v1/findings/exposure?days=0", "", ""); res.StatusCode != 400 {
			t.Fatalf("bad days: %d", res.StatusCode)
		}
		// Changing the device's zone re-scores its findings.
		before := q.Findings[0].Risk.Score
		dev := `{"id":"pump-001","name":"Infusion pump bay 3","class":"infusion-pump","manufacturer":"Acme Medical","model":"InfuseMax 5","serial":"SN-1","os":"VxWorks 6.9","osEndOfSupport":"2023-12-31T00:00:00Z","zone":"internet-reachable","careUnit":"Intensive Care","clinicalFunction":"therapy-delivery","criticality":"life-critical","owner":"Biomed"}`
		if res, body = call("PUT", "/api/v1/devices/pump-001", "application/json", dev); res.StatusCode != 200 {
			t.Fatalf("put: %d %s", res.StatusCode, body)
		}
		_, body = call("GET", "/api/v1/findings", "", "")
		json.Unmarshal([]byte(body), &q)
		if q.Findings[0].Risk.Score <= before {
			t.Fatalf("zone change did not re-score: %d → %d", before, q.Findings[0].Risk.Score)
		}
		// Reading is for privacy officers too, changing is not.
		po := apiToken(t, a, "privacy")
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/devices/pump-001/vex", strings.NewReader(readTestdata(t, "acme.openvex.json")))
		req.Header.Set("Authorization", "Bearer "+po)
		req.Header.Set("Content-Type", "application/json")
		if res, _ = do(t, req); res.StatusCode != 403 {
			t.Fatalf("privacy officer VEX upload: %d", res.StatusCode)
		}
		evs, _ := a.Audit.Events(ctx, audit.Query{ActorID: "u-sec"})
		kinds := map[string]bool{}
		for _, e := range evs {
			kinds[e.Event.Subtype] = true
		}
		for _, k := range []string{"device-sbom", "device-vex", "finding-vex-override", "findings-export", "advisories-reload"} {
			if !kinds[k] {
				t.Errorf("%s was not audited", k)
			}
		}
	})
}

// upload → finding appears → compensating control → queue changes, in a
// real browser, through the pages' own forms.
func TestBrowserDeviceSBOMToQueue(t *testing.T) {
	a := newApp(t, "sqlite")
	withAdvisories(t, a)
	if _, err := a.Assessor.ReloadAdvisories(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	base := a.srv.URL
	sbomPath, _ := filepath.Abs(filepath.Join("testdata", "devices", "pump.cdx.json"))
	var findings, unmatched, queueBefore, queueAfter, status, chart string
	var missing []string
	var rows, rowsAfter int
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signin?next=/office/devices/pump-001"),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, "sec", chromedp.ByID),
		chromedp.SendKeys(`#password`, password, chromedp.ByID),
		chromedp.Submit(`#password`, chromedp.ByID),
		chromedp.WaitVisible(`#device-name`, chromedp.ByID),
		chromedp.Navigate(base+"/office/queue"),
		chromedp.WaitVisible(`#queue-empty`, chromedp.ByID),
		chromedp.Text(`#queue-empty`, &queueBefore, chromedp.ByID),
		chromedp.Navigate(base+"/office/devices/pump-001"),
		chromedp.WaitVisible(`#sbom`, chromedp.ByID),
		chromedp.SetUploadFiles(`#sbom`, []string{sbomPath}, chromedp.ByID),
		chromedp.Submit(`#sbom`, chromedp.ByID),
		chromedp.WaitVisible(`#device-ok`, chromedp.ByID),
		chromedp.Text(`#device-findings`, &findings, chromedp.ByID),
		chromedp.Text(`#unmatched-count`, &unmatched, chromedp.ByID),
		chromedp.Evaluate(unlabelled, &missing),
		chromedp.Navigate(base+"/office/queue"),
		chromedp.WaitVisible(`#queue`, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll('#queue tbody tr').length`, &rows),
		chromedp.OuterHTML(`#exposure-chart`, &chart, chromedp.ByID),
		chromedp.Navigate(base+"/office/devices/pump-001"),
		chromedp.WaitVisible(`#device-findings`, chromedp.ByID),
		// The first finding (highest risk): open its actions, record a
		// network ACL as a compensating control for 30 days.
		chromedp.Click(`#device-findings details summary`, chromedp.ByQuery),
		chromedp.SendKeys(`#f1-control`, "Pump VLAN ACL: only the pump server may connect", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('f1-expires').value = document.getElementById('f1-expires').min`, nil),
		chromedp.Submit(`#f1-control`, chromedp.ByID),
		chromedp.WaitVisible(`#device-ok`, chromedp.ByID),
		chromedp.Text(`#f1 .finding-status`, &status, chromedp.ByQuery),
		chromedp.Navigate(base+"/office/queue"),
		chromedp.WaitVisible(`#queue`, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll('#queue tbody tr').length`, &rowsAfter),
		chromedp.Text(`#queue`, &queueAfter, chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(queueBefore, "Nothing to work") {
		t.Errorf("queue before the upload: %q", queueBefore)
	}
	if !strings.Contains(findings, "PYSEC-2020-102") || !strings.Contains(findings, "known exploited") || !strings.Contains(findings, "CVE-2020-11651") {
		t.Errorf("device findings after the upload: %q", findings)
	}
	if !strings.Contains(unmatched, "3 unmatched") {
		t.Errorf("unmatched components: %q", unmatched)
	}
	if len(missing) != 0 {
		t.Errorf("form controls without a label: %v", missing)
	}
	if rows != 4 || !strings.Contains(chart, "<rect") || !strings.Contains(chart, "Open findings by risk tier per day") {
		t.Errorf("queue after the upload: %d rows, chart %d bytes", rows, len(chart))
	}
	if !strings.Contains(status, "mitigated") || !strings.Contains(status, "Pump VLAN ACL") {
		t.Errorf("finding after the control: %q", status)
	}
	if rowsAfter != 3 {
		t.Errorf("queue after the control: %d rows:\n%s", rowsAfter, queueAfter)
	}
}

package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/devices"
)

const fleetCSV = `id,name,class,manufacturer,model,serial,os,os_end_of_support,zone,care_unit,clinical_function,criticality,owner
pump-001,Infusion pump bay 3,infusion-pump,Acme Medical,InfuseMax 5,SN-1,VxWorks 6.9,2023-12-31,clinical-vlan,Intensive Care,therapy-delivery,life-critical,Biomed
mon-014,Bedside monitor 14,patient-monitor,Heartline,VitalView 3,SN-2,Embedded Linux,,clinical-vlan,Intensive Care,diagnosis-monitoring,high,Biomed
`

func upload(t *testing.T, c *http.Client, url, csv string) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("inventory", "fleet.csv")
	fw.Write([]byte(csv))
	mw.Close()
	req, _ := http.NewRequest("POST", url, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	res.Body.Close()
	return res, b.String()
}

func TestDeviceInventoryPages(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	sec := a.browser(t)
	a.signIn(t, sec, "sec")
	// A bad file: every wrong row named, nothing imported.
	bad := fleetCSV + "x-1,Toaster,toaster,A,B,C,,,clinical-vlan,,none,low,IT\n"
	res, body := upload(t, sec, a.srv.URL+"/office/devices/import", bad)
	if res.StatusCode != 400 || !strings.Contains(body, "line 4") || !strings.Contains(body, "toaster") {
		t.Fatalf("bad upload: %d", res.StatusCode)
	}
	if ds, _ := a.Devices.List(ctx, devices.Filter{}); len(ds) != 0 {
		t.Fatalf("a bad upload wrote %d devices", len(ds))
	}
	res, _ = upload(t, sec, a.srv.URL+"/office/devices/import", fleetCSV)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	res, body = get(t, sec, a.srv.URL+"/office/devices")
	if res.StatusCode != 200 || !strings.Contains(body, "Infusion pump bay 3") || !strings.Contains(body, "1 run an operating system past its end of support") {
		t.Fatalf("fleet page: %d", res.StatusCode)
	}
	res, body = get(t, sec, a.srv.URL+"/office/devices/pump-001")
	if res.StatusCode != 200 || !strings.Contains(body, "past its end of support") || !strings.Contains(body, "SN-1") {
		t.Fatalf("device page: %d", res.StatusCode)
	}
	if res, _ = get(t, sec, a.srv.URL+"/office/devices/nope"); res.StatusCode != 404 {
		t.Fatalf("unknown device: %d", res.StatusCode)
	}
	evs, _ := a.Audit.Events(ctx, audit.Query{ActorID: "u-sec"})
	imported := false
	for _, e := range evs {
		imported = imported || (e.Event.Subtype == "device-import" && e.Event.OutcomeDesc == "2 devices imported from CSV")
	}
	if !imported {
		t.Fatal("the import was not audited")
	}
	// A clinician may not see the inventory; a privacy officer may read it.
	doc := a.browser(t)
	a.signIn(t, doc, "ben")
	if res, _ = get(t, doc, a.srv.URL+"/office/devices"); res.StatusCode != 403 {
		t.Fatalf("clinician: %d", res.StatusCode)
	}
	po := a.browser(t)
	a.signIn(t, po, "privacy")
	if res, _ = get(t, po, a.srv.URL+"/office/devices"); res.StatusCode != 200 {
		t.Fatalf("privacy officer: %d", res.StatusCode)
	}
	if res, _ = upload(t, po, a.srv.URL+"/office/devices/import", fleetCSV); res.StatusCode != 403 {
		t.Fatalf("privacy officer import: %d", res.StatusCode)
	}
}

func TestDeviceAPI(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		tok := apiToken(t, a, "sec")
		call := func(method, path, ctype, body string) (*http.Response, string) {
			req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			return do(t, req)
		}
		res, body := call("POST", "/api/v1/devices/import", "text/csv", fleetCSV+"x,y\n")
		if res.StatusCode != 400 || !strings.Contains(body, `"line":4`) {
			t.Fatalf("bad CSV: %d %s", res.StatusCode, body)
		}
		res, body = call("POST", "/api/v1/devices/import", "text/csv", fleetCSV)
		if res.StatusCode != 200 || !strings.Contains(body, `"imported":2`) {
			t.Fatalf("import: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/api/v1/devices?class=infusion-pump", "", "")
		if res.StatusCode != 200 || !strings.Contains(body, "pump-001") || strings.Contains(body, "mon-014") {
			t.Fatalf("list: %d %s", res.StatusCode, body)
		}
		dev := `{"id":"ws-1","name":"Nurse station PC","class":"workstation","manufacturer":"Dell","model":"OptiPlex","serial":"W1","os":"Windows 10","osEndOfSupport":"2025-10-14T00:00:00Z","zone":"hospital-network","clinicalFunction":"clinical-workflow","criticality":"medium","owner":"Clinical IT"}`
		res, body = call("PUT", "/api/v1/devices/ws-1", "application/json", dev)
		if res.StatusCode != 200 || !strings.Contains(body, `"osEndOfSupport":"2025-10-14T00:00:00Z"`) {
			t.Fatalf("put: %d %s", res.StatusCode, body)
		}
		res, body = call("PUT", "/api/v1/devices/ws-1", "application/json", strings.Replace(dev, "hospital-network", "the moon", 1))
		if res.StatusCode != 400 || !strings.Contains(body, "zone") {
			t.Fatalf("bad zone: %d %s", res.StatusCode, body)
		}
		res, _ = call("PUT", "/api/v1/devices/other", "application/json", dev)
		if res.StatusCode != 400 {
			t.Fatalf("id mismatch: %d", res.StatusCode)
		}
		if d, _ := a.Devices.Get(context.Background(), "ws-1"); d.Zone != "hospital-network" {
			t.Fatalf("a refused update changed the device: %+v", d)
		}
		tok = apiToken(t, a, "ben")
		if res, _ = call("GET", "/api/v1/devices", "", ""); res.StatusCode != 403 {
			t.Fatalf("clinician list: %d", res.StatusCode)
		}
	})
}

func TestVulnerabilityQueue(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	if _, err := a.Devices.ImportCSV(ctx, strings.NewReader(fleetCSV)); err != nil {
		t.Fatal(err)
	}
	pump, _ := a.Devices.Get(ctx, "pump-001")
	mon, _ := a.Devices.Get(ctx, "mon-014")
	exploited := devices.Match{Component: "pkg:generic/openssl@1.0.2", Advisory: "CVE-2016-2107", Ecosystem: "generic", Package: "openssl", Version: "1.0.2",
		FixedVersions: []string{"1.0.2h"}, Input: devices.RiskInput{CVSS: 5.9, HasCVSS: true, KEV: true}, Status: devices.StatusAffected}
	severe := devices.Match{Component: "pkg:generic/busybox@1.20", Advisory: "CVE-2022-48174", Ecosystem: "generic", Package: "busybox", Version: "1.20",
		Input: devices.RiskInput{CVSS: 9.8, HasCVSS: true, EPSS: 0.001}, Status: devices.StatusOpen}
	if err := a.Findings.Reconcile(ctx, pump, []devices.Match{exploited}, "test"); err != nil {
		t.Fatal(err)
	}
	if err := a.Findings.Reconcile(ctx, mon, []devices.Match{severe}, "test"); err != nil {
		t.Fatal(err)
	}
	sec := a.browser(t)
	a.signIn(t, sec, "sec")
	res, body := get(t, sec, a.srv.URL+"/office/queue")
	if res.StatusCode != 200 || !strings.Contains(body, "known to be exploited (CISA KEV)") || strings.Index(body, "CVE-2016-2107") > strings.Index(body, "CVE-2022-48174") {
		t.Fatalf("queue page: %d (the exploited pump finding must come first)", res.StatusCode)
	}
	res, body = get(t, sec, a.srv.URL+"/office/devices/pump-001")
	if res.StatusCode != 200 || !strings.Contains(body, "CVE-2016-2107") {
		t.Fatalf("device findings: %d", res.StatusCode)
	}
	tok := apiToken(t, a, "sec")
	call := func(method, path, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		return do(t, req)
	}
	res, body = call("POST", "/api/v1/devices/pump-001/controls", `{"component":"pkg:generic/openssl@1.0.2","advisory":"CVE-2016-2107","control":"ACL","expires":"2099-01-01T00:00:00Z"}`)
	if res.StatusCode != 400 {
		t.Fatalf("bad control: %d %s", res.StatusCode, body)
	}
	exp := a.Clock().AddDate(0, 0, 30).Format(time.RFC3339)
	res, body = call("POST", "/api/v1/devices/pump-001/controls", `{"component":"pkg:generic/openssl@1.0.2","advisory":"CVE-2016-2107","control":"Pump VLAN ACL: only the pump server","expires":"`+exp+`"}`)
	if res.StatusCode != 204 {
		t.Fatalf("control: %d %s", res.StatusCode, body)
	}
	res, body = call("GET", "/api/v1/findings", "")
	if res.StatusCode != 200 || strings.Contains(body, "CVE-2016-2107") || !strings.Contains(body, "CVE-2022-48174") {
		t.Fatalf("queue after the control: %s", body)
	}
	res, body = call("GET", "/api/v1/findings/export", "")
	if res.StatusCode != 200 || !strings.HasPrefix(body, "device,component") || !strings.Contains(body, "Pump VLAN ACL") || strings.Count(body, "\n") != 3 {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}
}

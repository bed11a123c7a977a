package devices_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
)

var now = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func dev(zone, function, crit, eos string) devices.Device {
	d := devices.Device{ID: "d", Name: "d", Class: "other", Manufacturer: "m", Model: "m", Serial: "s", OS: "OS", Zone: zone, ClinicalFunction: function, Criticality: crit, Owner: "o"}
	if eos != "" {
		d.OSEndOfSupport, _ = time.Parse("2006-01-02", eos)
	}
	return d
}

// The worked examples of docs/devices-risk.md; the doc and this test must
// agree.
func TestClinicalRiskWorkedExamples(t *testing.T) {
	pump := dev("clinical-vlan", "therapy-delivery", "life-critical", "2023-12-31")
	portal := dev("internet-reachable", "phi-store", "high", "")
	pacs := dev("isolated", "phi-store", "high", "")
	workstation := dev("hospital-network", "clinical-workflow", "medium", "")
	for _, c := range []struct {
		name  string
		d     devices.Device
		in    devices.RiskInput
		score int
		tier  string
	}{
		{"KEV, CVSS 6.5, on an unsupported infusion pump", pump, devices.RiskInput{CVSS: 6.5, HasCVSS: true, KEV: true}, 45, "high"},
		{"CVSS 9.8, EPSS 90%, on the internet-facing portal", portal, devices.RiskInput{CVSS: 9.8, HasCVSS: true, EPSS: 0.9}, 56, "high"},
		{"CVSS 9.8, KEV, on the internet-facing portal", portal, devices.RiskInput{CVSS: 9.8, HasCVSS: true, KEV: true}, 58, "high"},
		{"CVSS 9.8, EPSS 0.1%, on an isolated archive", pacs, devices.RiskInput{CVSS: 9.8, HasCVSS: true, EPSS: 0.001}, 8, "low"},
		{"CVSS 7.5, no EPSS, on a workstation", workstation, devices.RiskInput{CVSS: 7.5, HasCVSS: true, EPSS: -1}, 8, "low"},
		{"CVSS 9.8, KEV, on an unsupported internet-facing pump", dev("internet-reachable", "therapy-delivery", "life-critical", "2023-12-31"), devices.RiskInput{CVSS: 9.8, HasCVSS: true, KEV: true}, 100, "critical"},
	} {
		r := devices.ClinicalRisk(c.d, c.in, now)
		if r.Score != c.score || r.Tier != c.tier || len(r.Reasons) < 4 {
			t.Errorf("%s: %+v, want %d %s", c.name, r, c.score, c.tier)
		}
	}
	// The point of the score: a medium CVSS that is exploited on a pump
	// outranks a critical CVSS on an isolated archive; plain CVSS says the
	// opposite.
	a := devices.ClinicalRisk(pump, devices.RiskInput{CVSS: 6.5, HasCVSS: true, KEV: true}, now)
	b := devices.ClinicalRisk(pacs, devices.RiskInput{CVSS: 9.8, HasCVSS: true, EPSS: 0.001}, now)
	if !(a.Score > b.Score && a.PlainCVSS < b.PlainCVSS) {
		t.Fatal("clinical risk should reorder what CVSS alone ranks")
	}
	r := devices.ClinicalRisk(pump, devices.RiskInput{CVSS: 6.5, HasCVSS: true, KEV: true}, now)
	if !strings.Contains(strings.Join(r.Reasons, "; "), "past its end of support") {
		t.Fatalf("reasons: %v", r.Reasons)
	}
}

func TestClinicalRiskIsMonotone(t *testing.T) {
	base := dev("clinical-vlan", "diagnosis-monitoring", "high", "")
	in := devices.RiskInput{CVSS: 7, HasCVSS: true, EPSS: 0.05}
	s := devices.ClinicalRisk(base, in, now).Score
	more := []devices.RiskInput{{CVSS: 8, HasCVSS: true, EPSS: 0.05}, {CVSS: 7, HasCVSS: true, EPSS: 0.5}, {CVSS: 7, HasCVSS: true, KEV: true}}
	for _, m := range more {
		if devices.ClinicalRisk(base, m, now).Score <= s {
			t.Errorf("%+v does not raise the score", m)
		}
	}
	for _, d := range []devices.Device{dev("internet-reachable", "diagnosis-monitoring", "high", ""), dev("clinical-vlan", "therapy-delivery", "high", ""), dev("clinical-vlan", "diagnosis-monitoring", "life-critical", ""), dev("clinical-vlan", "diagnosis-monitoring", "high", "2020-01-01")} {
		if devices.ClinicalRisk(d, in, now).Score <= s {
			t.Errorf("%+v does not raise the score", d)
		}
	}
}

func TestParseEPSS(t *testing.T) {
	in := "#model_version:v2025.03.14,score_date:2026-11-21T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.94358,0.99956\ncve-2020-0001,0.00043,0.1\n"
	e, err := devices.ParseEPSS(strings.NewReader(in))
	if err != nil || len(e) != 2 || e.Lookup("GHSA-x", "CVE-2021-44228") != 0.94358 || e.Lookup("CVE-2020-0001") != 0.00043 || e.Lookup("CVE-1999-1") != -1 {
		t.Fatalf("%v %v", e, err)
	}
	for _, bad := range []string{"", "a,b\n", "cve,epss\nCVE-1,2.5\n", "cve,epss\nnot-a-cve,0.1\n", "cve,epss\nCVE-1\n"} {
		if _, err := devices.ParseEPSS(strings.NewReader(bad)); !fault.Is(err, fault.Invalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseEPSS(f *testing.F) {
	f.Add("cve,epss,percentile\nCVE-2021-44228,0.9,0.99\n")
	f.Add("#c\ncve,epss\n")
	f.Fuzz(func(t *testing.T, in string) {
		e, err := devices.ParseEPSS(strings.NewReader(in))
		if err != nil {
			return
		}
		for id, p := range e {
			if !strings.HasPrefix(id, "CVE-") || p < 0 || p > 1 {
				t.Fatalf("accepted %s %v", id, p)
			}
		}
	})
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/scan"
)

const sharedOSV = "../../../shared/data/osv"

func TestSBOMScanCommand(t *testing.T) {
	if _, err := os.Stat(sharedOSV); err != nil {
		t.Fatalf("the shared OSV data is required: %v", err)
	}
	ctx := context.Background()
	var out, errb bytes.Buffer
	err := run(ctx, []string{"sbom", "scan", "testdata/pump.cdx.json", "--osv", sharedOSV, "--kev", "testdata/kev-small.json", "--vex", "testdata/pump.openvex.json"}, env(nil), &out, &errb)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("open findings must give exit status 1: %v (%s)", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var findings []scan.Finding
	for _, l := range lines[:len(lines)-1] {
		var f scan.Finding
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		findings = append(findings, f)
	}
	var last struct{ Summary scan.Summary }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	s := last.Summary
	if s.Components != 8 || s.Matched+len(s.Unmatched) != s.Components || s.Matched != 5 || s.MatchedByPurl != 5 || len(s.Unmatched) != 3 {
		t.Fatalf("components not all accounted for: %+v", s)
	}
	if s.Findings != len(findings) || s.Open+s.Suppressed != s.Findings || s.Suppressed != 1 || s.KEV != 1 {
		t.Fatalf("summary %+v for %d findings", s, len(findings))
	}
	got := map[string]scan.Finding{}
	for _, f := range findings {
		got[f.Advisory] = f
	}
	if f := got["GO-2021-0052"]; !f.KEV || f.Ecosystem != "Go" || f.Version != "v1.6.0" || len(f.Fixed) == 0 || !strings.Contains(strings.Join(f.Aliases, ","), "CVE-2020-28483") {
		t.Fatalf("gin finding %+v", f)
	}
	if f := got["PYSEC-2019-217"]; !f.Suppressed || f.VEX != "not_affected" || f.VEXJustification != "vulnerable_code_not_in_execute_path" {
		t.Fatalf("jinja2 finding under VEX %+v", f)
	}
	if f := got["RUSTSEC-2021-0003"]; f.Purl != "pkg:cargo/smallvec@1.6.0" {
		t.Fatalf("smallvec finding %+v", f)
	}
	reasons := map[string]string{}
	for _, u := range s.Unmatched {
		reasons[u.Ref] = u.Reason
	}
	if !strings.Contains(reasons["rtos"], "no usable purl or CPE") || !strings.Contains(reasons["openssl"], "CPE only") || !strings.Contains(reasons["left-pad"], `"npm"`) {
		t.Fatalf("unchecked reasons %v", reasons)
	}
	if len(s.VEXUnknownProducts) != 1 || s.VEXUnknownProducts[0] != "CVE-2099-0001: pkg:npm/not-in-this-sbom@1.0.0" {
		t.Fatalf("VEX about unknown products: %v", s.VEXUnknownProducts)
	}
	// The table for a person.
	out.Reset()
	run(ctx, []string{"sbom", "scan", "--format", "table", "--osv", sharedOSV, "testdata/pump.cdx.json"}, env(nil), &out, io.Discard)
	if !strings.Contains(out.String(), "Unmatched (not clean: nobody knows):") || !strings.Contains(out.String(), "GO-2021-0052") {
		t.Fatalf("table:\n%s", out.String())
	}
	// An SBOM with nothing vulnerable: exit 0.
	clean := filepath.Join(t.TempDir(), "clean.json")
	os.WriteFile(clean, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"bom-ref":"r","type":"library","name":"requests","version":"2.31.0","purl":"pkg:pypi/requests@2.31.0"}]}`), 0o644)
	if err := run(ctx, []string{"sbom", "scan", clean, "--osv", sharedOSV}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("clean SBOM: %v", err)
	}
	// Bad input: a clear error and exit status 2.
	broken := filepath.Join(t.TempDir(), "broken.json")
	os.WriteFile(broken, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":`), 0o644)
	for name, args := range map[string][]string{
		"broken SBOM":  {"sbom", "scan", broken, "--osv", sharedOSV},
		"no --osv":     {"sbom", "scan", clean},
		"bad format":   {"sbom", "scan", clean, "--osv", sharedOSV, "--format", "xml"},
		"missing file": {"sbom", "scan", "nope.json", "--osv", sharedOSV},
		"bad VEX":      {"sbom", "scan", clean, "--osv", sharedOSV, "--vex", broken},
		"no verb":      {"sbom"},
	} {
		err := run(ctx, args, env(nil), io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%s: %v (exit %d)", name, err, exitCode(err))
		}
	}
}

// TestSBOMScanBuiltCommand runs the built binary, as a person would, on the
// shared data: exit statuses, JSON lines and the table.
func TestSBOMScanBuiltCommand(t *testing.T) {
	shared := "../../../shared/data"
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("the shared data is required: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "trustward")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	runBin := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	osvDir, kev := filepath.Join(shared, "osv"), filepath.Join(shared, "kev", "known_exploited_vulnerabilities.json")

	// An npm SBOM (no npm advisories loaded): exit 0, and every component
	// listed as unmatched with the reason, none called clean.
	out, stderr, code := runBin("sbom", "scan", filepath.Join(shared, "sbom", "SBOM_juice-shop_v11.1.2_bom.json"), "--osv", osvDir, "--kev", kev, "--format", "json")
	if code != 0 {
		t.Fatalf("juice-shop: exit %d: %s", code, stderr)
	}
	var last struct{ Summary scan.Summary }
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &last); err != nil {
		t.Fatalf("juice-shop output %q: %v", out, err)
	}
	if s := last.Summary; s.Components == 0 || len(s.Unmatched) != s.Components || s.Matched != 0 || s.Index.KEVEntries < 1000 || !strings.Contains(s.Unmatched[0].Reason, `"npm"`) {
		t.Fatalf("juice-shop summary %+v", s)
	}

	// The device SBOM with VEX: exit 1, one JSON object per finding.
	out, stderr, code = runBin("sbom", "scan", "testdata/pump.cdx.json", "--osv", osvDir, "--kev", kev, "--vex", "testdata/pump.openvex.json")
	if code != 1 {
		t.Fatalf("pump: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[:len(lines)-1] {
		var f scan.Finding
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.Advisory == "" || f.Purl == "" || f.Aliases == nil || f.Fixed == nil {
			t.Fatalf("finding line %q: %v", l, err)
		}
	}
	// The table for a person: a header, aligned columns, the unmatched.
	out, _, code = runBin("sbom", "scan", "testdata/pump.cdx.json", "--osv", osvDir, "--format", "table")
	if code != 1 || !strings.HasPrefix(out, "KEV  SEVERITY") || !strings.Contains(out, "Unmatched (not clean: nobody knows):") || !strings.Contains(out, "ThreadX@6.1") {
		t.Fatalf("table (exit %d):\n%s", code, out)
	}

	// Bad input: exit 2, one line naming what is wrong.
	_, stderr, code = runBin("sbom", "scan", filepath.Join(shared, "vex", "Case-1_README.md"), "--osv", osvDir)
	if code != 2 || !strings.Contains(stderr, "Case-1_README.md") {
		t.Fatalf("not an SBOM: exit %d, %q", code, stderr)
	}
	_, stderr, code = runBin("sbom", "scan", "testdata/pump.cdx.json", "--osv", osvDir, "--vex", filepath.Join(shared, "vex", "Case-1_README.md"))
	if code != 2 || !strings.Contains(stderr, "--vex") {
		t.Fatalf("not a VEX document: exit %d, %q", code, stderr)
	}
}

package scan

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trustward/trustward/internal/devices/cpe"
	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/vex"
)

const shared = "../../../../shared/data"

var (
	indexOnce sync.Once
	sharedIx  *osv.Index
	sharedKEV *osv.KEV
	indexErr  error
)

// sharedIndex loads the shared OSV exports and KEV catalog once per run.
func sharedIndex(tb testing.TB) (*osv.Index, *osv.KEV) {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(shared, "osv")); err != nil {
		tb.Fatalf("the shared OSV data is required: %v", err)
	}
	indexOnce.Do(func() {
		if sharedIx, indexErr = osv.LoadDir(context.Background(), filepath.Join(shared, "osv")); indexErr != nil {
			return
		}
		sharedKEV, indexErr = osv.LoadKEV(filepath.Join(shared, "kev", "known_exploited_vulnerabilities.json"))
	})
	if indexErr != nil {
		tb.Fatal(indexErr)
	}
	return sharedIx.WithKEV(sharedKEV), sharedKEV
}

func readVEX(t *testing.T, path string) *vex.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := vex.Parse(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func scanFile(t *testing.T, path string, opts Options) *Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Scan(context.Background(), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The criteria have the shape of NVD's configurations for CVE-2014-0160
// (one criterion per affected OpenSSL version; 1.0.1f shown) and
// CVE-2022-37434 (zlib up to 1.2.12).
func cpeSource(t *testing.T) *CPECriteria {
	t.Helper()
	parse := func(s string) cpe.Name {
		n, err := cpe.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return &CPECriteria{Name: "two NVD criteria (test)", Criteria: []CPECriterion{
		{Advisory: "CVE-2014-0160", Vulnerable: parse("cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"), CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
		{Advisory: "CVE-2022-37434", Vulnerable: parse("cpe:2.3:a:zlib:zlib:*:*:*:*:*:*:*:*"),
			Range: cpe.Range{EndIncluding: "1.2.12"}},
	}}
}

func byAdvisory(res *Result) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range res.Findings {
		m[f.Advisory] = f
	}
	return m
}

func reasons(s Summary) map[string]string {
	m := map[string]string{}
	for _, u := range s.Unmatched {
		m[u.Ref] = u.Reason
	}
	return m
}

func TestScanAccountsForEveryComponent(t *testing.T) {
	ix, kev := sharedIndex(t)
	res := scanFile(t, "testdata/monitor.cdx.json", Options{Index: ix, KEV: kev, VEX: readVEX(t, "testdata/monitor.openvex.json")})
	s := res.Summary
	if s.Components != 12 || s.Matched+len(s.Unmatched) != s.Components {
		t.Fatalf("components %d, matched %d, unmatched %d", s.Components, s.Matched, len(s.Unmatched))
	}
	if s.MatchedByPurl != 5 || s.MatchedByCPE != 0 || s.Affected != 4 {
		t.Fatalf("matched by purl %d, by CPE %d, affected %d", s.MatchedByPurl, s.MatchedByCPE, s.Affected)
	}
	why := reasons(s)
	for ref, want := range map[string]string{
		"rtos":        "no usable purl or CPE",
		"broken":      `purl "pkg:/broken@1" cannot be read`,
		"left-pad":    `"npm"`,
		"nover":       "no version",
		"openssl":     "no CPE advisory source is loaded",
		"openssl-any": "no CPE advisory source is loaded",
		"zlib":        "no CPE advisory source is loaded",
	} {
		if !strings.Contains(why[ref], want) {
			t.Errorf("unmatched %s: reason %q, want it to say %q", ref, why[ref], want)
		}
	}
	if !strings.HasPrefix(s.Index.CPE, "none loaded") {
		t.Errorf("without a CPE source the summary must say so: %q", s.Index.CPE)
	}
	if s.Index.Advisories < 8000 || len(s.Index.ByEcosystem) != 3 || s.Index.KEVEntries != kev.Len() || s.Index.Packages == 0 {
		t.Errorf("index summary %+v", s.Index)
	}

	got := byAdvisory(res)
	// The raw purl is the lookup key: the Go module's capitals are kept, so
	// the advisories (which spell CosmWasm) match.
	if f := got["GO-2025-3448"]; f.Name != "github.com/CosmWasm/wasmvm/v2" || f.MatchedBy != "purl" || f.Purl != "pkg:golang/github.com/CosmWasm/wasmvm/v2@v2.1.0" {
		t.Errorf("wasmvm finding %+v", f)
	}
	// VEX: not_affected suppresses and is reported with its justification;
	// affected and fixed are shown.
	if f := got["PYSEC-2019-217"]; !f.Suppressed || f.VEX != "not_affected" || f.VEXJustification != "vulnerable_code_not_in_execute_path" {
		t.Errorf("jinja2 under not_affected: %+v", f)
	}
	if f := got["PYSEC-2020-35"]; f.Suppressed || f.VEX != "affected" {
		t.Errorf("django under affected: %+v", f)
	}
	if f := got["PYSEC-2021-6"]; f.Suppressed || f.VEX != "fixed" {
		t.Errorf("django under fixed: %+v", f)
	}
	if s.Suppressed != 1 || len(s.SuppressedList) != 1 || !strings.Contains(s.SuppressedList[0], "PYSEC-2019-217 in jinja2@2.10: not_affected (vulnerable_code_not_in_execute_path)") {
		t.Errorf("suppressed %d: %v", s.Suppressed, s.SuppressedList)
	}
	if len(s.VEXUnknownProducts) != 1 || s.VEXUnknownProducts[0] != "CVE-2099-0001: pkg:npm/not-in-this-sbom@1.0.0" {
		t.Errorf("VEX about unknown products: %v", s.VEXUnknownProducts)
	}
	// Counts agree with the findings.
	open, bySev, kevOpen := 0, map[string]int{}, 0
	for _, f := range res.Findings {
		if f.Fixed == nil || f.Aliases == nil {
			t.Errorf("%s: nil list in JSON output", f.Advisory)
		}
		if f.Suppressed {
			continue
		}
		open++
		bySev[f.Severity]++
		if f.KEV {
			kevOpen++
		}
	}
	if s.Findings != len(res.Findings) || s.Open != open || s.Open+s.Suppressed != s.Findings || s.KEV != kevOpen {
		t.Errorf("summary %d findings, %d open, %d KEV; counted %d, %d, %d", s.Findings, s.Open, s.KEV, len(res.Findings), open, kevOpen)
	}
	for sev, n := range bySev {
		if s.OpenBySeverity[sev] != n {
			t.Errorf("severity %s: summary %d, findings %d", sev, s.OpenBySeverity[sev], n)
		}
	}
	if s.Timings.ParseMs <= 0 || s.Timings.ComponentsPerSecond <= 0 {
		t.Errorf("timings %+v", s.Timings)
	}
}

func TestScanSeverityFromCVSS(t *testing.T) {
	for vector, want := range map[string]string{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H":                    "critical",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N":                    "high",
		"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N":                    "low",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N": "unknown",
		"CVSS:3.1/AV:X": "unknown",
		"":              "unknown",
	} {
		if got := rate(vector); got != want {
			t.Errorf("rate(%q) = %q, want %q", vector, got, want)
		}
	}
}

func TestScanCPEPrecisionMode(t *testing.T) {
	ix, kev := sharedIndex(t)
	res := scanFile(t, "testdata/monitor.cdx.json", Options{Index: ix, KEV: kev, CPE: cpeSource(t)})
	s := res.Summary
	if s.Index.CPE != "two NVD criteria (test)" {
		t.Errorf("CPE source %q", s.Index.CPE)
	}
	// openssl 1.0.1f matches Heartbleed (in KEV); zlib 1.3.1 is outside its
	// criterion and is matched clean; the version-less openssl CPE is
	// imprecise and stays unmatched with the matcher's reason.
	if s.MatchedByCPE != 2 || s.Matched+len(s.Unmatched) != s.Components {
		t.Fatalf("matched by CPE %d, matched %d, unmatched %d", s.MatchedByCPE, s.Matched, len(s.Unmatched))
	}
	f, ok := byAdvisory(res)["CVE-2014-0160"]
	if !ok || f.MatchedBy != "cpe" || f.Ref != "openssl" || !f.KEV || f.Severity != "high" || len(f.Fixed) != 0 {
		t.Fatalf("Heartbleed finding %+v", f)
	}
	if res.Findings[0].Advisory != "CVE-2014-0160" {
		t.Errorf("KEV findings come first; first is %s", res.Findings[0].Advisory)
	}
	if _, ok := byAdvisory(res)["CVE-2022-37434"]; ok {
		t.Error("zlib 1.3.1 is outside the criterion's range")
	}
	if why := reasons(s)["openssl-any"]; !strings.Contains(why, "too imprecise") || !strings.Contains(why, "CVE-2014-0160") {
		t.Errorf("version-less CPE: %q", why)
	}
}

func TestScanSharedSBOMs(t *testing.T) {
	ix, kev := sharedIndex(t)
	// The shared SBOMs are Maven, Composer and npm, for which no advisories
	// are loaded, and a hardware BOM: every component must be unmatched
	// with a reason, none silently clean.
	for _, name := range []string{"SBOM_dropwizard-1.3.15_bom.json", "SBOM_dropwizard-1.3.15_bom.xml", "SBOM_laravel-7.12.0_bom.1.4.json", "SBOM_juice-shop_v11.1.2_bom.json", "HBOM_PCIe-SATA-adapter-board_bom.json"} {
		t.Run(name, func(t *testing.T) {
			res := scanFile(t, filepath.Join(shared, "sbom", name), Options{Index: ix, KEV: kev})
			s := res.Summary
			if s.Components == 0 || s.Matched+len(s.Unmatched) != s.Components {
				t.Fatalf("components %d, matched %d, unmatched %d", s.Components, s.Matched, len(s.Unmatched))
			}
			if len(res.Findings) != 0 || s.Matched != 0 {
				t.Fatalf("%d findings, %d matched, with no advisories for the SBOM's ecosystems", len(res.Findings), s.Matched)
			}
			for _, u := range s.Unmatched {
				if u.Reason == "" {
					t.Fatalf("%s unmatched without a reason", u.Component)
				}
			}
		})
	}
}

func TestScanBadInput(t *testing.T) {
	ix, _ := sharedIndex(t)
	for name, doc := range map[string]string{
		"broken JSON":  `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":`,
		"not an SBOM":  `{"hello":"world"}`,
		"broken XML":   `<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components><component>`,
		"empty":        ``,
		"not JSON/XML": "\x00\x01\x02",
	} {
		if _, err := Scan(context.Background(), strings.NewReader(doc), Options{Index: ix}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Scan(context.Background(), strings.NewReader(`{}`), Options{}); err == nil {
		t.Error("no index: no error")
	}
}

// FuzzScan feeds arbitrary SBOM bytes through a scan against a small index
// of real advisories: no panic, and every component accounted for.
func FuzzScan(f *testing.F) {
	for _, p := range []string{"testdata/monitor.cdx.json", filepath.Join(shared, "sbom", "HBOM_PCIe-SATA-adapter-board_bom.json")} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"bom-ref":"a","name":"jinja2","version":"2.10","purl":"pkg:pypi/jinja2@2.10"},{"bom-ref":"a","name":"x","cpe":"cpe:2.3:a:x:y:*:*:*:*:*:*:*:*"}]}`))
	f.Add([]byte("SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: d\nDocumentNamespace: https://example.org/d\nCreator: Tool: t\nCreated: 2026-01-01T00:00:00Z\nPackageName: jinja2\nSPDXID: SPDXRef-p\nPackageVersion: 2.10\nPackageDownloadLocation: NOASSERTION\nExternalRef: PACKAGE-MANAGER purl pkg:pypi/jinja2@2.10\n"))
	ix, err := osv.LoadDir(context.Background(), "../testdata/advisories/osv")
	if err != nil {
		f.Fatal(err)
	}
	src := &CPECriteria{Name: "fuzz"}
	if n, err := cpe.Parse("cpe:2.3:a:x:y:*:*:*:*:*:*:*:*"); err == nil {
		src.Criteria = append(src.Criteria, CPECriterion{Advisory: "CVE-0000-0001", Vulnerable: n, Range: cpe.Range{EndExcluding: "2"}})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Scan(context.Background(), bytes.NewReader(data), Options{Index: ix, CPE: src})
		if err != nil {
			return
		}
		s := res.Summary
		if s.Matched+len(s.Unmatched) != s.Components || s.Open+s.Suppressed != s.Findings || s.Findings != len(res.Findings) {
			t.Fatalf("summary does not add up: %+v", s)
		}
	})
}

// TestSortOrder checks the integer-keyed sort against a stable sort of the
// same findings: KEV first, then package, version and advisory, ties in
// their first order.
func TestSortOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 100, 5000} {
		items := make([]sortItem, n)
		for i := range items {
			items[i] = sortItem{name: fmt.Sprint("p", rng.IntN(5)), version: fmt.Sprint(rng.IntN(3)), advisory: fmt.Sprint("A-", rng.IntN(4)), kev: rng.IntN(10) == 0}
		}
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		slices.SortStableFunc(want, func(i, j int) int {
			a, b := items[i], items[j]
			if a.kev != b.kev {
				if a.kev {
					return -1
				}
				return 1
			}
			return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.version, b.version), strings.Compare(a.advisory, b.advisory))
		})
		if got := sortOrder(items); !slices.Equal(got, want) {
			t.Fatalf("n=%d: order %v, want %v", n, got[:min(n, 20)], want[:min(n, 20)])
		}
	}
}

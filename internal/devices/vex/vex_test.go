package vex_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/devices/sbom"
	"github.com/trustward/trustward/internal/devices/vex"
	"github.com/trustward/trustward/internal/fault"
)

const sharedVEX = "../../../../shared/data/vex"

func sharedPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedVEX, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s in %s (the shared data folder is absent)", name, sharedVEX)
	}
	return p
}

func parseFile(t testing.TB, path string) *vex.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := vex.Parse(context.Background(), f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

var march2022 = time.Date(2022, 3, 3, 0, 0, 0, 0, time.UTC)

// TestEverySharedFile reads every JSON file of the shared VEX folder (VEX
// documents and the SBOMs they pair with): each must parse, every
// statement must have a vulnerability, a known status and a product, and
// no statement may be skipped.
func TestEverySharedFile(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedVEX, "*.json"))
	if len(files) == 0 {
		t.Skipf("no VEX files in %s (the shared data folder is absent)", sharedVEX)
	}
	if len(files) != 15 {
		t.Errorf("%d JSON files, want 15 (the shared folder changed)", len(files))
	}
	total := 0
	for _, name := range files {
		doc := parseFile(t, name)
		if doc.Format != vex.CycloneDX || doc.SpecVersion != "1.4" {
			t.Errorf("%s: %s %s", name, doc.Format, doc.SpecVersion)
		}
		for _, s := range doc.Statements {
			if s.Vulnerability.ID == "" || len(s.Products) == 0 {
				t.Errorf("%s: incomplete statement %+v", name, s)
			}
			switch s.Status {
			case vex.NotAffected, vex.Affected, vex.Fixed, vex.UnderInvestigation:
			default:
				t.Errorf("%s: status %q", name, s.Status)
			}
		}
		for _, p := range doc.Problems {
			if p.Kind == vex.Skipped || p.Kind == vex.BadIdentifier || p.Kind == vex.UnknownRef || p.Kind == vex.Contradiction {
				t.Errorf("%s: %v", name, p)
			}
		}
		total += len(doc.Statements)
	}
	// 4 (Case 1) + 19 + 19 + 1 + 1 + 2 + 4 + 8 statements.
	if total != 58 {
		t.Errorf("%d statements in all, want 58", total)
	}
}

// TestCase1 covers the four CISA statuses, one file each.
func TestCase1(t *testing.T) {
	tests := []struct {
		file, product string
		status        vex.Status
		justification string
		action        string
		responses     []string
	}{
		{"Case-1_vex-affected.json", "product-DEF", vex.Affected, "", "Customers are advised to upgrade", []string{"will_not_fix", "update"}},
		{"Case-1_vex-fixed.json", "product-DEF", vex.Fixed, "", "", nil},
		{"Case-1_vex-not_affected.json", "product-ABC", vex.NotAffected, "code_not_present", "", []string{"will_not_fix"}},
		{"Case-1_vex-under_investigation.json", "product-GHI", vex.UnderInvestigation, "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			doc := parseFile(t, sharedPath(t, tc.file))
			if len(doc.Statements) != 1 || len(doc.Problems) != 0 {
				t.Fatalf("%d statements, problems %v", len(doc.Statements), doc.Problems)
			}
			s, ok := doc.Index().For("CVE-2021-44228", tc.product)
			if !ok {
				t.Fatal("no statement for the product")
			}
			if s.Status != tc.status || s.Justification != tc.justification || !slices.Equal(s.Responses, tc.responses) ||
				!strings.Contains(s.ActionStatement, tc.action) || !s.Timestamp.Equal(march2022) || s.ImpactStatement == "" {
				t.Errorf("statement %+v", s)
			}
			if tc.action == "" && s.ActionStatement != "" {
				t.Errorf("action %q for a %s statement", s.ActionStatement, s.Status)
			}
			if _, ok := doc.Index().For("CVE-2021-44228", "product-XYZ"); ok {
				t.Error("a statement for another product")
			}
			if _, ok := doc.Index().For("CVE-2021-45046", tc.product); ok {
				t.Error("a statement for another vulnerability")
			}
		})
	}
}

func countStatuses(doc *vex.Document) map[vex.Status]int {
	m := map[vex.Status]int{}
	for _, s := range doc.Statements {
		m[s.Status]++
	}
	return m
}

func TestCases2And3(t *testing.T) {
	doc := parseFile(t, sharedPath(t, "Case-2_vex.json"))
	if got := countStatuses(doc); got[vex.NotAffected] != 19 || len(got) != 1 {
		t.Errorf("case 2: %v", got)
	}
	for _, s := range doc.Statements {
		if s.Justification != "code_not_reachable" {
			t.Errorf("case 2: %s justification %q", s.Vulnerability.ID, s.Justification)
		}
	}
	doc = parseFile(t, sharedPath(t, "Case-3_vex.json"))
	want := map[vex.Status][]string{
		vex.NotAffected:        {"CVE-2020-11897", "CVE-2020-11899", "CVE-2020-11902", "CVE-2020-11905", "CVE-2020-11906", "CVE-2020-11913"},
		vex.Affected:           {"CVE-2020-11898", "CVE-2020-11907", "CVE-2020-11909", "CVE-2020-11910", "CVE-2020-11911"},
		vex.UnderInvestigation: {"CVE-2020-11896", "CVE-2020-11900", "CVE-2020-11903", "CVE-2020-11904", "CVE-2020-11908"},
		vex.Fixed:              {"CVE-2020-11901", "CVE-2020-11912", "CVE-2020-11914"},
	}
	ix := doc.Index()
	for status, ids := range want {
		for _, id := range ids {
			if s, ok := ix.For(id, "product-GHI"); !ok || s.Status != status {
				t.Errorf("case 3: %s is %v (%v), want %s", id, s.Status, ok, status)
			}
		}
	}
}

// lookups checks Find with a version against a table.
func lookups(t *testing.T, ix *vex.Statements, vuln, key string, table map[string]vex.Status) {
	t.Helper()
	for ver, want := range table {
		s, ok := ix.Find(vex.Query{Vulnerability: vuln, Component: []string{key}, Version: ver})
		switch {
		case want == "" && ok:
			t.Errorf("%s %s@%s: %s, want no statement", vuln, key, ver, s.Status)
		case want != "" && (!ok || s.Status != want):
			t.Errorf("%s %s@%s: %v (found %v), want %s", vuln, key, ver, s.Status, ok, want)
		}
	}
}

func TestCases4To6Versions(t *testing.T) {
	ix := parseFile(t, sharedPath(t, "Case-4_vex.json")).Index()
	lookups(t, ix, "CVE-2021-44228", "product-ABC", map[string]vex.Status{
		"2.4": vex.Affected, "2.6": vex.Affected, "2.9": vex.Affected, "3.5": vex.Affected, "4.1": vex.Affected,
		"2.5": "", "4.2": "", "1.0": "", "": "", // no version: a versioned statement cannot be applied
	})
	ix = parseFile(t, sharedPath(t, "Case-5_vex.json")).Index()
	lookups(t, ix, "CVE-2021-44228", "product-XYZ", map[string]vex.Status{"1.0": vex.UnderInvestigation, "": vex.UnderInvestigation})
	ix = parseFile(t, sharedPath(t, "Case-6_vex.json")).Index()
	lookups(t, ix, "CVE-2021-44228", "product-ABC", map[string]vex.Status{
		"1.0": vex.NotAffected, "1.5": vex.NotAffected, "2.3": vex.NotAffected, "2.4": vex.Affected, "2.5": vex.NotAffected,
		"2.6": vex.Affected, "2.7": vex.NotAffected, "2.8": vex.NotAffected, "2.9": vex.Affected, "4.1": vex.Affected,
		"4.2": vex.NotAffected, "5.0": "", "0.9": "",
	})
}

// sbomKeys returns every identifier of an SBOM's subject and components:
// refs, BOM-Links and purls.
func sbomKeys(t *testing.T, files ...string) []string {
	t.Helper()
	var keys []string
	for _, name := range files {
		f, err := os.Open(sharedPath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := sbom.Parse(context.Background(), f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		all := doc.Components
		if doc.Subject != nil {
			all = append(all, *doc.Subject)
		}
		for _, c := range all {
			keys = append(keys, c.Ref, doc.BOMLink(c.Ref), c.Purl)
		}
	}
	return keys
}

// TestCases7And8WithSBOMs pairs each VEX with its SBOMs through BOM-Links
// built from the SBOMs themselves.
func TestCases7And8WithSBOMs(t *testing.T) {
	abc := sbomKeys(t, "Case-7_bom-1.json")
	jkl := sbomKeys(t, "Case-7_bom-2.json")
	linkABC, linkJKL := abc[1], jkl[1]
	if linkABC != "urn:cdx:cbb2cd68-2857-43b8-a10b-e8c03d277d18/1#product-ABC" || linkJKL != "urn:cdx:e4c3eedc-4978-470c-ad02-6ffff63738ff/1#product-JKL" {
		t.Fatalf("BOM-Links %q %q", linkABC, linkJKL)
	}
	doc7 := parseFile(t, sharedPath(t, "Case-7_vex.json"))
	ix := doc7.Index()
	lookups(t, ix, "CVE-2021-44228", linkABC, map[string]vex.Status{"2.4": vex.Affected, "2.5": vex.NotAffected, "4.2": vex.NotAffected, "3.0": vex.Affected})
	lookups(t, ix, "CVE-2021-44228", linkJKL, map[string]vex.Status{"1.0": vex.NotAffected, "4.4": vex.NotAffected, "4.5": vex.Affected, "5.0": vex.Affected, "5.1": vex.Fixed, "5.2": ""})
	// The bare bom-ref does not match a BOM-Link: bom-refs are unique only
	// within their BOM.
	if _, ok := ix.Find(vex.Query{Vulnerability: "CVE-2021-44228", Component: []string{"product-JKL"}, Version: "4.5"}); ok {
		t.Error("a bare bom-ref matched a BOM-Link")
	}
	// A BOM-Link with a percent-encoded fragment and an upper-case serial is
	// the same link.
	if s, ok := ix.Find(vex.Query{Vulnerability: "cve-2021-44228", Component: []string{"urn:cdx:E4C3EEDC-4978-470C-AD02-6FFFF63738FF/1#product%2DJKL"}, Version: "4.6"}); !ok || s.Status != vex.Affected {
		t.Errorf("normalised BOM-Link: %v %v", s.Status, ok)
	}
	// Case 7 gives no timestamps: each statement is reported, none dropped.
	noTime := 0
	for _, p := range doc7.Problems {
		if p.Kind == vex.Incomplete && strings.Contains(p.Detail, "no timestamp") {
			noTime++
		}
	}
	if noTime != 4 || len(doc7.Problems) != 4 {
		t.Errorf("problems %v", doc7.Problems)
	}
	// With only ABC's SBOM, the statements about JKL are about an unknown
	// product, and are reported.
	unknown := ix.UnknownProducts(abc)
	if len(unknown) != 3 {
		t.Fatalf("%d unknown products, want 3 (JKL affected, not affected, fixed): %+v", len(unknown), unknown)
	}
	for _, u := range unknown {
		if u.Product.Ref != linkJKL {
			t.Errorf("unknown %+v", u)
		}
	}
	if u := ix.UnknownProducts(append(abc, jkl...)); len(u) != 0 {
		t.Errorf("with both SBOMs: unknown %+v", u)
	}

	ix = parseFile(t, sharedPath(t, "Case-8_vex.json")).Index()
	lookups(t, ix, "CVE-2021-44228", linkJKL, map[string]vex.Status{"5.1": vex.Fixed, "5.2": vex.Fixed, "4.9": vex.Affected})
	// CVE-2021-45105 reaches JKL 5.1; for 5.2 the document says both
	// not_affected and resolved, with no timestamps: the later statement
	// (resolved) wins.
	lookups(t, ix, "CVE-2021-45105", linkJKL, map[string]vex.Status{"5.1": vex.Affected, "5.2": vex.Fixed, "3.0": vex.NotAffected})
	lookups(t, ix, "CVE-2021-45105", linkABC, map[string]vex.Status{"2.6": vex.Affected, "2.7": vex.NotAffected})
}

func openVEX(t *testing.T) (*vex.Document, *vex.Statements) {
	doc := parseFile(t, "testdata/openvex-v0.2.0.json")
	return doc, doc.Index()
}

func TestOpenVEXDocument(t *testing.T) {
	doc, ix := openVEX(t)
	if doc.Format != vex.OpenVEX || doc.SpecVersion != "v0.2.0" || doc.Version != 3 || doc.ID != "https://vex.example.org/acme/monitor/2024-0001" ||
		!doc.Timestamp.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("document %+v", doc)
	}
	if ix.Len() != 8 {
		t.Errorf("%d statements, want 8 (two skipped)", ix.Len())
	}
	var got []string
	for _, p := range doc.Problems {
		got = append(got, string(p.Kind)+" "+p.Vulnerability)
	}
	want := []string{
		"incomplete CVE-2024-0003",     // not_affected with neither justification nor impact
		"incomplete CVE-2024-0004",     // a CycloneDX justification in OpenVEX
		"bad-identifier CVE-2024-0004", // "pkg:"
		"skipped CVE-2024-0005",        // an unknown status
		"skipped ",                     // no vulnerability
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems %v\nwant %v", doc.Problems, want)
	}
	s, ok := ix.For("GHSA-JFH8-C2JP-5V3Q", "pkg:generic/acme/monitor-firmware@7.1.3")
	if !ok || s.Status != vex.NotAffected || s.Justification != "vulnerable_code_not_in_execute_path" ||
		!slices.Equal(s.Vulnerability.Aliases, []string{"GHSA-jfh8-c2jp-5v3q"}) || s.Source.Index != 0 || !s.Timestamp.Equal(doc.Timestamp) {
		t.Errorf("by alias: %+v %v", s, ok)
	}
}

// TestPurlRule is the documented purl matching rule, case by case.
func TestPurlRule(t *testing.T) {
	_, ix := openVEX(t)
	tests := []struct {
		vuln, key string
		want      vex.Status
	}{
		// Statement purl without version or qualifiers: every version, any qualifiers.
		{"CVE-2024-0001", "pkg:npm/left-pad@1.3.0", vex.NotAffected},
		{"CVE-2024-0001", "pkg:npm/left-pad", vex.NotAffected},
		{"CVE-2024-0001", "pkg:npm/left-pad@0.0.1?repository_url=registry.example.org", vex.NotAffected},
		{"CVE-2024-0001", "pkg:npm/right-pad@1.3.0", ""},
		{"CVE-2024-0001", "pkg:pypi/left-pad@1.3.0", ""},
		// Statement purl with a version and a qualifier: that version, that qualifier.
		{"CVE-2023-0286", "pkg:deb/debian/openssl@1.1.1n-0+deb11u3?arch=amd64", vex.Affected},
		{"CVE-2023-0286", "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?distro=debian-11&arch=amd64", vex.Affected},
		{"CVE-2023-0286", "pkg:deb/debian/openssl@1.1.1n-0+deb11u3?arch=arm64", ""},
		{"CVE-2023-0286", "pkg:deb/debian/openssl@1.1.1n-0+deb11u3", ""},
		{"CVE-2023-0286", "pkg:deb/debian/openssl@1.1.1n-0+deb11u4?arch=amd64", ""},
		{"CVE-2023-0286", "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64", vex.Fixed},
		{"CVE-2023-0286", "pkg:deb/debian/openssl", ""},
		// The same product by its CPE, in either binding, and by its @id.
		{"CVE-2023-0286", "cpe:2.3:a:openssl:openssl:1.1.1n:*:*:*:*:*:*:*", vex.Affected},
		{"CVE-2023-0286", "cpe:/a:openssl:openssl:1.1.1n", vex.Affected},
		{"CVE-2023-0286", "cpe:2.3:a:openssl:openssl:1.1.1o:*:*:*:*:*:*:*", ""},
		{"CVE-2023-0286", "https://vex.example.org/acme/products/monitor-openssl-1.1", vex.Affected},
		{"CVE-2024-0002", "cpe:2.3:o:acme:monitor_os:7.1:*:*:*:*:*:*:*", vex.Affected},
		{"CVE-2024-0002", "cpe:2.3:o:acme:monitor_os:7.1:*:*:*:*:*:arm:*", vex.Affected}, // ANY in the statement covers a value
		{"CVE-2024-0002", "cpe:2.3:o:acme:monitor_os:7.2:*:*:*:*:*:*:*", ""},
		// Keys that do not parse match nothing.
		{"CVE-2024-0001", "pkg:", ""},
		{"CVE-2024-0002", "cpe:2.3:o:acme", ""},
	}
	for _, tc := range tests {
		s, ok := ix.For(tc.vuln, tc.key)
		if tc.want == "" {
			if ok {
				t.Errorf("%s %s: %s, want none", tc.vuln, tc.key, s.Status)
			}
			continue
		}
		if !ok || s.Status != tc.want {
			t.Errorf("%s %s: %v (%v), want %s", tc.vuln, tc.key, s.Status, ok, tc.want)
		}
	}
}

// TestLatestStatementWins: the later timestamp wins whatever the order in
// the document.
func TestLatestStatementWins(t *testing.T) {
	_, ix := openVEX(t)
	s, ok := ix.For("CVE-2024-0001", "pkg:npm/left-pad@1.3.0")
	if !ok || s.Status != vex.NotAffected || s.Source.Index != 3 {
		t.Errorf("%+v", s)
	}
	// A newer document overrides: under_investigation, later.
	later := []vex.Statement{{
		Vulnerability: vex.Vulnerability{ID: "CVE-2024-0001"},
		Products:      []vex.Product{{Purl: "pkg:npm/left-pad@1.3.0"}},
		Status:        vex.UnderInvestigation,
		Timestamp:     time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC),
	}}
	both := vex.NewStatements(ix.All(), later)
	if s, _ := both.For("CVE-2024-0001", "pkg:npm/left-pad@1.3.0"); s.Status != vex.UnderInvestigation {
		t.Errorf("newer statement lost: %s", s.Status)
	}
	if s, _ := both.For("CVE-2024-0001", "pkg:npm/left-pad@1.2.0"); s.Status != vex.NotAffected {
		t.Errorf("the newer statement is about 1.3.0 only: %s", s.Status)
	}
}

// TestSubcomponents: a statement naming a product and a subcomponent
// applies to the subcomponent only inside that product.
func TestSubcomponents(t *testing.T) {
	_, ix := openVEX(t)
	const log4j = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
	const firmware = "pkg:generic/acme/monitor-firmware@7.1.3"
	if s, ok := ix.Find(vex.Query{Vulnerability: "CVE-2021-44228", Component: []string{log4j}, Product: []string{firmware}}); !ok || s.Status != vex.NotAffected {
		t.Errorf("inside the firmware: %v %v", s.Status, ok)
	}
	if _, ok := ix.Find(vex.Query{Vulnerability: "CVE-2021-44228", Component: []string{log4j}, Product: []string{"pkg:generic/acme/ventilator-firmware@2.0"}}); ok {
		t.Error("the statement applied inside another device")
	}
	if _, ok := ix.For("CVE-2021-44228", log4j); ok {
		t.Error("the statement applied to log4j outside any product")
	}
	if _, ok := ix.Find(vex.Query{Vulnerability: "CVE-2021-44228", Component: []string{"pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1"}, Product: []string{firmware}}); ok {
		t.Error("the statement applied to a component it does not list")
	}
	// A statement about a whole product (no subcomponents) covers every
	// component of it.
	if s, ok := ix.Find(vex.Query{Vulnerability: "CVE-2024-0002", Component: []string{"pkg:generic/busybox@1.36"}, Product: []string{"cpe:2.3:o:acme:monitor_os:7.1:*:*:*:*:*:*:*"}}); !ok || s.Status != vex.Affected {
		t.Errorf("whole product: %v %v", s.Status, ok)
	}
}

func TestOpenVEXLegacy(t *testing.T) {
	doc := parseFile(t, "testdata/openvex-v0.0.1.json")
	if doc.SpecVersion != "v0.0.1" || doc.Version != 1 || len(doc.Statements) != 1 || len(doc.Problems) != 0 {
		t.Fatalf("%+v", doc)
	}
	s := doc.Statements[0]
	if len(s.Products) != 2 || s.Products[1].Purl != "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64" ||
		len(s.Products[0].Subcomponents) != 1 || s.Timestamp.IsZero() {
		t.Errorf("%+v", s)
	}
	ix := doc.Index()
	if s, ok := ix.Find(vex.Query{Vulnerability: "CVE-2023-12345", Component: []string{"pkg:golang/github.com/example/lib@v1.0.0"},
		Product: []string{"pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"}}); !ok || s.Status != vex.Fixed {
		t.Errorf("legacy subcomponent: %v", ok)
	}
}

// TestCycloneDXContradictions: version statuses that disagree with the
// analysis are resolved towards caution, split into statements, and
// reported; refs that name nothing are reported and kept.
func TestCycloneDXContradictions(t *testing.T) {
	in := `{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:11111111-2222-4333-8444-555555555555","version":1,
	"metadata":{"timestamp":"2024-01-01T00:00:00Z"},
	"components":[{"type":"library","bom-ref":"lib","name":"lib","purl":"pkg:npm/lib"},
	              {"type":"library","bom-ref":"cpe-only","name":"os","cpe":"cpe:2.3:o:acme:os:1.0:*:*:*:*:*:*:*"}],
	"vulnerabilities":[
	 {"id":"CVE-2024-1000","references":[{"id":"GHSA-aaaa-bbbb-cccc"}],
	  "analysis":{"state":"not_affected","justification":"code_not_reachable","detail":"not reachable","lastUpdated":"2024-02-01T00:00:00Z"},
	  "affects":[{"ref":"lib","versions":[{"version":"1.0.0","status":"unaffected"},{"version":"1.1.0","status":"affected"},{"range":"vers:npm/>=2.0.0|<3.0.0","status":"unknown"},{"range":"not a range"}]}]},
	 {"id":"CVE-2024-1001","analysis":{"state":"exploitable"},"recommendation":"Upgrade to 2.0.","affects":[{"ref":"ghost"},{"ref":"cpe-only"}]},
	 {"id":"CVE-2024-1002","affects":[{"ref":"lib"}]},
	 {"id":"CVE-2024-1003","analysis":{"state":"whatever"},"affects":[{"ref":"lib"}]}
	]}`
	doc, err := vex.Parse(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, p := range doc.Problems {
		kinds = append(kinds, string(p.Kind)+" "+p.Vulnerability)
	}
	want := []string{
		"contradiction CVE-2024-1000",  // 1.1.0 affected under not_affected
		"contradiction CVE-2024-1000",  // the range unknown under not_affected
		"bad-identifier CVE-2024-1000", // "not a range"
		"unknown-ref CVE-2024-1001",    // ghost
		"skipped CVE-2024-1002",        // no analysis
		"skipped CVE-2024-1003",        // unknown state
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("problems %v\nwant %v", doc.Problems, want)
	}
	ix := doc.Index()
	q := func(vuln, key, ver string) vex.Status {
		s, ok := ix.Find(vex.Query{Vulnerability: vuln, Component: []string{key}, Version: ver})
		if !ok {
			return ""
		}
		return s.Status
	}
	for _, tc := range []struct {
		vuln, key, ver string
		want           vex.Status
	}{
		{"CVE-2024-1000", "lib", "1.0.0", vex.NotAffected},
		{"CVE-2024-1000", "lib", "1.1.0", vex.Affected},
		{"CVE-2024-1000", "lib", "2.5.0", vex.UnderInvestigation},
		{"CVE-2024-1000", "lib", "3.0.0", ""},
		{"GHSA-aaaa-bbbb-cccc", "pkg:npm/lib@1.0.0", "", vex.NotAffected}, // alias, and the component's purl from the document
		{"CVE-2024-1000", "pkg:npm/lib@2.1.0", "", vex.UnderInvestigation},
		{"CVE-2024-1001", "ghost", "", vex.Affected},
		{"CVE-2024-1001", "cpe:2.3:o:acme:os:1.0:*:*:*:*:*:*:*", "", vex.Affected},
		{"CVE-2024-1002", "lib", "1.0.0", ""},
	} {
		if got := q(tc.vuln, tc.key, tc.ver); got != tc.want {
			t.Errorf("%s %s %s: %q, want %q", tc.vuln, tc.key, tc.ver, got, tc.want)
		}
	}
	s, _ := ix.Find(vex.Query{Vulnerability: "CVE-2024-1000", Component: []string{"lib"}, Version: "1.1.0"})
	if s.Justification != "" || s.ActionStatement != "not reachable" {
		t.Errorf("an affected split must not carry the not_affected justification: %+v", s)
	}
	s, _ = ix.For("CVE-2024-1001", "ghost")
	if s.ActionStatement != "Upgrade to 2.0." || !s.Timestamp.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("%+v", s)
	}
}

func TestCycloneDXXML(t *testing.T) {
	in := `<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <components><component type="library" bom-ref="lib"><name>lib</name><purl>pkg:npm/lib@1.0.0</purl></component></components>
  <vulnerabilities>
    <vulnerability>
      <id>CVE-2024-2000</id>
      <analysis><state>not_affected</state><justification>code_not_present</justification><detail>removed</detail><lastUpdated>2024-03-01T00:00:00Z</lastUpdated></analysis>
      <affects><target><ref>lib</ref><versions><version><version>1.0.0</version><status>unaffected</status></version></versions></target></affects>
    </vulnerability>
  </vulnerabilities>
</bom>`
	doc, err := vex.Parse(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := doc.Index().For("CVE-2024-2000", "pkg:npm/lib@1.0.0")
	if !ok || s.Status != vex.NotAffected || s.Justification != "code_not_present" || len(doc.Problems) != 0 || doc.SpecVersion != "1.4" {
		t.Fatalf("%+v %v %v", s, ok, doc.Problems)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
		msg      string
	}{
		{"empty", "", vex.ErrUnsupported, "empty"},
		{"text", "CVE-2021-44228 is fine", vex.ErrUnsupported, "neither JSON nor XML"},
		{"other JSON", `{"hello": "world"}`, vex.ErrUnsupported, "neither OpenVEX"},
		{"SPDX", `{"bomFormat": "SPDX"}`, vex.ErrUnsupported, `"SPDX"`},
		{"broken JSON", "{\"@context\": \"https://openvex.dev/ns/v0.2.0\",\n \"statements\": [}", vex.ErrMalformed, "line 2"},
		{"type", `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": "none"}`, vex.ErrMalformed, "line 1"},
		{"other XML", `<project/>`, vex.ErrUnsupported, "not a CycloneDX"},
		{"bad CycloneDX version", `{"bomFormat": "CycloneDX", "specVersion": "2.0"}`, vex.ErrUnsupported, "specVersion"},
		{"too large", "{" + strings.Repeat(" ", vex.MaxBytes) + "}", vex.ErrTooLarge, "larger than 16 MiB"},
	}
	for _, tc := range tests {
		doc, err := vex.Parse(context.Background(), strings.NewReader(tc.in))
		if doc != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, doc, err, tc.want)
			continue
		}
		if msg := fault.Message(err); !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: message %q does not contain %q", tc.name, msg, tc.msg)
		}
	}
}

package osv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/devices/version"
)

const (
	sharedOSV = "../../../../shared/data/osv"
	sharedKEV = "../../../../shared/data/kev/known_exploited_vulnerabilities.json"
)

// shared loads the real OSV exports and the KEV catalog once per test run.
var shared = sync.OnceValues(func() (*osv.Index, error) {
	ix, err := osv.LoadDir(context.Background(), sharedOSV)
	if err != nil {
		return nil, err
	}
	kev, err := osv.LoadKEV(sharedKEV)
	if err != nil {
		return nil, err
	}
	return ix.WithKEV(kev), nil
})

func sharedIndex(t testing.TB) *osv.Index {
	t.Helper()
	if _, err := os.Stat(sharedOSV); errors.Is(err, os.ErrNotExist) {
		t.Skipf("no OSV data at %s (the shared data folder is absent)", sharedOSV)
	}
	ix, err := shared()
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func affectedIDs(t *testing.T, fs []osv.Finding) []string {
	t.Helper()
	var ids []string
	for _, f := range fs {
		if f.Status != osv.StatusAffected {
			t.Errorf("unexpected %s finding: %v", f.Status, f.Err)
			continue
		}
		ids = append(ids, f.Advisory.ID)
	}
	return ids
}

func find(fs []osv.Finding, id string) *osv.Finding {
	for i := range fs {
		if fs[i].Advisory != nil && fs[i].Advisory.ID == id {
			return &fs[i]
		}
	}
	return nil
}

func TestLoadSharedData(t *testing.T) {
	ix := sharedIndex(t)
	st := ix.Stats()
	// 4,291 Go + 1,206 crates.io + 2,661 PyPI records, of which 17, 13 and
	// 10 are withdrawn (counted from the zips).
	if st.Advisories+st.Withdrawn != 8158 || st.Withdrawn != 40 {
		t.Errorf("stats %+v, want 8118 indexed and 40 withdrawn", st)
	}
	for eco, want := range map[string]int{"Go": 4274, "crates.io": 1193, "PyPI": 2651} {
		if st.ByEcosystem[eco] != want {
			t.Errorf("%s: %d advisories, want %d", eco, st.ByEcosystem[eco], want)
		}
	}
	for _, p := range ix.Problems() {
		t.Errorf("problem in the shared data: %v", p)
	}
}

// The expected advisories below were read from the advisory files
// themselves (Go/all.zip, PyPI/all.zip, crates.io/all.zip).
func TestMatchGo(t *testing.T) {
	ix := sharedIndex(t)
	tests := []struct {
		name, version string
		want          []string // exactly these
		fixed         map[string]string
	}{
		// GO-2020-0001 <1.6.0, GO-2021-0052 <1.7.7, GO-2023-1737 from the
		// 1.3.1-0.20190301021747 pseudo-version to <1.9.1.
		{"github.com/gin-gonic/gin", "v1.5.0", []string{"GO-2020-0001", "GO-2021-0052", "GO-2023-1737"},
			map[string]string{"GO-2020-0001": "1.6.0", "GO-2021-0052": "1.7.7", "GO-2023-1737": "1.9.1"}},
		{"github.com/gin-gonic/gin", "v1.3.0", []string{"GO-2020-0001", "GO-2021-0052"}, nil},
		{"github.com/gin-gonic/gin", "1.3.1-0.20190301021747-ccb9e902956d", []string{"GO-2020-0001", "GO-2021-0052", "GO-2023-1737"}, nil},
		{"github.com/gin-gonic/gin", "v1.7.7", []string{"GO-2023-1737"}, nil},
		{"github.com/gin-gonic/gin", "v1.9.1", nil, nil},
		// golang.org/x/net v0.17.0: fixed in 0.17.0 (GO-2023-2102) is not
		// affected; the 14 fixed later are.
		{"golang.org/x/net", "v0.17.0", []string{"GO-2024-2687", "GO-2024-3333", "GO-2025-3503", "GO-2025-3595",
			"GO-2026-4440", "GO-2026-4441", "GO-2026-4918", "GO-2026-5025", "GO-2026-5026", "GO-2026-5027",
			"GO-2026-5028", "GO-2026-5029", "GO-2026-5030", "GO-2026-5942"}, map[string]string{"GO-2024-2687": "0.23.0"}},
	}
	for _, tt := range tests {
		fs := ix.Match("Go", tt.name, tt.version)
		if got := affectedIDs(t, fs); !slices.Equal(got, tt.want) {
			t.Errorf("%s@%s: %v, want %v", tt.name, tt.version, got, tt.want)
		}
		for id, fix := range tt.fixed {
			if f := find(fs, id); f == nil || !slices.Equal(f.Fixed, []string{fix}) || !f.InRange || f.Listed {
				t.Errorf("%s@%s %s: %+v, want fixed in %s, by range", tt.name, tt.version, id, f, fix)
			}
		}
	}

	// A pseudo-version equal to a fix is not affected by it, and one just
	// before a fix is: at v0.0.0-20190125091013-d26f9f9a57f3 (GO-2020-0014's
	// fix) 23 of the 30 x/net advisories apply.
	fs := ix.Match("Go", "golang.org/x/net", "v0.0.0-20190125091013-d26f9f9a57f3")
	ids := affectedIDs(t, fs)
	if len(ids) != 23 || slices.Contains(ids, "GO-2020-0014") || slices.Contains(ids, "GO-2022-0197") ||
		!slices.Contains(ids, "GO-2021-0238") || !slices.Contains(ids, "GO-2022-0969") || slices.Contains(ids, "GO-2023-1495") {
		t.Errorf("x/net at GO-2020-0014's fix: %d findings %v", len(ids), ids)
	}
	if ids := affectedIDs(t, ix.Match("Go", "golang.org/x/net", "v0.0.0-20190125002852-4b62a64f59f7")); !slices.Contains(ids, "GO-2020-0014") {
		t.Errorf("x/net just before GO-2020-0014's fix: %v", ids)
	}

	// Aliases are kept: GO-2022-0969 is CVE-2022-27664 and GHSA-69cg-p879-7622.
	if f := find(fs, "GO-2022-0969"); f == nil || !slices.Equal(f.Advisory.Aliases, []string{"CVE-2022-27664", "GHSA-69cg-p879-7622"}) ||
		!strings.Contains(f.Advisory.Source, "Go/all.zip:GO-2022-0969.json") || f.Advisory.Summary == "" {
		t.Errorf("GO-2022-0969: %+v", f)
	}

	// Module paths are case-sensitive.
	if fs := ix.Match("Go", "github.com/Gin-Gonic/gin", "v1.5.0"); len(fs) != 0 {
		t.Errorf("case-folded module path matched: %v", affectedIDs(t, fs))
	}
}

func TestMatchGoStdlibAndKEV(t *testing.T) {
	ix := sharedIndex(t)
	// GO-2022-0535 (crypto/x509, CVE-2020-0601, in KEV): <1.12.16 and
	// [1.13.0-0, 1.13.7). SBOMs write the toolchain as "go1.13.6".
	for _, name := range []string{"stdlib", "go"} {
		fs := ix.Match("Go", name, "go1.13.6")
		f := find(fs, "GO-2022-0535")
		if f == nil || f.KEV == nil || f.KEV.CVE != "CVE-2020-0601" || !slices.Equal(f.Fixed, []string{"1.13.7"}) {
			t.Fatalf("%s go1.13.6: GO-2022-0535 = %+v", name, f)
		}
	}
	if f := find(ix.Match("Go", "stdlib", "1.13.7"), "GO-2022-0535"); f != nil {
		t.Errorf("stdlib 1.13.7 is fixed, got %+v", f)
	}
	// GO-2022-0969 is not in KEV: no mark.
	if f := find(ix.Match("Go", "stdlib", "1.18.2"), "GO-2022-0969"); f == nil || f.KEV != nil {
		t.Errorf("stdlib 1.18.2 GO-2022-0969: %+v", f)
	}
}

func TestMatchPyPI(t *testing.T) {
	ix := sharedIndex(t)
	// jinja2 2.7.2: PYSEC-2014-8 is fixed in 2.7.2; PYSEC-2014-82 (<2.7.3),
	// PYSEC-2019-217 (<2.10.1), PYSEC-2019-220 (<2.8.1), PYSEC-2021-66
	// (<2.11.3) apply. The name is PEP 503-normalised.
	want := []string{"PYSEC-2014-82", "PYSEC-2019-217", "PYSEC-2019-220", "PYSEC-2021-66"}
	for _, name := range []string{"jinja2", "Jinja2", "JINJA2"} {
		if got := affectedIDs(t, ix.Match("PyPI", name, "2.7.2")); !slices.Equal(got, want) {
			t.Errorf("%s 2.7.2: %v, want %v", name, got, want)
		}
	}
	// A version no versions list names (a local build) is still judged by
	// the ECOSYSTEM ranges, also where a GIT range comes first (PYSEC-2014-82;
	// OSV-Scanner stops at that GIT range).
	fs := ix.Match("PyPI", "jinja2", "2.7.2+local.1")
	if f := find(fs, "PYSEC-2014-82"); f == nil || f.Listed || !f.InRange || !slices.Equal(f.Fixed, []string{"2.7.3"}) {
		t.Errorf("jinja2 2.7.2+local.1 PYSEC-2014-82: %+v", f)
	}
	if f := find(ix.Match("PyPI", "jinja2", "2.7.2"), "PYSEC-2014-82"); f == nil || !f.Listed || !f.InRange {
		t.Errorf("jinja2 2.7.2 PYSEC-2014-82: %+v, want listed and in range", f)
	}
	// django 1.0.3: PYSEC-2009-4 covers [1.0, 1.0.4) and [1.1, 1.1.1).
	fs = ix.Match("PyPI", "Django", "1.0.3")
	if f := find(fs, "PYSEC-2009-4"); f == nil || !slices.Equal(f.Fixed, []string{"1.0.4"}) {
		t.Errorf("django 1.0.3 PYSEC-2009-4: %+v", f)
	}
	if f := find(ix.Match("PyPI", "django", "1.0.4"), "PYSEC-2009-4"); f != nil {
		t.Errorf("django 1.0.4 is fixed: %+v", f)
	}
	// last_affected: py <= 1.11.0 (PYSEC-2022-42969); 1.11.1 is not listed.
	if f := find(ix.Match("PyPI", "py", "1.11.0"), "PYSEC-2022-42969"); f == nil || !slices.Equal(f.LastAffected, []string{"1.11.0"}) || len(f.Fixed) != 0 {
		t.Errorf("py 1.11.0: %+v", f)
	}
	if fs := ix.Match("PyPI", "py", "1.11.1"); len(fs) != 0 {
		t.Errorf("py 1.11.1: %v, want nothing", affectedIDs(t, fs))
	}
	// The one advisory name that is not PEP 503-normal (jw.util) matches.
	if fs := ix.Match("PyPI", "jw-util", "1.0"); find(fs, "PYSEC-2020-341") == nil {
		t.Errorf("jw-util: %v, want PYSEC-2020-341", affectedIDs(t, fs))
	}
	// KEV: salt 2019.2.3 is affected by PYSEC-2020-102 (CVE-2020-11651).
	f := find(ix.Match("PyPI", "salt", "2019.2.3"), "PYSEC-2020-102")
	if f == nil || f.KEV == nil || f.KEV.CVE != "CVE-2020-11651" || f.KEV.DateAdded == "" {
		t.Errorf("salt 2019.2.3 PYSEC-2020-102: %+v", f)
	}
}

func TestMatchCrates(t *testing.T) {
	ix := sharedIndex(t)
	// smallvec 0.6.9: RUSTSEC-2018-0018 (<0.6.13), RUSTSEC-2019-0009
	// [0.6.5, 0.6.10), RUSTSEC-2019-0012 [0.6.3, 0.6.10), RUSTSEC-2021-0003
	// [0.6.3, 0.6.14); not RUSTSEC-2018-0003 (fixed in 0.6.3 for 0.6.x).
	want := []string{"RUSTSEC-2018-0018", "RUSTSEC-2019-0009", "RUSTSEC-2019-0012", "RUSTSEC-2021-0003"}
	if got := affectedIDs(t, ix.Match("crates.io", "smallvec", "0.6.9")); !slices.Equal(got, want) {
		t.Errorf("smallvec 0.6.9: %v, want %v", got, want)
	}
	// smallvec 1.6.0: only RUSTSEC-2021-0003's second window [1.0.0, 1.6.1).
	fs := ix.Match("crates.io", "smallvec", "1.6.0")
	if got := affectedIDs(t, fs); !slices.Equal(got, []string{"RUSTSEC-2021-0003"}) || !slices.Equal(fs[0].Fixed, []string{"1.6.1"}) {
		t.Errorf("smallvec 1.6.0: %v %+v", got, fs)
	}
	// libwebp-sys 0.9.2: RUSTSEC-2023-0061 is CVE-2023-4863, in KEV.
	if f := find(ix.Match("crates.io", "libwebp-sys", "0.9.2"), "RUSTSEC-2023-0061"); f == nil || f.KEV == nil || f.KEV.CVE != "CVE-2023-4863" {
		t.Errorf("libwebp-sys 0.9.2: %+v", f)
	}
}

func TestWithdrawnIgnored(t *testing.T) {
	ix := sharedIndex(t)
	for _, tt := range []struct{ eco, name, version, id string }{
		{"Go", "github.com/gorilla/sessions", "v1.2.1", "GO-2024-2730"}, // introduced 0, withdrawn
		{"crates.io", "dirs", "1.0.0", "RUSTSEC-2020-0053"},
		{"PyPI", "redis", "4.5.1", "PYSEC-2023-73"},
	} {
		fs := ix.Match(tt.eco, tt.name, tt.version)
		if find(fs, tt.id) != nil {
			t.Errorf("%s %s: withdrawn %s matched", tt.name, tt.version, tt.id)
		}
	}
	// redis 4.5.1 is still affected by the advisories that stand.
	if got := affectedIDs(t, ix.Match("PyPI", "redis", "4.5.1")); !slices.Equal(got, []string{"PYSEC-2023-45", "PYSEC-2023-46"}) {
		t.Errorf("redis 4.5.1: %v", got)
	}
}

func loadTestdata(t *testing.T) *osv.Index {
	t.Helper()
	ix, err := osv.LoadDir(context.Background(), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestRangeSemantics(t *testing.T) {
	ix := loadTestdata(t)
	tests := []struct {
		eco, name, version string
		want               []string
		fixed, last        []string
		listed, inRange    bool
	}{
		// GIT-only: commits never become versions; only the list matches
		// (a leading "v" on either side ignored).
		{"PyPI", "git-only", "1.2.0", []string{"TEST-GIT-ONLY"}, nil, nil, true, false},
		{"PyPI", "Git.Only", "v1.3.0", []string{"TEST-GIT-ONLY"}, nil, nil, true, false},
		{"PyPI", "git-only", "1.2.5", nil, nil, nil, false, false},
		{"PyPI", "git-only", "0.1", nil, nil, nil, false, false},
		// GIT then ECOSYSTEM: the ECOSYSTEM range is evaluated.
		{"PyPI", "git-first", "1.5", []string{"TEST-GIT-FIRST"}, []string{"2.0"}, nil, false, true},
		{"PyPI", "git-first", "1.1", []string{"TEST-GIT-FIRST"}, []string{"2.0"}, nil, true, true},
		{"PyPI", "git-first", "2.0", nil, nil, nil, false, false},
		// last_affected is inclusive.
		{"crates.io", "last-affected", "1.5.0", []string{"TEST-LAST-AFFECTED"}, nil, []string{"1.5.0"}, false, true},
		{"crates.io", "last-affected", "0.1.0-alpha", []string{"TEST-LAST-AFFECTED"}, nil, []string{"1.5.0"}, false, true},
		{"crates.io", "last-affected", "1.5.1-rc.1", nil, nil, nil, false, false},
		// limit bounds a range with no fix.
		{"crates.io", "limited", "1.9.9", []string{"TEST-LIMIT"}, nil, nil, false, true},
		{"crates.io", "limited", "2.0.0", nil, nil, nil, false, false},
		{"crates.io", "limited", "0.9.0", nil, nil, nil, false, false},
		// Two windows given out of order, and a second entry for the same
		// package: one finding per advisory, with each window's fix.
		{"Go", "example.org/windows", "v0.5.0", []string{"TEST-WINDOWS"}, []string{"1.0.0"}, nil, false, true},
		{"Go", "example.org/windows", "v1.5.0", nil, nil, nil, false, false},
		{"Go", "example.org/windows", "v2.5.1", []string{"TEST-WINDOWS"}, []string{"3.0.0", "2.6.0"}, nil, false, true},
		{"Go", "example.org/windows", "v3.0.0", nil, nil, nil, false, false},
		// Release-scoped ecosystems: Debian:11 applies to Debian:11 and to a
		// component that names no release, not to Debian:12.
		{"Debian:11", "openssl", "1.1.1n-0+deb11u3", []string{"TEST-DEBIAN"}, []string{"1.1.1n-0+deb11u4"}, nil, false, true},
		{"Debian", "openssl", "1.1.1n-0+deb11u3", []string{"TEST-DEBIAN"}, []string{"1.1.1n-0+deb11u4"}, nil, false, true},
		{"Debian:12", "openssl", "1.1.1n-0+deb11u3", nil, nil, nil, false, false},
		{"Debian:11", "openssl", "1.1.1n-0+deb11u4", nil, nil, nil, false, false},
		// The good ranges of an advisory with a bad one still count.
		{"Go", "example.org/bad-event", "3.0.5", []string{"TEST-BAD-EVENT"}, []string{"3.1.0"}, nil, false, true},
	}
	for _, tt := range tests {
		fs := ix.Match(tt.eco, tt.name, tt.version)
		if got := affectedIDs(t, fs); !slices.Equal(got, tt.want) {
			t.Errorf("%s %s %s: %v, want %v", tt.eco, tt.name, tt.version, got, tt.want)
			continue
		}
		if len(fs) == 1 {
			f := fs[0]
			if !slices.Equal(f.Fixed, tt.fixed) || !slices.Equal(f.LastAffected, tt.last) || f.Listed != tt.listed || f.InRange != tt.inRange {
				t.Errorf("%s %s %s: fixed %v last %v listed %v inRange %v; want %v %v %v %v", tt.eco, tt.name, tt.version,
					f.Fixed, f.LastAffected, f.Listed, f.InRange, tt.fixed, tt.last, tt.listed, tt.inRange)
			}
		}
	}
	// The withdrawn advisory (introduced 0) never matches.
	for _, f := range ix.Match("Go", "example.org/windows", "v1.5.0") {
		t.Errorf("withdrawn or out-of-range finding: %+v", f)
	}
}

// TestLikeOSVScanner checks the two departures that the comparison mode
// reproduces, and that nothing else changes.
func TestLikeOSVScanner(t *testing.T) {
	ix := loadTestdata(t).LikeOSVScanner()
	if fs := ix.Match("PyPI", "git-first", "1.5"); len(fs) != 0 {
		t.Errorf("git-first 1.5 (only in the ECOSYSTEM range after a GIT range): %+v", fs)
	}
	if got := affectedIDs(t, ix.Match("PyPI", "git-first", "1.1")); !slices.Equal(got, []string{"TEST-GIT-FIRST"}) {
		t.Errorf("git-first 1.1 (listed): %v", got)
	}
	if got := affectedIDs(t, ix.Match("Go", "example.org/windows", "v2.5.1")); !slices.Equal(got, []string{"TEST-WINDOWS"}) {
		t.Errorf("windows v2.5.1: %v", got)
	}
	real := sharedIndex(t).LikeOSVScanner()
	if f := find(real.Match("PyPI", "jinja2", "2.7.2+local.1"), "PYSEC-2014-82"); f != nil {
		t.Errorf("jinja2 2.7.2+local.1 matched PYSEC-2014-82 past its GIT range: %+v", f)
	}
	if f := find(real.Match("PyPI", "jinja2", "2.7.2+local.1"), "PYSEC-2019-217"); f == nil {
		t.Error("jinja2 2.7.2+local.1: PYSEC-2019-217 (ECOSYSTEM range only) must still match")
	}
	if f := find(real.Match("PyPI", "jw-util", "1.0"), "PYSEC-2020-341"); f != nil {
		t.Errorf("jw-util matched the advisory that spells it jw.util: %+v", f)
	}
}

func TestProblemsNameFileAndReason(t *testing.T) {
	ix := loadTestdata(t)
	st := ix.Stats()
	if st.Withdrawn != 1 {
		t.Errorf("withdrawn = %d, want 1", st.Withdrawn)
	}
	want := map[string]string{ // source -> part of the reason
		filepath.Join("broken", "not-json.json"):    "not OSV JSON",
		filepath.Join("broken", "no-id.json"):       "no id",
		filepath.Join("broken", "duplicate.json"):   "duplicate of " + filepath.Join("advisories", "TEST-LIMIT.json"),
		filepath.Join("broken", "no-package.json"):  "no package ecosystem and name",
		filepath.Join("broken", "wrong-shape.json"): "not OSV JSON",
	}
	badEvent := []string{
		"ranges[0] (SEMVER) skipped: events[1]: version \"not-a-version\" is not a valid Go version",
		"ranges[1] (SEMVER) skipped: events[0] has 2 of",
		"ranges[2] (SEMVER) skipped: no introduced event",
		"ranges[3]: unknown range type \"WHATEVER\"",
	}
	got := map[string][]string{}
	for _, p := range ix.Problems() {
		got[p.Source] = append(got[p.Source], p.Error())
	}
	for src, reason := range want {
		if len(got[src]) != 1 || !strings.Contains(got[src][0], reason) || !strings.Contains(got[src][0], src) {
			t.Errorf("%s: problems %q, want one saying %q", src, got[src], reason)
		}
	}
	bad := got[filepath.Join("advisories", "TEST-BAD-EVENT.json")]
	if len(bad) != len(badEvent) {
		t.Errorf("TEST-BAD-EVENT: problems %q", bad)
	}
	for _, reason := range badEvent {
		if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, reason) && strings.Contains(s, "TEST-BAD-EVENT") }) {
			t.Errorf("TEST-BAD-EVENT: no problem saying %q in %q", reason, bad)
		}
	}
	if n := len(ix.Problems()); n != len(want)+len(badEvent) {
		t.Errorf("%d problems, want %d: %v", n, len(want)+len(badEvent), ix.Problems())
	}
}

func TestScan(t *testing.T) {
	ix := sharedIndex(t)
	components := []osv.Component{
		{PURL: "pkg:golang/github.com/gin-gonic/gin@v1.7.7", Ref: "gin"},
		{Ecosystem: "crates.io", Name: "serde", Version: "1.0.200", Ref: "clean"},
		{PURL: "pkg:npm/lodash@4.17.4", Ref: "npm"},         // no npm advisories loaded
		{PURL: "pkg:generic/openssl@1.1.1", Ref: "generic"}, // no OSV ecosystem
		{Ecosystem: "PyPI", Name: "jinja2", Version: "", Ref: "noversion"},
		{Ecosystem: "PyPI", Name: "jinja2", Version: "not a version", Ref: "badversion"},
		{PURL: "pkg:pypi/jinja2@%zz", Ref: "badpurl"},
		{Ecosystem: "PyPI", Name: "", Ref: "noname"},
		{Ecosystem: "crates.io", Name: "no-such-crate-here", Version: "garbage", Ref: "unknown-package"},
		{Ecosystem: "pypi", Name: "Jinja2", Version: "2.11.2", Ref: "case"},
	}
	fs := ix.Scan(components)
	type row struct {
		ref    string
		status osv.Status
		id     string
	}
	var got []row
	for _, f := range fs {
		r := row{ref: f.Component.Ref, status: f.Status}
		if f.Advisory != nil {
			r.id = f.Advisory.ID
		}
		got = append(got, r)
		if f.Status != osv.StatusAffected && f.Err == nil {
			t.Errorf("%s: %s finding without a reason", f.Component.Ref, f.Status)
		}
	}
	want := []row{
		{"gin", osv.StatusAffected, "GO-2023-1737"},
		{"npm", osv.StatusUnmatched, ""},
		{"generic", osv.StatusUnmatched, ""},
		{"noversion", osv.StatusError, ""},
		{"badversion", osv.StatusError, ""},
		{"badpurl", osv.StatusError, ""},
		{"noname", osv.StatusError, ""},
		{"case", osv.StatusAffected, "PYSEC-2021-66"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Scan:\n got %v\nwant %v", got, want)
	}
	for _, f := range fs {
		var err error
		switch f.Component.Ref {
		case "npm", "generic":
			err = osv.ErrUnknownEcosystem
		case "noversion":
			err = osv.ErrNoVersion
		case "badversion":
			err = version.ErrInvalid
		case "badpurl":
			err = purl.ErrInvalid
		case "noname":
			err = osv.ErrIncomplete
		default:
			continue
		}
		if !errors.Is(f.Err, err) {
			t.Errorf("%s: %v, want %v", f.Component.Ref, f.Err, err)
		}
	}
	if f := fs[0]; f.Component.Ecosystem != "Go" || f.Component.Name != "github.com/gin-gonic/gin" || f.Component.Version != "v1.7.7" {
		t.Errorf("component not filled from its purl: %+v", f.Component)
	}
	if !strings.Contains(fs[1].Err.Error(), `"npm"`) || !strings.Contains(fs[1].Err.Error(), "Go, PyPI, crates.io") {
		t.Errorf("unmatched reason %q should name the ecosystem and what is loaded", fs[1].Err)
	}
}

// TestScanParallel checks that the parallel Scan, and ScanParts, return
// what Match does, in order, each finding with its component's position,
// over many components.
func TestScanParallel(t *testing.T) {
	ix := sharedIndex(t)
	var cs []osv.Component
	for i := range 3000 {
		switch i % 3 {
		case 0:
			cs = append(cs, osv.Component{Ecosystem: "PyPI", Name: "django", Version: []string{"1.0.3", "2.2.0", "3.2.1", "4.2"}[i%4], Ref: string(rune('a' + i%26))})
		case 1:
			cs = append(cs, osv.Component{Ecosystem: "Go", Name: []string{"golang.org/x/net", "stdlib"}[i%2], Version: "v0.17.0"})
		default:
			cs = append(cs, osv.Component{Ecosystem: "npm", Name: "left-pad", Version: "1.0.0"})
		}
	}
	var want []osv.Finding
	var positions []int
	for i, c := range cs {
		for _, f := range ix.Match(c.Ecosystem, c.Name, c.Version) {
			want = append(want, f)
			positions = append(positions, i)
		}
	}
	same := func(what string, got []osv.Finding) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d findings, Match: %d", what, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			if g.Status != w.Status || g.Advisory != w.Advisory || g.Component.Name != w.Component.Name || g.Component.Version != w.Component.Version ||
				g.InRange != w.InRange || g.Listed != w.Listed || !slices.Equal(g.Fixed, w.Fixed) || !slices.Equal(g.LastAffected, w.LastAffected) ||
				g.KEV != w.KEV || fmt.Sprint(g.Err) != fmt.Sprint(w.Err) {
				t.Fatalf("%s: finding %d differs: %+v vs %+v", what, i, g, w)
			}
			if g.Position != positions[i] || g.Component.Ref != cs[positions[i]].Ref {
				t.Fatalf("%s: finding %d at position %d (ref %q), want %d", what, i, g.Position, g.Component.Ref, positions[i])
			}
		}
	}
	same("Scan", ix.Scan(cs))
	parts := ix.ScanParts(cs)
	if len(parts) < 2 {
		t.Fatalf("%d findings in %d parts", len(want), len(parts))
	}
	for i, p := range parts {
		if len(p) == 0 {
			t.Fatalf("part %d is empty", i)
		}
	}
	same("ScanParts", slices.Concat(parts...))
}

func TestLoadDirErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := osv.LoadDir(ctx, filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("absent folder: no error")
	}
	if _, err := osv.LoadDir(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.zip or *.json") {
		t.Errorf("empty folder: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Go"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "Go", "all.zip")
	if err := os.WriteFile(bad, []byte("PK\x03\x04 not really a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := osv.LoadDir(ctx, dir); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt zip: %v, want an error naming %s", err, bad)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := osv.LoadDir(cancelled, "testdata"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestKEV(t *testing.T) {
	if _, err := os.Stat(sharedKEV); err != nil {
		t.Skipf("no KEV catalog at %s (the shared data folder is absent)", sharedKEV)
	}
	k, err := osv.LoadKEV(sharedKEV)
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 1404 || k.Version != "2025.08.25" {
		t.Errorf("KEV: %d entries, version %q", k.Len(), k.Version)
	}
	e, ok := k.Lookup("CVE-2023-4863")
	if !ok || e.VendorProject != "Google" || e.DateAdded != "2023-09-13" {
		t.Errorf("CVE-2023-4863: %+v %v", e, ok)
	}
	for _, bad := range []string{
		`{`, `{"vulnerabilities": [{"vendorProject": "x"}]}`, `{"count": 2, "vulnerabilities": [{"cveID": "CVE-2020-1"}]}`, `[]`, `{}`,
	} {
		if _, err := osv.ReadKEV(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadKEV(%q): no error", bad)
		}
	}
	var none *osv.KEV
	if _, ok := none.Lookup("CVE-2023-4863"); ok || none.Len() != 0 {
		t.Error("a nil catalog must be empty")
	}
}

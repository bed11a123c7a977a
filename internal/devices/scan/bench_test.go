package scan

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/version"
)

// benchSBOM writes a CycloneDX SBOM of n components drawn, seeded, from
// the package versions the shared advisories name (as
// bench/osvscanner/gen does), so that matching does real work.
func benchSBOM(b *testing.B, n int) []byte {
	b.Helper()
	return cycloneDX(b, benchPurls(b, n))
}

// benchPurls draws benchSBOM's purls.
func benchPurls(b *testing.B, n int) []string {
	b.Helper()
	purlType := map[string]string{"Go": "golang", "PyPI": "pypi", "crates.io": "cargo"}
	seen := map[string]bool{}
	var purls []string
	for _, eco := range []string{"Go", "PyPI", "crates.io"} {
		zr, err := zip.OpenReader(filepath.Join(shared, "osv", eco, "all.zip"))
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				b.Fatal(err)
			}
			var a struct {
				Affected []struct {
					Package  struct{ Name string }
					Versions []string
					Ranges   []struct{ Events []map[string]string }
				}
			}
			err = json.NewDecoder(rc).Decode(&a)
			rc.Close()
			if err != nil {
				continue
			}
			for _, af := range a.Affected {
				vs := af.Versions
				for _, r := range af.Ranges {
					for _, ev := range r.Events {
						for _, v := range ev {
							if v != "0" && len(v) < 40 {
								vs = append(vs, v)
							}
						}
					}
				}
				for _, v := range vs {
					if eco == "Go" {
						v = "v" + v
					}
					p := fmt.Sprintf("pkg:%s/%s@%s", purlType[eco], af.Package.Name, v)
					if !seen[p] {
						seen[p] = true
						purls = append(purls, p)
					}
				}
			}
		}
		zr.Close()
	}
	rng := rand.New(rand.NewPCG(6, uint64(n)))
	rng.Shuffle(len(purls), func(i, j int) { purls[i], purls[j] = purls[j], purls[i] })
	out := make([]string, n)
	for i := range out {
		out[i] = purls[i%len(purls)]
	}
	return out
}

// realisticSBOM writes a CycloneDX SBOM of n components of the shared
// advisories' packages of which only vulnerableShare are affected: those
// at a version an advisory names (a listed version or a range boundary)
// that the index finds affected, the others at a version outside every
// affected range of their package. A clean version is a fix version of
// one of the package's advisories, or the patch release after one, or a
// version above every version the package's advisories name (see above),
// each kept only if the index finds nothing at all for it, so packages
// that no release fixes contribute only affected components. No purl
// appears twice, but with 16,000 components from the 2,945 packages that
// have advisories (1,887 of them with a clean version) a package has
// several versions. It returns the SBOM and the purls, in order.
func realisticSBOM(b *testing.B, ix *osv.Index, n int, vulnerableShare float64) ([]byte, []string) {
	b.Helper()
	type pkg struct{ eco, name string }
	named := map[pkg][]string{} // every version the advisories name
	fixes := map[pkg][]string{} // fixed and last_affected versions
	for _, eco := range []string{"Go", "PyPI", "crates.io"} {
		zr, err := zip.OpenReader(filepath.Join(shared, "osv", eco, "all.zip"))
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				b.Fatal(err)
			}
			var a struct {
				Affected []struct {
					Package struct {
						Ecosystem string
						Name      string
					}
					Versions []string
					Ranges   []struct {
						Type   string
						Events []map[string]string
					}
				}
			}
			err = json.NewDecoder(rc).Decode(&a)
			rc.Close()
			if err != nil {
				continue
			}
			for _, af := range a.Affected {
				if af.Package.Ecosystem != eco || af.Package.Name == "" {
					continue
				}
				k := pkg{eco, af.Package.Name}
				named[k] = append(named[k], af.Versions...)
				for _, r := range af.Ranges {
					if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
						continue
					}
					for _, ev := range r.Events {
						for kind, v := range ev {
							if v == "0" || v == "" {
								continue
							}
							if eco == "crates.io" {
								// RustSec's 1.2.3-0 bounds: crates publish 1.2.3.
								if v = strings.TrimSuffix(v, "-0"); v == "0.0.0" {
									continue
								}
							}
							named[k] = append(named[k], v)
							if kind == "fixed" || kind == "last_affected" {
								fixes[k] = append(fixes[k], v)
							}
						}
					}
				}
			}
		}
		zr.Close()
	}
	purlType := map[string]string{"Go": "golang", "PyPI": "pypi", "crates.io": "cargo"}
	purlOf := func(k pkg, v string) string {
		if k.eco == "Go" && !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		segs := strings.Split(k.name, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		return "pkg:" + purlType[k.eco] + "/" + strings.Join(segs, "/") + "@" + url.PathEscape(v)
	}
	keys := slices.SortedFunc(maps.Keys(named), func(a, b pkg) int { return cmp.Or(strings.Compare(a.eco, b.eco), strings.Compare(a.name, b.name)) })
	var affectedCands, cleanCands []string
	seen := map[string]bool{}
	for _, k := range keys {
		for _, v := range named[k] {
			if p := purlOf(k, v); !seen[p] {
				seen[p] = true
				affectedCands = append(affectedCands, p)
			}
		}
		for _, v := range fixes[k] {
			// The fix version and the next patch release.
			next := []string{v}
			if fv, err := version.Parse(k.eco, v); err == nil {
				next = append(next, raised(k.eco, fv)[:1]...)
			}
			for _, v := range next {
				if p := purlOf(k, v); !seen[p] {
					seen[p] = true
					cleanCands = append(cleanCands, p)
				}
			}
		}
		for _, v := range above(k.eco, named[k]) {
			if p := purlOf(k, v); !seen[p] {
				seen[p] = true
				cleanCands = append(cleanCands, p)
			}
		}
	}
	// The index sorts the candidates: affected ones must have an affected
	// finding, clean ones no finding at all (not even an error).
	keep := func(cands []string, affected bool) []string {
		comps := make([]osv.Component, len(cands))
		for i, p := range cands {
			comps[i] = osv.Component{PURL: p}
		}
		hit := make([]bool, len(cands))
		found := make([]bool, len(cands))
		for _, f := range ix.Scan(comps) {
			found[f.Position] = true
			hit[f.Position] = hit[f.Position] || f.Status == osv.StatusAffected
		}
		var kept []string
		for i, p := range cands {
			if (affected && hit[i]) || (!affected && !found[i]) {
				kept = append(kept, p)
			}
		}
		return kept
	}
	affectedPool, cleanPool := keep(affectedCands, true), keep(cleanCands, false)
	rng := rand.New(rand.NewPCG(6, uint64(n)))
	rng.Shuffle(len(affectedPool), func(i, j int) { affectedPool[i], affectedPool[j] = affectedPool[j], affectedPool[i] })
	rng.Shuffle(len(cleanPool), func(i, j int) { cleanPool[i], cleanPool[j] = cleanPool[j], cleanPool[i] })
	nv := int(float64(n) * vulnerableShare)
	if len(cleanPool) < n-nv || len(affectedPool) < nv {
		b.Fatalf("%d clean and %d affected package versions; %d and %d wanted", len(cleanPool), len(affectedPool), n-nv, nv)
	}
	purls := append(slices.Clone(affectedPool[:nv]), cleanPool[:n-nv]...)
	rng.Shuffle(len(purls), func(i, j int) { purls[i], purls[j] = purls[j], purls[i] })
	return cycloneDX(b, purls), purls
}

// above returns versions of the ecosystem above every one of versions:
// raised(eco, the highest).
func above(eco string, versions []string) []string {
	var top version.Version
	for _, s := range versions {
		if v, err := version.Parse(eco, s); err == nil && v.Compare(top) > 0 {
			top = v
		}
	}
	if top.IsZero() {
		return nil
	}
	return raised(eco, top)
}

// raised returns versions above top: its leading numeric part with the
// last number raised by one to seven (1.4.2rc1 -> 1.4.3 ... 1.4.9), the
// one before it raised (1.5.0) and the first raised (2.0.0), each checked
// by the ecosystem's ordering.
func raised(eco string, top version.Version) []string {
	s := strings.TrimPrefix(top.String(), "v")
	end := 0
	for end < len(s) && (s[end] == '.' || '0' <= s[end] && s[end] <= '9') {
		end++
	}
	var nums []int
	for _, d := range strings.Split(strings.Trim(s[:end], "."), ".") {
		n, err := strconv.Atoi(d)
		if err != nil {
			return nil
		}
		nums = append(nums, n)
	}
	raise := func(at, by int) string {
		parts := make([]string, len(nums))
		for i, n := range nums {
			switch {
			case i == at:
				n += by
			case i > at:
				n = 0
			}
			parts[i] = strconv.Itoa(n)
		}
		return strings.Join(parts, ".")
	}
	var out []string
	for by := 1; by <= 7; by++ {
		out = append(out, raise(len(nums)-1, by))
	}
	for at := len(nums) - 2; at >= 0 && at >= len(nums)-3; at-- {
		out = append(out, raise(at, 1))
	}
	return slices.DeleteFunc(out, func(next string) bool {
		v, err := version.Parse(eco, next)
		return err != nil || v.Compare(top) <= 0
	})
}

func cycloneDX(b *testing.B, purls []string) []byte {
	b.Helper()
	type comp struct {
		Type string `json:"type"`
		Ref  string `json:"bom-ref"`
		Name string `json:"name"`
		Purl string `json:"purl"`
	}
	comps := make([]comp, len(purls))
	for i, p := range purls {
		comps[i] = comp{"library", fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i), p}
	}
	data, err := json.Marshal(map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": comps})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchScan runs whole scans of data (n components) and reports
// components per second for the whole scan (reading the SBOM, matching,
// VEX, summary) and for matching alone (the summary's matchMs: everything
// after reading the SBOM), and the findings and affected components.
func benchScan(b *testing.B, ix *osv.Index, kev *osv.KEV, data []byte, n int) {
	var match time.Duration
	var sum Summary
	for b.Loop() {
		res, err := Scan(context.Background(), bytes.NewReader(data), Options{Index: ix, KEV: kev})
		if err != nil {
			b.Fatal(err)
		}
		if res.Summary.Components != n || res.Summary.Matched != n {
			b.Fatalf("%d components, %d matched", res.Summary.Components, res.Summary.Matched)
		}
		match += time.Duration(res.Summary.Timings.MatchMs * float64(time.Millisecond))
		sum = res.Summary
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "components/s")
	b.ReportMetric(float64(n*b.N)/match.Seconds(), "matched-components/s")
	b.ReportMetric(float64(sum.Findings), "findings")
	b.ReportMetric(float64(sum.Affected), "affected-components")
}

// BenchmarkScanWarmIndex scans SBOMs of 300, 3,000 and 16,000 components
// against the loaded shared index (8,118 advisories), every component a
// version some advisory names (a worst case: 5.4 findings a component).
func BenchmarkScanWarmIndex(b *testing.B) {
	ix, kev := sharedIndex(b)
	for _, n := range []int{300, 3000, 16000} {
		data := benchSBOM(b, n)
		b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) { benchScan(b, ix, kev, data, n) })
	}
}

// BenchmarkScanWarmIndexRealistic scans an SBOM of 16,000 components of
// which 7.5% are affected (realisticSBOM) against the warm shared index.
func BenchmarkScanWarmIndexRealistic(b *testing.B) {
	ix, kev := sharedIndex(b)
	const n = 16000
	data, _ := realisticSBOM(b, ix, n, 0.075)
	b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) { benchScan(b, ix, kev, data, n) })
}

// BenchmarkIndexScan is matching alone: osv.Index.Scan over the purls of
// the two 16,000-component SBOMs, without reading the SBOM or building the
// report.
func BenchmarkIndexScan(b *testing.B) {
	ix, _ := sharedIndex(b)
	const n = 16000
	_, realistic := realisticSBOM(b, ix, n, 0.075)
	for _, tc := range []struct {
		name  string
		purls []string
	}{{"all-vulnerable", benchPurls(b, n)}, {"realistic", realistic}} {
		comps := make([]osv.Component, len(tc.purls))
		for i, p := range tc.purls {
			comps[i] = osv.Component{PURL: p, Ref: fmt.Sprintf("c%d", i)}
		}
		b.Run(tc.name, func(b *testing.B) {
			var findings int
			for b.Loop() {
				findings = len(ix.Scan(comps))
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "components/s")
			b.ReportMetric(float64(findings), "findings")
		})
	}
}

// BenchmarkIndexLoad is the cold part: loading the shared exports.
func BenchmarkIndexLoad(b *testing.B) {
	for b.Loop() {
		if _, err := osv.LoadDir(context.Background(), filepath.Join(shared, "osv")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MB")
}

package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/devices/osv"
)

// benchSBOM writes a CycloneDX SBOM of n components drawn, seeded, from
// the package versions the shared advisories name (as
// bench/osvscanner/gen does), so that matching does real work.
func benchSBOM(b *testing.B, n int) []byte {
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
	type comp struct {
		Type string `json:"type"`
		Ref  string `json:"bom-ref"`
		Name string `json:"name"`
		Purl string `json:"purl"`
	}
	comps := make([]comp, n)
	for i := range comps {
		comps[i] = comp{"library", fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i), purls[i%len(purls)]}
	}
	data, err := json.Marshal(map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": comps})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkScanWarmIndex scans SBOMs of 300, 3,000 and 16,000 components
// against the loaded shared index (8,118 advisories) and reports
// components per second for the whole scan (reading the SBOM, matching,
// VEX, summary) and for matching alone.
func BenchmarkScanWarmIndex(b *testing.B) {
	ix, kev := sharedIndex(b)
	for _, n := range []int{300, 3000, 16000} {
		data := benchSBOM(b, n)
		b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) {
			var match time.Duration
			for b.Loop() {
				res, err := Scan(context.Background(), bytes.NewReader(data), Options{Index: ix, KEV: kev})
				if err != nil {
					b.Fatal(err)
				}
				if res.Summary.Components != n || res.Summary.Matched != n {
					b.Fatalf("%d components, %d matched", res.Summary.Components, res.Summary.Matched)
				}
				match += time.Duration(res.Summary.Timings.MatchMs * float64(time.Millisecond))
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "components/s")
			b.ReportMetric(float64(n*b.N)/match.Seconds(), "matched-components/s")
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

// Command gen writes CycloneDX 1.5 JSON SBOMs of a given size for the
// side-by-side run against OSV-Scanner. Every component is a real
// (ecosystem, package, version) triple taken from the advisories themselves
// (a version an advisory lists, or a version at which a range starts or
// ends), so that both tools find real matches and real near misses (a
// "fixed" version is the first clean one). The draw is seeded: the same
// seed, size and advisories give the same file, byte for byte.
//
// RustSec's SEMVER bounds of the form 1.2.3-0 are written as the release
// 1.2.3 (and 0.0.0-0 skipped), since no crate is published as 1.2.3-0.
// Package names are written as the advisory spells them and Go versions
// with the "v" prefix Go modules use; no two components share a purl
// (OSV-Scanner keys components by purl and would merge them).
//
//	go run ./bench/osvscanner/gen -osv ../shared/data/osv -n 3000 -seed 6 -o sbom-3000.cdx.json
package main

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// purlTypes are the ecosystems of the shared data and their purl types.
var purlTypes = map[string]string{"Go": "golang", "PyPI": "pypi", "crates.io": "cargo"}

type advisory struct {
	ID       string `json:"id"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

type triple struct{ ecosystem, name, version string }

func main() {
	osvDir := flag.String("osv", "", "folder of <Ecosystem>/all.zip OSV exports")
	n := flag.Int("n", 300, "number of components")
	seed := flag.Uint64("seed", 6, "seed of the draw")
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	if err := run(*osvDir, *n, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
}

func run(osvDir string, n int, seed uint64, out string) error {
	if osvDir == "" || n <= 0 {
		return errors.New("usage: gen -osv DIR -n COMPONENTS [-seed N] [-o FILE]")
	}
	candidates, err := collect(osvDir)
	if err != nil {
		return err
	}
	if len(candidates) < n {
		return fmt.Errorf("only %d distinct package versions in the advisories, %d asked", len(candidates), n)
	}
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	picked := candidates[:n]
	slices.SortFunc(picked, func(a, b triple) int {
		return strings.Compare(a.ecosystem+"\x00"+a.name+"\x00"+a.version, b.ecosystem+"\x00"+b.name+"\x00"+b.version)
	})
	w := io.Writer(os.Stdout)
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if err := write(bw, picked, seed); err != nil {
		return err
	}
	return bw.Flush()
}

// collect reads every advisory of the known ecosystems and returns the
// distinct triples they name, in a stable order.
func collect(dir string) ([]triple, error) {
	seen := map[string]bool{}
	var list []triple
	for _, eco := range slices.Sorted(func(yield func(string) bool) {
		for k := range purlTypes {
			if !yield(k) {
				return
			}
		}
	}) {
		zr, err := zip.OpenReader(filepath.Join(dir, eco, "all.zip"))
		if err != nil {
			return nil, err
		}
		files := slices.Clone(zr.File)
		slices.SortFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
		for _, f := range files {
			if !strings.HasSuffix(f.Name, ".json") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				zr.Close()
				return nil, fmt.Errorf("%s/%s: %w", eco, f.Name, err)
			}
			var a advisory
			err = json.NewDecoder(rc).Decode(&a)
			rc.Close()
			if err != nil {
				continue // the tools report unreadable advisories; the generator only needs good ones
			}
			for _, af := range a.Affected {
				if af.Package.Ecosystem != eco || af.Package.Name == "" {
					continue
				}
				vs := slices.Clone(af.Versions)
				for _, r := range af.Ranges {
					if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
						continue
					}
					for _, ev := range r.Events {
						for _, v := range ev {
							if v != "0" && v != "" {
								vs = append(vs, v)
							}
						}
					}
				}
				for _, v := range vs {
					if eco == "crates.io" {
						// RustSec writes "introduced 0" and "fixed 1.2.3" as the
						// SEMVER pre-releases 0.0.0-0 and 1.2.3-0; the releases
						// are what a Cargo.lock holds.
						v = strings.TrimSuffix(v, "-0")
						if v == "0.0.0" {
							continue
						}
					}
					t := triple{eco, af.Package.Name, v}
					k := purlOf(t)
					if !seen[k] {
						seen[k] = true
						list = append(list, t)
					}
				}
			}
		}
		zr.Close()
	}
	return list, nil
}

func purlOf(t triple) string {
	v := t.version
	if t.ecosystem == "Go" && !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	segs := strings.Split(t.name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "pkg:" + purlTypes[t.ecosystem] + "/" + strings.Join(segs, "/") + "@" + url.PathEscape(v)
}

type component struct {
	Type    string `json:"type"`
	Ref     string `json:"bom-ref"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Purl    string `json:"purl"`
}

func write(w io.Writer, picked []triple, seed uint64) error {
	comps := make([]component, len(picked))
	for i, t := range picked {
		p := purlOf(t)
		_, v, _ := strings.Cut(p, "@")
		v, _ = url.PathUnescape(v)
		comps[i] = component{Type: "library", Ref: fmt.Sprintf("c%d", i+1), Name: t.name, Version: v, Purl: p}
	}
	doc := map[string]any{
		"bomFormat":    "CycloneDX",
		"specVersion":  "1.5",
		"serialNumber": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012x", seed<<20|uint64(len(picked))),
		"version":      1,
		"metadata": map[string]any{
			"timestamp": "2026-01-01T00:00:00Z",
			"component": map[string]any{"type": "application", "bom-ref": "bench", "name": fmt.Sprintf("osv-bench-%d", len(picked)), "version": "1"},
		},
		"components": comps,
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}

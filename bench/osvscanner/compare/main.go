// Command compare reads what OSV-Scanner (v1.9.2, --format json) and
// `trustward sbom scan --format json` reported for the same SBOM, reduces
// both to sets of (ecosystem, package, version, advisory), and prints the
// set difference with every disagreement put in a category that names the
// cause, with the evidence from the advisory. The categories are explained
// in bench/REPORT.md; "unexplained" is what nobody has explained yet.
//
//	compare -osv DIR -sbom FILE -osv-scanner OUT.json -trustward OUT.jsonl
//
// Names are compared as each ecosystem compares them (Go module paths
// without regard to case, since OSV-Scanner reports them lowercased; PyPI
// names PEP 503-normalised), and Go versions without their "v".
// Exit status: 0 when every disagreement is explained, 1 when one is not,
// 2 on bad input.
package main

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

type key struct{ Ecosystem, Package, Version, Advisory string }

func (k key) String() string {
	return fmt.Sprintf("%s %s@%s %s", k.Ecosystem, k.Package, k.Version, k.Advisory)
}

// component is what the SBOM says, by normalised (ecosystem, name, version).
type component struct {
	Ecosystem, Name, Version, Purl string
}

type affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges []struct {
		Type   string              `json:"type"`
		Events []map[string]string `json:"events"`
	} `json:"ranges"`
	Versions []string `json:"versions"`
}

type advisory struct {
	ID       string     `json:"id"`
	Aliases  []string   `json:"aliases"`
	Affected []affected `json:"affected"`
}

func main() {
	osvDir := flag.String("osv", "", "the advisories both tools used (<Ecosystem>/all.zip)")
	sbomFile := flag.String("sbom", "", "the SBOM both tools read (CycloneDX JSON)")
	scannerOut := flag.String("osv-scanner", "", "OSV-Scanner's --format json output")
	trustwardOut := flag.String("trustward", "", "trustward sbom scan's --format json output")
	verbose := flag.Bool("v", false, "print every disagreement, not only the first of each category")
	flag.Parse()
	code, err := run(os.Stdout, *osvDir, *sbomFile, *scannerOut, *trustwardOut, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(w io.Writer, osvDir, sbomFile, scannerOut, trustwardOut string, verbose bool) (int, error) {
	if osvDir == "" || sbomFile == "" || scannerOut == "" || trustwardOut == "" {
		return 2, errors.New("usage: compare -osv DIR -sbom FILE -osv-scanner OUT.json -trustward OUT.jsonl")
	}
	advisories, err := loadAdvisories(osvDir)
	if err != nil {
		return 2, err
	}
	comps, err := readSBOM(sbomFile)
	if err != nil {
		return 2, err
	}
	theirs, err := readOSVScanner(scannerOut)
	if err != nil {
		return 2, fmt.Errorf("%s: %w", scannerOut, err)
	}
	ours, err := readTrustward(trustwardOut)
	if err != nil {
		return 2, fmt.Errorf("%s: %w", trustwardOut, err)
	}
	both := 0
	var onlyOurs, onlyTheirs []key
	for k := range ours {
		if theirs[k] {
			both++
		} else {
			onlyOurs = append(onlyOurs, k)
		}
	}
	for k := range theirs {
		if !ours[k] {
			onlyTheirs = append(onlyTheirs, k)
		}
	}
	fmt.Fprintf(w, "findings (ecosystem, package, version, advisory): trustward %d, OSV-Scanner %d, both %d, only trustward %d, only OSV-Scanner %d\n",
		len(ours), len(theirs), both, len(onlyOurs), len(onlyTheirs))
	unexplained := 0
	for _, side := range []struct {
		title string
		keys  []key
		ours  bool
	}{{"only trustward", onlyOurs, true}, {"only OSV-Scanner", onlyTheirs, false}} {
		byCat := map[string][]string{}
		for _, k := range side.keys {
			cat, why := categorise(k, side.ours, advisories, comps, theirs)
			if cat == "unexplained" {
				unexplained++
			}
			byCat[cat] = append(byCat[cat], k.String()+": "+why)
		}
		for _, cat := range slices.Sorted(mapKeys(byCat)) {
			list := byCat[cat]
			slices.Sort(list)
			fmt.Fprintf(w, "%s, %s: %d\n", side.title, cat, len(list))
			n := 1
			if verbose || cat == "unexplained" {
				n = len(list)
			}
			for _, l := range list[:n] {
				fmt.Fprintf(w, "    e.g. %s\n", l)
			}
		}
	}
	if unexplained > 0 {
		return 1, nil
	}
	return 0, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// normalise gives the name and version under which both tools' reports of
// one SBOM component meet.
func normalise(ecosystem, name, version string) (string, string) {
	switch ecosystem {
	case "Go":
		return strings.ToLower(name), strings.TrimPrefix(version, "v")
	case "PyPI":
		return pep503.ReplaceAllString(strings.ToLower(name), "-"), version
	}
	return name, version
}

// categorise names the cause of one disagreement. ours is true when only
// trustward reported k.
func categorise(k key, ours bool, advisories map[string]*advisory, comps map[[3]string]component, theirs map[key]bool) (string, string) {
	a := advisories[k.Advisory]
	if a == nil {
		return "unexplained", "advisory not in the data"
	}
	c, ok := comps[[3]string{k.Ecosystem, k.Package, k.Version}]
	if !ok {
		return "unexplained", "component not in the SBOM"
	}
	var entries []affected
	for _, af := range a.Affected {
		if n, _ := normalise(af.Package.Ecosystem, af.Package.Name, ""); af.Package.Ecosystem == k.Ecosystem && n == k.Package {
			entries = append(entries, af)
		}
	}
	if len(entries) == 0 {
		return "unexplained", "the advisory has no entry for the package"
	}
	if !ours {
		return "unexplained", fmt.Sprintf("OSV-Scanner matched %s, trustward did not", c.Purl)
	}
	// OSV-Scanner reads purls with packageurl-go, which lowercases golang
	// names and lowercases PyPI names with "_" made "-"; it then compares
	// names with the advisory's byte for byte.
	scannerName := c.Name
	switch k.Ecosystem {
	case "Go":
		scannerName = strings.ToLower(c.Name)
	case "PyPI":
		scannerName = strings.ToLower(strings.ReplaceAll(c.Name, "_", "-"))
	}
	spelled := false
	for _, af := range entries {
		if af.Package.Name == scannerName {
			spelled = true
		}
	}
	if !spelled {
		if k.Ecosystem == "Go" {
			return "go-module-name-lowercased", fmt.Sprintf("OSV-Scanner reads %s as %q; the advisory says %q", c.Purl, scannerName, entries[0].Package.Name)
		}
		return "name-not-normalised", fmt.Sprintf("OSV-Scanner looks for %q; the advisory spells %q (the same package under PEP 503)", scannerName, entries[0].Package.Name)
	}
	// OSV-Scanner v1.9.2 stops at an entry's first range that is neither
	// ECOSYSTEM nor SEMVER (rangeAffectsVersion returns false there), so
	// ranges after a GIT range are never read; only the versions list can
	// match then.
	for _, af := range entries {
		if af.Package.Name != scannerName || slices.Contains(af.Versions, c.Version) {
			continue
		}
		for i, r := range af.Ranges {
			if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
				if i < len(af.Ranges)-1 {
					return "range-after-git-range", fmt.Sprintf("the %s entry's ranges are %s; OSV-Scanner stops at the %s range and %s is not in its versions list", af.Package.Name, rangeTypes(af), r.Type, c.Version)
				}
				break
			}
		}
	}
	// OSV-Scanner keeps one advisory of a group that share an alias
	// (vulns.Include), the first in the zip's order.
	for other := range theirs {
		if other.Ecosystem == k.Ecosystem && other.Package == k.Package && other.Version == k.Version {
			if o := advisories[other.Advisory]; o != nil && sharesAlias(a, o) {
				return "alias-of-reported-advisory", fmt.Sprintf("OSV-Scanner reported %s, which shares an alias with %s, and dropped this one", o.ID, a.ID)
			}
		}
	}
	return "unexplained", fmt.Sprintf("trustward matched %s, OSV-Scanner did not (ranges %s)", c.Purl, rangeTypes(entries[0]))
}

func rangeTypes(af affected) string {
	var t []string
	for _, r := range af.Ranges {
		t = append(t, r.Type)
	}
	if len(af.Versions) > 0 {
		t = append(t, fmt.Sprintf("versions[%d]", len(af.Versions)))
	}
	return "[" + strings.Join(t, " ") + "]"
}

func sharesAlias(a, b *advisory) bool {
	ids := append([]string{a.ID}, a.Aliases...)
	for _, x := range append([]string{b.ID}, b.Aliases...) {
		if slices.Contains(ids, x) {
			return true
		}
	}
	return false
}

func loadAdvisories(dir string) (map[string]*advisory, error) {
	out := map[string]*advisory{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		zr, err := zip.OpenReader(filepath.Join(dir, e.Name(), "all.zip"))
		if err != nil {
			continue // not an ecosystem folder
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				zr.Close()
				return nil, fmt.Errorf("%s/%s: %w", e.Name(), f.Name, err)
			}
			a := &advisory{}
			err = json.NewDecoder(rc).Decode(a)
			rc.Close()
			if err == nil && a.ID != "" {
				out[a.ID] = a
			}
		}
		zr.Close()
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no advisories", dir)
	}
	return out, nil
}

var purlEcosystems = map[string]string{"golang": "Go", "pypi": "PyPI", "cargo": "crates.io"}

func readSBOM(path string) (map[[3]string]component, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var bom struct {
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Purl    string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[[3]string]component{}
	for _, c := range bom.Components {
		typ, _, _ := strings.Cut(strings.TrimPrefix(c.Purl, "pkg:"), "/")
		eco := purlEcosystems[typ]
		n, v := normalise(eco, c.Name, c.Version)
		out[[3]string{eco, n, v}] = component{eco, c.Name, c.Version, c.Purl}
	}
	return out, nil
}

func readOSVScanner(path string) (map[key]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name      string `json:"name"`
					Version   string `json:"version"`
					Ecosystem string `json:"ecosystem"`
				} `json:"package"`
				Vulnerabilities []struct {
					ID string `json:"id"`
				} `json:"vulnerabilities"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	set := map[key]bool{}
	for _, r := range out.Results {
		for _, p := range r.Packages {
			n, v := normalise(p.Package.Ecosystem, p.Package.Name, p.Package.Version)
			for _, vu := range p.Vulnerabilities {
				set[key{p.Package.Ecosystem, n, v, vu.ID}] = true
			}
		}
	}
	return set, nil
}

func readTrustward(path string) (map[key]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	set := map[key]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var fd struct {
			Ecosystem, Name, Version, Advisory string
			Suppressed                         bool
		}
		if err := json.Unmarshal(sc.Bytes(), &fd); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if fd.Advisory == "" || fd.Suppressed {
			continue // the closing {"summary": ...} line, or suppressed by VEX
		}
		n, v := normalise(fd.Ecosystem, fd.Name, fd.Version)
		set[key{fd.Ecosystem, n, v, fd.Advisory}] = true
	}
	return set, sc.Err()
}

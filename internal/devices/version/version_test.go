package version_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/version"
)

// vectorsDir holds OSV's version-ordering vectors (google/osv-scalibr
// semantic/testdata), copied into the shared data folder.
const vectorsDir = "../../../../shared/data/versions"

// vectorEcosystems says which ecosystems each vector file must hold for.
var vectorEcosystems = map[string][]string{
	"semver-versions.txt":   {"Go", "npm", "crates.io"},
	"pypi-versions.txt":     {"PyPI"},
	"maven-versions.txt":    {"Maven"},
	"debian-versions.txt":   {"Debian", "Ubuntu"},
	"alpine-versions.txt":   {"Alpine"},
	"rubygems-versions.txt": {"RubyGems"},
	"nuget-versions.txt":    {"NuGet"},
}

func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorsDir, "*-versions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no version vectors in %s (the shared data folder is absent)", vectorsDir)
	}
	for _, file := range files {
		base := filepath.Base(file)
		ecosystems, ok := vectorEcosystems[base]
		if !ok {
			t.Errorf("%s: no ecosystem is tested against this vector file", base)
			continue
		}
		for _, eco := range ecosystems {
			t.Run(eco+"/"+base, func(t *testing.T) {
				n := checkVectorFile(t, eco, file)
				if n == 0 {
					t.Fatalf("%s holds no vectors", base)
				}
				t.Logf("%d lines hold", n)
			})
		}
	}
}

func checkVectorFile(t *testing.T, eco, file string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, lineNo := 0, 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("%s:%d: %q is not \"a OP b\"", filepath.Base(file), lineNo, line)
		}
		want := map[string]int{"<": -1, "=": 0, ">": +1}[fields[1]]
		if _, known := map[string]bool{"<": true, "=": true, ">": true}[fields[1]]; !known {
			t.Fatalf("%s:%d: unknown operator %q", filepath.Base(file), lineNo, fields[1])
		}
		a, errA := version.Parse(eco, fields[0])
		b, errB := version.Parse(eco, fields[2])
		if errA != nil || errB != nil {
			t.Errorf("%s:%d: %q: %v %v", filepath.Base(file), lineNo, line, errA, errB)
			continue
		}
		if got := a.Compare(b); got != want {
			t.Errorf("%s:%d: %s: Compare = %d, want %d", filepath.Base(file), lineNo, line, got, want)
		}
		if got := b.Compare(a); got != -want {
			t.Errorf("%s:%d: %s reversed: Compare = %d, want %d", filepath.Base(file), lineNo, line, got, -want)
		}
		if a.Compare(a) != 0 || b.Compare(b) != 0 {
			t.Errorf("%s:%d: a version differs from itself", filepath.Base(file), lineNo)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOrderings covers what the vectors do not: Go pseudo-versions and
// +incompatible, crates.io's 0.0.0-0 floor, PEP 440 corners, dpkg's "~",
// Maven qualifiers after ".", the generic fallback.
func TestOrderings(t *testing.T) {
	tests := []struct {
		eco, a, b string
		want      int
	}{
		{"Go", "v0.0.0-20190125091013-d26f9f9a57f3", "0.0.0-20190125091013-d26f9f9a57f3", 0},
		{"Go", "v0.0.0-20180816102801-aaf60122140d", "v0.0.0-20190125091013-d26f9f9a57f3", -1},
		{"Go", "v0.0.0-20220906165146-f3363e06e74c", "v0.1.0", -1},
		{"Go", "1.3.1-0.20190301021747-ccb9e902956d", "1.3.0", +1},
		{"Go", "1.3.1-0.20190301021747-ccb9e902956d", "1.3.1", -1},
		{"Go", "v4.4.0+incompatible", "4.4.0", 0},
		{"Go", "v4.9.1+incompatible", "4.4.0+incompatible", +1},
		{"Go", "1.19.0-0", "1.19.0-rc.1", -1},
		{"Go", "v1.2", "1.2.0", 0},
		{"Go", "1.2.3.4", "1.2.3", +1},
		{"Go", "1.2.3.4", "1.2.4-alpha", -1},
		{"crates.io", "0.0.0-0", "0.0.0", -1},
		{"crates.io", "0.0.0-0", "0.0.0-alpha", -1},
		{"npm", "1.0.0rc1", "1.0.0-rc1", 0},
		{"PyPI", "1.0", "1.0.0", 0},
		{"PyPI", "1.0.post1", "1.0-1", 0},
		{"PyPI", "1.0a", "1.0a0", 0},
		{"PyPI", "1.0alpha1", "1.0a1", 0},
		{"PyPI", "1.0c1", "1.0rc1", 0},
		{"PyPI", "1.0.dev1", "1.0a1", -1},
		{"PyPI", "1.0rc1", "1.0", -1},
		{"PyPI", "1.0", "1.0.post0", -1},
		{"PyPI", "1.0+abc", "1.0+1", -1},
		{"PyPI", "V1.0", "1.0", 0},
		{"PyPI", "1!0.1", "2.0", +1},
		{"PyPI", "2.7.2+local", "2.7.3", -1},
		{"PyPI", "not-a-pep440-version", "0.0.1", -1},
		{"Debian", "1.0~rc1", "1.0", -1},
		{"Debian", "1.0~~", "1.0~", -1},
		{"Debian", "1.0+dfsg-1", "1.0-1", +1},
		{"Debian", "1:0.1", "2.0", +1},
		{"Maven", "1.0.RC1", "1.0-RC2", +1}, // Maven 3.9 says -1; OSV's tooling +1
		{"Maven", "1-ga-1", "1-1", 0},
		{"Maven", "1-0-1", "1-1", 0},
		{"Maven", "0-1", "1", -1},
		{"Maven", "1.0-RC3", "1.0.1", -1},
		{"Maven", "1.0-SNAPSHOT", "1.0", -1},
		{"Maven", "1.0-sp1", "1.0", +1},
		{"Maven", "2.13.4.2", "2.13.4", +1},
		{"Maven", "1.0.0.Final", "1.0.0", 0},
		{"Maven", "1.0.0.RELEASE", "1.0.0", 0},
		{"NuGet", "1.0.0.0", "1.0", 0},
		{"RubyGems", "1.0.0-rc1", "1.0.0", -1},
		{"RubyGems", "1.0.0.pre.rc1", "1.0.0-rc1", 0},
		{"Alpine", "1.2.3-r0", "1.2.3-r1", -1},
		{"Alpine", "1.2.3_rc1-r0", "1.2.3-r0", -1},
		{"Alpine", "1.2.3_p1-r0", "1.2.3-r9", +1},
		{"Packagist", "1.10.0", "1.9.9", +1},
		{"Packagist", "v2.0.0-RC1", "2.0.0", -1},
		{"Packagist", "1.0", "1.0.0", 0},
		{"Hackage", "1.2.3.4", "1.2.3", +1},
	}
	for _, tt := range tests {
		a, err := version.Parse(tt.eco, tt.a)
		if err != nil {
			t.Errorf("%s %q: %v", tt.eco, tt.a, err)
			continue
		}
		b, err := version.Parse(tt.eco, tt.b)
		if err != nil {
			t.Errorf("%s %q: %v", tt.eco, tt.b, err)
			continue
		}
		if got := a.Compare(b); got != tt.want {
			t.Errorf("%s: Compare(%q, %q) = %d, want %d", tt.eco, tt.a, tt.b, got, tt.want)
		}
		if got := b.Compare(a); got != -tt.want {
			t.Errorf("%s: Compare(%q, %q) = %d, want %d", tt.eco, tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		eco, s string
		reason string
	}{
		{"", "1.0.0", "no ecosystem"},
		{"Go", "", "empty"},
		{"Go", "   ", "empty"},
		{"Go", "latest", "does not start with a number"},
		{"Go", "1..2", "not followed by a number"},
		{"Go", "1.0.0-", "empty pre-release"},
		{"Go", "1.0.0-a..b", "empty pre-release identifier"},
		{"Go", "1.0.0+", "empty build metadata"},
		{"npm", "1.0.0\x00", "control character"},
		{"Debian", "a:1.0", "epoch \"a\" is not a number"},
		{"Debian", "1.0-", "empty revision"},
		{"Debian", ":1.0", "epoch \"\" is not a number"},
		{"Debian", "1:-1", "empty upstream"},
		{"Debian", "1.0_1", "not allowed"},
		{"RubyGems", "beta", "does not start with a number"},
		{"PyPI", "not a version", "neither PEP 440 nor a legacy version"},
		{"PyPI", "1.0\u00e9", "non-ASCII"},
		{"Packagist", "...", "neither digits nor letters"},
		{"PyPI", strings.Repeat("1", version.MaxLength+1), "longer than"},
	}
	for _, tt := range tests {
		_, err := version.Parse(tt.eco, tt.s)
		if err == nil {
			t.Errorf("%s %q: parsed, want an error", tt.eco, tt.s)
			continue
		}
		if !errors.Is(err, version.ErrInvalid) {
			t.Errorf("%s %q: %v is not ErrInvalid", tt.eco, tt.s, err)
		}
		var pe *version.ParseError
		if !errors.As(err, &pe) || pe.Ecosystem != tt.eco || pe.Input != tt.s {
			t.Errorf("%s %q: error %#v does not name the ecosystem and the input", tt.eco, tt.s, err)
		}
		if !strings.Contains(err.Error(), tt.reason) || (tt.eco != "" && !strings.Contains(err.Error(), tt.eco)) {
			t.Errorf("%s %q: error %q, want it to say %q and name the ecosystem", tt.eco, tt.s, err, tt.reason)
		}
	}
}

func TestSchemeOf(t *testing.T) {
	for eco, want := range map[string]version.Scheme{
		"Go": version.SemVer, "npm": version.SemVer, "crates.io": version.SemVer,
		"PyPI": version.PyPI, "pypi": version.PyPI, "Maven": version.Maven,
		"Debian:12": version.Debian, "Ubuntu:22.04:LTS": version.Debian,
		"Alpine:v3.19": version.Alpine, "RubyGems": version.RubyGems, "NuGet": version.NuGet,
		"Packagist": version.Generic, "Hackage": version.Generic,
		" GO ": version.SemVer, "BellSoft Hardened Containers": version.Alpine, "Wolfi:x": version.Alpine,
		"Ρy\u03a0I": version.Generic, "an ecosystem name longer than thirty-two bytes": version.Generic,
	} {
		if got := version.SchemeOf(eco); got != want {
			t.Errorf("SchemeOf(%q) = %v, want %v", eco, got, want)
		}
	}
}

func TestZeroAndMixedSchemes(t *testing.T) {
	var zero version.Version
	v, err := version.Parse("Go", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := version.Parse("PyPI", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if zero.Compare(zero) != 0 || zero.Compare(v) != -1 || v.Compare(zero) != +1 || !zero.IsZero() {
		t.Error("the zero Version must sort first and equal itself")
	}
	if c := v.Compare(p); c == 0 || c != -p.Compare(v) {
		t.Errorf("versions of different schemes: %d and %d, want a consistent order", c, p.Compare(v))
	}
	if v.String() != "1.0.0" || v.Scheme() != version.SemVer {
		t.Errorf("String, Scheme = %q, %v", v, v.Scheme())
	}
}

// TestGenericPatchLetter: OpenSSL-style patch letters sort after their
// release, so a CPE range such as Heartbleed's (>= 1.0.1, < 1.0.1g)
// holds 1.0.1f.
func TestGenericPatchLetter(t *testing.T) {
	order := []string{"1.0.0", "1.0.1-beta1", "1.0.1", "1.0.1a", "1.0.1F", "1.0.1g", "1.0.1z", "1.0.2", "1.0.2a"}
	for i := range order {
		for j := range order {
			a, err := version.Parse("generic", order[i])
			if err != nil {
				t.Fatal(err)
			}
			b, err := version.Parse("generic", order[j])
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s vs %s: %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}

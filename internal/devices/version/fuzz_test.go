package version_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/version"
)

// fuzzOrder checks, for any three strings, that parsing never panics and
// that Compare is an order: a version equals itself and its re-parse, the
// order is antisymmetric and, where the scheme promises it, transitive.
func fuzzOrder(f *testing.F, ecosystem, vectorFile string, transitive bool, seeds ...string) {
	f.Helper()
	seeds = append(seeds, vectorSeeds(vectorFile)...)
	for i, s := range seeds {
		f.Add(s, seeds[(i+1)%len(seeds)], seeds[(i+7)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		va, errA := version.Parse(ecosystem, a)
		vb, errB := version.Parse(ecosystem, b)
		vc, errC := version.Parse(ecosystem, c)
		for _, v := range []struct {
			v   version.Version
			err error
		}{{va, errA}, {vb, errB}, {vc, errC}} {
			if v.err != nil {
				continue
			}
			if v.v.Compare(v.v) != 0 {
				t.Fatalf("%q differs from itself", v.v)
			}
			again, err := version.Parse(ecosystem, v.v.String())
			if err != nil || again.Compare(v.v) != 0 {
				t.Fatalf("%q does not re-parse to itself: %v", v.v, err)
			}
		}
		if errA != nil || errB != nil {
			return
		}
		ab, ba := va.Compare(vb), vb.Compare(va)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if !transitive || errC != nil {
			return
		}
		bc, ac := vb.Compare(vc), va.Compare(vc)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("%q <= %q <= %q but Compare(%q, %q) = %d", a, b, c, a, c, ac)
		}
	})
}

// vectorSeeds returns the versions of a shared vector file, if present.
func vectorSeeds(name string) []string {
	if name == "" {
		return nil
	}
	f, err := os.Open(filepath.Join(vectorsDir, name))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 3 {
			out = append(out, fields[0], fields[2])
		}
	}
	return out
}

func FuzzSemVer(f *testing.F) {
	fuzzOrder(f, "Go", "semver-versions.txt", true, "v0.0.0-20190125091013-d26f9f9a57f3", "1.3.1-0.20190301021747-ccb9e902956d", "v4.4.0+incompatible", "0.0.0-0")
}

func FuzzNuGet(f *testing.F) {
	fuzzOrder(f, "NuGet", "nuget-versions.txt", true, "1.0.0.0-Beta.1+meta")
}

func FuzzPyPI(f *testing.F) {
	fuzzOrder(f, "PyPI", "pypi-versions.txt", true, "1!2.0.post3.dev4+local.7", "1.0-1", "v1.0rc1", "0.9-doduo")
}

// Maven is not transitive at its edges, in Maven itself as here: "0" <
// "\xa9000000000" < "0B000" yet "0" > "0B000", because a leading null
// item is dropped (testdata/fuzz/FuzzMaven keeps the case).
func FuzzMaven(f *testing.F) {
	fuzzOrder(f, "Maven", "maven-versions.txt", false, "1.0.0.RELEASE", "2.13.4.2", "1-ga-1", "1.0-SNAPSHOT")
}

func FuzzDebian(f *testing.F) {
	fuzzOrder(f, "Debian", "debian-versions.txt", true, "1:2.7.4+reloaded2-13+deb9u1", "1.0~rc1-1")
}

// Alpine is not transitive: two versions with unreadable tails compare as
// strings, a rule OSV's tooling applies and the vectors record.
func FuzzAlpine(f *testing.F) {
	fuzzOrder(f, "Alpine", "alpine-versions.txt", false, "1.2.3_rc1_p2~abc-r4")
}

func FuzzRubyGems(f *testing.F) {
	fuzzOrder(f, "RubyGems", "rubygems-versions.txt", true, "1.0.0-rc1", "1.0.a.10")
}

func FuzzGeneric(f *testing.F) {
	fuzzOrder(f, "Packagist", "", true, "v2.0.0-RC1", "1.0", "2024.01.05")
}

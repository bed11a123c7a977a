package version

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// checkPlain fails unless Compare of a and b, whatever path it takes,
// agrees with the scheme's own compare, and a version that is a plain
// release of at most four small numbers has a key.
func checkPlain(t *testing.T, ecosystem, a, b string) {
	t.Helper()
	va, errA := Parse(ecosystem, a)
	vb, errB := Parse(ecosystem, b)
	if errA != nil || errB != nil {
		return
	}
	if got, want := va.Compare(vb), sign(va.parsed.compare(vb.parsed)); got != want {
		t.Fatalf("%s: Compare(%q, %q) = %d (plain %v %v, keys %x %x), the scheme's compare says %d",
			ecosystem, a, b, got, va.plain, vb.plain, va.key, vb.key, want)
	}
}

// TestPlainKey holds the plain-release keys to the schemes' compare on
// edge cases and on every pair of versions of OSV's vectors.
func TestPlainKey(t *testing.T) {
	edge := []string{"0", "0.0", "0.0.0.0", "1", "1.0", "1.0.0", "1.0.0.0", "1.0.0.1", "1.2.3", "v1.2.3", "1.2.3+build", "1.2.3-rc1",
		"65535.0", "65536.0", "99999.1", "100000", "1.2.3.4.5", "1.65535.65535.65535", "2.0", "10.0", "1.0.post1", "1.0.dev0",
		"1!1.0", "1.0+local", "01.02", "1.0a1", "1.0rc1"}
	for _, tc := range []struct{ eco, file string }{{"Go", "semver-versions.txt"}, {"NuGet", "nuget-versions.txt"}, {"PyPI", "pypi-versions.txt"}} {
		versions := append([]string(nil), edge...)
		f, err := os.Open("../../../../shared/data/versions/" + tc.file)
		if err != nil {
			t.Fatalf("the shared version vectors are required: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) == 3 {
				versions = append(versions, fields[0], fields[2])
			}
		}
		f.Close()
		plain := 0
		for _, a := range versions {
			for _, b := range versions {
				checkPlain(t, tc.eco, a, b)
			}
			if v, err := Parse(tc.eco, a); err == nil && v.plain {
				plain++
			}
		}
		if plain == 0 {
			t.Errorf("%s: no version has a plain key", tc.eco)
		}
	}
	for _, tc := range []struct {
		eco, v string
		plain  bool
	}{
		{"Go", "v1.2.3", true}, {"Go", "1.2.3+incompatible", true}, {"Go", "1.2.3-rc1", false}, {"Go", "1.2.3.4.5", false}, {"Go", "1.65536.0", false},
		{"PyPI", "2.31.0", true}, {"PyPI", "1.0.post1", false}, {"PyPI", "1!1.0", false}, {"PyPI", "1.0+local", false}, {"PyPI", "0!1.0", true},
		{"Maven", "1.0", false}, {"Debian", "1.0", false},
	} {
		v, err := Parse(tc.eco, tc.v)
		if err != nil || v.plain != tc.plain {
			t.Errorf("%s %q: plain %v (%v), want %v", tc.eco, tc.v, v.plain, err, tc.plain)
		}
	}
}

func FuzzPlainKey(f *testing.F) {
	for _, s := range [][2]string{{"1.0", "1.0.0"}, {"65535.1", "65536"}, {"1.2.3+b", "1.2.3-a"}, {"0!1.0", "1.0.post0"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, eco := range []string{"Go", "NuGet", "PyPI"} {
			checkPlain(t, eco, a, b)
		}
	})
}

package version

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
)

// pypiVectors are OSV's PyPI ordering vectors (see vectorsDir).
const pypiVectors = "../../../../shared/data/versions/pypi-versions.txt"

// checkPyPIRelease fails unless the bare-release fast path reads s exactly
// as the pattern does, or leaves it to the pattern.
func checkPyPIRelease(t *testing.T, s string) {
	t.Helper()
	fast := parsePyPIRelease(s)
	if fast == nil {
		return
	}
	slow, err := parsePyPIPattern(s)
	if err != nil {
		t.Fatalf("%q: read as a release %+v, but the pattern says %v", s, fast, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q: release path %+v, pattern %+v", s, fast, slow)
	}
}

// TestPyPIRelease holds the fast path to the pattern on edge cases and on
// every version of OSV's PyPI vectors, and checks that it takes the forms
// it is for.
func TestPyPIRelease(t *testing.T) {
	cases := []string{"1", "1.0", "01.000.0", "v2.31.0", "V1.2", "1.0.0.0.0", "2024.10.1", "0", "0.0",
		"", "v", ".1", "1.", "1..2", "1.0a1", "1.0.post1", "1!2.0", "1.0+local", "1.0-1", "1,0", "1.0 ", "v.1", "vv1"}
	f, err := os.Open(pypiVectors)
	if err != nil {
		t.Fatalf("the shared version vectors are required: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 3 {
			cases = append(cases, fields[0], fields[2])
		}
	}
	for _, s := range cases {
		checkPyPIRelease(t, s)
	}
	for _, s := range []string{"1", "v2.31.0", "V1.2", "01.000.0"} {
		if parsePyPIRelease(s) == nil {
			t.Errorf("%q is a bare release, but the fast path leaves it", s)
		}
	}
	for _, s := range []string{"", "1.", "1..2", "1.0a1", "1!2.0", "1.0+local"} {
		if parsePyPIRelease(s) != nil {
			t.Errorf("%q is not a bare release, but the fast path takes it", s)
		}
	}
}

func FuzzPyPIRelease(f *testing.F) {
	for _, s := range []string{"1.0", "v1.2.3", "1..2", "1.0a1", "007.0.0"} {
		f.Add(s)
	}
	f.Fuzz(checkPyPIRelease)
}

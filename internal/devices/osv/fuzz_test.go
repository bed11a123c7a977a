package osv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAdvisory feeds arbitrary advisory JSON and component versions through
// compile, build and Match: nothing may panic, an accepted advisory must
// have an id, and every finding must be affected with an advisory, or carry
// a reason.
func FuzzAdvisory(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data, "1.0.0")
		}
	}
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}],"versions":["0.9"]}]}`), "0.9")
	f.Add([]byte(`{"id":"Y","affected":[{"package":{"ecosystem":"Maven","name":"g:a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0-SNAPSHOT"},{"limit":"2"}]}]}]}`), "1.5")
	f.Fuzz(func(t *testing.T, data []byte, ver string) {
		c, err := compile(data, "fuzz.json")
		if err != nil {
			return
		}
		if c.advisory.ID == "" {
			t.Fatal("compiled an advisory without an id")
		}
		ix := build([]job{{source: "fuzz.json"}}, []result{{c: c}})
		for _, e := range c.entries {
			for _, fd := range ix.Match(e.ecosystem, e.name, ver) {
				switch {
				case fd.Status == StatusAffected && fd.Advisory == nil:
					t.Fatalf("affected finding without an advisory: %+v", fd)
				case fd.Status != StatusAffected && fd.Err == nil:
					t.Fatalf("%s finding without a reason: %+v", fd.Status, fd)
				}
			}
			_ = ix.Match(strings.ToLower(e.ecosystem), e.name, "")
		}
	})
}

package cpe_test

import (
	"testing"

	"github.com/trustward/trustward/internal/devices/cpe"
)

// FuzzParse checks the binding round trip: whatever Parse or ParseURI
// accepts binds to a formatted string that Parse reads back to the same
// name, and binding is stable from then on. The matcher must not panic on
// any pair of accepted names.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
		`cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*`,
		`cpe:2.3:o:linux:linux_kernel:2.6.*:??rc:\-:*:*:*:*:*`,
		`cpe:2.3:a:foo:bar\:baz:1.0:*:*:en-us:*:*:*:*`,
		"cpe:/a:hp:insight_diagnostics:7.4.0.1570::~~online~win2003~x64~",
		"cpe:/a:foo~bar:big%7emoney_2010:%01%011.2%02",
		"cpe:/o:redhat:enterprise_linux:8:::en-us",
	} {
		f.Add(s)
	}
	vulnerable, _ := cpe.Parse("cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := cpe.ParseName(s)
		if err != nil {
			return
		}
		bound := n.String()
		again, err := cpe.Parse(bound)
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose binding %q does not parse: %v", s, n, bound, err)
		}
		if again != n {
			t.Fatalf("%q: round trip through %q changed the name:\n%+v\n%+v", s, bound, n, again)
		}
		if b2 := again.String(); b2 != bound {
			t.Fatalf("binding is not stable: %q then %q", bound, b2)
		}
		_ = cpe.MatchVulnerable(n, vulnerable, cpe.Range{StartIncluding: "2.0", EndExcluding: "2.15.0"})
		_ = cpe.MatchVulnerable(vulnerable, n, cpe.Range{})
		_ = cpe.MatchVulnerable(n, n, cpe.Range{})
	})
}

package cpe_test

import (
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/cpe"
)

func mustParse(t *testing.T, s string) cpe.Name {
	t.Helper()
	n, err := cpe.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMatchVulnerable(t *testing.T) {
	log4shell := cpe.Range{StartIncluding: "2.0", EndExcluding: "2.15.0"}
	const anyLog4j = "cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*"
	tests := []struct {
		name       string
		component  string
		vulnerable string
		r          cpe.Range
		want       cpe.Outcome
		reason     string
	}{
		{"equal version", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", cpe.Range{}, cpe.Match, "is the vulnerable version"},
		{"equal by ordering", "cpe:2.3:a:apache:log4j:2.4:*:*:*:*:*:*:*", "cpe:2.3:a:apache:log4j:2.4.0:*:*:*:*:*:*:*", cpe.Range{}, cpe.Match, "equals"},
		{"other version", "cpe:2.3:a:apache:log4j:2.17.0:*:*:*:*:*:*:*", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", cpe.Range{}, cpe.NoMatch, "is not the vulnerable version"},
		{"inside range", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.Match, "in the range >= 2.0, < 2.15.0"},
		{"lower bound included", "cpe:2.3:a:apache:log4j:2.0:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.Match, ""},
		{"upper bound excluded", "cpe:2.3:a:apache:log4j:2.15.0:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.NoMatch, "is not < 2.15.0"},
		{"below range", "cpe:2.3:a:apache:log4j:1.2.17:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.NoMatch, "is not >= 2.0"},
		{"excluding start", "cpe:2.3:a:apache:log4j:2.0:*:*:*:*:*:*:*", anyLog4j, cpe.Range{StartExcluding: "2.0", EndIncluding: "2.3"}, cpe.NoMatch, "is not > 2.0"},
		{"maven ordering", "cpe:2.3:a:apache:log4j:2.15.0-rc1:*:*:*:*:*:*:*", anyLog4j, cpe.Range{EndExcluding: "2.15.0", Ecosystem: "Maven"}, cpe.Match, ""},
		{"vendor case", "cpe:2.3:a:Apache:Log4j:2.14.1:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.Match, ""},

		{"component without version", anyLog4j, anyLog4j, log4shell, cpe.Imprecise, "no version can be compared"},
		{"component version NA", "cpe:2.3:a:apache:log4j:-:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.Imprecise, "NA"},
		{"component version pattern", "cpe:2.3:a:apache:log4j:2.*:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.Imprecise, ""},
		{"vulnerable every version", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", anyLog4j, cpe.Range{}, cpe.Imprecise, "every version and no range"},
		{"vulnerable version-less", "cpe:2.3:h:ge:mac_5500:1.0:*:*:*:*:*:*:*", "cpe:2.3:h:ge:mac_5500:-:*:*:*:*:*:*:*", cpe.Range{}, cpe.Imprecise, "version-less"},
		{"update left open", "cpe:2.3:a:microsoft:ie:8.0:*:*:*:*:*:*:*", "cpe:2.3:a:microsoft:ie:8.0:beta:*:*:*:*:*:*", cpe.Range{}, cpe.Imprecise, "update"},
		{"unorderable version", `cpe:2.3:a:apache:log4j:\.:*:*:*:*:*:*:*`, anyLog4j, log4shell, cpe.Imprecise, "cannot be ordered"},

		{"wildcard vendor (vulnerable)", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", "cpe:2.3:a:*:log4j:*:*:*:*:*:*:*:*", log4shell, cpe.Rejected, "vulnerable CPE's vendor is ANY"},
		{"pattern vendor (vulnerable)", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", "cpe:2.3:a:apach*:log4j:*:*:*:*:*:*:*:*", log4shell, cpe.Rejected, "not a literal"},
		{"NA product (component)", "cpe:2.3:a:apache:-:2.14.1:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.Rejected, "component CPE's product is NA"},
		{"version and range", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", log4shell, cpe.Rejected, "and a range"},

		{"other vendor", "cpe:2.3:a:qos:log4j:2.14.1:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.NoMatch, "vendor"},
		{"other product", "cpe:2.3:a:apache:log4net:2.14.1:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.NoMatch, "product"},
		{"other part", "cpe:2.3:o:apache:log4j:2.14.1:*:*:*:*:*:*:*", anyLog4j, log4shell, cpe.NoMatch, "part"},
		{"other update", "cpe:2.3:a:microsoft:ie:8.0:rc1:*:*:*:*:*:*", "cpe:2.3:a:microsoft:ie:8.0:beta:*:*:*:*:*:*", cpe.Range{}, cpe.NoMatch, "update"},
		{"disjoint beats open", "cpe:2.3:a:microsoft:ie:8.0:*:*:*:*:*:x86:*", "cpe:2.3:a:microsoft:ie:8.0:beta:*:*:*:*:x64:*", cpe.Range{}, cpe.NoMatch, "target_hw"},
		{"NA update against a value", "cpe:2.3:a:microsoft:ie:8.0:-:*:*:*:*:*:*", "cpe:2.3:a:microsoft:ie:8.0:beta:*:*:*:*:*:*", cpe.Range{}, cpe.NoMatch, "update"},

		{"same update", "cpe:2.3:a:microsoft:ie:8.0:beta:*:*:*:*:*:*", "cpe:2.3:a:microsoft:ie:8.0:beta:*:*:*:*:*:*", cpe.Range{}, cpe.Match, ""},
		{"component fixes what vulnerable leaves open", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:linux:*:*", anyLog4j, log4shell, cpe.Match, ""},
		{"pattern in target_hw", "cpe:2.3:a:microsoft:ie:8.0:*:*:*:*:*:x64:*", "cpe:2.3:a:microsoft:ie:8.0:*:*:*:*:*:x*:*", cpe.Range{}, cpe.Match, ""},
		{"pattern in target_hw, no match", "cpe:2.3:a:microsoft:ie:8.0:*:*:*:*:*:arm64:*", "cpe:2.3:a:microsoft:ie:8.0:*:*:*:*:*:x??:*", cpe.Range{}, cpe.NoMatch, "target_hw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cpe.MatchVulnerable(mustParse(t, tc.component), mustParse(t, tc.vulnerable), tc.r)
			if got.Outcome != tc.want || !strings.Contains(got.Reason, tc.reason) || got.Reason == "" {
				t.Fatalf("got %s (%q), want %s with a reason containing %q", got.Outcome, got.Reason, tc.want, tc.reason)
			}
		})
	}
}

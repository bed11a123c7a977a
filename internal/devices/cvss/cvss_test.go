package cvss

import (
	"testing"

	"github.com/trustward/trustward/internal/fault"
)

// Expected scores from the FIRST CVSS v3.1 calculator and NVD entries.
func TestBaseScore(t *testing.T) {
	for _, c := range []struct {
		vec  string
		want float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5},
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9},
		{"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 8.8},
	} {
		v, err := Parse(c.vec)
		if err != nil {
			t.Fatalf("%s: %v", c.vec, err)
		}
		if got := v.BaseScore(); got != c.want {
			t.Errorf("%s = %.1f, want %.1f", c.vec, got, c.want)
		}
	}
	if Severity(9.8) != "critical" || Severity(7.5) != "high" || Severity(6.1) != "medium" || Severity(1.6) != "low" {
		t.Error("severity bands")
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AVN"} {
		if _, err := Parse(s); !fault.Is(err, fault.Invalid) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	f.Add("CVSS:3.0/AV:P/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:N/E:U")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		sc := v.BaseScore()
		if sc < 0 || sc > 10 {
			t.Fatalf("score %v out of range", sc)
		}
		again, err := Parse(v.String())
		if err != nil || again.BaseScore() != sc {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// Package cvss computes CVSS v3.0 and v3.1 base scores from vector strings
// (as OSV advisories carry them) following the FIRST specification, and
// exposes the vector's metrics for the clinical-risk score.
//
// It must never guess: a vector it cannot parse is an error naming the
// metric at fault.
package cvss

import (
	"fmt"
	"math"
	"strings"

	"github.com/trustward/trustward/internal/fault"
)

// Vector is a parsed CVSS v3 base vector.
type Vector struct {
	Version                    string // "3.0" or "3.1"
	AV, AC, PR, UI, S, C, I, A string
}

var allowed = map[string][]string{
	"AV": {"N", "A", "L", "P"}, "AC": {"L", "H"}, "PR": {"N", "L", "H"}, "UI": {"N", "R"},
	"S": {"U", "C"}, "C": {"N", "L", "H"}, "I": {"N", "L", "H"}, "A": {"N", "L", "H"},
}

// Parse reads "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H". Temporal and
// environmental metrics are accepted and ignored; every base metric must
// appear exactly once.
func Parse(s string) (Vector, error) {
	var v Vector
	if len(s) > 256 {
		return v, fault.New(fault.Invalid, "CVSS vector is longer than 256 bytes")
	}
	parts := strings.Split(strings.TrimSpace(s), "/")
	switch parts[0] {
	case "CVSS:3.0":
		v.Version = "3.0"
	case "CVSS:3.1":
		v.Version = "3.1"
	default:
		return v, fault.New(fault.Invalid, "CVSS vector %q: only CVSS:3.0 and CVSS:3.1 are scored", trim(s))
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, ":")
		if !ok || k == "" || val == "" {
			return v, fault.New(fault.Invalid, "CVSS vector %q: %q is not METRIC:VALUE", trim(s), trim(p))
		}
		opts, base := allowed[k]
		if !base {
			continue // temporal or environmental
		}
		if seen[k] {
			return v, fault.New(fault.Invalid, "CVSS vector %q: %s appears twice", trim(s), k)
		}
		ok = false
		for _, o := range opts {
			ok = ok || o == val
		}
		if !ok {
			return v, fault.New(fault.Invalid, "CVSS vector %q: %s:%s is not a valid value", trim(s), k, trim(val))
		}
		seen[k] = true
		switch k {
		case "AV":
			v.AV = val
		case "AC":
			v.AC = val
		case "PR":
			v.PR = val
		case "UI":
			v.UI = val
		case "S":
			v.S = val
		case "C":
			v.C = val
		case "I":
			v.I = val
		case "A":
			v.A = val
		}
	}
	for k := range allowed {
		if !seen[k] {
			return v, fault.New(fault.Invalid, "CVSS vector %q: base metric %s is missing", trim(s), k)
		}
	}
	return v, nil
}

func trim(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// roundup is the specification's Roundup: the smallest one-decimal number
// at or above x, computed on integers to avoid floating-point surprises
// (CVSS 3.1 Appendix A).
func roundup(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

// BaseScore returns the base score (0.0-10.0).
func (v Vector) BaseScore() float64 {
	av := map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[v.AV]
	ac := map[string]float64{"L": 0.77, "H": 0.44}[v.AC]
	ui := map[string]float64{"N": 0.85, "R": 0.62}[v.UI]
	changed := v.S == "C"
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}[v.PR]
	if changed {
		pr = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}[v.PR]
	}
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	iss := 1 - (1-cia[v.C])*(1-cia[v.I])*(1-cia[v.A])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	exploit := 8.22 * av * ac * pr * ui
	if impact <= 0 {
		return 0
	}
	round := roundup
	if v.Version == "3.0" {
		round = func(x float64) float64 { return math.Ceil(x*10) / 10 }
	}
	if changed {
		return round(math.Min(1.08*(impact+exploit), 10))
	}
	return round(math.Min(impact+exploit, 10))
}

// Severity is the qualitative rating of a score.
func Severity(score float64) string {
	switch {
	case score == 0:
		return "none"
	case score < 4:
		return "low"
	case score < 7:
		return "medium"
	case score < 9:
		return "high"
	}
	return "critical"
}

func (v Vector) String() string {
	return fmt.Sprintf("CVSS:%s/AV:%s/AC:%s/PR:%s/UI:%s/S:%s/C:%s/I:%s/A:%s", v.Version, v.AV, v.AC, v.PR, v.UI, v.S, v.C, v.I, v.A)
}

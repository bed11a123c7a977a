package scan

import (
	"slices"

	"github.com/trustward/trustward/internal/devices/cpe"
)

// CPESource finds advisories for a component known only by its CPE. The
// answers must come from the precision matcher (cpe.MatchVulnerable):
// Match verdicts become findings, Imprecise ones are shown to a person.
type CPESource interface {
	MatchCPE(component cpe.Name) (matches []CPEMatch, imprecise []CPEMatch)
	// Describe names the source for the summary ("NVD feed of 2026-08-21").
	Describe() string
}

// CPEMatch is one vulnerable-product criterion that a component's CPE met,
// or could not be told apart from.
type CPEMatch struct {
	Advisory string   // a CVE id, usually
	Aliases  []string // other ids of the same vulnerability
	CVSS     string   // a CVSS vector, when known
	Fixed    []string // versions that leave the criterion, when known
	Reason   string   // the matcher's verdict, for people
}

// CPECriterion is one vulnerable product of an advisory: the CPE and the
// version range it comes with (NVD's configurations have this shape).
type CPECriterion struct {
	Advisory   string
	Aliases    []string
	CVSS       string
	Vulnerable cpe.Name
	Range      cpe.Range
}

// CPECriteria is an in-memory CPE advisory source: the criteria of the
// advisories loaded, matched one by one with cpe.MatchVulnerable. It is
// what a CPE feed reader fills.
type CPECriteria struct {
	Name     string
	Criteria []CPECriterion
}

// Describe names the source.
func (s *CPECriteria) Describe() string { return s.Name }

// MatchCPE applies the precision matcher to every criterion; an advisory
// appears once in matches (its first matching criterion) and, when it has
// no match, once in imprecise.
func (s *CPECriteria) MatchCPE(component cpe.Name) (matches, imprecise []CPEMatch) {
	matched := map[string]bool{}
	for _, c := range s.Criteria {
		v := cpe.MatchVulnerable(component, c.Vulnerable, c.Range)
		m := CPEMatch{Advisory: c.Advisory, Aliases: c.Aliases, CVSS: c.CVSS, Reason: v.Reason}
		if c.Range.EndExcluding != "" {
			m.Fixed = []string{c.Range.EndExcluding}
		}
		switch v.Outcome {
		case cpe.Match:
			if !matched[c.Advisory] {
				matched[c.Advisory] = true
				matches = append(matches, m)
			}
		case cpe.Imprecise:
			imprecise = append(imprecise, m)
		}
	}
	imprecise = slices.DeleteFunc(imprecise, func(m CPEMatch) bool { return matched[m.Advisory] })
	imprecise = slices.CompactFunc(imprecise, func(a, b CPEMatch) bool { return a.Advisory == b.Advisory })
	return matches, imprecise
}

package cpe

import (
	"fmt"
	"strings"

	"github.com/trustward/trustward/internal/devices/version"
)

// Outcome is what the precision matcher concluded.
type Outcome uint8

const (
	// NoMatch: the names differ in an attribute both fix, or the version is
	// outside the range.
	NoMatch Outcome = iota
	// Match: same part, vendor and product, compatible other attributes, and
	// a version equal to the vulnerable one or inside the range.
	Match
	// Imprecise: nothing contradicts a match, but the names do not say
	// enough to claim one (no version, a wildcard, an attribute left open).
	// A person has to look.
	Imprecise
	// Rejected: one of the names cannot be matched precisely at all: its
	// vendor or product is not a literal, or the criterion is ambiguous.
	Rejected
)

func (o Outcome) String() string {
	switch o {
	case Match:
		return "match"
	case Imprecise:
		return "imprecise"
	case Rejected:
		return "rejected"
	}
	return "no match"
}

// Verdict is the matcher's answer with the reason a person can read.
type Verdict struct {
	Outcome Outcome
	Reason  string
}

// Range is the version range of a vulnerable-product criterion, as NVD's
// configurations give it (versionStartIncluding and so on). Empty bounds
// are absent. Ecosystem names the OSV ecosystem whose version ordering
// applies (see package version); empty means the generic ordering, which
// compares runs of digits numerically and runs of letters as text.
type Range struct {
	StartIncluding string
	StartExcluding string
	EndIncluding   string
	EndExcluding   string
	Ecosystem      string
}

// IsZero reports whether the range has no bound.
func (r Range) IsZero() bool {
	return r.StartIncluding == "" && r.StartExcluding == "" && r.EndIncluding == "" && r.EndExcluding == ""
}

// MatchVulnerable decides whether component (the CPE an SBOM gives for a
// component) is an instance of vulnerable (a vulnerable-product CPE, with
// the version range it comes with). The rules, in order:
//
//  1. Rejected when either name's vendor or product is not a literal (Any,
//     NA or a wildcard pattern): such a name matches too much to be
//     evidence. Rejected too when vulnerable fixes a version and r has
//     bounds, which no criterion means.
//  2. NoMatch when part, vendor or product differ (compared without regard
//     to case), or when another attribute that both names fix differs; an
//     attribute that vulnerable leaves Any is ignored, one it fixes while
//     the component leaves it open makes the result Imprecise.
//  3. Imprecise when the component's version is Any, NA or a pattern, or
//     when vulnerable's version is NA, a pattern, or Any with no bounds
//     (NVD's "every version": true, perhaps, but not precise).
//  4. Otherwise the versions decide: equal (as the ordering of r.Ecosystem
//     has it, so 2.4 equals 2.4.0 in the generic ordering) or inside every
//     bound of r is a Match; a version that cannot be ordered is Imprecise.
func MatchVulnerable(component, vulnerable Name, r Range) Verdict {
	for _, side := range []struct {
		what string
		n    Name
	}{{"vulnerable", vulnerable}, {"component", component}} {
		if !isLiteral(side.n.Vendor) {
			return Verdict{Rejected, fmt.Sprintf("the %s CPE's vendor is %s, not a literal", side.what, describe(side.n.Vendor))}
		}
		if !isLiteral(side.n.Product) {
			return Verdict{Rejected, fmt.Sprintf("the %s CPE's product is %s, not a literal", side.what, describe(side.n.Product))}
		}
	}
	vv := vulnerable.Version
	if isLiteral(vv) && !r.IsZero() {
		return Verdict{Rejected, fmt.Sprintf("the vulnerable CPE names version %s and a range as well", Unquote(vv))}
	}
	if rel := compareAttribute(vulnerable.Part, component.Part); rel == disjoint {
		return Verdict{NoMatch, fmt.Sprintf("part %s is not %s", describe(component.Part), describe(vulnerable.Part))}
	}
	if !strings.EqualFold(component.Vendor, vulnerable.Vendor) {
		return Verdict{NoMatch, fmt.Sprintf("vendor %s is not %s", describe(component.Vendor), describe(vulnerable.Vendor))}
	}
	if !strings.EqualFold(component.Product, vulnerable.Product) {
		return Verdict{NoMatch, fmt.Sprintf("product %s is not %s", describe(component.Product), describe(vulnerable.Product))}
	}
	var open []string
	cf, vf := component.fields(), vulnerable.fields()
	for i := 4; i < len(cf); i++ { // update and the attributes after it
		switch compareAttribute(*vf[i], *cf[i]) {
		case disjoint:
			return Verdict{NoMatch, fmt.Sprintf("%s %s is not %s", attributeNames[i], describe(*cf[i]), describe(*vf[i]))}
		case undecided:
			open = append(open, fmt.Sprintf("%s (the vulnerable CPE says %s, the component's %s)", attributeNames[i], describe(*vf[i]), describe(*cf[i])))
		}
	}
	cv := component.Version
	switch {
	case !isLiteral(cv):
		return Verdict{Imprecise, fmt.Sprintf("the component CPE's version is %s, so no version can be compared", describe(cv))}
	case vv == NA:
		return Verdict{Imprecise, "the vulnerable CPE is version-less (NA)"}
	case vv == "" || vv == Any:
		if r.IsZero() {
			return Verdict{Imprecise, "the vulnerable CPE names every version and no range"}
		}
	case hasWildcard(vv):
		return Verdict{Imprecise, fmt.Sprintf("the vulnerable CPE's version is the pattern %s", describe(vv))}
	}
	ok, reason, err := versionMatches(Unquote(cv), vv, r)
	if err != nil {
		return Verdict{Imprecise, err.Error()}
	}
	if !ok {
		return Verdict{NoMatch, reason}
	}
	if len(open) > 0 {
		return Verdict{Imprecise, reason + ", but these attributes are open: " + strings.Join(open, "; ")}
	}
	return Verdict{Match, reason}
}

// versionMatches compares the component's version with vulnerable's literal
// version or with the bounds of r.
func versionMatches(have, vulnerableVersion string, r Range) (bool, string, error) {
	eco := r.Ecosystem
	if eco == "" {
		eco = "generic"
	}
	hv, err := version.Parse(eco, have)
	if err != nil {
		return false, "", fmt.Errorf("the component's version cannot be ordered: %v", err)
	}
	if isLiteral(vulnerableVersion) {
		want := Unquote(vulnerableVersion)
		if strings.EqualFold(have, want) {
			return true, fmt.Sprintf("version %s is the vulnerable version", have), nil
		}
		wv, err := version.Parse(eco, want)
		if err != nil {
			return false, "", fmt.Errorf("the vulnerable version cannot be ordered: %v", err)
		}
		if hv.Compare(wv) == 0 {
			return true, fmt.Sprintf("version %s equals the vulnerable version %s", have, want), nil
		}
		return false, fmt.Sprintf("version %s is not the vulnerable version %s", have, want), nil
	}
	bounds := []struct {
		bound string
		ok    func(c int) bool
		text  string
	}{
		{r.StartIncluding, func(c int) bool { return c >= 0 }, ">="},
		{r.StartExcluding, func(c int) bool { return c > 0 }, ">"},
		{r.EndIncluding, func(c int) bool { return c <= 0 }, "<="},
		{r.EndExcluding, func(c int) bool { return c < 0 }, "<"},
	}
	var held []string
	for _, b := range bounds {
		if b.bound == "" {
			continue
		}
		bv, err := version.Parse(eco, b.bound)
		if err != nil {
			return false, "", fmt.Errorf("the range bound %s cannot be ordered: %v", b.bound, err)
		}
		if !b.ok(hv.Compare(bv)) {
			return false, fmt.Sprintf("version %s is not %s %s", have, b.text, b.bound), nil
		}
		held = append(held, b.text+" "+b.bound)
	}
	return true, fmt.Sprintf("version %s is in the range %s", have, strings.Join(held, ", ")), nil
}

type relation uint8

const (
	compatible relation = iota // the component is within what vulnerable says
	disjoint                   // they cannot be the same thing
	undecided                  // vulnerable fixes what the component leaves open
)

// compareAttribute relates vulnerable's value v (the source, in NISTIR 7696
// terms) to the component's value c (the target).
func compareAttribute(v, c string) relation {
	switch {
	case v == "" || v == Any:
		return compatible
	case c == "" || c == Any:
		return undecided
	case v == NA || c == NA:
		if v == c {
			return compatible
		}
		return disjoint
	case hasWildcard(c):
		return undecided
	case hasWildcard(v):
		if wildcardMatch(strings.ToLower(v), strings.ToLower(c)) {
			return compatible
		}
		return disjoint
	case strings.EqualFold(v, c):
		return compatible
	}
	return disjoint
}

// wildcardMatch matches a WFN pattern (wildcards only at the ends, as Parse
// enforces) against a literal WFN string: a leading or trailing "*" takes
// any run, each "?" exactly one character (a quoted pair counts as one).
func wildcardMatch(pattern, s string) bool {
	lead, trail := 0, 0
	anyLead, anyTrail := false, false
	for lead < len(pattern) && (pattern[lead] == '?' || pattern[lead] == '*') {
		anyLead = anyLead || pattern[lead] == '*'
		lead++
	}
	body := pattern[lead:]
	for len(body) > 0 && (body[len(body)-1] == '?' || body[len(body)-1] == '*') && !quotedAt(body, len(body)-1) {
		anyTrail = anyTrail || body[len(body)-1] == '*'
		body = body[:len(body)-1]
		trail++
	}
	qLead := lead
	if anyLead {
		qLead--
	}
	qTrail := trail
	if anyTrail {
		qTrail--
	}
	chars := splitWFNChars(s)
	bodyChars := splitWFNChars(body)
	for start := 0; start+len(bodyChars) <= len(chars); start++ {
		if start < qLead || (!anyLead && start != qLead) {
			continue
		}
		after := len(chars) - start - len(bodyChars)
		if after < qTrail || (!anyTrail && after != qTrail) {
			continue
		}
		if equalChars(chars[start:start+len(bodyChars)], bodyChars) {
			return true
		}
	}
	return false
}

func quotedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func splitWFNChars(s string) []string {
	out := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			out = append(out, s[i:i+2])
			i++
			continue
		}
		out = append(out, s[i:i+1])
	}
	return out
}

func equalChars(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func describe(v string) string {
	switch v {
	case "", Any:
		return "ANY (*)"
	case NA:
		return "NA (-)"
	}
	return fmt.Sprintf("%q", Unquote(v))
}

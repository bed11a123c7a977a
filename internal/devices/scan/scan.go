// Package scan runs one SBOM against the vulnerability index: it reads the
// SBOM (devices/sbom), looks every component up by purl in the OSV index
// (devices/osv, KEV marked), applies VEX statements (devices/vex), and
// reports findings with a summary that accounts for every component:
// affected, checked and clean, or not checkable and why (no identifier,
// only a CPE, an ecosystem without advisories loaded, no version). It must
// never let a component vanish from the count, and never report "clean"
// for a component it could not check. It holds no patient data and does
// no network access.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/sbom"
	"github.com/trustward/trustward/internal/devices/vex"
)

// Finding is one advisory affecting one component.
type Finding struct {
	Ecosystem string   `json:"ecosystem"`
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Purl      string   `json:"purl"`
	Ref       string   `json:"ref,omitempty"`
	Advisory  string   `json:"advisory"`
	Aliases   []string `json:"aliases"`
	Summary   string   `json:"summary,omitempty"`
	// Severity is the advisory's CVSS vector, when it has one.
	Severity string   `json:"severity,omitempty"`
	Fixed    []string `json:"fixVersions"`
	KEV      bool     `json:"kev"`
	// VEX is the status a VEX statement gives (not_affected, affected,
	// fixed, under_investigation), "" when none applies. not_affected
	// findings are Suppressed: reported, but not counted as open.
	VEX              string `json:"vex,omitempty"`
	VEXJustification string `json:"vexJustification,omitempty"`
	Suppressed       bool   `json:"suppressed"`
}

// Unchecked is a component that could not be checked, and why.
type Unchecked struct {
	Component string `json:"component"`
	Ref       string `json:"ref,omitempty"`
	Reason    string `json:"reason"`
}

// Summary accounts for every component of the SBOM.
type Summary struct {
	Format      string `json:"format"`
	SpecVersion string `json:"specVersion"`
	Components  int    `json:"components"`
	// Checked components were looked up (affected or clean); Affected have
	// at least one open finding; Unchecked lists the others with reasons.
	Checked    int         `json:"checked"`
	Affected   int         `json:"affected"`
	Unchecked  []Unchecked `json:"unchecked"`
	Findings   int         `json:"findings"`
	Open       int         `json:"open"`
	Suppressed int         `json:"suppressedByVEX"`
	KEV        int         `json:"kev"`
	// SBOMProblems and VEXProblems are what the readers reported (bad
	// purls, duplicate refs, cycles, statements without a status ...).
	SBOMProblems []string `json:"sbomProblems"`
	VEXProblems  []string `json:"vexProblems"`
	// VEXUnknownProducts are products VEX statements name that this SBOM
	// does not have.
	VEXUnknownProducts []string `json:"vexUnknownProducts"`
	// Index describes the advisories used.
	Advisories  int            `json:"advisories"`
	ByEcosystem map[string]int `json:"advisoriesByEcosystem"`
	ParseTime   time.Duration  `json:"parseNanos"`
	MatchTime   time.Duration  `json:"matchNanos"`
}

// Result is a scan's findings and summary.
type Result struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// Options are what a scan uses besides the SBOM.
type Options struct {
	Index *osv.Index
	// VEX, when not nil, is applied to the findings.
	VEX *vex.Document
}

// Scan reads an SBOM from r and checks it. A document that cannot be read
// at all is an error (the sbom package's, naming the problem); a bad
// component is a problem in the summary and the rest is checked.
func Scan(ctx context.Context, r io.Reader, opts Options) (*Result, error) {
	if opts.Index == nil {
		return nil, errors.New("scan: no advisory index")
	}
	start := time.Now()
	doc, err := sbom.Parse(ctx, r)
	if err != nil {
		return nil, err
	}
	parsed := time.Now()
	res := &Result{Findings: []Finding{}}
	sum := &res.Summary
	sum.Format, sum.SpecVersion, sum.Components = string(doc.Format), doc.SpecVersion, len(doc.Components)
	sum.Unchecked, sum.SBOMProblems, sum.VEXProblems, sum.VEXUnknownProducts = []Unchecked{}, []string{}, []string{}, []string{}
	st := opts.Index.Stats()
	sum.Advisories, sum.ByEcosystem = st.Advisories, st.ByEcosystem
	for _, p := range doc.Problems {
		sum.SBOMProblems = append(sum.SBOMProblems, p.String())
	}

	// Components with a usable purl go to the index; the others are
	// accounted for as unchecked, with the reason.
	var comps []osv.Component
	var byIndex []*sbom.Component
	for i := range doc.Components {
		c := &doc.Components[i]
		switch {
		case c.PurlValid:
			comps = append(comps, osv.Component{PURL: c.Purl, Ref: c.Ref})
			byIndex = append(byIndex, c)
		case c.CPEValid:
			sum.Unchecked = append(sum.Unchecked, Unchecked{Component: c.Label(), Ref: c.Ref,
				Reason: "identified by CPE only, and OSV advisories are keyed by package, not CPE: check it against the NVD by hand"})
		default:
			sum.Unchecked = append(sum.Unchecked, Unchecked{Component: c.Label(), Ref: c.Ref,
				Reason: "no usable purl or CPE (embedded or hardware component): it cannot be matched to advisories"})
		}
	}
	var statements *vex.Statements
	if opts.VEX != nil {
		statements = opts.VEX.Index()
		for _, p := range opts.VEX.Problems {
			sum.VEXProblems = append(sum.VEXProblems, p.String())
		}
		var known []string
		for _, c := range doc.Components {
			known = append(known, c.Purl, c.CPE, c.Ref, doc.BOMLink(c.Ref))
		}
		if doc.Subject != nil {
			known = append(known, doc.Subject.Purl, doc.Subject.CPE, doc.Subject.Ref)
		}
		for _, u := range statements.UnknownProducts(slices.DeleteFunc(known, func(s string) bool { return s == "" })) {
			sum.VEXUnknownProducts = append(sum.VEXUnknownProducts, fmt.Sprint(u))
		}
	}

	affected := map[int]bool{}
	checked := map[int]bool{}
	unchecked := map[int]bool{}
	refIndex := map[string]int{}
	for i, c := range comps {
		refIndex[c.PURL+"\x00"+c.Ref] = i
	}
	for _, f := range opts.Index.Scan(comps) {
		i := refIndex[f.Component.PURL+"\x00"+f.Component.Ref]
		c := byIndex[i]
		switch f.Status {
		case osv.StatusUnmatched, osv.StatusError:
			if !unchecked[i] {
				unchecked[i] = true
				sum.Unchecked = append(sum.Unchecked, Unchecked{Component: c.Label(), Ref: c.Ref, Reason: f.Err.Error()})
			}
			continue
		}
		checked[i] = true
		a := f.Advisory
		out := Finding{Ecosystem: f.Component.Ecosystem, Name: f.Component.Name, Version: f.Component.Version, Purl: c.Purl, Ref: c.Ref,
			Advisory: a.ID, Aliases: nonNil(a.Aliases), Summary: a.Summary, Fixed: nonNil(f.Fixed), KEV: f.KEV != nil}
		for _, s := range a.Severity {
			if strings.HasPrefix(s.Type, "CVSS_V3") || (out.Severity == "" && strings.HasPrefix(s.Type, "CVSS")) {
				out.Severity = s.Score
			}
		}
		if statements != nil {
			keys := slices.DeleteFunc([]string{c.Purl, c.CPE, c.Ref, doc.BOMLink(c.Ref)}, func(s string) bool { return s == "" })
			var product []string
			if doc.Subject != nil {
				product = slices.DeleteFunc([]string{doc.Subject.Purl, doc.Subject.CPE, doc.Subject.Ref}, func(s string) bool { return s == "" })
			}
			for _, id := range a.IDs() {
				if s, ok := statements.Find(vex.Query{Vulnerability: id, Component: keys, Version: c.Version, Product: product}); ok {
					out.VEX, out.VEXJustification = string(s.Status), s.Justification
					out.Suppressed = s.Status == vex.NotAffected
					break
				}
			}
		}
		res.Findings = append(res.Findings, out)
		sum.Findings++
		if out.Suppressed {
			sum.Suppressed++
			continue
		}
		sum.Open++
		affected[i] = true
		if out.KEV {
			sum.KEV++
		}
	}
	// Components the index returned nothing for were checked and clean.
	for i := range comps {
		if !unchecked[i] {
			checked[i] = true
		}
	}
	sum.Checked, sum.Affected = len(checked), len(affected)
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.KEV != b.KEV {
			return a.KEV
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Advisory < b.Advisory
	})
	sum.ParseTime, sum.MatchTime = parsed.Sub(start), time.Since(parsed)
	return res, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

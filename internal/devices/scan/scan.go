package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/devices/cvss"
	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/sbom"
	"github.com/trustward/trustward/internal/devices/vex"
)

// Finding is one advisory affecting one component.
type Finding struct {
	Ecosystem string `json:"ecosystem"` // "CPE" for a finding matched by CPE
	Name      string `json:"name"`
	Version   string `json:"version"`
	Purl      string `json:"purl"` // exactly as the SBOM writes it
	CPE       string `json:"cpe,omitempty"`
	Ref       string `json:"ref,omitempty"`
	// MatchedBy is "purl" or "cpe".
	MatchedBy string   `json:"matchedBy"`
	Advisory  string   `json:"advisory"`
	Aliases   []string `json:"aliases"`
	Summary   string   `json:"summary,omitempty"`
	// CVSS is the advisory's CVSS vector, when it has one; Severity its
	// qualitative rating (none, low, medium, high, critical), or "unknown"
	// when there is no CVSS v3 vector to rate (the Go database has none).
	CVSS     string   `json:"cvss,omitempty"`
	Severity string   `json:"severity"`
	Fixed    []string `json:"fixVersions"`
	KEV      bool     `json:"kev"`
	// VEX is the status a VEX statement gives (not_affected, affected,
	// fixed, under_investigation), "" when none applies. not_affected
	// findings are Suppressed: reported, but not counted as open.
	VEX              string `json:"vex,omitempty"`
	VEXJustification string `json:"vexJustification,omitempty"`
	Suppressed       bool   `json:"suppressed"`
}

// Unmatched is a component that could not be matched to advisories, and
// why. It is not clean: nobody knows.
type Unmatched struct {
	Component string `json:"component"`
	Ref       string `json:"ref,omitempty"`
	Reason    string `json:"reason"`
}

// IndexSummary describes the advisories a scan used.
type IndexSummary struct {
	Advisories  int            `json:"advisories"`
	Withdrawn   int            `json:"withdrawn"`
	Packages    int            `json:"packages"`
	ByEcosystem map[string]int `json:"byEcosystem"`
	Problems    int            `json:"problems"` // advisories or parts skipped while loading
	KEVEntries  int            `json:"kevEntries"`
	// CPE says what CPE matching could use: the source, or that none is
	// loaded.
	CPE string `json:"cpe"`
}

// Timings are in milliseconds; IndexLoad is what the caller measured.
type Timings struct {
	IndexLoadMs float64 `json:"indexLoadMs"`
	ParseMs     float64 `json:"parseMs"`
	MatchMs     float64 `json:"matchMs"`
	// ComponentsPerSecond is components / (parse + match).
	ComponentsPerSecond float64 `json:"componentsPerSecond"`
}

// Summary accounts for every component of the SBOM: Components = Matched +
// len(Unmatched).
type Summary struct {
	Format      string `json:"format"`
	SpecVersion string `json:"specVersion"`
	Components  int    `json:"components"`
	// Matched components were looked up (by purl, or by CPE with a CPE
	// source) and are affected or clean; Affected have at least one open
	// finding.
	Matched        int            `json:"matched"`
	MatchedByPurl  int            `json:"matchedByPurl"`
	MatchedByCPE   int            `json:"matchedByCPE"`
	Affected       int            `json:"affected"`
	Unmatched      []Unmatched    `json:"unmatched"`
	Findings       int            `json:"findings"`
	Open           int            `json:"open"`
	OpenBySeverity map[string]int `json:"openBySeverity"`
	Suppressed     int            `json:"suppressedByVEX"`
	// SuppressedList names each finding a not_affected statement
	// suppressed, with its justification.
	SuppressedList []string `json:"suppressed"`
	KEV            int      `json:"kev"` // open findings in the KEV catalog
	// SBOMProblems and VEXProblems are what the readers reported (bad
	// purls, duplicate refs, cycles, statements without a status ...).
	SBOMProblems []string `json:"sbomProblems"`
	VEXProblems  []string `json:"vexProblems"`
	// VEXUnknownProducts are products VEX statements name that this SBOM
	// does not have.
	VEXUnknownProducts []string     `json:"vexUnknownProducts"`
	Index              IndexSummary `json:"index"`
	Timings            Timings      `json:"timings"`
}

// Result is a scan's findings and summary.
type Result struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// Options are what a scan uses besides the SBOM.
type Options struct {
	Index *osv.Index
	// KEV, when not nil, marks CPE findings and is counted in the summary;
	// the Index marks purl findings (osv.Index.WithKEV).
	KEV *osv.KEV
	// CPE, when not nil, matches components that have a CPE and no purl.
	CPE CPESource
	// VEX, when not nil, is applied to the findings.
	VEX *vex.Document
	// IndexLoad is how long loading the index took, for the summary.
	IndexLoad time.Duration
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
	sum.Unmatched, sum.SBOMProblems, sum.VEXProblems, sum.VEXUnknownProducts, sum.SuppressedList = []Unmatched{}, []string{}, []string{}, []string{}, []string{}
	sum.OpenBySeverity = map[string]int{}
	st := opts.Index.Stats()
	sum.Index = IndexSummary{Advisories: st.Advisories, Withdrawn: st.Withdrawn, Packages: st.Packages, ByEcosystem: st.ByEcosystem,
		Problems: st.Problems, KEVEntries: opts.KEV.Len(), CPE: "none loaded: OSV advisories name packages, not CPEs, and no CPE advisory source (such as an NVD feed) was given"}
	if opts.CPE != nil {
		sum.Index.CPE = opts.CPE.Describe()
	}
	for _, p := range doc.Problems {
		sum.SBOMProblems = append(sum.SBOMProblems, p.String())
	}
	m := &matcher{doc: doc, opts: opts, res: res}
	m.prepareVEX()

	// Components with a usable purl go to the index by their raw purl;
	// those with only a CPE to the CPE source; the others are unmatched,
	// with the reason.
	comps := make([]osv.Component, 0, len(doc.Components))
	byIndex := make([]*sbom.Component, 0, len(doc.Components))
	for i := range doc.Components {
		c := &doc.Components[i]
		switch {
		case c.PurlValid:
			comps = append(comps, osv.Component{PURL: c.Purl, Ref: c.Ref})
			byIndex = append(byIndex, c)
		case c.CPEValid && opts.CPE != nil:
			m.matchCPE(c)
		case c.CPEValid:
			m.unmatched(c, "identified by CPE only, and no CPE advisory source is loaded (OSV advisories are keyed by package, not CPE): check it against the NVD by hand")
		case c.Purl != "":
			m.unmatched(c, fmt.Sprintf("purl %q cannot be read, and no usable CPE: it cannot be matched to advisories", c.Purl))
		default:
			m.unmatched(c, "no usable purl or CPE (embedded or hardware component): it cannot be matched to advisories")
		}
	}

	affectedByPurl := make([]bool, len(comps))
	failed := make([]bool, len(comps))
	// Components that share purl and ref are one to the summary: their
	// findings and failures go to the last of them.
	owner := make([]int, len(comps))
	type purlRef struct{ purl, ref string }
	last := make(map[purlRef]int, len(comps))
	for i, c := range comps {
		last[purlRef{c.PURL, c.Ref}] = i
	}
	for i, c := range comps {
		owner[i] = last[purlRef{c.PURL, c.Ref}]
	}
	parts := opts.Index.ScanParts(comps)
	total := 0
	for _, part := range parts {
		total += len(part)
	}
	res.Findings = slices.Grow(res.Findings, total)
	facts := map[*osv.Advisory]*advisoryFacts{}
	for _, part := range parts {
		for k := range part {
			f := &part[k]
			i := owner[f.Position]
			c := byIndex[i]
			switch f.Status {
			case osv.StatusUnmatched, osv.StatusError:
				if !failed[i] {
					failed[i] = true
					m.unmatched(c, f.Err.Error())
				}
				continue
			}
			a := f.Advisory
			af := facts[a]
			if af == nil {
				af = newAdvisoryFacts(a)
				facts[a] = af
			}
			out := Finding{Ecosystem: f.Component.Ecosystem, Name: f.Component.Name, Version: f.Component.Version, Purl: c.Purl, CPE: c.CPE, Ref: c.Ref,
				MatchedBy: "purl", Advisory: a.ID, Aliases: af.aliases, Summary: a.Summary, Fixed: nonNil(f.Fixed), KEV: f.KEV != nil,
				CVSS: af.cvss, Severity: af.severity}
			if m.add(c, &out, af.ids) {
				affectedByPurl[i] = true
			}
		}
	}
	for i := range comps {
		if !failed[i] {
			sum.MatchedByPurl++
		}
		if affectedByPurl[i] {
			m.affected++
		}
	}
	sum.Matched = sum.MatchedByPurl + sum.MatchedByCPE
	sum.Affected = m.affected
	sortFindings(res.Findings)
	matched := time.Now()
	sum.Timings = Timings{IndexLoadMs: ms(opts.IndexLoad), ParseMs: ms(parsed.Sub(start)), MatchMs: ms(matched.Sub(parsed))}
	if d := matched.Sub(start).Seconds(); d > 0 {
		sum.Timings.ComponentsPerSecond = float64(sum.Components) / d
	}
	return res, nil
}

// sortFindings puts KEV findings first, then orders by package, version
// and advisory, keeping the order of findings equal in those. Findings are
// large: an index is sorted (the index breaks ties, so an unstable sort
// gives the stable order) and the findings are then moved into place along
// the permutation's cycles, each once.
func sortFindings(fs []Finding) {
	perm := make([]int32, len(fs))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(i, j int32) int {
		a, b := &fs[i], &fs[j]
		if a.KEV != b.KEV {
			if a.KEV {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		if c := strings.Compare(a.Advisory, b.Advisory); c != 0 {
			return c
		}
		return int(i - j)
	})
	// Position k is to hold fs[perm[k]]; a done position is marked -1.
	for start := range perm {
		if perm[start] < 0 || int(perm[start]) == start {
			continue
		}
		held := fs[start]
		k := start
		for {
			from := int(perm[k])
			perm[k] = -1
			if from == start {
				fs[k] = held
				break
			}
			fs[k] = fs[from]
			k = from
		}
	}
}

// matcher holds one scan's state.
type matcher struct {
	doc        *sbom.Document
	opts       Options
	res        *Result
	statements *vex.Statements
	product    []string
	affected   int
}

func (m *matcher) prepareVEX() {
	if m.opts.VEX == nil {
		return
	}
	sum, doc := &m.res.Summary, m.doc
	m.statements = m.opts.VEX.Index()
	for _, p := range m.opts.VEX.Problems {
		sum.VEXProblems = append(sum.VEXProblems, p.String())
	}
	var known []string
	for _, c := range doc.Components {
		known = append(known, c.Purl, c.CPE, c.Ref, doc.BOMLink(c.Ref))
	}
	if doc.Subject != nil {
		m.product = nonEmpty(doc.Subject.Purl, doc.Subject.CPE, doc.Subject.Ref)
		known = append(known, m.product...)
	}
	for _, u := range m.statements.UnknownProducts(nonEmpty(known...)) {
		sum.VEXUnknownProducts = append(sum.VEXUnknownProducts, fmt.Sprint(u))
	}
}

func (m *matcher) unmatched(c *sbom.Component, reason string) {
	m.res.Summary.Unmatched = append(m.res.Summary.Unmatched, Unmatched{Component: c.Label(), Ref: c.Ref, Reason: reason})
}

// advisoryFacts is what every finding of one advisory reports the same
// way, worked out once per scan.
type advisoryFacts struct {
	ids, aliases   []string
	cvss, severity string
}

func newAdvisoryFacts(a *osv.Advisory) *advisoryFacts {
	af := &advisoryFacts{ids: a.IDs(), aliases: nonNil(a.Aliases)}
	for _, s := range a.Severity {
		if strings.HasPrefix(s.Type, "CVSS_V3") || (af.cvss == "" && strings.HasPrefix(s.Type, "CVSS")) {
			af.cvss = s.Score
		}
	}
	af.severity = rate(af.cvss)
	return af
}

// add applies VEX to a finding, rates it unless it is rated, and counts it;
// it reports whether the finding is open.
func (m *matcher) add(c *sbom.Component, out *Finding, ids []string) bool {
	sum := &m.res.Summary
	if out.Severity == "" {
		out.Severity = rate(out.CVSS)
	}
	if m.statements != nil {
		keys := nonEmpty(c.Purl, c.CPE, c.Ref, m.doc.BOMLink(c.Ref))
		for _, id := range ids {
			if s, ok := m.statements.Find(vex.Query{Vulnerability: id, Component: keys, Version: c.Version, Product: m.product}); ok {
				out.VEX, out.VEXJustification = string(s.Status), s.Justification
				out.Suppressed = s.Status == vex.NotAffected
				break
			}
		}
	}
	m.res.Findings = append(m.res.Findings, *out)
	sum.Findings++
	if out.Suppressed {
		sum.Suppressed++
		why := out.VEXJustification
		if why == "" {
			why = "no justification given"
		}
		sum.SuppressedList = append(sum.SuppressedList, fmt.Sprintf("%s in %s: not_affected (%s)", out.Advisory, c.Label(), why))
		return false
	}
	sum.Open++
	sum.OpenBySeverity[out.Severity]++
	if out.KEV {
		sum.KEV++
	}
	return true
}

// matchCPE matches a component that has a CPE and no usable purl.
func (m *matcher) matchCPE(c *sbom.Component) {
	name, err := c.ParsedCPE()
	if err != nil { // CPEValid said it parses; keep the component visible anyway
		m.unmatched(c, fmt.Sprintf("CPE %q: %v", c.CPE, err))
		return
	}
	matches, imprecise := m.opts.CPE.MatchCPE(name)
	if len(matches) == 0 && len(imprecise) > 0 {
		var why []string
		for _, im := range imprecise[:min(3, len(imprecise))] {
			why = append(why, im.Advisory+": "+im.Reason)
		}
		m.unmatched(c, fmt.Sprintf("CPE %s is too imprecise to match %d advisories, check by hand (%s)", c.CPE, len(imprecise), strings.Join(why, "; ")))
		return
	}
	m.res.Summary.MatchedByCPE++
	open := false
	for _, cm := range matches {
		out := Finding{Ecosystem: "CPE", Name: name.Vendor + ":" + name.Product, Version: c.Version, Purl: c.Purl, CPE: c.CPE, Ref: c.Ref,
			MatchedBy: "cpe", Advisory: cm.Advisory, Aliases: nonNil(cm.Aliases), Summary: cm.Reason, CVSS: cm.CVSS, Fixed: nonNil(cm.Fixed)}
		ids := append([]string{cm.Advisory}, cm.Aliases...)
		for _, id := range ids {
			if _, ok := m.opts.KEV.Lookup(id); ok {
				out.KEV = true
			}
		}
		if m.add(c, &out, ids) {
			open = true
		}
	}
	if open {
		m.affected++
	}
}

// rate gives the qualitative severity of a CVSS v3 vector.
func rate(vector string) string {
	if !strings.HasPrefix(vector, "CVSS:3") {
		return "unknown"
	}
	v, err := cvss.Parse(vector)
	if err != nil {
		return "unknown"
	}
	return cvss.Severity(v.BaseScore())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

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
	// The index's findings are judged (VEX, counts) in order, but kept as
	// small records: each is built once, straight into its sorted place.
	parts := opts.Index.ScanParts(comps)
	total := 0
	for _, part := range parts {
		total += len(part)
	}
	hits := make([]purlHit, 0, total)
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
			af := facts[f.Advisory]
			if af == nil {
				af = newAdvisoryFacts(f.Advisory)
				facts[f.Advisory] = af
			}
			h := purlHit{found: f, c: c, facts: af}
			h.verdict = m.judge(c, f.Advisory.ID, af.severity, f.KEV != nil, af.ids)
			if !h.verdict.suppressed {
				affectedByPurl[i] = true
			}
			hits = append(hits, h)
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

	// The CPE findings (built by matchCPE, before the index ran) and then
	// the index's, in sorted order.
	cpeFound := res.Findings
	keys := make([]sortItem, 0, len(cpeFound)+len(hits))
	for k := range cpeFound {
		f := &cpeFound[k]
		keys = append(keys, sortItem{name: f.Name, version: f.Version, advisory: f.Advisory, kev: f.KEV})
	}
	for k := range hits {
		f := hits[k].found
		keys = append(keys, sortItem{name: f.Component.Name, version: f.Component.Version, advisory: f.Advisory.ID, kev: f.KEV != nil})
	}
	res.Findings = make([]Finding, len(keys))
	for k, at := range sortOrder(keys) {
		if at < len(cpeFound) {
			res.Findings[k] = cpeFound[at]
		} else {
			hits[at-len(cpeFound)].build(&res.Findings[k])
		}
	}
	matched := time.Now()
	sum.Timings = Timings{IndexLoadMs: ms(opts.IndexLoad), ParseMs: ms(parsed.Sub(start)), MatchMs: ms(matched.Sub(parsed))}
	if d := matched.Sub(start).Seconds(); d > 0 {
		sum.Timings.ComponentsPerSecond = float64(sum.Components) / d
	}
	return res, nil
}

// purlHit is an index finding of a component, judged but not yet built.
type purlHit struct {
	found   *osv.Finding
	c       *sbom.Component
	facts   *advisoryFacts
	verdict verdict
}

// build writes the finding.
func (h *purlHit) build(out *Finding) {
	f, c, a := h.found, h.c, h.found.Advisory
	*out = Finding{Ecosystem: f.Component.Ecosystem, Name: f.Component.Name, Version: f.Component.Version, Purl: c.Purl, CPE: c.CPE, Ref: c.Ref,
		MatchedBy: "purl", Advisory: a.ID, Aliases: h.facts.aliases, Summary: a.Summary, CVSS: h.facts.cvss, Severity: h.facts.severity,
		Fixed: nonNil(f.Fixed), KEV: f.KEV != nil, VEX: h.verdict.status, VEXJustification: h.verdict.justification, Suppressed: h.verdict.suppressed}
}

// sortItem is what the order of findings depends on.
type sortItem struct {
	name, version, advisory string
	kev                     bool
}

// sortOrder returns the order of the findings described by items: KEV
// first, then by package, version and advisory, findings equal in those
// in their order in items. Findings are many, so the sort compares
// integers: each item's (package, version) pair and advisory are ranked,
// the keys are sorted, and the item's place breaks ties, so that an
// unstable sort gives the stable order.
func sortOrder(items []sortItem) []int {
	// A component's findings are adjacent: rank the runs of one pair.
	type run struct {
		name, version string
		rank          uint64
	}
	var runs []run
	runOf := make([]int32, len(items))
	for i := range items {
		it := &items[i]
		if i == 0 || it.name != items[i-1].name || it.version != items[i-1].version {
			runs = append(runs, run{name: it.name, version: it.version})
		}
		runOf[i] = int32(len(runs) - 1)
	}
	byPair := make([]int32, len(runs))
	for i := range byPair {
		byPair[i] = int32(i)
	}
	slices.SortFunc(byPair, func(a, b int32) int {
		if c := strings.Compare(runs[a].name, runs[b].name); c != 0 {
			return c
		}
		return strings.Compare(runs[a].version, runs[b].version)
	})
	var rank uint64
	for k, r := range byPair {
		if k > 0 && (runs[r].name != runs[byPair[k-1]].name || runs[r].version != runs[byPair[k-1]].version) {
			rank++
		}
		runs[r].rank = rank
	}
	// Advisories: numbered as met, then ranked.
	number := map[string]int32{}
	var ids []string
	advOf := make([]int32, len(items))
	for i := range items {
		n, ok := number[items[i].advisory]
		if !ok {
			n = int32(len(ids))
			number[items[i].advisory] = n
			ids = append(ids, items[i].advisory)
		}
		advOf[i] = n
	}
	byID := make([]int32, len(ids))
	for i := range byID {
		byID[i] = int32(i)
	}
	slices.SortFunc(byID, func(a, b int32) int { return strings.Compare(ids[a], ids[b]) })
	advRank := make([]uint64, len(ids))
	for r, n := range byID {
		advRank[n] = uint64(r)
	}

	// key: not KEV (1 bit), pair rank (31 bits), advisory rank (32 bits);
	// each rank is below len(items).
	type sortKey struct {
		key uint64
		at  int
	}
	keys := make([]sortKey, len(items))
	for i := range items {
		k := runs[runOf[i]].rank<<32 | advRank[advOf[i]]
		if !items[i].kev {
			k |= 1 << 63
		}
		keys[i] = sortKey{k, i}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return a.at - b.at
	})
	order := make([]int, len(keys))
	for i, k := range keys {
		order[i] = k.at
	}
	return order
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
		sum.VEXUnknownProducts = append(sum.VEXUnknownProducts, u.String())
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

// verdict is what a VEX statement says of a finding: its status and
// justification ("" when none applies), and whether it is suppressed
// (not_affected).
type verdict struct {
	status, justification string
	suppressed            bool
}

// add rates a finding unless it is rated, judges it and keeps it; it
// reports whether the finding is open.
func (m *matcher) add(c *sbom.Component, out *Finding, ids []string) bool {
	if out.Severity == "" {
		out.Severity = rate(out.CVSS)
	}
	v := m.judge(c, out.Advisory, out.Severity, out.KEV, ids)
	out.VEX, out.VEXJustification, out.Suppressed = v.status, v.justification, v.suppressed
	m.res.Findings = append(m.res.Findings, *out)
	return !v.suppressed
}

// judge applies VEX to a finding of advisory (whose IDs and aliases are
// ids) in component c, and counts it in the summary.
func (m *matcher) judge(c *sbom.Component, advisory, severity string, kev bool, ids []string) verdict {
	sum := &m.res.Summary
	var v verdict
	if m.statements != nil {
		keys := nonEmpty(c.Purl, c.CPE, c.Ref, m.doc.BOMLink(c.Ref))
		for _, id := range ids {
			if s, ok := m.statements.Find(vex.Query{Vulnerability: id, Component: keys, Version: c.Version, Product: m.product}); ok {
				v = verdict{status: string(s.Status), justification: s.Justification, suppressed: s.Status == vex.NotAffected}
				break
			}
		}
	}
	sum.Findings++
	if v.suppressed {
		sum.Suppressed++
		why := v.justification
		if why == "" {
			why = "no justification given"
		}
		sum.SuppressedList = append(sum.SuppressedList, fmt.Sprintf("%s in %s: not_affected (%s)", advisory, c.Label(), why))
		return v
	}
	sum.Open++
	sum.OpenBySeverity[severity]++
	if kev {
		sum.KEV++
	}
	return v
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

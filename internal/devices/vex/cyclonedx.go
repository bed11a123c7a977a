package vex

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func parseCycloneDXJSON(data []byte) (*Document, error) {
	var bom cdx.BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		if errors.Is(err, cdx.ErrInvalidSpecVersion) {
			return nil, unsupported("the CycloneDX specVersion is not one this package reads (1.0 to 1.7)")
		}
		return nil, jsonError(data, err)
	}
	return fromCycloneDX(&bom), nil
}

const cycloneDXNamespace = "http://cyclonedx.org/schema/bom/"

func parseCycloneDXXML(data []byte) (*Document, error) {
	var bom cdx.BOM
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&bom); err != nil {
		var syn *xml.SyntaxError
		if errors.As(err, &syn) {
			return nil, malformed(err, "the VEX document is not valid XML at line %d: %s", syn.Line, syn.Msg)
		}
		return nil, unsupported("the XML is not a CycloneDX document: %v", err)
	}
	ns := bom.XMLName.Space
	ver, ok := strings.CutPrefix(ns, cycloneDXNamespace)
	if !ok || json.Unmarshal([]byte(strconv.Quote(ver)), &bom.SpecVersion) != nil {
		return nil, unsupported("the XML namespace %q is not a CycloneDX version this package reads", ns)
	}
	return fromCycloneDX(&bom), nil
}

// cycloneDXStatus maps analysis.state to a VEX status.
var cycloneDXStatus = map[cdx.ImpactAnalysisState]Status{
	cdx.IASResolved:             Fixed,
	cdx.IASResolvedWithPedigree: Fixed,
	cdx.IASExploitable:          Affected,
	cdx.IASInTriage:             UnderInvestigation,
	cdx.IASFalsePositive:        NotAffected,
	cdx.IASNotAffected:          NotAffected,
}

// fromCycloneDX turns each vulnerability with an analysis into statements.
// Each affects entry is a product: its ref, and the purl and CPE of the
// component the ref names in this document (metadata.component, components
// at any depth). Its versions restrict the product; a version's own status
// (affected, unaffected, unknown) refines the analysis state, and where the
// two disagree the more cautious wins (affected, then
// under_investigation, then the analysis) and the disagreement is a
// Problem. Versions of different effective statuses become separate
// statements.
func fromCycloneDX(bom *cdx.BOM) *Document {
	var p problems
	doc := &Document{
		Format:      CycloneDX,
		SpecVersion: bom.SpecVersion.String(),
		ID:          bom.SerialNumber,
		Version:     bom.Version,
	}
	components := map[string]*cdx.Component{}
	var collect func(list *[]cdx.Component, depth int)
	collect = func(list *[]cdx.Component, depth int) {
		if list == nil || depth > 64 {
			return
		}
		for i := range *list {
			c := &(*list)[i]
			if c.BOMRef != "" {
				components[c.BOMRef] = c
			}
			collect(c.Components, depth+1)
		}
	}
	if md := bom.Metadata; md != nil {
		doc.Timestamp = p.timestamp(md.Timestamp, "", "metadata.timestamp")
		if md.Component != nil {
			if md.Component.BOMRef != "" {
				components[md.Component.BOMRef] = md.Component
			}
			collect(md.Component.Components, 0)
		}
		if md.Supplier != nil {
			doc.Author = md.Supplier.Name
		}
	}
	collect(bom.Components, 0)
	if bom.Vulnerabilities == nil {
		return doc
	}
	for i := range *bom.Vulnerabilities {
		v := &(*bom.Vulnerabilities)[i]
		id := strings.TrimSpace(v.ID)
		if id == "" {
			p.add(Skipped, "", "", "vulnerability %d has no id", i+1)
			continue
		}
		if v.Analysis == nil {
			p.add(Skipped, id, "", "vulnerability %d has no analysis, so it states no VEX status", i+1)
			continue
		}
		base, ok := cycloneDXStatus[v.Analysis.State]
		if !ok {
			p.add(Skipped, id, "", "analysis state %q is not a CycloneDX impact analysis state", v.Analysis.State)
			continue
		}
		s := Statement{
			Vulnerability:   Vulnerability{ID: id},
			Status:          base,
			Justification:   string(v.Analysis.Justification),
			ImpactStatement: v.Analysis.Detail,
			Source:          Source{Format: CycloneDX, DocumentID: bom.SerialNumber, Index: i},
		}
		if v.References != nil {
			for _, r := range *v.References {
				if a := strings.TrimSpace(r.ID); a != "" && !strings.EqualFold(a, id) {
					s.Vulnerability.Aliases = append(s.Vulnerability.Aliases, a)
				}
			}
		}
		if v.Analysis.Response != nil {
			for _, r := range *v.Analysis.Response {
				s.Responses = append(s.Responses, string(r))
			}
		}
		var action []string
		for _, a := range []string{v.Recommendation, v.Workaround} {
			if a = strings.TrimSpace(a); a != "" {
				action = append(action, a)
			}
		}
		s.ActionStatement = strings.Join(action, "\n")
		if s.ActionStatement == "" && base == Affected {
			s.ActionStatement = v.Analysis.Detail
		}
		s.Timestamp = firstTime(&p, id,
			[2]string{v.Analysis.LastUpdated, "analysis.lastUpdated"},
			[2]string{v.Analysis.FirstIssued, "analysis.firstIssued"},
			[2]string{v.Updated, "updated"},
			[2]string{v.Published, "published"},
			[2]string{v.Created, "created"})
		if s.Timestamp.IsZero() {
			s.Timestamp = doc.Timestamp
		}

		// Products by effective status, in the order the statuses first
		// appear.
		var order []Status
		byStatus := map[Status][]Product{}
		put := func(st Status, pr Product) {
			if _, seen := byStatus[st]; !seen {
				order = append(order, st)
			}
			byStatus[st] = append(byStatus[st], pr)
		}
		if v.Affects == nil || len(*v.Affects) == 0 {
			byStatus[base] = nil
			order = append(order, base)
		} else {
			for _, a := range *v.Affects {
				ref := strings.TrimSpace(a.Ref)
				if ref == "" {
					p.add(Incomplete, id, "", "an affects entry has no ref")
					continue
				}
				purlText, cpeText := "", ""
				if c, ok := components[ref]; ok {
					purlText, cpeText = c.PackageURL, c.CPE
				} else if !strings.HasPrefix(ref, "urn:cdx:") {
					p.add(UnknownRef, id, ref, "the ref names no component of this document and is not a BOM-Link; the statement is kept for lookups by this ref")
				}
				pr := p.product(id, ref, purlText, cpeText)
				if a.Range == nil || len(*a.Range) == 0 {
					put(base, pr)
					continue
				}
				split := map[Status][]VersionConstraint{}
				var splitOrder []Status
				for _, av := range *a.Range {
					vc := VersionConstraint{Version: strings.TrimSpace(av.Version), Range: strings.TrimSpace(av.Range)}
					if (vc.Version == "") == (vc.Range == "") {
						p.add(BadIdentifier, id, ref, "a versions entry must give either a version or a range")
						continue
					}
					if vc.Range != "" {
						if r, err := parseVers(vc.Range); err != nil {
							p.add(BadIdentifier, id, ref, "%v; the range can match nothing", err)
						} else {
							vc.vers = &r
						}
					}
					st := effectiveStatus(&p, id, ref, base, string(av.Status))
					if _, seen := split[st]; !seen {
						splitOrder = append(splitOrder, st)
					}
					split[st] = append(split[st], vc)
				}
				for _, st := range splitOrder {
					q := pr
					q.Versions = split[st]
					put(st, q)
				}
			}
		}
		for _, st := range order {
			t := s
			t.Status = st
			t.Products = byStatus[st]
			if st != base {
				// A status the analysis did not state has none of its reasons.
				t.Justification = ""
				if st == Affected && t.ActionStatement == "" {
					t.ActionStatement = v.Analysis.Detail
				}
			}
			p.checkStatement(&t)
			doc.Statements = append(doc.Statements, t)
		}
	}
	doc.Problems = p.list
	return doc
}

// effectiveStatus combines the analysis status with a version's status.
func effectiveStatus(p *problems, vuln, ref string, base Status, versionStatus string) Status {
	var st Status
	switch versionStatus {
	case "", "unaffected":
		// "unaffected" says less than any analysis state: not_affected and
		// fixed agree with it; against affected or under_investigation it
		// is a contradiction and the analysis stands.
		if versionStatus != "" && (base == Affected || base == UnderInvestigation) {
			p.add(Contradiction, vuln, ref, "a version is unaffected but the analysis says %s; %s is kept", base, base)
		}
		return base
	case "affected":
		st = Affected
	case "unknown":
		st = UnderInvestigation
	default:
		p.add(BadIdentifier, vuln, ref, "version status %q is not affected, unaffected or unknown; the analysis (%s) is used", versionStatus, base)
		return base
	}
	if st == base {
		return base
	}
	if st.caution() > base.caution() {
		p.add(Contradiction, vuln, ref, "a version is %s but the analysis says %s; %s is used for it", versionStatus, base, st)
		return st
	}
	p.add(Contradiction, vuln, ref, "a version is %s but the analysis says %s; %s is kept", versionStatus, base, base)
	return base
}

func firstTime(p *problems, vuln string, fields ...[2]string) time.Time {
	for _, f := range fields {
		if t := p.timestamp(f[0], vuln, f[1]); !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

package vex

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The OpenVEX v0.2.0 document, with the v0.0.x forms (a vulnerability or
// a product as a bare string, statement-level subcomponents) accepted too.
type ovDocument struct {
	ID          string            `json:"@id"`
	Author      string            `json:"author"`
	Timestamp   string            `json:"timestamp"`
	LastUpdated string            `json:"last_updated"`
	Version     json.RawMessage   `json:"version"`
	Statements  []json.RawMessage `json:"statements"`
}

type ovStatement struct {
	Vulnerability   json.RawMessage   `json:"vulnerability"`
	Timestamp       string            `json:"timestamp"`
	LastUpdated     string            `json:"last_updated"`
	Products        []json.RawMessage `json:"products"`
	Subcomponents   []json.RawMessage `json:"subcomponents"` // v0.0.x
	Status          string            `json:"status"`
	Supplier        string            `json:"supplier"`
	StatusNotes     string            `json:"status_notes"`
	Justification   string            `json:"justification"`
	ImpactStatement string            `json:"impact_statement"`
	ActionStatement string            `json:"action_statement"`
}

type ovVulnerability struct {
	ID      string   `json:"@id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
}

type ovComponent struct {
	ID            string            `json:"@id"`
	Identifiers   map[string]string `json:"identifiers"`
	Subcomponents []json.RawMessage `json:"subcomponents"`
}

// openVEXJustifications are the labels OpenVEX allows.
var openVEXJustifications = map[string]bool{
	"component_not_present":                             true,
	"vulnerable_code_not_present":                       true,
	"vulnerable_code_not_in_execute_path":               true,
	"vulnerable_code_cannot_be_controlled_by_adversary": true,
	"inline_mitigations_already_exist":                  true,
}

func parseOpenVEX(data []byte, context string) (*Document, error) {
	var od ovDocument
	if err := json.Unmarshal(data, &od); err != nil {
		return nil, jsonError(data, err)
	}
	var p problems
	doc := &Document{
		Format:      OpenVEX,
		SpecVersion: strings.TrimPrefix(strings.TrimPrefix(context, "https://openvex.dev/ns"), "/"),
		ID:          od.ID,
		Author:      od.Author,
		Timestamp:   p.timestamp(od.Timestamp, "", "the document's timestamp"),
		Version:     flexibleInt(od.Version),
	}
	if doc.SpecVersion == "" {
		doc.SpecVersion = "v0.0.1"
	}
	for i, raw := range od.Statements {
		var os ovStatement
		if err := json.Unmarshal(raw, &os); err != nil {
			p.add(Skipped, "", "", "statement %d could not be read: %v", i+1, err)
			continue
		}
		vuln := openVEXVulnerability(os.Vulnerability)
		if vuln.ID == "" {
			p.add(Skipped, "", "", "statement %d names no vulnerability", i+1)
			continue
		}
		status := Status(os.Status)
		switch status {
		case NotAffected, Affected, Fixed, UnderInvestigation:
		default:
			p.add(Skipped, vuln.ID, "", "statement %d has status %q, not one of not_affected, affected, fixed, under_investigation", i+1, os.Status)
			continue
		}
		s := Statement{
			Vulnerability:   vuln,
			Status:          status,
			Justification:   os.Justification,
			ImpactStatement: os.ImpactStatement,
			ActionStatement: os.ActionStatement,
			StatusNotes:     os.StatusNotes,
			Supplier:        os.Supplier,
			Source:          Source{Format: OpenVEX, DocumentID: od.ID, Index: i},
		}
		if s.Justification != "" && !openVEXJustifications[s.Justification] {
			p.add(Incomplete, vuln.ID, "", "justification %q is not an OpenVEX label; it is kept as written", s.Justification)
		}
		s.Timestamp = p.timestamp(os.LastUpdated, vuln.ID, "last_updated")
		if s.Timestamp.IsZero() {
			s.Timestamp = p.timestamp(os.Timestamp, vuln.ID, "timestamp")
		}
		if s.Timestamp.IsZero() {
			s.Timestamp = doc.Timestamp
		}
		legacySubs := p.openVEXComponents(vuln.ID, os.Subcomponents, false)
		for _, pr := range p.openVEXComponents(vuln.ID, os.Products, true) {
			pr.Subcomponents = append(pr.Subcomponents, legacySubs...)
			s.Products = append(s.Products, pr)
		}
		p.checkStatement(&s)
		doc.Statements = append(doc.Statements, s)
	}
	doc.Problems = p.list
	return doc, nil
}

// openVEXVulnerability reads {"name", "@id", "aliases"} or a bare string.
func openVEXVulnerability(raw json.RawMessage) Vulnerability {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return Vulnerability{ID: strings.TrimSpace(name)}
	}
	var v ovVulnerability
	if json.Unmarshal(raw, &v) != nil {
		return Vulnerability{}
	}
	id := strings.TrimSpace(v.Name)
	if id == "" {
		id = strings.TrimSpace(v.ID)
	}
	out := Vulnerability{ID: id}
	for _, a := range v.Aliases {
		if a = strings.TrimSpace(a); a != "" && !strings.EqualFold(a, id) {
			out.Aliases = append(out.Aliases, a)
		}
	}
	return out
}

// openVEXComponents reads products or subcomponents: objects with @id and
// identifiers, or bare strings (v0.0.x). An @id that is a purl or a CPE
// stands for that identifier when identifiers does not give one.
func (p *problems) openVEXComponents(vuln string, raws []json.RawMessage, withSubs bool) []Product {
	var out []Product
	for _, raw := range raws {
		var c ovComponent
		var id string
		if json.Unmarshal(raw, &id) == nil {
			c.ID = id
		} else if err := json.Unmarshal(raw, &c); err != nil {
			p.add(BadIdentifier, vuln, "", "a product could not be read: %v", err)
			continue
		}
		purlText, cpeText := c.Identifiers["purl"], ""
		for _, k := range []string{"cpe23", "@cpe23", "cpe22", "@cpe22"} {
			if cpeText == "" {
				cpeText = c.Identifiers[k]
			}
		}
		ref := strings.TrimSpace(c.ID)
		switch {
		case purlText == "" && strings.HasPrefix(ref, "pkg:"):
			purlText, ref = ref, ""
		case cpeText == "" && strings.HasPrefix(ref, "cpe:"):
			cpeText, ref = ref, ""
		case ref == purlText || ref == cpeText:
			ref = ""
		}
		if ref == "" && purlText == "" && cpeText == "" {
			p.add(BadIdentifier, vuln, "", "a product has neither @id nor identifiers")
			continue
		}
		pr := p.product(vuln, ref, purlText, cpeText)
		if withSubs {
			pr.Subcomponents = p.openVEXComponents(vuln, c.Subcomponents, false)
		}
		out = append(out, pr)
	}
	return out
}

// flexibleInt reads a version given as a number or a numeric string.
func flexibleInt(raw json.RawMessage) int {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(s))
	}
	return n
}

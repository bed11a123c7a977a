package vex

import (
	"net/url"
	"strings"

	"github.com/trustward/trustward/internal/devices/cpe"
	"github.com/trustward/trustward/internal/devices/purl"
)

// Statements is a set of statements, from one or more documents, indexed
// by vulnerability id and alias for lookups.
type Statements struct {
	list   []Statement
	byVuln map[string][]int
}

// NewStatements indexes the statements of one or more documents. Order
// matters only between statements with the same timestamp: the later one
// wins a lookup.
func NewStatements(lists ...[]Statement) *Statements {
	s := &Statements{byVuln: map[string][]int{}}
	for _, list := range lists {
		for _, st := range list {
			st.Products = withParsedPurls(st.Products)
			i := len(s.list)
			s.list = append(s.list, st)
			seen := map[string]bool{}
			for _, id := range append([]string{st.Vulnerability.ID}, st.Vulnerability.Aliases...) {
				k := vulnKey(id)
				if k != "" && !seen[k] {
					seen[k] = true
					s.byVuln[k] = append(s.byVuln[k], i)
				}
			}
		}
	}
	return s
}

// withParsedPurls copies products, parsing purls that callers set without
// going through Parse.
func withParsedPurls(ps []Product) []Product {
	out := make([]Product, len(ps))
	for i, p := range ps {
		if p.parsed == nil && p.Purl != "" {
			if u, err := purl.Parse(p.Purl); err == nil {
				p.parsed = &u
			}
		}
		if len(p.Subcomponents) > 0 {
			p.Subcomponents = withParsedPurls(p.Subcomponents)
		}
		out[i] = p
	}
	return out
}

func vulnKey(id string) string { return strings.ToUpper(strings.TrimSpace(id)) }

// All returns the statements in the order they were given.
func (s *Statements) All() []Statement { return s.list }

// Len is the number of statements.
func (s *Statements) Len() int { return len(s.list) }

// Query asks which statement applies to a vulnerability in a component.
type Query struct {
	// Vulnerability is an id or alias (CVE-2021-44228, GHSA-jfh8-...);
	// compared without regard to case.
	Vulnerability string
	// Component holds the component's identifiers: any of its purl, CPE,
	// bom-ref and BOM-Link. A key starting "pkg:" is read as a purl, one
	// starting "cpe:" as a CPE, anything else as a ref.
	Component []string
	// Version is the component's version, for statements that restrict
	// their product to versions; when empty, the version of the first purl
	// or CPE key that has one is used.
	Version string
	// Product holds the identifiers of the product (the device, the SBOM's
	// subject) the component is part of, for statements made about the
	// product as a whole or about the component as its subcomponent.
	Product []string
}

// For returns the statement that applies to vulnID in the product or
// component named by purlOrRef (a purl, a CPE, a bom-ref or a BOM-Link),
// as Find does for a query with that one key.
func (s *Statements) For(vulnID, purlOrRef string) (Statement, bool) {
	return s.Find(Query{Vulnerability: vulnID, Component: []string{purlOrRef}})
}

// Find returns the statement that applies to the query. A statement
// applies when it names the vulnerability (id or alias) and
//
//   - one of its products matches a Component key, or
//   - one of its products matches a Product key and the product lists no
//     subcomponents, or lists one that matches a Component key.
//
// A product matches a key by the key's kind:
//
//   - purl: type, namespace and name equal (after the purl package's
//     normalisation); the product's version, when its purl has one, equal
//     to the key's, and ignored when it has none; each qualifier the
//     product's purl has present in the key with the same value, the key's
//     other qualifiers ignored; the subpath likewise. So a statement about
//     pkg:maven/org.apache.logging.log4j/log4j-core covers every version
//     and every classifier, one about pkg:deb/debian/curl@7.74.0?arch=amd64
//     covers exactly that build.
//   - CPE: each attribute of the product's CPE that is not ANY equal to the
//     key's (without regard to case).
//   - ref: equal; two BOM-Links are compared with their fragments
//     percent-decoded and their serial numbers without regard to case.
//
// A product restricted to versions (CycloneDX affects[].versions) matches
// only when the query's version is among them (equal, or in a vers range
// ordered by the range's scheme); with no version to compare, it does not
// match. When several statements apply, the one with the latest Timestamp
// wins, and among equals the one given last, as VEX statements supersede
// earlier ones.
func (s *Statements) Find(q Query) (Statement, bool) {
	comps := makeKeys(q.Component)
	prods := makeKeys(q.Product)
	ver := q.Version
	for _, k := range comps {
		if ver == "" {
			ver = k.version
		}
	}
	best := -1
	for _, i := range s.byVuln[vulnKey(q.Vulnerability)] {
		st := &s.list[i]
		if !st.applies(comps, prods, ver) {
			continue
		}
		if best < 0 || !st.Timestamp.Before(s.list[best].Timestamp) {
			best = i
		}
	}
	if best < 0 {
		return Statement{}, false
	}
	return s.list[best], true
}

func (st *Statement) applies(comps, prods []key, ver string) bool {
	for i := range st.Products {
		p := &st.Products[i]
		if p.matchesAny(comps, ver, false) {
			return true
		}
		if len(prods) == 0 || !p.matchesAny(prods, prodVersion(prods), false) {
			continue
		}
		if len(p.Subcomponents) == 0 {
			return true
		}
		for j := range p.Subcomponents {
			if p.Subcomponents[j].matchesAny(comps, ver, false) {
				return true
			}
		}
	}
	return false
}

func prodVersion(keys []key) string {
	for _, k := range keys {
		if k.version != "" {
			return k.version
		}
	}
	return ""
}

// UnknownProduct is a product of a statement that none of the known
// identifiers matches.
type UnknownProduct struct {
	Vulnerability string
	Product       Product
	Source        Source
}

// String names the vulnerability and the product by its purl, else its
// CPE, else its reference: "CVE-2024-1234: pkg:npm/left-pad@1.0.0".
func (u UnknownProduct) String() string { return u.Vulnerability + ": " + u.Product.Label() }

// Label is the product's purl, else its CPE, else its reference.
func (p Product) Label() string {
	switch {
	case p.Purl != "":
		return p.Purl
	case p.CPE != "":
		return p.CPE
	}
	return p.Ref
}

// UnknownProducts returns the products of every statement that none of the
// known identifiers (an inventory's purls, CPEs, bom-refs and BOM-Links)
// matches, by the rules of Find with version restrictions ignored. They
// are statements about something Trustward does not hold: worth showing,
// never to be dropped.
func (s *Statements) UnknownProducts(known []string) []UnknownProduct {
	keys := makeKeys(known)
	var out []UnknownProduct
	for _, st := range s.list {
		for i := range st.Products {
			if !st.Products[i].matchesAny(keys, "", true) {
				out = append(out, UnknownProduct{Vulnerability: st.Vulnerability.ID, Product: st.Products[i], Source: st.Source})
			}
		}
	}
	return out
}

type keyKind uint8

const (
	refKey keyKind = iota
	purlKey
	cpeKey
)

type key struct {
	kind    keyKind
	raw     string
	purl    purl.PURL
	cpe     cpe.Name
	version string
}

// makeKeys reads lookup keys; a purl or CPE key that does not parse is
// dropped, as it can match nothing.
func makeKeys(raw []string) []key {
	var out []key
	for _, r := range raw {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
		case strings.HasPrefix(r, "pkg:"):
			if u, err := purl.Parse(r); err == nil {
				out = append(out, key{kind: purlKey, raw: r, purl: u, version: u.Version})
			}
		case strings.HasPrefix(strings.ToLower(r), "cpe:"):
			if n, err := parseCPE(r); err == nil {
				k := key{kind: cpeKey, raw: r, cpe: n}
				if n.Version != cpe.Any && n.Version != cpe.NA {
					k.version = cpe.Unquote(n.Version)
				}
				out = append(out, k)
			}
		default:
			out = append(out, key{kind: refKey, raw: normalizeRef(r)})
		}
	}
	return out
}

func parseCPE(s string) (cpe.Name, error) { return cpe.ParseName(s) }

func (p *Product) matchesAny(keys []key, ver string, ignoreVersions bool) bool {
	for _, k := range keys {
		if p.matches(k, ver, ignoreVersions) {
			return true
		}
	}
	return false
}

func (p *Product) matches(k key, ver string, ignoreVersions bool) bool {
	ecosystem := "generic"
	switch k.kind {
	case purlKey:
		if p.parsed == nil || !purlCovers(*p.parsed, k.purl) {
			return false
		}
		if eco, err := p.parsed.Ecosystem(); err == nil {
			ecosystem = eco
		}
	case cpeKey:
		if p.CPE == "" {
			return false
		}
		n, err := parseCPE(p.CPE)
		if err != nil || !cpeCovers(n, k.cpe) {
			return false
		}
	default:
		if p.Ref == "" || normalizeRef(p.Ref) != k.raw {
			return false
		}
	}
	if ignoreVersions || len(p.Versions) == 0 {
		return true
	}
	ok, err := versionIn(ver, p.Versions, ecosystem)
	return ok && err == nil
}

// purlCovers applies the purl rule of Find: the statement's purl s covers
// the looked-up purl h.
func purlCovers(s, h purl.PURL) bool {
	if s.Type != h.Type || s.Namespace != h.Namespace || s.Name != h.Name {
		return false
	}
	if s.Version != "" && s.Version != h.Version {
		return false
	}
	for _, q := range s.Qualifiers {
		if v, ok := h.Qualifier(q.Key); !ok || v != q.Value {
			return false
		}
	}
	return s.Subpath == "" || s.Subpath == h.Subpath
}

// cpeCovers: every attribute of s that is not ANY equals h's.
func cpeCovers(s, h cpe.Name) bool {
	sf := [...]string{s.Part, s.Vendor, s.Product, s.Version, s.Update, s.Edition, s.Language, s.SWEdition, s.TargetSW, s.TargetHW, s.Other}
	hf := [...]string{h.Part, h.Vendor, h.Product, h.Version, h.Update, h.Edition, h.Language, h.SWEdition, h.TargetSW, h.TargetHW, h.Other}
	for i := range sf {
		if sf[i] != "" && sf[i] != cpe.Any && !strings.EqualFold(sf[i], hf[i]) {
			return false
		}
	}
	return true
}

// normalizeRef makes BOM-Links comparable: the serial and version part
// lower-cased, the fragment percent-decoded. Other refs are as written.
func normalizeRef(r string) string {
	if !strings.HasPrefix(strings.ToLower(r), "urn:cdx:") {
		return r
	}
	head, frag, hasFrag := strings.Cut(r, "#")
	head = strings.ToLower(head)
	if !hasFrag {
		return head
	}
	if d, err := url.PathUnescape(frag); err == nil {
		frag = d
	}
	return head + "#" + frag
}

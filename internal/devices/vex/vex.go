package vex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/fault"
)

// Format is the VEX format a document follows.
type Format string

const (
	OpenVEX   Format = "OpenVEX"
	CycloneDX Format = "CycloneDX"
)

// Status is the VEX status of a vulnerability in a product, in OpenVEX's
// (and CISA's minimum requirements') vocabulary.
type Status string

const (
	NotAffected        Status = "not_affected"
	Affected           Status = "affected"
	Fixed              Status = "fixed"
	UnderInvestigation Status = "under_investigation"
)

// caution orders statuses by how much care they ask for; where a document
// contradicts itself the more cautious status wins.
func (s Status) caution() int {
	switch s {
	case Affected:
		return 3
	case UnderInvestigation:
		return 2
	case Fixed:
		return 1
	}
	return 0
}

// Errors of Parse, for errors.Is; each is wrapped in a *fault.Error.
var (
	ErrTooLarge    = errors.New("VEX document exceeds a limit")
	ErrUnsupported = errors.New("unsupported VEX format")
	ErrMalformed   = errors.New("malformed VEX document")
)

// MaxBytes bounds a VEX document. VEX documents are small (a few kB to a
// few MB); a CycloneDX VEX may carry its SBOM's components as well.
const MaxBytes = 16 << 20

// Vulnerability names a vulnerability: its main id (a CVE, GHSA, OSV id)
// and the other names it is known by.
type Vulnerability struct {
	ID      string
	Aliases []string
}

// Product is what a statement is about. Purl and CPE are as written; Ref is
// a CycloneDX bom-ref or BOM-Link ("urn:cdx:<serial>/<version>#<bom-ref>"),
// or an OpenVEX @id that is neither a purl nor a CPE.
type Product struct {
	Ref  string
	Purl string
	CPE  string
	// Versions restrict a product to some versions (CycloneDX
	// affects[].versions); empty means every version its identifier names.
	Versions []VersionConstraint
	// Subcomponents are the components of the product in which the
	// vulnerability sits (OpenVEX); the statement's status is the product's.
	Subcomponents []Product

	parsed *purl.PURL // Purl, when it parses
}

// VersionConstraint is one version, or a range in the vers syntax
// ("vers:generic/>=2.9|<=4.1").
type VersionConstraint struct {
	Version string
	Range   string

	vers *versRange // Range, parsed when it parses
}

// Statement is one VEX statement.
type Statement struct {
	Vulnerability Vulnerability
	Products      []Product
	Status        Status
	// Justification is the machine-readable reason for not_affected as
	// written: an OpenVEX label (vulnerable_code_not_present ...) or a
	// CycloneDX one (code_not_reachable ...); the two vocabularies do not
	// map one to one, so neither is translated.
	Justification string
	// ImpactStatement is OpenVEX's impact_statement, or CycloneDX's
	// analysis.detail.
	ImpactStatement string
	// ActionStatement is OpenVEX's action_statement, or CycloneDX's
	// recommendation and workaround (for an affected status without them,
	// analysis.detail, where CycloneDX suppliers write the advice).
	ActionStatement string
	// Responses are CycloneDX's analysis.response values (update,
	// will_not_fix, workaround_available ...).
	Responses   []string
	StatusNotes string
	Supplier    string
	// Timestamp is when the statement was known to be true: OpenVEX's
	// last_updated, else timestamp, else the document's timestamp;
	// CycloneDX's analysis.lastUpdated, else firstIssued, else the
	// vulnerability's updated, published or created, else the document's
	// metadata.timestamp. Zero when none is given (a Problem).
	Timestamp time.Time
	// Source says where the statement was read.
	Source Source
}

// Source locates a statement: the document and its position there.
type Source struct {
	Format     Format
	DocumentID string // OpenVEX @id, CycloneDX serialNumber
	Index      int    // statement (OpenVEX) or vulnerability (CycloneDX) index
}

// Document is one parsed VEX document.
type Document struct {
	Format      Format
	SpecVersion string // OpenVEX @context version ("v0.2.0"), CycloneDX specVersion
	ID          string
	Author      string
	Version     int
	Timestamp   time.Time
	Statements  []Statement
	Problems    []Problem
}

// Index returns the document's statements ready for lookups.
func (d *Document) Index() *Statements { return NewStatements(d.Statements) }

// ProblemKind classifies a Problem.
type ProblemKind string

const (
	// Skipped: the statement could not be used at all (no vulnerability,
	// no or unknown status, no analysis); Detail says why.
	Skipped ProblemKind = "skipped"
	// Incomplete: the statement lacks what VEX requires of its status
	// (a justification or impact for not_affected, an action for affected,
	// a timestamp, a product); it is kept.
	Incomplete ProblemKind = "incomplete"
	// BadIdentifier: a purl, CPE or version range that does not parse; the
	// product is kept but cannot match by it.
	BadIdentifier ProblemKind = "bad-identifier"
	// UnknownRef: a CycloneDX affects ref that names no component of its own
	// document and is not a BOM-Link.
	UnknownRef ProblemKind = "unknown-ref"
	// Contradiction: a CycloneDX version status disagrees with the
	// analysis; the more cautious status is used.
	Contradiction ProblemKind = "contradiction"
	// BadTimestamp: a timestamp that is not RFC 3339.
	BadTimestamp ProblemKind = "bad-timestamp"
)

// Problem is something wrong in a VEX document that did not stop it being
// read.
type Problem struct {
	Kind          ProblemKind
	Vulnerability string
	Product       string
	Detail        string
}

func (p Problem) String() string {
	s := string(p.Kind)
	if p.Vulnerability != "" {
		s += ": " + p.Vulnerability
	}
	if p.Product != "" {
		s += ": " + p.Product
	}
	return s + ": " + p.Detail
}

// Parse reads one VEX document, telling OpenVEX from CycloneDX by content.
// The error, if any, matches ErrTooLarge, ErrUnsupported or ErrMalformed
// and is a *fault.Error whose message can be shown to the uploader.
func Parse(ctx context.Context, r io.Reader) (*Document, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the VEX document could not be read")
	}
	if n > MaxBytes {
		return nil, fault.Wrap(fault.TooLarge, ErrTooLarge, "the VEX document is larger than %d MiB", MaxBytes>>20)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return parseBytes(buf.Bytes())
}

func parseBytes(data []byte) (doc *Document, err error) {
	// The CycloneDX decoder is third-party code; a panic on hostile input
	// must become an error for the uploader.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, malformed(fmt.Errorf("decoder panic: %v", r), "the VEX document could not be decoded")
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, unsupported("the VEX document is empty")
	case trimmed[0] == '<':
		return parseCycloneDXXML(data)
	case trimmed[0] != '{':
		return nil, unsupported("the content is neither JSON nor XML")
	}
	var probe struct {
		Context   json.RawMessage `json:"@context"`
		BOMFormat string          `json:"bomFormat"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, jsonError(data, err)
	}
	var context string
	_ = json.Unmarshal(probe.Context, &context)
	switch {
	case strings.HasPrefix(context, "https://openvex.dev/ns"):
		return parseOpenVEX(data, context)
	case strings.EqualFold(probe.BOMFormat, "CycloneDX"):
		return parseCycloneDXJSON(data)
	case probe.BOMFormat != "":
		return nil, unsupported("bomFormat is %q, not CycloneDX", probe.BOMFormat)
	}
	return nil, unsupported("the JSON is neither OpenVEX (an @context of https://openvex.dev/ns) nor CycloneDX (a bomFormat)")
}

func unsupported(format string, args ...any) error {
	return fault.Wrap(fault.Invalid, ErrUnsupported, format, args...)
}

func malformed(cause error, format string, args ...any) error {
	return fault.Wrap(fault.Invalid, fmt.Errorf("%w: %w", ErrMalformed, cause), format, args...)
}

func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 0 {
		return malformed(err, "the VEX document could not be decoded: %v", err)
	}
	off = min(off, int64(len(data)))
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
	return malformed(err, "the VEX document is not valid at line %d, column %d: %v", line, col, err)
}

// problems collects a document's problems.
type problems struct{ list []Problem }

func (p *problems) add(kind ProblemKind, vuln, product, format string, args ...any) {
	p.list = append(p.list, Problem{Kind: kind, Vulnerability: vuln, Product: product, Detail: fmt.Sprintf(format, args...)})
}

// timestamp parses an RFC 3339 time; "" is the zero time.
func (p *problems) timestamp(s, vuln, field string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		p.add(BadTimestamp, vuln, "", "%s %q is not an RFC 3339 date and time", field, s)
		return time.Time{}
	}
	return t
}

// checkStatement reports what a statement of its status lacks (CISA's
// minimum requirements for VEX, as OpenVEX states them).
func (p *problems) checkStatement(s *Statement) {
	id := s.Vulnerability.ID
	switch {
	case s.Status == NotAffected && s.Justification == "" && s.ImpactStatement == "":
		p.add(Incomplete, id, "", "a not_affected statement needs a justification or an impact statement")
	case s.Status == Affected && s.ActionStatement == "" && len(s.Responses) == 0:
		p.add(Incomplete, id, "", "an affected statement needs an action statement")
	}
	if len(s.Products) == 0 {
		p.add(Incomplete, id, "", "the statement names no product")
	}
	if s.Timestamp.IsZero() {
		p.add(Incomplete, id, "", "the statement has no timestamp, so a later statement cannot be told from it")
	}
}

// product builds a Product from identifiers, reporting those that do not
// parse.
func (p *problems) product(vuln, ref, purlText, cpeText string) Product {
	pr := Product{Ref: ref, Purl: strings.TrimSpace(purlText), CPE: strings.TrimSpace(cpeText)}
	if pr.Purl != "" {
		if u, err := purl.Parse(pr.Purl); err != nil {
			p.add(BadIdentifier, vuln, pr.label(), "%v", err)
		} else {
			pr.parsed = &u
		}
	}
	if pr.CPE != "" {
		if _, err := parseCPE(pr.CPE); err != nil {
			p.add(BadIdentifier, vuln, pr.label(), "%v", err)
		}
	}
	return pr
}

func (pr Product) label() string {
	switch {
	case pr.Purl != "":
		return pr.Purl
	case pr.Ref != "":
		return pr.Ref
	}
	return pr.CPE
}

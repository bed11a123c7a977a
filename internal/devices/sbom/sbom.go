package sbom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trustward/trustward/internal/devices/cpe"
	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/fault"
)

// Format is the SBOM standard a document follows.
type Format string

// Encoding is how the document is written.
type Encoding string

const (
	CycloneDX Format = "CycloneDX"
	SPDX      Format = "SPDX"

	JSON     Encoding = "json"
	XML      Encoding = "xml"
	TagValue Encoding = "tag-value"
)

// Errors of Parse, for errors.Is. Each is wrapped in a *fault.Error whose
// kind (TooLarge or Invalid) the web layer maps to a status, and whose
// message says which limit or what is wrong.
var (
	// ErrTooLarge: the input crosses one of the Limits.
	ErrTooLarge = errors.New("SBOM exceeds a limit")
	// ErrUnsupported: the content is not CycloneDX (JSON, XML) or SPDX (JSON,
	// tag-value) in a version this package reads.
	ErrUnsupported = errors.New("unsupported SBOM format")
	// ErrMalformed: the content claims a supported format but cannot be read.
	ErrMalformed = errors.New("malformed SBOM")
)

// Limits bound what Parse accepts. They are checked before the document is
// decoded (bytes while reading; components and nesting in one pass over
// the raw JSON or while the XML streams), so a hostile file cannot make the
// decoder allocate far more than its size.
type Limits struct {
	// MaxBytes is the largest input, in bytes.
	MaxBytes int64
	// MaxComponents bounds CycloneDX components (at any depth, including
	// metadata.component and tool components) and SPDX packages plus files.
	MaxComponents int
	// MaxNesting bounds how deep CycloneDX components nest inside each
	// other; the structural depth of the JSON or XML is bounded by
	// 8*MaxNesting+32.
	MaxNesting int
}

// DefaultLimits are Trustward's limits: 64 MiB, 200,000 components, 32
// levels of nesting. The largest real device SBOMs we know of (container
// images with full OS package sets) have tens of thousands of components
// in tens of MiB, and no real tool nests components more than a few deep.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 64 << 20, MaxComponents: 200_000, MaxNesting: 32}
}

func (l Limits) structuralDepth() int { return 8*l.MaxNesting + 32 }

// Document is an SBOM in Trustward's model.
type Document struct {
	Format      Format
	Encoding    Encoding
	SpecVersion string // "1.4" for CycloneDX, "2.3" for SPDX

	// SerialNumber and Version identify a CycloneDX BOM (BOM-Link
	// "urn:cdx:<serial>/<version>#<bom-ref>"); Namespace is SPDX's
	// documentNamespace.
	SerialNumber string
	Version      int
	Namespace    string

	// Name is SPDX's document name, or CycloneDX's metadata.component name
	// (group/name when it has a group).
	Name string
	// Subject is what the SBOM describes: CycloneDX's metadata.component, or
	// the one package an SPDX document DESCRIBES. It is not in Components.
	Subject *Component
	// Supplier is CycloneDX's metadata.supplier (else metadata.manufacturer,
	// else the subject's supplier), or the SPDX subject's supplier (else the
	// first "Organization:" creator).
	Supplier string
	// Created is when the SBOM was made (metadata.timestamp,
	// creationInfo.created); zero when absent or unreadable (a Problem).
	Created time.Time

	// Components are every component but the Subject, in document order,
	// nested CycloneDX components right after their parent.
	Components []Component
	// Dependencies maps a component's Ref to the Refs it depends on
	// (CycloneDX dependencies; SPDX DEPENDS_ON and *DEPENDENCY_OF
	// relationships), each list in document order without repeats.
	Dependencies map[string][]string

	Problems []Problem
}

// Component is one entry of an SBOM.
type Component struct {
	// Ref is the CycloneDX bom-ref or the SPDX identifier ("SPDXRef-…");
	// CycloneDX allows it to be empty.
	Ref     string
	Type    string // CycloneDX type, or SPDX primary package purpose in lower case
	Group   string // CycloneDX group (a Maven groupId, a Composer vendor)
	Name    string
	Version string
	// Purl and CPE are exactly as written; see PurlValid and CPEValid.
	Purl     string
	CPE      string
	Supplier string
	Hashes   []Hash
	Licenses []string // SPDX identifiers, names or expressions as written

	// LevelOfSupport and EndOfSupport are the FDA premarket fields, as the
	// manufacturer wrote them (see supportField for the property names and
	// annotations read). EndOfSupportDate is EndOfSupport when it is a date.
	LevelOfSupport   string
	EndOfSupport     string
	EndOfSupportDate time.Time

	// Parent is the Ref of the component this one is nested in (CycloneDX;
	// the subject's Ref for components nested in metadata.component), Depth
	// how deep below the top level of Components: 0 at the top.
	Parent string
	Depth  int

	// PurlValid and CPEValid say whether Purl and CPE parse (package purl,
	// package cpe, either CPE binding). Unmatchable is set when neither
	// does: the component is kept, but no advisory can be matched to it by
	// identifier, and the UI must say so rather than show it as clean.
	PurlValid   bool
	CPEValid    bool
	Unmatchable bool
}

// Hash is a checksum of a component.
type Hash struct {
	Algorithm string // as written: "SHA-256" (CycloneDX), "SHA256" (SPDX)
	Value     string
}

// ParsedPurl parses the component's purl.
func (c *Component) ParsedPurl() (purl.PURL, error) { return purl.Parse(c.Purl) }

// ParsedCPE parses the component's CPE (either binding).
func (c *Component) ParsedCPE() (cpe.Name, error) { return cpe.ParseName(c.CPE) }

// Label names the component for people: group/name@version, or its Ref.
func (c *Component) Label() string {
	s := c.Name
	if c.Group != "" {
		s = c.Group + "/" + s
	}
	if c.Version != "" {
		s += "@" + c.Version
	}
	if s == "" {
		s = c.Ref
	}
	return s
}

// BOMLink returns the CycloneDX BOM-Link of a component of this document
// ("urn:cdx:<serial>/<version>#<ref>"), which VEX documents use to point
// into an SBOM; "" when the document has no serial number.
func (d *Document) BOMLink(ref string) string {
	if d.Format != CycloneDX || d.SerialNumber == "" || ref == "" {
		return ""
	}
	serial := d.SerialNumber
	const prefix = "urn:uuid:"
	if len(serial) > len(prefix) && serial[:len(prefix)] == prefix {
		serial = serial[len(prefix):]
	}
	return fmt.Sprintf("urn:cdx:%s/%d#%s", serial, d.Version, escapeFragment(ref))
}

// escapeFragment percent-encodes what may not stand in a URN fragment.
func escapeFragment(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '%' && c != '#' && c != '"' && c != '<' && c != '>' && c != '\\' && c != '^' && c != '`' && c != '{' && c != '|' && c != '}' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

// ProblemKind classifies a Problem.
type ProblemKind string

const (
	BadPurl         ProblemKind = "bad-purl"
	BadCPE          ProblemKind = "bad-cpe"
	ExtraIdentifier ProblemKind = "extra-identifier" // a second, different purl or CPE (SPDX)
	DuplicateRef    ProblemKind = "duplicate-ref"
	MissingRef      ProblemKind = "missing-ref" // a dependency entry without a ref
	UnknownRef      ProblemKind = "unknown-ref" // a dependency names a ref no component has
	DependencyCycle ProblemKind = "dependency-cycle"
	BadTimestamp    ProblemKind = "bad-timestamp"
	BadEndOfSupport ProblemKind = "bad-end-of-support"
	Truncated       ProblemKind = "truncated" // more problems than MaxProblems
)

// Problem is something wrong in an SBOM that did not stop it being read.
type Problem struct {
	Kind      ProblemKind
	Ref       string // the component's Ref, when the problem is a component's
	Component string // the component's Label
	Detail    string
}

func (p Problem) String() string {
	if p.Component != "" {
		return fmt.Sprintf("%s: %s: %s", p.Kind, p.Component, p.Detail)
	}
	return fmt.Sprintf("%s: %s", p.Kind, p.Detail)
}

// Parser reads SBOMs within its limits.
type Parser struct {
	limits Limits
}

// NewParser returns a parser with the given limits; a zero field takes its
// value from DefaultLimits.
func NewParser(l Limits) *Parser {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxComponents <= 0 {
		l.MaxComponents = d.MaxComponents
	}
	if l.MaxNesting <= 0 {
		l.MaxNesting = d.MaxNesting
	}
	return &Parser{limits: l}
}

// Parse reads an SBOM with DefaultLimits.
func Parse(ctx context.Context, r io.Reader) (*Document, error) {
	return NewParser(Limits{}).Parse(ctx, r)
}

// Parse reads one SBOM from r, telling the format from the content. The
// error, if any, matches ErrTooLarge, ErrUnsupported or ErrMalformed and is
// a *fault.Error whose message can be shown to the uploader. Cancelling ctx
// stops the work between stages (decoding itself is not interruptible, but
// is bounded by the limits).
func (p *Parser) Parse(ctx context.Context, r io.Reader) (*Document, error) {
	data, err := readLimited(r, p.limits.MaxBytes)
	if err != nil {
		return nil, err
	}
	return p.parseBytes(ctx, data)
}

func readLimited(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the SBOM could not be read")
	}
	if n > max {
		return nil, tooLarge("the SBOM is larger than %s", sizeText(max))
	}
	return buf.Bytes(), nil
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (p *Parser) parseBytes(ctx context.Context, data []byte) (doc *Document, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The decoders are third-party code; a panic there on hostile input
	// must become an error for the uploader, not a crashed server.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, malformed(fmt.Errorf("decoder panic: %v", r), "the SBOM could not be decoded")
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, unsupported("the SBOM is empty")
	}
	switch trimmed[0] {
	case '{':
		return p.parseJSON(ctx, data)
	case '<':
		return p.parseXML(ctx, data)
	}
	if looksLikeTagValue(trimmed) {
		return p.parseTagValue(ctx, data)
	}
	return nil, unsupported("the content is neither JSON, XML nor SPDX tag-value")
}

func tooLarge(format string, args ...any) error {
	return fault.Wrap(fault.TooLarge, ErrTooLarge, format, args...)
}

func unsupported(format string, args ...any) error {
	return fault.Wrap(fault.Invalid, ErrUnsupported, format, args...)
}

func malformed(cause error, format string, args ...any) error {
	return fault.Wrap(fault.Invalid, fmt.Errorf("%w: %w", ErrMalformed, cause), format, args...)
}

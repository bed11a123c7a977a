package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func (p *Parser) parseJSON(ctx context.Context, data []byte) (*Document, error) {
	sh, err := scanJSON(data, p.limits.structuralDepth(), p.limits.MaxComponents)
	if errors.Is(err, errJSONSyntax) {
		return nil, syntaxError(data, "SBOM")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case sh.spdxVersion != nil:
		return p.parseSPDXJSON(ctx, data, *sh.spdxVersion)
	case sh.bomFormat != nil:
		if !strings.EqualFold(*sh.bomFormat, "CycloneDX") {
			return nil, unsupported("bomFormat is %q, not CycloneDX", *sh.bomFormat)
		}
		return p.parseCycloneDXJSON(ctx, data, sh)
	case sh.context != nil && strings.HasPrefix(*sh.context, "https://openvex.dev/"):
		return nil, unsupported("this is an OpenVEX document, not an SBOM")
	case sh.context != nil && strings.Contains(*sh.context, "spdx.org/rdf/3"):
		return nil, unsupported("SPDX 3 (JSON-LD) is not read yet; SPDX 2.1–2.3 is")
	}
	return nil, unsupported("the JSON has neither bomFormat (CycloneDX) nor spdxVersion (SPDX)")
}

func (p *Parser) parseCycloneDXJSON(ctx context.Context, data []byte, sh jsonShape) (*Document, error) {
	var bom cdx.BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		if errors.Is(err, cdx.ErrInvalidSpecVersion) {
			v := ""
			if sh.specVersion != nil {
				v = *sh.specVersion
			}
			return nil, unsupported("CycloneDX specVersion %q is not one this package reads (1.0 to 1.7)", v)
		}
		return nil, jsonError(data, err, "CycloneDX SBOM")
	}
	if bom.SpecVersion == 0 {
		return nil, malformed(errors.New("no specVersion"), "the CycloneDX SBOM has no specVersion")
	}
	return p.fromCycloneDX(ctx, &bom, JSON)
}

const cycloneDXNamespace = "http://cyclonedx.org/schema/bom/"

func (p *Parser) parseXML(ctx context.Context, data []byte) (*Document, error) {
	lt := &limitedTokens{
		d:             xml.NewDecoder(bytes.NewReader(data)),
		maxDepth:      p.limits.structuralDepth(),
		maxComponents: p.limits.MaxComponents,
	}
	var bom cdx.BOM
	err := xml.NewTokenDecoder(lt).Decode(&bom)
	if errors.Is(err, ErrTooLarge) {
		return nil, err
	}
	if lt.root.Local != "" && (lt.root.Local != "bom" || !strings.HasPrefix(lt.root.Space, cycloneDXNamespace)) {
		if lt.root.Local == "RDF" {
			return nil, unsupported("SPDX RDF/XML is not read; use SPDX JSON or tag-value")
		}
		return nil, unsupported("the XML root is <%s> in namespace %q, not a CycloneDX <bom>", lt.root.Local, lt.root.Space)
	}
	if err != nil {
		var syn *xml.SyntaxError
		if errors.As(err, &syn) {
			return nil, malformed(err, "the CycloneDX SBOM is not valid XML at line %d: %s", syn.Line, syn.Msg)
		}
		return nil, malformed(err, "the CycloneDX SBOM could not be decoded: %v", err)
	}
	// The root's resolved namespace, not bom.XMLNS: a document may bind the
	// namespace to a prefix (xmlns:c="...") and leave xmlns unset.
	ver := strings.TrimPrefix(lt.root.Space, cycloneDXNamespace)
	if json.Unmarshal([]byte(strconv.Quote(ver)), &bom.SpecVersion) != nil {
		return nil, unsupported("CycloneDX namespace %q is not a version this package reads (1.0 to 1.7)", lt.root.Space)
	}
	return p.fromCycloneDX(ctx, &bom, XML)
}

// fromCycloneDX builds the Document. Where it reads what:
//
//   - Subject: metadata.component; Name is its group/name.
//   - Supplier: metadata.supplier, else metadata.manufacturer (1.6), else
//     metadata.manufacture (deprecated), else the subject's supplier.
//   - Components: components, with nested components, and the components
//     nested in metadata.component, flattened depth first.
//   - Component supplier: supplier, else manufacturer, else publisher.
//   - Level of support and end of support: component properties (see
//     supportField).
func (p *Parser) fromCycloneDX(ctx context.Context, bom *cdx.BOM, enc Encoding) (*Document, error) {
	doc := &Document{
		Format:       CycloneDX,
		Encoding:     enc,
		SpecVersion:  bom.SpecVersion.String(),
		SerialNumber: bom.SerialNumber,
		Version:      bom.Version,
		Dependencies: map[string][]string{},
	}
	b := newBuilder(ctx, doc, p.limits)
	if md := bom.Metadata; md != nil {
		doc.Created = b.timestamp(md.Timestamp, "metadata.timestamp")
		if md.Component != nil {
			subject := b.cdxComponent(md.Component, "", 0)
			b.register(&subject, true)
			doc.Subject = &subject
			doc.Name = subject.Name
			if subject.Group != "" {
				doc.Name = subject.Group + "/" + subject.Name
			}
			if md.Component.Components != nil {
				if err := b.cdxComponents(*md.Component.Components, subject.Ref, 0); err != nil {
					return nil, err
				}
			}
		}
		for _, org := range []*cdx.OrganizationalEntity{md.Supplier, md.Manufacturer, md.Manufacture} {
			if doc.Supplier == "" && org != nil {
				doc.Supplier = strings.TrimSpace(org.Name)
			}
		}
		if doc.Supplier == "" && doc.Subject != nil {
			doc.Supplier = doc.Subject.Supplier
		}
	}
	if bom.Components != nil {
		if err := b.cdxComponents(*bom.Components, "", 0); err != nil {
			return nil, err
		}
	}
	if bom.Dependencies != nil {
		for _, d := range *bom.Dependencies {
			if d.Ref == "" {
				b.problem(MissingRef, nil, "a dependencies entry has no ref")
				continue
			}
			var on []string
			if d.Dependencies != nil {
				on = *d.Dependencies
			}
			b.addDependencies(d.Ref, on)
		}
	}
	return b.finish()
}

// cdxComponents appends components and, depth first, their children.
func (b *builder) cdxComponents(list []cdx.Component, parent string, depth int) error {
	if depth >= b.limits.MaxNesting {
		return tooLarge("the SBOM nests components more than %d deep", b.limits.MaxNesting)
	}
	for i := range list {
		if err := b.tick(); err != nil {
			return err
		}
		c := &list[i]
		b.add(b.cdxComponent(c, parent, depth))
		if c.Components != nil && len(*c.Components) > 0 {
			if err := b.cdxComponents(*c.Components, c.BOMRef, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *builder) cdxComponent(c *cdx.Component, parent string, depth int) Component {
	out := Component{
		Ref:     c.BOMRef,
		Type:    string(c.Type),
		Group:   c.Group,
		Name:    c.Name,
		Version: c.Version,
		Purl:    c.PackageURL,
		CPE:     c.CPE,
		Parent:  parent,
		Depth:   depth,
	}
	for _, org := range []*cdx.OrganizationalEntity{c.Supplier, c.Manufacturer} {
		if out.Supplier == "" && org != nil {
			out.Supplier = strings.TrimSpace(org.Name)
		}
	}
	if out.Supplier == "" {
		out.Supplier = strings.TrimSpace(c.Publisher)
	}
	if c.Hashes != nil {
		for _, h := range *c.Hashes {
			out.Hashes = append(out.Hashes, Hash{Algorithm: string(h.Algorithm), Value: h.Value})
		}
	}
	if c.Licenses != nil {
		for _, l := range *c.Licenses {
			switch {
			case l.Expression != "":
				out.Licenses = append(out.Licenses, l.Expression)
			case l.License != nil && l.License.ID != "":
				out.Licenses = append(out.Licenses, l.License.ID)
			case l.License != nil && l.License.Name != "":
				out.Licenses = append(out.Licenses, l.License.Name)
			}
		}
	}
	if c.Properties != nil {
		for _, prop := range *c.Properties {
			b.support(&out, prop.Name, prop.Value, fmt.Sprintf("property %q", prop.Name))
		}
	}
	return out
}

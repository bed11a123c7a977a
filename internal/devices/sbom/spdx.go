package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/tagvalue"
)

func (p *Parser) parseSPDXJSON(ctx context.Context, data []byte, version string) (*Document, error) {
	num, err := spdxVersionNumber(version)
	if err != nil {
		return nil, unsupported("%v", err)
	}
	var doc spdx.Document
	if num == "2.3" {
		// tools-golang's reader decodes into a generic map first to find the
		// version; we know it, so decode once into the 2.3 model.
		var d v2_3.Document
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, jsonError(data, err, "SPDX SBOM")
		}
		doc = d
	} else {
		d, err := spdxjson.Read(bytes.NewReader(data))
		if err != nil {
			return nil, jsonError(data, err, "SPDX SBOM")
		}
		doc = *d
	}
	return p.fromSPDX(ctx, &doc, JSON, num)
}

func (p *Parser) parseTagValue(ctx context.Context, data []byte) (*Document, error) {
	version, err := tagValueShape(data, p.limits.MaxComponents)
	if err != nil {
		return nil, err
	}
	num, err := spdxVersionNumber(version)
	if err != nil {
		return nil, unsupported("%v", err)
	}
	doc, err := tagvalue.Read(bytes.NewReader(data))
	if err != nil {
		return nil, malformed(err, "the SPDX tag-value SBOM could not be read: %v", err)
	}
	return p.fromSPDX(ctx, doc, TagValue, num)
}

// Relationship types that put the dependency graph's edge the other way
// round: "A DEPENDENCY_OF B" means B depends on A.
var reversedDependency = map[string]bool{
	"DEPENDENCY_OF": true, "BUILD_DEPENDENCY_OF": true, "DEV_DEPENDENCY_OF": true,
	"OPTIONAL_DEPENDENCY_OF": true, "PROVIDED_DEPENDENCY_OF": true, "TEST_DEPENDENCY_OF": true,
	"RUNTIME_DEPENDENCY_OF": true,
}

// fromSPDX builds the Document. Where it reads what:
//
//   - Subject: the one package the document DESCRIBES (documentDescribes or
//     a DESCRIBES / DESCRIBED_BY relationship); with several, none is the
//     subject and all stay in Components.
//   - Supplier: the subject's supplier, else the first Organization creator.
//   - Components: packages (files and snippets are not components).
//   - Purl and CPE: external references of type purl, cpe23Type and
//     cpe22Type; a second, different one is an ExtraIdentifier problem.
//   - Supplier of a package: its supplier, else its originator, never
//     NOASSERTION.
//   - Licenses: concluded then declared, without NONE and NOASSERTION.
//   - Level of support and end of support: the package's annotations (in
//     JSON nested in the package; in tag-value by SPDXREF) and its comment,
//     read as "key: value" lines (see supportField).
//   - Dependencies: DEPENDS_ON, and the *DEPENDENCY_OF types reversed.
//     CONTAINS is composition, not dependency, and is not read.
func (p *Parser) fromSPDX(ctx context.Context, sd *spdx.Document, enc Encoding, version string) (*Document, error) {
	doc := &Document{
		Format:       SPDX,
		Encoding:     enc,
		SpecVersion:  version,
		Name:         sd.DocumentName,
		Namespace:    sd.DocumentNamespace,
		Dependencies: map[string][]string{},
	}
	b := newBuilder(ctx, doc, p.limits)
	docRef := "SPDXRef-" + string(sd.SPDXIdentifier)
	if sd.SPDXIdentifier == "" {
		docRef = "SPDXRef-DOCUMENT"
	}
	b.other[docRef] = struct{}{}
	for _, f := range sd.Files {
		if f != nil {
			b.other[common.RenderElementID(f.FileSPDXIdentifier)] = struct{}{}
		}
	}
	if ci := sd.CreationInfo; ci != nil {
		doc.Created = b.timestamp(ci.Created, "creationInfo.created")
	}

	// The subject: what DOCUMENT describes.
	var described []string
	for _, r := range sd.Relationships {
		if r == nil {
			continue
		}
		a, z := renderRef(r.RefA), renderRef(r.RefB)
		switch strings.ToUpper(r.Relationship) {
		case "DESCRIBES":
			if a == docRef {
				described = append(described, z)
			}
		case "DESCRIBED_BY":
			if z == docRef {
				described = append(described, a)
			}
		}
	}
	subjectRef := ""
	if len(uniq(described)) == 1 {
		subjectRef = described[0]
	}

	annotations := map[string][]string{}
	for _, a := range sd.Annotations {
		if a != nil && a.AnnotationSPDXIdentifier.ElementRefID != "" {
			ref := renderRef(a.AnnotationSPDXIdentifier)
			annotations[ref] = append(annotations[ref], a.AnnotationComment)
		}
	}
	for _, pkg := range sd.Packages {
		if pkg == nil {
			continue
		}
		if err := b.tick(); err != nil {
			return nil, err
		}
		c := b.spdxPackage(pkg, annotations)
		if c.Ref != "" && c.Ref == subjectRef && doc.Subject == nil {
			b.register(&c, true)
			doc.Subject = &c
			continue
		}
		b.add(c)
	}
	if doc.Subject != nil {
		doc.Supplier = doc.Subject.Supplier
	}
	if doc.Supplier == "" && sd.CreationInfo != nil {
		for _, cr := range sd.CreationInfo.Creators {
			if strings.EqualFold(cr.CreatorType, "Organization") {
				doc.Supplier = strings.TrimSpace(cr.Creator)
				break
			}
		}
	}

	for _, r := range sd.Relationships {
		if r == nil || r.RefA.SpecialID != "" || r.RefB.SpecialID != "" {
			continue // NONE and NOASSERTION name no element
		}
		a, z := renderRef(r.RefA), renderRef(r.RefB)
		// Elements of other documents (DocumentRef-x:SPDXRef-y) are known
		// by reference, not unknown.
		for _, id := range []common.DocElementID{r.RefA, r.RefB} {
			if id.DocumentRefID != "" {
				b.other[renderRef(id)] = struct{}{}
			}
		}
		switch typ := strings.ToUpper(r.Relationship); {
		case typ == "DEPENDS_ON":
			b.addDependencies(a, []string{z})
		case reversedDependency[typ]:
			b.addDependencies(z, []string{a})
		}
	}
	return b.finish()
}

func (b *builder) spdxPackage(pkg *spdx.Package, annotations map[string][]string) Component {
	c := Component{
		Ref:     common.RenderElementID(pkg.PackageSPDXIdentifier),
		Type:    strings.ToLower(pkg.PrimaryPackagePurpose),
		Name:    pkg.PackageName,
		Version: pkg.PackageVersion,
	}
	if pkg.PackageSPDXIdentifier == "" {
		c.Ref = ""
	}
	if s := pkg.PackageSupplier; s != nil && !isNoAssertion(s.Supplier) {
		c.Supplier = strings.TrimSpace(s.Supplier)
	}
	if o := pkg.PackageOriginator; c.Supplier == "" && o != nil && !isNoAssertion(o.Originator) {
		c.Supplier = strings.TrimSpace(o.Originator)
	}
	for _, h := range pkg.PackageChecksums {
		c.Hashes = append(c.Hashes, Hash{Algorithm: string(h.Algorithm), Value: h.Value})
	}
	for _, l := range []string{pkg.PackageLicenseConcluded, pkg.PackageLicenseDeclared} {
		if l = strings.TrimSpace(l); l != "" && !isNoAssertion(l) && l != "NONE" && !containsString(c.Licenses, l) {
			c.Licenses = append(c.Licenses, l)
		}
	}
	var extra []string
	cpe22 := ""
	for _, ref := range pkg.PackageExternalReferences {
		if ref == nil {
			continue
		}
		loc := strings.TrimSpace(ref.Locator)
		switch strings.ToLower(ref.RefType) {
		case "purl":
			if c.Purl == "" {
				c.Purl = loc
			} else if loc != c.Purl {
				extra = append(extra, "purl "+loc)
			}
		case "cpe23type":
			if c.CPE == "" {
				c.CPE = loc
			} else if loc != c.CPE {
				extra = append(extra, "CPE "+loc)
			}
		case "cpe22type":
			if cpe22 == "" {
				cpe22 = loc
			}
		}
	}
	if c.CPE == "" {
		c.CPE = cpe22 // a 2.2 URI only when no 2.3 name is given
	}
	for _, a := range pkg.Annotations {
		b.supportFromText(&c, a.AnnotationComment, "an annotation")
	}
	for _, text := range annotations[c.Ref] {
		b.supportFromText(&c, text, "an annotation")
	}
	b.supportFromText(&c, pkg.PackageComment, "the package comment")
	for _, e := range extra {
		b.problem(ExtraIdentifier, &c, "a second %s is ignored", e)
	}
	return c
}

func renderRef(id common.DocElementID) string {
	if id.SpecialID != "" {
		return id.SpecialID
	}
	return common.RenderDocElementID(id)
}

func isNoAssertion(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "NOASSERTION") }

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func uniq(list []string) []string {
	var out []string
	for _, s := range list {
		if !containsString(out, s) {
			out = append(out, s)
		}
	}
	return out
}

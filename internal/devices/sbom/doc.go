// Package sbom owns reading software bills of materials into Trustward's
// own model: CycloneDX 1.0–1.7 in JSON and XML (through
// github.com/CycloneDX/cyclonedx-go) and SPDX 2.1–2.3 in JSON and
// tag-value (through github.com/spdx/tools-golang), the format told apart
// by content, never by file name. A Document lists every component
// (nested CycloneDX components flattened, with their parent), the
// dependency graph, the FDA premarket fields (level of support, end of
// support) where a manufacturer wrote them, and the Problems found.
//
// It must never drop a component silently: a component with neither a
// usable purl nor a usable CPE is kept and flagged Unmatchable, and a bad
// purl, a bad CPE, a duplicate bom-ref, an unknown dependency reference or
// a dependency cycle is a Problem naming the component while the rest is
// read. It must never trust the size of its input: Limits bound the bytes,
// the components and their nesting before anything large is built, and
// crossing one is an error that says which. It keeps purls and CPEs as
// they were written (matching is the osv, purl and cpe packages' work),
// holds no patient data and does no network access.
package sbom

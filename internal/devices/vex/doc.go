// Package vex owns reading VEX (Vulnerability Exploitability eXchange)
// documents into one model of statements, and looking statements up:
// OpenVEX (JSON, spec v0.2.0, with the v0.0.x string forms read too) and
// CycloneDX VEX (the vulnerabilities[].analysis of a CycloneDX document in
// JSON or XML, through github.com/CycloneDX/cyclonedx-go). A Statement says
// that a vulnerability (an id and its aliases) has a status (not_affected,
// affected, fixed, under_investigation) in some products, identified by
// purl, CPE or bom-ref / BOM-Link, with the justification, impact and
// action the supplier gave.
//
// It must never silently drop or soften what a supplier said: a statement
// it cannot use (no vulnerability, an unknown status) is a Problem, a
// statement about a product no SBOM has is reported by UnknownProducts,
// and where a CycloneDX document contradicts itself the more cautious
// status wins and the contradiction is a Problem. It does not apply
// statements to findings; callers look them up with Statements.For. It
// holds no patient data and does no network access.
package vex

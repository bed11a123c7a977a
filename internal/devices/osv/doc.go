// Package osv owns the vulnerability index: it loads OSV advisories (a
// folder of <Ecosystem>/all.zip exports, as OSV's own tools read them, or
// of single .json records), indexes their affected packages by ecosystem
// and OSV-normalised name with every range parsed once, loads the CISA
// Known Exploited Vulnerabilities catalog, and matches components
// (ecosystem, name, version or purl) against it.
//
// Matching follows the OSV schema's evaluation: SEMVER and ECOSYSTEM ranges
// (introduced, fixed, last_affected, limit) and explicit versions lists;
// GIT ranges are never turned into versions, so only an explicit versions
// list can match there; withdrawn advisories are ignored. Where OSV-Scanner
// departs from the schema, the departure is named in Match's comment.
//
// It must never panic on an advisory or a component, never drop one
// silently: a malformed advisory is skipped with a Problem naming its file
// and the reason, and a component it cannot judge (unknown ecosystem,
// unreadable version) yields an explicit unmatched or error Finding. It
// holds no patient data and does no network access.
package osv

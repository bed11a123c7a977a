// Package scan runs one SBOM against the vulnerability index: it reads the
// SBOM (devices/sbom), looks every component with a purl up in the OSV
// index by its raw purl (devices/osv, KEV marked), matches components that
// have only a CPE in precision mode (devices/cpe) when a CPE advisory
// source is given, applies VEX statements (devices/vex), and reports
// findings with a summary that accounts for every component: matched
// (affected or clean) or unmatched, with the reason (no identifier, only a
// CPE and no CPE source, an imprecise CPE, an ecosystem without advisories,
// no version).
//
// It must never let a component vanish from the count, never report
// "clean" for a component it could not match, and never invent a CPE
// source it does not have: without one, the summary says so. It holds no
// patient data and does no network access.
package scan

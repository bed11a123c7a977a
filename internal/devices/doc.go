// Package devices owns the inventory of connected medical devices and
// clinical systems: what each device is, what it runs, where it sits on the
// network, which clinical function it serves and who owns it. Subpackages
// parse SBOMs and VEX (sbom, vex, cpe) and match components against
// advisories (osv, version, purl).
//
// The Assessor keeps each device's SBOMs and VEX documents as uploaded and
// turns them into findings (Reevaluate): components matched by purl against
// the advisories, VEX and people's statuses applied, clinical risk scored,
// every change kept in the finding's history. It must never let a component
// vanish (one that cannot be matched is listed as unmatched, with the
// reason), and never resolve findings on a scan that could not run (no
// SBOM, no advisories).
//
// It holds no patient data and must never log credentials of devices.
package devices

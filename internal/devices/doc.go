// Package devices owns the inventory of connected medical devices and
// clinical systems: what each device is, what it runs, where it sits on the
// network, which clinical function it serves and who owns it. Subpackages
// parse SBOMs and VEX (sbom, vex, cpe) and match components against
// advisories (osv, version, purl).
//
// It holds no patient data and must never log credentials of devices.
package devices

// Package version owns the parsing and ordering of package version strings,
// one scheme per ecosystem, so that advisory ranges can be evaluated the way
// each ecosystem's own tools order releases: SemVer (Go modules with the "v"
// prefix and pseudo-versions, npm, crates.io), PyPI (PEP 440 with the legacy
// fallback), Maven (Maven 3's ComparableVersion), Debian (dpkg),
// Alpine (apk), RubyGems, NuGet, and a generic fallback for the rest.
//
// Its orderings are checked against the shared version vectors
// (shared/data/versions) that OSV's own tooling is tested with, so that a
// scan agrees with OSV-Scanner on the same data.
//
// It must never panic on input and never invent a reading: a string that
// the ecosystem's scheme cannot read at all (no leading number in SemVer, a
// bad dpkg epoch, white space in a PyPI version) is an error that names the
// ecosystem and the string. It holds no state: every function is pure.
package version

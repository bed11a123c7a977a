// Package purl owns package URLs (https://github.com/package-url/purl-spec):
// reading pkg:type/namespace/name@version?qualifiers#subpath with its
// percent-decoding and per-type normalisation, writing the canonical form
// back, and naming the OSV ecosystem and package name a purl stands for.
//
// It keeps the string it was given (Raw) beside the normalised fields,
// because some lookups are case-sensitive (Go module paths, npm's legacy
// names) and an SBOM's own spelling is evidence. It must never guess: a
// purl it cannot read is an error that says what is wrong, and a type with
// no OSV ecosystem is reported as such, never mapped to a near miss.
package purl

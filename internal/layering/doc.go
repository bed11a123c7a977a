// Package layering holds only a test: it enforces the layering of
// ARCHITECTURE.md (domain parts import no net/http and no web or app; no
// package lacks its doc comment) so that the rules hold by test, not hope.
package layering

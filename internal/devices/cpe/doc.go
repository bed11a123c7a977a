// Package cpe owns Common Platform Enumeration names (NISTIR 7695, CPE 2.3):
// reading the formatted-string binding ("cpe:2.3:a:vendor:product:...") and
// the older URI binding ("cpe:/a:vendor:product:...") into well-formed
// names with the specification's quoting rules, binding a name back to a
// formatted string, and a precision matcher that decides whether a
// component's CPE is a vulnerable product's CPE.
//
// The matcher is deliberately stricter than CPE name matching (NISTIR
// 7696): a CPE whose vendor or product is not a literal is rejected with a
// reason, and a CPE that says no version (or leaves an attribute the
// vulnerable CPE fixes unspecified) is reported as imprecise, never as a
// match. It must never guess a match: a finding built on it has to be
// defensible to a biomedical engineer. It holds no patient data.
package cpe

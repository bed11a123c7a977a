// Package monitor owns the privacy office's view of accesses: for now the
// reports patients file about accesses that look wrong, which the office
// follows to an outcome the patient can read. (The explanation engine,
// detectors and cases come with the privacy-monitoring work.)
//
// It must never store a patient's words in the clear: notes and outcomes
// are sealed under the patient's key.
package monitor

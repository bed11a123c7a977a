// Package monitor owns the reports patients file about accesses that look
// wrong, which the privacy office follows to an outcome the patient can
// read. Its subpackages hold the rest of privacy monitoring: explain (why
// an access happened), detect (alerts and risk), eval (the benchmark) and
// cases (monitoring in the server and the office's case workflow).
//
// It must never store a patient's words in the clear: notes and outcomes
// are sealed under the patient's key.
package monitor

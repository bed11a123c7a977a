// Package audit owns the access event: its model, its canonical encoding,
// its mapping to and from FHIR R4 AuditEvent, and recording it durably. The
// Recorder is fail-closed: Record returns only once the event is committed,
// and a caller must not release patient data when Record fails. One writer
// goroutine batches concurrent events into one transaction (group commit).
//
// The full event is sealed under the patient's data key; only internal
// identifiers and codes are stored in the clear for queries. It must never
// log an event's contents. The Integrator sequences committed events into the transparency log
// (package ledger) as commitment leaves and records each leaf's index.
package audit

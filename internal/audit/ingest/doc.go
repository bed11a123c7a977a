// Package ingest brings access events from the systems a hospital already
// runs into the audit store: FHIR R4 AuditEvent (one resource, a Bundle, or
// NDJSON bulk), CSV access-log exports read through a column mapping file,
// and IHE ATNA syslog (RFC 5424 over TCP or TLS, RFC 6587 octet counting)
// carrying DICOM PS3.15 audit messages.
//
// Ingestion is idempotent: every event has a deterministic id (the
// AuditEvent's own id, or a documented hash for CSV rows and DICOM
// messages), and the store skips ids it already holds. A bad line, row,
// entry or frame is rejected with its position and a reason while the good
// ones are kept; counters per source (accepted, duplicates, rejected by
// reason) are kept for the privacy office.
//
// It must never log or report an event's contents: problems name a
// position, a JSON path or a column, and a reason, never a value that
// could be patient data.
package ingest

// Package access is the one policy decision point for every read or write
// of patient data. It decides from the user's role (rules as data, in
// roles.json), the care relationship (care team, encounter participant,
// same department as an open encounter), the purpose of use (HL7
// PurposeOfUse) and break-the-glass grants; then it records the access as
// an audit event and releases data only once that event is durable
// (fail-closed). Denied attempts are recorded too.
//
// It must never return patient data when the audit write failed.
package access

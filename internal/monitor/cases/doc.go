// Package cases runs privacy monitoring inside the server and carries the
// privacy office's case workflow.
//
// It keeps the context that explains accesses (FHIR R4 Organization,
// Practitioner, PractitionerRole, Patient, RelatedPerson, Encounter,
// CareTeam, Appointment, ServiceRequest, MedicationRequest) sealed in the
// store under the key of the patient each resource concerns. A background
// loop feeds every recorded access event through the explanation engine
// and the detectors (internal/monitor/explain and detect) in time order:
// each event's explanation kind is stored, each alert is stored once, and
// alerts about one user are grouped into a case until an officer decides
// it. The workflow is: new, investigating (taken by an officer), decided
// (appropriate, inappropriate, needs HR) with a note; notes are sealed.
// An "appropriate" verdict suppresses later alerts about the same user
// and patient for the same reasons. Optionally the user is warned when a
// case about them reaches the threshold.
//
// It never logs patient data: log lines carry counts and case ids only.
package cases

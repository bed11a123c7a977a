// Package records owns the FHIR R4 store of the resources Trustward holds
// itself (Patient, Practitioner, PractitionerRole, Organization, Encounter,
// CareTeam, Condition, AllergyIntolerance, MedicationRequest, Observation):
// validation on the way in, sealing at rest under the patient's data key,
// bulk import from a Bundle or NDJSON, and the plain-text index of internal
// identifiers that the access policy needs (care teams, encounter
// participants and departments, staff placement) plus a keyed blind index
// for patient search.
//
// It decides nothing about who may read what (that is access), and must
// never store a patient's name, birth date, address or clinical content in
// the clear, nor log it.
package records

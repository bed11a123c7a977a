// Package sim owns the synthetic hospital that `trustward demo` loads: the
// organisation and its departments, staff (Practitioner, PractitionerRole)
// and their accounts, patients grouped into households, and each patient's
// encounters, care team, conditions, allergies, medication requests and
// observations, all as FHIR R4 JSON generated reproducibly from a seed.
//
// It only generates: it writes nothing, and hands every resource to a
// callback in dependency order. It must never produce real data: every
// person is drawn at random from embedded lists of given names, surnames and
// invented streets of a fictional city, with phone numbers in the unassigned
// 555 area code and e-mail under reserved .example domains.
package sim

// Package explain owns the explanation engine of privacy monitoring: it
// holds a hospital's context (departments, staff and their roles, patients
// and their households, encounters, care teams, appointments and orders,
// read from FHIR R4 NDJSON) in memory and explains each access to a
// patient's record by a care relationship on record, or marks it
// unexplained. Unexplained is neutral, not guilt: the detectors decide
// what deserves a person's attention.
//
// It must never read anything a hospital would not have: no ground truth,
// no labels. It logs nothing about patients.
package explain

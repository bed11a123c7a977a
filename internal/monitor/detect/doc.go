// Package detect owns the privacy-monitoring detectors: relationship flags
// (self, household, same surname, address or phone, coworker, neighbour,
// VIP) that a direct care relationship explains away; behaviour against
// the user's own history and their role's peers (unexplained patients per
// shift and per month, bursts of users around one patient, search then
// open); credential compromise (new or outside networks, off-shift hours,
// concurrent sessions, bulk volume and export, terminated accounts); and
// a review queue for every break-the-glass. Each access gets a risk score
// with plain reasons; alerts about one user are grouped into one case.
//
// The same Detector serves the stream (ProcessEvent returns alerts as the
// event arrives) and batch re-scoring of a time range (Rescore). It reads
// only what a hospital has: the events and the context. It must never
// read ground truth, and never logs or reports patient names, only ids.
package detect

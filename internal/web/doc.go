// Package web owns HTTP: the browser routes (server-rendered HTML behind
// sessions, http.CrossOriginProtection and a strict Content-Security-Policy),
// the JSON API (bearer tokens, JSON bodies only, problem+json errors) and the
// FHIR endpoints (OperationOutcome errors), each on its own mux. Error kinds
// are mapped to HTTP status in one place (errors.go).
//
// It holds no domain logic: every read of patient data goes through access,
// which records it before releasing it. It must never log request bodies or
// patient data.
package web

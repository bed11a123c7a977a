package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/records"
)

// status maps an error kind to its HTTP status: the one place where this
// happens.
func status(err error) int {
	switch fault.KindOf(err) {
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Conflict:
		return http.StatusConflict
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.Unauthenticated:
		return http.StatusUnauthorized
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// logError logs what the client is not told.
func logError(log *slog.Logger, r *http.Request, err error) {
	st := status(err)
	if st >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", st, "err", err)
	} else {
		log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", st, "kind", fault.KindOf(err).String())
	}
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists field problems of invalid input.
	Errors []records.Issue `json:"errors,omitempty"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	logError(log, r, err)
	st := status(err)
	p := Problem{Type: "about:blank", Title: http.StatusText(st), Status: st, Detail: fault.Message(err), Instance: r.URL.Path}
	var ve *records.ValidationError
	if errors.As(err, &ve) {
		p.Errors = ve.Issues
	}
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trustward"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	_ = json.NewEncoder(w).Encode(p)
}

// OperationOutcome is the FHIR error resource.
type OperationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []OutcomeIssue `json:"issue"`
}

// OutcomeIssue is one issue of an OperationOutcome.
type OutcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// fhirCode maps an error kind to the FHIR issue-type code.
func fhirCode(err error) string {
	switch fault.KindOf(err) {
	case fault.NotFound:
		return "not-found"
	case fault.Invalid:
		return "invalid"
	case fault.Conflict:
		return "conflict"
	case fault.Forbidden:
		return "forbidden"
	case fault.Unauthenticated:
		return "login"
	case fault.Unavailable:
		return "transient"
	case fault.TooLarge:
		return "too-costly"
	}
	return "exception"
}

func writeOutcome(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	logError(log, r, err)
	oo := OperationOutcome{ResourceType: "OperationOutcome"}
	var ve *records.ValidationError
	if errors.As(err, &ve) {
		for _, is := range ve.Issues {
			oi := OutcomeIssue{Severity: is.Severity, Code: is.Code, Diagnostics: is.Diagnostics}
			if is.Expression != "" {
				oi.Expression = []string{is.Expression}
			}
			oo.Issue = append(oo.Issue, oi)
		}
	} else {
		oo.Issue = []OutcomeIssue{{Severity: "error", Code: fhirCode(err), Diagnostics: fault.Message(err)}}
	}
	st := status(err)
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trustward"`)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(st)
	_ = json.NewEncoder(w).Encode(oo)
}

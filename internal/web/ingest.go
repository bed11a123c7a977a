package web

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// mayIngest: feeding access events is an integration task of
// administrators; privacy officers may load an export they were sent.
func mayIngest(u identity.User) bool {
	return u.Role == identity.RoleAdmin || u.Role == identity.RolePrivacyOfficer
}

var sourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// apiIngestAuditEvents takes FHIR R4 AuditEvents: one resource or a Bundle
// (application/json, application/fhir+json) or NDJSON
// (application/fhir+ndjson, application/x-ndjson). Good events are stored
// even when others are rejected; the answer lists each rejection by line
// (NDJSON) or entry (Bundle). When nothing could be stored and something
// was rejected, it is a 400 problem.
func (s *Server) apiIngestAuditEvents(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayIngest(u) {
		return fault.New(fault.Forbidden, "only administrators and privacy officers send access events")
	}
	if s.Ingest == nil {
		return fault.New(fault.Unavailable, "ingestion is not configured")
	}
	source := r.URL.Query().Get("source")
	if source == "" {
		source = "api"
	}
	if !sourceName.MatchString(source) {
		return fault.InvalidField("source", "must be 1 to 64 letters, digits, dots, dashes or underscores")
	}
	format := ingest.FormatJSON
	switch strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])) {
	case "application/fhir+ndjson", "application/x-ndjson":
		format = ingest.FormatNDJSON
	case "application/json", "application/fhir+json":
	default:
		return fault.New(fault.Invalid, "send AuditEvents as application/fhir+json (one or a Bundle) or application/fhir+ndjson")
	}
	rep, err := s.Ingest.IngestFHIR(r.Context(), source, format, r.Body, nil)
	if err != nil {
		if tooLarge(err) {
			return fault.New(fault.TooLarge, "the request body is larger than the server accepts; send smaller NDJSON parts")
		}
		return err
	}
	s.Log.Info("access events ingested", "source", source, "user", u.ID, "read", rep.Read,
		"accepted", rep.Accepted, "duplicates", rep.Duplicates, "rejected", rep.Rejected)
	problems := rep.Problems
	if problems == nil {
		problems = []ingest.Problem{}
	}
	body := map[string]any{"source": rep.Source, "read": rep.Read, "accepted": rep.Accepted,
		"duplicates": rep.Duplicates, "rejected": rep.Rejected, "problems": problems}
	if rep.Accepted == 0 && rep.Duplicates == 0 && rep.Rejected > 0 {
		p := Problem{Type: "about:blank", Title: "Bad Request", Status: http.StatusBadRequest,
			Detail: "no access event could be stored: " + problems[0].String(), Instance: r.URL.Path}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		return encodeJSON(w, struct {
			Problem
			Rejected int              `json:"rejected"`
			Problems []ingest.Problem `json:"problems"`
		}{p, rep.Rejected, problems})
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// tooLarge reports a body cut by the server's size limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || fault.Is(err, fault.TooLarge)
}

// ingestPage lists each feed's counters: accepted, duplicates, and
// rejections by reason.
func (s *Server) ingestPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayIngest(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Ingestion counters are for the privacy office and administrators."))
		return
	}
	p := s.newPage("Ingestion", &u)
	if s.Ingest != nil {
		p.IngestSources = s.Ingest.Counters().Snapshot()
	}
	s.render(w, r, http.StatusOK, "ingest", p)
}

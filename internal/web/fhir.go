package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/records"
)

func (s *Server) fhirRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /fhir/metadata", s.fhirMetadata)
	m.HandleFunc("GET /fhir/{type}/{id}", s.fhir(s.fhirRead))
	m.HandleFunc("GET /fhir/{type}", s.fhir(s.fhirSearch))
	m.HandleFunc("POST /fhir/{type}", s.fhir(s.fhirCreate))
	m.HandleFunc("PUT /fhir/{type}/{id}", s.fhir(s.fhirUpdate))
	m.HandleFunc("POST /fhir", s.fhir(s.fhirImport))
	m.HandleFunc("/fhir/", func(w http.ResponseWriter, r *http.Request) {
		writeOutcome(w, r, s.Log, fault.New(fault.NotFound, "no FHIR interaction at %s %s", r.Method, r.URL.Path))
	})
}

func (s *Server) fhir(h apiHandler) http.HandlerFunc {
	return s.bearerHandler(h, writeOutcomeFn(s.Log))
}

func checkType(t string) error {
	if !slices.Contains(records.SupportedTypes, t) {
		return fault.New(fault.NotFound, "resource type %q is not supported here (supported: %s)", t, strings.Join(records.SupportedTypes, ", "))
	}
	return nil
}

func writeResource(w http.ResponseWriter, status int, res records.Resource) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, res.Version))
	w.Header().Set("Last-Modified", res.Updated.UTC().Format(http.TimeFormat))
	if status == http.StatusCreated {
		w.Header().Set("Location", fmt.Sprintf("/fhir/%s/%s/_history/%d", res.Type, res.ID, res.Version))
	}
	w.WriteHeader(status)
	_, _ = w.Write(res.JSON)
}

func (s *Server) fhirRead(w http.ResponseWriter, r *http.Request, u identity.User) error {
	typ := r.PathValue("type")
	if err := checkType(typ); err != nil {
		return err
	}
	res, _, err := s.Access.Read(r.Context(), subjectOf(r, u, "trustward-fhir"), typ, r.PathValue("id"), r.URL.Query().Get("_purpose"))
	if err != nil {
		return err
	}
	writeResource(w, http.StatusOK, res)
	return nil
}

// fhirSearch supports the patient compartment search: ?patient=ID (or
// subject=Patient/ID).
func (s *Server) fhirSearch(w http.ResponseWriter, r *http.Request, u identity.User) error {
	typ := r.PathValue("type")
	if err := checkType(typ); err != nil {
		return err
	}
	q := r.URL.Query()
	pid := q.Get("patient")
	if pid == "" {
		pid = strings.TrimPrefix(q.Get("subject"), "Patient/")
	}
	if typ == "Patient" && pid == "" {
		pid = q.Get("_id")
	}
	for k := range q {
		switch k {
		case "patient", "subject", "_id", "_purpose":
		default:
			return fault.InvalidField(k, "search parameter is not supported; search by patient=<id>")
		}
	}
	if pid == "" {
		return fault.InvalidField("patient", "is required: searches are by patient")
	}
	var res []records.Resource
	var err error
	if typ == "Patient" {
		var one records.Resource
		one, _, err = s.Access.Read(r.Context(), subjectOf(r, u, "trustward-fhir"), "Patient", pid, q.Get("_purpose"))
		res = []records.Resource{one}
	} else {
		res, err = s.Access.ByPatient(r.Context(), subjectOf(r, u, "trustward-fhir"), pid, typ, q.Get("_purpose"))
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"resourceType":"Bundle","type":"searchset","total":%d`, len(res))
	if len(res) > 0 {
		buf.WriteString(`,"entry":[`)
		for i, x := range res {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"fullUrl":"%s/%s","resource":`, x.Type, x.ID)
			buf.Write(x.JSON)
			buf.WriteString(`,"search":{"mode":"match"}}`)
		}
		buf.WriteByte(']')
	}
	buf.WriteByte('}')
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = w.Write(buf.Bytes())
	return nil
}

func (s *Server) fhirCreate(w http.ResponseWriter, r *http.Request, u identity.User) error {
	return s.fhirWrite(w, r, u, "")
}

func (s *Server) fhirUpdate(w http.ResponseWriter, r *http.Request, u identity.User) error {
	return s.fhirWrite(w, r, u, r.PathValue("id"))
}

// fhirWrite creates (id empty) or updates a resource through the policy.
func (s *Server) fhirWrite(w http.ResponseWriter, r *http.Request, u identity.User, id string) error {
	typ := r.PathValue("type")
	if err := checkType(typ); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	res, err := s.Access.Write(r.Context(), subjectOf(r, u, "trustward-fhir"), typ, id, body, "")
	if err != nil {
		return err
	}
	st := http.StatusOK
	if res.Version == 1 {
		st = http.StatusCreated
	}
	writeResource(w, st, res)
	return nil
}

// fhirImport loads a Bundle or NDJSON in one transaction; administrators
// only, as an integration task. The import itself is one audit event.
func (s *Server) fhirImport(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if u.Role != identity.RoleAdmin {
		return fault.New(fault.Forbidden, "bulk import is for administrators")
	}
	ev := &audit.Event{Actor: audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role}, Action: audit.ActionCreate, Subtype: "import",
		Purpose: "HOPERAT", Outcome: audit.OutcomeSuccess, Source: "trustward-fhir", NetworkAddress: clientOf(r).Address, UserAgent: r.UserAgent()}
	res, err := s.Records.Import(r.Context(), r.Body, nil)
	if err != nil {
		ev.Outcome, ev.OutcomeDesc = audit.OutcomeFailure, fault.Message(err)
		if len(ev.OutcomeDesc) > 1000 {
			ev.OutcomeDesc = ev.OutcomeDesc[:1000]
		}
		_ = s.Access.Recorder().Record(r.Context(), ev)
		return err
	}
	ev.OutcomeDesc = fmt.Sprintf("%d resources imported", res.Resources)
	if err := s.Access.Recorder().Record(r.Context(), ev); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	oo := OperationOutcome{ResourceType: "OperationOutcome", Issue: []OutcomeIssue{{Severity: "information", Code: "informational", Diagnostics: ev.OutcomeDesc}}}
	return json.NewEncoder(w).Encode(oo)
}

func (s *Server) fhirMetadata(w http.ResponseWriter, r *http.Request) {
	var rs []map[string]any
	for _, t := range records.SupportedTypes {
		rs = append(rs, map[string]any{"type": t, "interaction": []map[string]string{{"code": "read"}, {"code": "create"}, {"code": "update"}, {"code": "search-type"}},
			"searchParam": []map[string]string{{"name": "patient", "type": "reference"}}})
	}
	cs := map[string]any{"resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-22", "kind": "instance", "fhirVersion": "4.0.1",
		"format": []string{"application/fhir+json"}, "software": map[string]string{"name": "Trustward", "version": s.opt.Version},
		"rest": []map[string]any{{"mode": "server", "security": map[string]any{"description": "Bearer token from POST /api/v1/sessions. Every access is audited."}, "resource": rs}}}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(cs)
}

package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/monitor/cases"
	"github.com/trustward/trustward/internal/monitor/explain"
)

// This file holds the privacy office's case pages and API: the queue of
// cases the detectors opened, a case with its evidence, and the workflow
// (take, note, decide). Every view and step is an audit event.

// casesView is what the case pages show.
type casesView struct {
	Queue     []cases.Summary
	Status    string // the queue's filter
	Below     bool
	Counts    map[string]int
	Threshold float64
	Case      *cases.Detail
	// Coverage: scored patient accesses and the explained share.
	Scored, Explained int
	Share             string
	Kinds             []kindCount
	Engine            cases.Status
	Flash             string
}

type kindCount struct {
	Kind, Label string
	N           int
}

// explanationLabel names an explanation kind in plain words.
func explanationLabel(k string) string {
	switch k {
	case explain.KindEncounter:
		return "On the patient's encounter"
	case explain.KindCareTeam:
		return "On the patient's care team"
	case explain.KindAssignment:
		return "Assigned to the patient for a shift"
	case explain.KindOrdered:
		return "Ordered for the patient"
	case explain.KindCharted:
		return "Wrote in the patient's chart"
	case explain.KindAppointment:
		return "Has an appointment with the patient"
	case explain.KindConsult:
		return "Consult or referral"
	case explain.KindDepartmentOrder:
		return "Order sent to the user's department (imaging, lab)"
	case explain.KindDepartment:
		return "Department of an open encounter"
	case explain.KindCoverage:
		return "Covering the department's patients"
	case explain.KindUnassigned:
		return "Department of an open encounter, not on its assignment list"
	case explain.KindWorkQueue:
		return "Work queue (billing, records, front desk)"
	case explain.Unexplained:
		return "No explanation on record"
	}
	return k
}

func mayReadCases(u identity.User) bool {
	return u.Role == identity.RolePrivacyOfficer || u.Role == identity.RoleAdmin
}

func (s *Server) caseRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /office/cases", s.authed(s.casesPage))
	m.HandleFunc("GET /office/cases/{id}", s.authed(s.casePage))
	m.HandleFunc("POST /office/cases/{id}", s.authed(s.caseStep))
}

func (s *Server) caseAPIRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/monitor/cases", s.api(s.apiCases))
	m.HandleFunc("GET /api/v1/monitor/cases/{id}", s.api(s.apiCase))
	m.HandleFunc("POST /api/v1/monitor/cases/{id}/steps", s.api(s.apiCaseStep))
	m.HandleFunc("POST /api/v1/monitor/context", s.api(s.apiPutContext))
	m.HandleFunc("GET /api/v1/monitor/explanations", s.api(s.apiExplanations))
}

// monitorSummary fills the counts and coverage of the office pages.
func (s *Server) monitorSummary(ctx context.Context) (*casesView, error) {
	v := &casesView{Threshold: s.Cases.CaseThreshold(), Engine: s.Cases.Status()}
	var err error
	if v.Counts, err = s.Cases.Counts(ctx); err != nil {
		return nil, err
	}
	cov, err := s.Cases.Coverage(ctx)
	if err != nil {
		return nil, err
	}
	for k, n := range cov {
		v.Scored += n
		if k != explain.Unexplained {
			v.Explained += n
		}
		v.Kinds = append(v.Kinds, kindCount{Kind: k, Label: explanationLabel(k), N: n})
	}
	sort.Slice(v.Kinds, func(i, j int) bool { return v.Kinds[i].N > v.Kinds[j].N })
	if v.Scored > 0 {
		v.Share = fmt.Sprintf("%.1f%%", 100*float64(v.Explained)/float64(v.Scored))
	}
	return v, nil
}

func (s *Server) casesPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayReadCases(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The privacy cases are for privacy officers."))
		return
	}
	if s.Cases == nil {
		s.renderError(w, r, &u, fault.New(fault.Unavailable, "Privacy monitoring is not running."))
		return
	}
	v, err := s.monitorSummary(r.Context())
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	v.Status, v.Below = r.URL.Query().Get("status"), r.URL.Query().Get("below") == "1"
	if v.Queue, err = s.Cases.Queue(r.Context(), cases.Filter{Status: v.Status, Below: v.Below}); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Privacy cases", &u)
	p.Cases = v
	s.render(w, r, http.StatusOK, "cases", p)
}

// caseViewEvent is the audit event of an officer opening a case: the
// case shows patients' names and their accesses.
func caseViewEvent(u identity.User, r *http.Request, id string) *audit.Event {
	c := clientOf(r)
	return &audit.Event{Actor: audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role}, Action: audit.ActionRead, Subtype: "case-view",
		ResourceType: "Case", ResourceID: id, Purpose: "HOPERAT", Outcome: audit.OutcomeSuccess, Source: "trustward", NetworkAddress: c.Address, UserAgent: c.UserAgent}
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayReadCases(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The privacy cases are for privacy officers."))
		return
	}
	if s.Cases == nil {
		s.renderError(w, r, &u, fault.New(fault.Unavailable, "Privacy monitoring is not running."))
		return
	}
	id := r.PathValue("id")
	d, err := s.Cases.Case(r.Context(), id)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	// Fail-closed: no case is shown unless its viewing is recorded.
	if err := s.auditRecorder().Record(r.Context(), caseViewEvent(u, r, id)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Case "+id, &u)
	p.Cases = &casesView{Case: &d, Threshold: s.Cases.CaseThreshold(), Flash: r.URL.Query().Get("done")}
	s.render(w, r, http.StatusOK, "case", p)
}

// step carries out one workflow step and records it.
func (s *Server) step(r *http.Request, u identity.User, id, action, verdict, note string) error {
	if u.Role != identity.RolePrivacyOfficer {
		return fault.New(fault.Forbidden, "only privacy officers work cases")
	}
	if s.Cases == nil {
		return fault.New(fault.Unavailable, "privacy monitoring is not running")
	}
	var err error
	outcome := action
	switch action {
	case "take":
		err = s.Cases.Take(r.Context(), id, u.ID)
	case "note":
		err = s.Cases.Note(r.Context(), id, u.ID, note)
	case "decide":
		err = s.Cases.Decide(r.Context(), id, u.ID, verdict, note)
		outcome = "decided " + verdict
	default:
		return fault.InvalidField("action", "must be take, note or decide")
	}
	if err != nil {
		return err
	}
	ev := cases.AuditStep(audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role}, id, action, outcome)
	c := clientOf(r)
	ev.NetworkAddress, ev.UserAgent = c.Address, c.UserAgent
	return s.auditRecorder().Record(r.Context(), &ev)
}

func (s *Server) caseStep(w http.ResponseWriter, r *http.Request, u identity.User) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	id, action := r.PathValue("id"), r.PostForm.Get("action")
	if err := s.step(r, u, id, action, r.PostForm.Get("verdict"), r.PostForm.Get("note")); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, "/office/cases/"+id+"?done="+action, http.StatusSeeOther)
}

func (s *Server) apiCases(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadCases(u) {
		return fault.New(fault.Forbidden, "the privacy cases are for privacy officers")
	}
	if s.Cases == nil {
		return fault.New(fault.Unavailable, "privacy monitoring is not running")
	}
	q := r.URL.Query()
	list, err := s.Cases.Queue(r.Context(), cases.Filter{Status: q.Get("status"), Below: q.Get("below") == "1"})
	if err != nil {
		return err
	}
	if list == nil {
		list = []cases.Summary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"threshold": s.Cases.CaseThreshold(), "cases": list})
	return nil
}

func (s *Server) apiCase(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadCases(u) {
		return fault.New(fault.Forbidden, "the privacy cases are for privacy officers")
	}
	if s.Cases == nil {
		return fault.New(fault.Unavailable, "privacy monitoring is not running")
	}
	id := r.PathValue("id")
	d, err := s.Cases.Case(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.auditRecorder().Record(r.Context(), caseViewEvent(u, r, id)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiCaseStep(w http.ResponseWriter, r *http.Request, u identity.User) error {
	var in struct {
		Action  string `json:"action"`
		Verdict string `json:"verdict"`
		Note    string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.step(r, u, id, in.Action, in.Verdict, in.Note); err != nil {
		return err
	}
	d, err := s.Cases.Case(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d.Summary)
	return nil
}

func (s *Server) apiPutContext(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayIngest(u) {
		return fault.New(fault.Forbidden, "only administrators and privacy officers send monitoring context")
	}
	if s.Cases == nil {
		return fault.New(fault.Unavailable, "privacy monitoring is not running")
	}
	switch strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])) {
	case "application/fhir+ndjson", "application/x-ndjson", "application/json", "application/fhir+json":
	default:
		return fault.New(fault.Invalid, "send context as application/fhir+ndjson (one resource or Bundle per line) or one application/fhir+json document")
	}
	rep, err := s.Cases.PutContext(r.Context(), r.Body)
	if err != nil {
		if tooLarge(err) {
			return fault.New(fault.TooLarge, "the request body is larger than the server accepts; send smaller NDJSON parts")
		}
		return err
	}
	s.Log.Info("monitoring context stored", "user", u.ID, "stored", rep.Stored, "rejected", rep.Rejected)
	if rep.Problems == nil {
		rep.Problems = []cases.ContextProblem{}
	}
	if rep.Stored == 0 && rep.Rejected > 0 {
		p := Problem{Type: "about:blank", Title: "Bad Request", Status: http.StatusBadRequest,
			Detail: "no context resource could be stored: " + rep.Problems[0].String(), Instance: r.URL.Path}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		return encodeJSON(w, struct {
			Problem
			Rejected int                    `json:"rejected"`
			Problems []cases.ContextProblem `json:"problems"`
		}{p, rep.Rejected, rep.Problems})
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// apiExplanations answers, for the event ids given (?id=..., at most
// 500), the explanation kind of each scored one.
func (s *Server) apiExplanations(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadCases(u) {
		return fault.New(fault.Forbidden, "explanations are for privacy officers")
	}
	if s.Cases == nil {
		return fault.New(fault.Unavailable, "privacy monitoring is not running")
	}
	ids := r.URL.Query()["id"]
	if len(ids) == 0 || len(ids) > 500 {
		return fault.InvalidField("id", "give between 1 and 500 event ids")
	}
	got, err := s.Cases.Explanations(r.Context(), ids)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, got)
	return nil
}

// actionLabel names a FHIR AuditEvent action in plain words.
func actionLabel(a string) string {
	switch a {
	case audit.ActionRead:
		return "Viewed"
	case audit.ActionCreate:
		return "Added"
	case audit.ActionUpdate:
		return "Changed"
	case audit.ActionDelete:
		return "Deleted"
	case audit.ActionExecute:
		return "Ran"
	}
	return a
}

// patientExplanation says, to the patient, why privacy monitoring thinks
// an access happened; "" when nothing on record explains it (neutral:
// the patient can ask with "this looks wrong").
func patientExplanation(kind string) string {
	switch kind {
	case explain.KindEncounter:
		return "They took part in your visit or stay."
	case explain.KindCareTeam:
		return "They are on your care team."
	case explain.KindAssignment:
		return "They were assigned to your care for a shift."
	case explain.KindOrdered:
		return "They ordered a test or medicine for you."
	case explain.KindCharted:
		return "They had written in your record shortly before."
	case explain.KindAppointment:
		return "You had an appointment with them."
	case explain.KindConsult:
		return "Their team was asked for a consult or referral about you."
	case explain.KindDepartmentOrder:
		return "Their department was asked to do a test or study for you."
	case explain.KindDepartment, explain.KindUnassigned:
		return "They work in the department where you were being treated."
	case explain.KindCoverage:
		return "They were covering your care team's patients."
	case explain.KindWorkQueue:
		return "Billing, records or front-desk work for your visit."
	}
	return ""
}

// monitorExplanations returns the patient-facing explanation of each of
// the events that privacy monitoring has scored. It never fails the page:
// without monitoring the timeline shows the access policy's basis only.
func (s *Server) monitorExplanations(ctx context.Context, evs []audit.Stored) map[string]string {
	out := map[string]string{}
	if s.Cases == nil || len(evs) == 0 {
		return out
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.Event.ID
	}
	kinds, err := s.Cases.Explanations(ctx, ids)
	if err != nil {
		s.Log.Warn("explanations unavailable for the access timeline", "err", err)
		return out
	}
	for id, k := range kinds {
		if t := patientExplanation(k); t != "" {
			out[id] = t
		}
	}
	return out
}

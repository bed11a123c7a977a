package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// readBody reads a whole request body, turning the size limit into a
// TooLarge fault.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fault.New(fault.TooLarge, "the request body is larger than %d bytes", mbe.Limit)
	}
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the request body could not be read")
	}
	return b, nil
}

// decodeJSON decodes a JSON body strictly: unknown fields and trailing data
// are errors that name what is wrong.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fault.New(fault.Invalid, "the body is not valid JSON (at byte %d)", se.Offset)
		case errors.As(err, &te):
			return fault.InvalidField(te.Field, "must be a JSON %s", te.Type.Kind())
		case errors.Is(err, io.EOF):
			return fault.New(fault.Invalid, "the body is empty")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fault.InvalidField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a known field")
		}
		return fault.Wrap(fault.Invalid, err, "the body is not valid JSON")
	}
	if dec.More() {
		return fault.New(fault.Invalid, "the body has data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = encodeJSON(w, v)
}

func encodeJSON(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// bearer returns the user of a bearer-token API request. The API never
// reads cookies, so a cross-site request cannot ride a browser session.
func (s *Server) bearer(r *http.Request) (identity.Session, identity.User, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return identity.Session{}, identity.User{}, fault.New(fault.Unauthenticated, "send Authorization: Bearer <token>; get a token from POST /api/v1/sessions")
	}
	return s.Identity.CheckSession(r.Context(), strings.TrimSpace(tok))
}

type apiHandler func(w http.ResponseWriter, r *http.Request, u identity.User) error

// bearerHandler authenticates a bearer-token request and runs h; errors
// are written by fail (problem+json for the API, OperationOutcome for FHIR).
func (s *Server) bearerHandler(h apiHandler, fail func(http.ResponseWriter, *http.Request, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, u, err := s.bearer(r)
		if err == nil {
			err = h(w, r.WithContext(withSession(r.Context(), ss)), u)
		}
		if err != nil {
			fail(w, r, err)
		}
	}
}

func (s *Server) api(h apiHandler) http.HandlerFunc { return s.bearerHandler(h, writeProblemFn(s.Log)) }

func (s *Server) apiRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/v1/sessions", s.apiSignin)
	m.HandleFunc("DELETE /api/v1/sessions/current", s.api(s.apiSignout))
	m.HandleFunc("GET /api/v1/patients", s.api(s.apiSearch))
	m.HandleFunc("GET /api/v1/patients/{id}/chart", s.api(s.apiChart))
	m.HandleFunc("POST /api/v1/patients/{id}/break-glass", s.api(s.freshAPI(s.apiBreakGlass)))
	m.HandleFunc("GET /api/v1/me/accesses", s.api(s.apiMyAccesses))
	m.HandleFunc("GET /api/v1/me/patients", s.api(s.apiMyPatients))
	m.HandleFunc("GET /api/v1/devices", s.api(s.apiListDevices))
	m.HandleFunc("GET /api/v1/devices/{id}", s.api(s.apiGetDevice))
	m.HandleFunc("PUT /api/v1/devices/{id}", s.api(s.apiPutDevice))
	m.HandleFunc("POST /api/v1/devices/import", s.api(s.apiImportDevices))
	m.HandleFunc("POST /api/v1/devices/{id}/controls", s.api(s.apiSetControl))
	m.HandleFunc("GET /api/v1/findings", s.api(s.apiQueue))
	m.HandleFunc("GET /api/v1/findings/export", s.api(s.freshAPI(s.apiExportFindings)))
	m.HandleFunc("POST /api/v1/audit-events", s.api(s.apiIngestAuditEvents))
	s.deviceAPIRoutes(m)
	s.sessionAPIRoutes(m)
	s.caseAPIRoutes(m)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, s.Log, fault.New(fault.NotFound, "no API resource at %s %s", r.Method, r.URL.Path))
	})
}

func (s *Server) apiSignin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		// Code is the second factor of an account that has one.
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &in); err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	if s.apiSigninThrottled(w, r) {
		return
	}
	c := clientOf(r)
	u, err := s.Identity.Authenticate(r.Context(), in.Username, in.Password, c)
	if err != nil {
		s.retryAfterLock(w, err)
		writeProblem(w, r, s.Log, err)
		return
	}
	if err := s.apiSecondFactor(r, u, in.Code); err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	tok, err := s.Identity.NewSession(r.Context(), u.ID, "api", s.opt.SessionTTL, s.opt.SessionIdle, c)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	s.seeAPIClient(r, u)
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expiresIn": int(s.opt.SessionTTL / time.Second), "user": map[string]string{"id": u.ID, "name": u.DisplayName, "role": u.Role}})
}

func (s *Server) apiSignout(w http.ResponseWriter, r *http.Request, u identity.User) error {
	tok := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err := s.Identity.EndSession(r.Context(), tok, u, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request, u identity.User) error {
	res, err := s.Access.SearchPatients(r.Context(), subjectOf(r, u, "trustward-api"), r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	if res == nil {
		res = []access.PatientSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"patients": res})
	return nil
}

func (s *Server) apiChart(w http.ResponseWriter, r *http.Request, u identity.User) error {
	purpose := r.URL.Query().Get("purpose")
	ch, err := s.Access.OpenChart(r.Context(), subjectOf(r, u, "trustward-api"), r.PathValue("id"), purpose)
	if err != nil {
		var de *access.DeniedError
		if errors.As(err, &de) && de.Decision.BreakGlassAvailable {
			w.Header().Set("Link", "</api/v1/patients/"+r.PathValue("id")+`/break-glass>; rel="break-glass"`)
		}
		return err
	}
	writeJSON(w, http.StatusOK, s.buildChart(r.Context(), ch))
	return nil
}

func (s *Server) apiBreakGlass(w http.ResponseWriter, r *http.Request, u identity.User) error {
	var in struct {
		Reason      string `json:"reason"`
		Explanation string `json:"explanation"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	g, err := s.Access.BreakGlass(r.Context(), subjectOf(r, u, "trustward-api"), r.PathValue("id"), in.Reason, in.Explanation)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"grant": g.ID, "patient": g.PatientID, "expires": g.Expires})
	return nil
}

func (s *Server) apiMyAccesses(w http.ResponseWriter, r *http.Request, u identity.User) error {
	evs, err := s.Audit.Events(r.Context(), audit.Query{ActorID: u.ID, Limit: 100})
	if err != nil {
		return err
	}
	out := make([]audit.Event, 0, len(evs))
	for _, st := range evs {
		out = append(out, st.Event)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

// apiMyPatients lists the ids of the patients on the user's care teams and
// encounters (ids only: opening one is the audited step).
func (s *Server) apiMyPatients(w http.ResponseWriter, r *http.Request, u identity.User) error {
	ids, err := s.Access.MyPatients(r.Context(), subjectOf(r, u, "trustward-api"), 500)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"patients": ids})
	return nil
}

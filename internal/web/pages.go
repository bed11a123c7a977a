package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/monitor"
	"github.com/trustward/trustward/internal/monitor/cases"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/seal"
)

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"static":      func(name string) string { return s.staticMap[name] },
		"roleLabel":   identity.RoleLabel,
		"fmtTime":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"purpose":     purposeLabel,
		"basis":       basisLabel,
		"verdict":     cases.VerdictLabel,
		"explanation": explanationLabel,
		"action":      actionLabel,
	}
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/base.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/base.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return fmt.Errorf("template %s: %w", n, err)
		}
		s.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return nil
}

// page is what every page template receives.
type page struct {
	Title      string
	Org        string
	Version    string
	User       *identity.User
	IsClinical bool
	IsOffice   bool
	// Page-specific fields.
	Error      string
	Username   string
	Next       string
	Query      string
	Searched   bool
	Results    []access.PatientSummary
	MyPatients []access.PatientSummary
	Chart      *chartView
	Reason     string
	BreakGlass bool
	PatientID  string
	Reasons    []access.Reason
	TTL        string
	Accesses   []accessRow
	Grants     []grantRow
	Heading    string
	Message    string
	// Devices
	Fleet            []fleetRow
	FleetUnsupported int
	Device           *fleetRow
	DeviceFilter     devices.Filter
	Classes, Zones   []string
	Units            []string
	CanManage        bool
	RowErrors        []string
	IsDevices        bool
	Findings         []devices.Finding
	Vuln             *deviceView
	Portal           *portalView
	IsPatient        bool
	Reports          []monitor.Report
	LedgerStatus     *ledgerView
	IngestSources    []ingest.SourceCount
	Trust            *trustView
	Email            string
	Notices          []notify.Notice
	Security         *securityView
	Cases            *casesView
	Recovery         *recoveryView
	Reauth           *reauthView
}

func (s *Server) newPage(title string, u *identity.User) page {
	p := page{Title: title, Org: s.opt.Org, Version: s.opt.Version, User: u}
	if u != nil {
		p.IsClinical = u.Role != identity.RolePatient && u.Role != identity.RolePrivacyOfficer && u.Role != identity.RoleSecurityEngineer && u.Role != identity.RoleAdmin
		p.IsOffice = u.Role == identity.RolePrivacyOfficer || u.Role == identity.RoleAdmin
		p.IsDevices = mayReadDevices(*u)
		p.IsPatient = u.Role == identity.RolePatient
	}
	return p
}

// render executes a page into a buffer first, so that a template error
// never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "base", p); err != nil {
		s.Log.Error("template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a friendly error page.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, u *identity.User, err error) {
	logError(s.Log, r, err)
	st := status(err)
	p := s.newPage("Error", u)
	p.Heading, p.Message = "Something went wrong", fault.Message(err)
	switch st {
	case http.StatusNotFound:
		p.Heading = "Not found"
	case http.StatusBadRequest:
		p.Heading = "That did not work"
	case http.StatusForbidden:
		p.Heading = "Not allowed"
	case http.StatusServiceUnavailable:
		p.Heading = "Temporarily unavailable"
		if p.Message == "internal error" {
			p.Message = "Please try again in a moment."
		}
	case http.StatusInternalServerError:
		p.Message = "An unexpected error happened. It has been logged; please try again."
	}
	s.render(w, r, st, "error", p)
}

const sessionCookie = "tw_session"

func (s *Server) cookieName() string {
	if s.opt.TLS {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

// currentUser returns the signed-in user of a browser request.
func (s *Server) currentUser(r *http.Request) (identity.User, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return identity.User{}, fault.New(fault.Unauthenticated, "please sign in")
	}
	_, u, err := s.Identity.CheckSession(r.Context(), c.Value)
	return u, err
}

// authed wraps a browser handler that needs a signed-in user; others are
// sent to the sign-in page and brought back afterwards.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, u identity.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, u, err := s.currentSession(r)
		if err != nil {
			if fault.Is(err, fault.Unauthenticated) {
				next := r.URL.Path
				if r.Method != http.MethodGet {
					next = "/console"
				}
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			}
			s.renderError(w, r, nil, err)
			return
		}
		h(w, r.WithContext(withSession(r.Context(), ss)), u)
	}
}

func (s *Server) browserRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /signin", s.signinForm)
	m.HandleFunc("POST /signin", s.signin)
	m.HandleFunc("POST /signout", s.authed(s.signout))
	s.mfaRoutes(m)
	s.recoveryRoutes(m)
	s.sessionRoutes(m)
	m.HandleFunc("GET /console", s.authed(s.console))
	m.HandleFunc("GET /console/search", s.authed(s.search))
	m.HandleFunc("GET /console/patients/{id}", s.authed(s.chart))
	m.HandleFunc("POST /console/patients/{id}/break-glass", s.authed(s.fresh(s.breakGlass)))
	m.HandleFunc("GET /console/accesses", s.authed(s.accesses))
	m.HandleFunc("GET /office", s.authed(s.office))
	m.HandleFunc("GET /office/devices", s.authed(s.fleetPage))
	m.HandleFunc("GET /office/devices/{id}", s.authed(s.devicePage))
	m.HandleFunc("GET /office/queue", s.authed(s.queuePage))
	m.HandleFunc("GET /office/ingest", s.authed(s.ingestPage))
	m.HandleFunc("POST /office/reports/{id}", s.authed(s.officeDecideReport))
	m.HandleFunc("GET /register", s.registerForm)
	m.HandleFunc("GET /trust", s.trust)
	m.HandleFunc("POST /register", s.register)
	m.HandleFunc("GET /portal", s.authed(s.portalHome))
	m.HandleFunc("GET /portal/accesses", s.authed(s.portalAccesses))
	m.HandleFunc("POST /portal/accesses/{event}/report", s.authed(s.portalReport))
	m.HandleFunc("GET /portal/accesses/{event}/proof", s.authed(s.portalProof))
	m.HandleFunc("POST /office/devices/import", s.authed(s.importDevicesForm))
	s.deviceRoutes(m)
	s.caseRoutes(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u, _ := s.currentUser(r)
		var up *identity.User
		if u.ID != "" {
			up = &u
		}
		s.renderError(w, r, up, fault.New(fault.NotFound, "There is no page at this address."))
	})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if u, err := s.currentUser(r); err == nil {
		if u.Role == identity.RolePrivacyOfficer {
			http.Redirect(w, r, "/office", http.StatusSeeOther)
			return
		}
		if u.Role == identity.RolePatient {
			http.Redirect(w, r, "/portal", http.StatusSeeOther)
			return
		}
		if u.Role == identity.RoleSecurityEngineer {
			http.Redirect(w, r, "/office/devices", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "home", s.newPage("Welcome", nil))
}

// safeNext keeps post-sign-in redirects on this site.
func safeNext(n string) string {
	if n == "" || !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.Contains(n, "\\") {
		return "/"
	}
	return n
}

func (s *Server) signinForm(w http.ResponseWriter, r *http.Request) {
	p := s.newPage("Sign in", nil)
	p.Next = safeNext(r.URL.Query().Get("next"))
	s.render(w, r, http.StatusOK, "signin", p)
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	if s.signinThrottled(w, r, username, next) {
		return
	}
	c := clientOf(r)
	u, err := s.Identity.Authenticate(r.Context(), username, password, c)
	if err != nil {
		if fault.Is(err, fault.Unauthenticated) {
			s.retryAfterLock(w, err)
			p := s.newPage("Sign in", nil)
			p.Error, p.Username, p.Next = fault.Message(err), username, next
			s.render(w, r, http.StatusUnauthorized, "signin", p)
			return
		}
		s.renderError(w, r, nil, err)
		return
	}
	if held, err := s.holdForSecondFactor(w, r, u, next); err != nil || held {
		if err != nil {
			s.renderError(w, r, nil, err)
		}
		return
	}
	if next, err = s.startSession(w, r, u, next); err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, u identity.User) {
	if c, err := r.Cookie(s.cookieName()); err == nil {
		if err := s.Identity.EndSession(r.Context(), c.Value, u, clientOf(r)); err != nil {
			s.renderError(w, r, &u, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.opt.TLS, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) console(w http.ResponseWriter, r *http.Request, u identity.User) {
	p := s.newPage("Patients", &u)
	if u.PractitionerID != "" {
		ids, err := s.Access.MyPatients(r.Context(), subjectOf(r, u, "trustward-ui"), 25)
		if err != nil {
			s.renderError(w, r, &u, err)
			return
		}
		// Listing names is showing patient data: read through the store's
		// directory of the user's own patients. These are patients the user
		// has a care relationship with; the list itself is audited as one
		// event.
		for _, id := range ids {
			res, err := s.Records.Read(r.Context(), "Patient", id)
			if err != nil {
				continue
			}
			p.MyPatients = append(p.MyPatients, access.Summarise(res.JSON))
		}
		if len(ids) > 0 {
			if err := s.recordListView(r, u, len(ids)); err != nil {
				s.renderError(w, r, &u, err)
				return
			}
		}
	}
	s.render(w, r, http.StatusOK, "console", p)
}

func (s *Server) recordListView(r *http.Request, u identity.User, n int) error {
	return s.auditRecorder().Record(r.Context(), &audit.Event{
		Actor:  audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action: audit.ActionExecute, Subtype: "patient-list", Purpose: "TREAT", Basis: access.BasisCareTeam,
		Outcome: audit.OutcomeSuccess, OutcomeDesc: fmt.Sprintf("%d patients listed", n),
		Source: "trustward-ui", NetworkAddress: clientOf(r).Address, UserAgent: r.UserAgent(),
	})
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, u identity.User) {
	p := s.newPage("Search", &u)
	p.Query = r.URL.Query().Get("q")
	res, err := s.Access.SearchPatients(r.Context(), subjectOf(r, u, "trustward-ui"), p.Query)
	if err != nil {
		if fault.Is(err, fault.Invalid) || fault.Is(err, fault.Forbidden) {
			p.Error = fault.Message(err)
			s.render(w, r, status(err), "console", p)
			return
		}
		s.renderError(w, r, &u, err)
		return
	}
	p.Searched, p.Results = true, res
	s.render(w, r, http.StatusOK, "console", p)
}

func (s *Server) chart(w http.ResponseWriter, r *http.Request, u identity.User) {
	id := r.PathValue("id")
	ch, err := s.Access.OpenChart(r.Context(), subjectOf(r, u, "trustward-ui"), id, "")
	if err != nil {
		var de *access.DeniedError
		if errors.As(err, &de) {
			s.renderDenied(w, r, u, id, de.Decision, "")
			return
		}
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Chart", &u)
	p.Chart = s.buildChart(r.Context(), ch)
	s.render(w, r, http.StatusOK, "chart", p)
}

func (s *Server) renderDenied(w http.ResponseWriter, r *http.Request, u identity.User, patientID string, d access.Decision, formErr string) {
	p := s.newPage("No access", &u)
	p.Reason, p.BreakGlass, p.PatientID, p.Error = d.Reason, d.BreakGlassAvailable, patientID, formErr
	p.Reasons = s.Access.Rules().BreakGlassReasons
	p.TTL = humanDuration(s.Access.TTL())
	st := http.StatusForbidden
	if formErr != "" {
		st = http.StatusBadRequest
	}
	s.render(w, r, st, "denied", p)
}

func humanDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		h := int(d / time.Hour)
		if h == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", h)
	}
	return d.String()
}

func (s *Server) breakGlass(w http.ResponseWriter, r *http.Request, u identity.User) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	g, err := s.Access.BreakGlass(r.Context(), subjectOf(r, u, "trustward-ui"), id, r.PostForm.Get("reason"), r.PostForm.Get("explanation"))
	if err == nil {
		reason, _ := s.Access.Rules().ReasonLabel(g.ReasonCode)
		s.notifyPatient(r.Context(), id, notify.KindBreakGlass, "Emergency access to your record",
			fmt.Sprintf("%s (%s) opened your record in an emergency on %s, outside the people who usually care for you. Reason given: %s. The privacy office reviews every emergency access; if it looks wrong to you, report it from \"Who accessed my record\".",
				u.DisplayName, identity.RoleLabel(u.Role), g.Created.Format("2 January 2006 at 15:04 UTC"), reason))
	}
	if err != nil {
		if fault.Is(err, fault.Invalid) {
			d, derr := s.Access.Decide(r.Context(), subjectOf(r, u, "trustward-ui"), id, "Patient", false, "")
			if derr == nil {
				s.renderDenied(w, r, u, id, d, fault.Message(err))
				return
			}
		}
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, "/console/patients/"+url.PathEscape(id), http.StatusSeeOther)
}

type accessRow struct {
	Time        time.Time
	What        string
	PatientID   string
	PatientName string
	Purpose     string
	Basis       string
	BreakGlass  bool
	Outcome     string
}

func describe(e audit.Event) string {
	switch e.Subtype {
	case "chart":
		return "Opened chart"
	case "login":
		return "Signed in"
	case "logout":
		return "Signed out"
	case "patient-search":
		return "Searched patients (" + e.OutcomeDesc + ")"
	case "patient-list":
		return "Listed my patients"
	case "break-glass":
		return "Broke the glass"
	case identity.SubtypeReauth:
		return "Confirmed it was me (re-authentication)"
	case identity.SubtypeSessionRevoked:
		return "Ended sessions"
	case identity.SubtypeFactorAdded:
		return "Added a sign-in method"
	case identity.SubtypeFactorRemoved:
		return "Removed a sign-in method"
	case identity.SubtypeFactorUsed:
		return "Confirmed sign-in with a second factor"
	case identity.SubtypeFactorFailed:
		return "Second factor refused"
	case identity.SubtypeRecoveryUsed:
		return "Used a recovery code"
	case identity.SubtypeRecoveryCodesNew:
		return "Made new recovery codes"
	case identity.SubtypeLockout:
		return "Sign-in locked after failed attempts"
	case identity.SubtypeUnlock:
		return "Sign-in unlocked"
	case identity.SubtypeRecoveryRequested, identity.SubtypeRecoveryIssued, identity.SubtypeRecoveryRefused, identity.SubtypeAccountRecovered:
		return "Account recovery (" + strings.TrimPrefix(e.Subtype, "recovery-") + ")"
	}
	verb := map[string]string{audit.ActionCreate: "Created", audit.ActionRead: "Read", audit.ActionUpdate: "Updated", audit.ActionDelete: "Deleted", audit.ActionExecute: "Searched"}[e.Action]
	return strings.TrimSpace(verb + " " + e.ResourceType)
}

func outcomeText(o string) string {
	switch o {
	case audit.OutcomeSuccess:
		return "allowed"
	case audit.OutcomeDenied:
		return "denied"
	}
	return "failed"
}

func (s *Server) accesses(w http.ResponseWriter, r *http.Request, u identity.User) {
	evs, err := s.Audit.Events(r.Context(), audit.Query{ActorID: u.ID, Limit: 100})
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("My recent accesses", &u)
	names := map[string]string{}
	for _, st := range evs {
		e := st.Event
		row := accessRow{Time: e.Time, What: describe(e), PatientID: e.PatientID, Purpose: e.Purpose, Basis: e.Basis, BreakGlass: e.BreakGlass != nil, Outcome: outcomeText(e.Outcome)}
		if e.PatientID != "" {
			// The user's own history names patients they already accessed;
			// the name is read from the store without a new access event.
			n, ok := names[e.PatientID]
			if !ok {
				if res, err := s.Records.Read(r.Context(), "Patient", e.PatientID); err == nil {
					n = access.Summarise(res.JSON).Name
				} else {
					n = e.PatientID
				}
				names[e.PatientID] = n
			}
			row.PatientName = n
		}
		p.Accesses = append(p.Accesses, row)
	}
	s.render(w, r, http.StatusOK, "accesses", p)
}

type grantRow struct {
	Created time.Time
	User    string
	Patient string
	Reason  string
	Text    string
}

func (s *Server) office(w http.ResponseWriter, r *http.Request, u identity.User) {
	if u.Role != identity.RolePrivacyOfficer && u.Role != identity.RoleAdmin {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The privacy office pages are for privacy officers."))
		return
	}
	gs, err := s.Access.PendingReviews(r.Context(), 200)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Privacy office", &u)
	p.LedgerStatus = s.ledgerStatus(r.Context())
	if p.Reports, err = s.Reports.Open(r.Context()); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if s.Cases != nil {
		if p.Cases, err = s.monitorSummary(r.Context()); err != nil {
			s.renderError(w, r, &u, err)
			return
		}
	}
	for _, g := range gs {
		row := grantRow{Created: g.Created, User: g.UserID, Patient: g.PatientID, Text: g.Reason}
		if who, err := s.Identity.UserByID(r.Context(), g.UserID); err == nil {
			row.User = who.DisplayName + " (" + identity.RoleLabel(who.Role) + ")"
		}
		row.Reason, _ = s.Access.Rules().ReasonLabel(g.ReasonCode)
		p.Grants = append(p.Grants, row)
	}
	s.render(w, r, http.StatusOK, "office", p)
}

// auditRecorder is the recorder behind Access (kept as a narrow accessor so
// pages record list views through the same fail-closed path).
func (s *Server) auditRecorder() interface {
	Record(ctx context.Context, ev *audit.Event) error
} {
	return s.Access.Recorder()
}

// purposeLabel names an HL7 PurposeOfUse code in plain words.
func purposeLabel(code string) string {
	if l, ok := map[string]string{"TREAT": "Treatment", "ETREAT": "Emergency treatment", "HPAYMT": "Payment", "HOPERAT": "Operations", "PATRQT": "Patient request"}[code]; ok {
		return l
	}
	return code
}

// basisLabel names why an access was allowed.
func basisLabel(b string) string {
	if l, ok := map[string]string{access.BasisCareTeam: "Care team", access.BasisEncounter: "Encounter", access.BasisDepartment: "Department", access.BasisBreakGlass: "Break-the-glass", access.BasisSelf: "Own record", access.BasisRole: "Role"}[b]; ok {
		return l
	}
	return b
}

// ledgerView is what the office page shows of the transparency log.
type ledgerView struct {
	// Summary: size and backlog in a sentence.
	Summary string
	// Checkpoint is when the current checkpoint was published (zero: none).
	Checkpoint time.Time
	Witnesses  []ledger.WitnessStatus
	// Alert is set when a witness refused a checkpoint.
	Alert bool
}

// ledgerStatus describes the transparency log for the office: its size,
// the time of its checkpoint, the events not yet in it and its witnesses.
func (s *Server) ledgerStatus(ctx context.Context) *ledgerView {
	if s.LogLag == nil || s.LogFiles == nil {
		return nil
	}
	v := &ledgerView{}
	size := "no checkpoint yet"
	if b, err := fs.ReadFile(s.LogFiles, "checkpoint"); err == nil {
		if lines := strings.SplitN(string(b), "\n", 3); len(lines) >= 2 {
			size = lines[1] + " access events in the log"
		}
		if st, err := fs.Stat(s.LogFiles, "checkpoint"); err == nil {
			v.Checkpoint = st.ModTime().UTC()
		}
	}
	if s.LogWitnesses != nil {
		v.Witnesses = s.LogWitnesses()
		for _, w := range v.Witnesses {
			v.Alert = v.Alert || w.Alert
		}
	}
	lag, err := s.LogLag(ctx)
	switch {
	case err != nil:
		v.Summary = size + "; the backlog cannot be read right now"
	case lag.Events == 0:
		v.Summary = size + "; every recorded access is in the log"
	default:
		v.Summary = fmt.Sprintf("%s; %d recorded accesses wait for the log, the oldest for %s", size, lag.Events, lag.Oldest.Round(time.Second))
	}
	return v
}

// notifyPatient tells the patient's accounts; a failure is logged, never
// shown to the clinician: the care path does not wait on notices.
func (s *Server) notifyPatient(ctx context.Context, patientID, kind, title, body string) {
	if s.Notices == nil {
		return
	}
	if _, err := s.Notices.ToPatient(ctx, patientID, seal.PatientSubject(patientID), kind, title, body); err != nil {
		s.Log.Error("notifying a patient", "kind", kind, "err", err)
	}
}

package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/monitor"
	"github.com/trustward/trustward/internal/notify"
)

type timelineRow struct {
	EventID     string
	Time        time.Time
	Who         string
	Role        string
	Department  string
	What        string
	Purpose     string
	BreakGlass  bool
	BGReason    string
	Explanation string
	Denied      bool
	Reported    bool
}

type portalView struct {
	Rows    []timelineRow
	Chart   template.HTML
	Period  string
	Kind    string
	Reports []monitor.Report
	Total   int
}

func (s *Server) registerForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "register", s.newPage("Create your account", nil))
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	f := r.PostForm
	c := clientOf(r)
	refuse := func(err error) {
		p := s.newPage("Create your account", nil)
		p.Error, p.Username, p.Query, p.Email = fault.Message(err), f.Get("username"), f.Get("name"), f.Get("email")
		s.render(w, r, http.StatusBadRequest, "register", p)
	}
	email := ""
	if strings.TrimSpace(f.Get("email")) != "" {
		var err error
		if email, err = notify.ValidEmail(f.Get("email")); err != nil {
			refuse(err)
			return
		}
	}
	u, err := s.Identity.Register(r.Context(), f.Get("code"), f.Get("username"), f.Get("name"), f.Get("password"), c)
	if err != nil {
		if fault.Is(err, fault.Invalid) {
			refuse(err)
			return
		}
		s.renderError(w, r, nil, err)
		return
	}
	if email != "" {
		if err := s.Identity.SetEmail(r.Context(), u.ID, email); err != nil {
			s.renderError(w, r, nil, err)
			return
		}
	}
	next, err := s.startSession(w, r, u, "/portal")
	if err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) setSession(w http.ResponseWriter, tok string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: tok, Path: "/", HttpOnly: true, Secure: s.opt.TLS, SameSite: http.SameSiteLaxMode, MaxAge: int(ttl / time.Second)})
}

func requirePatient(u identity.User) error {
	if u.Role != identity.RolePatient || u.PatientID == "" {
		return fault.New(fault.Forbidden, "The patient portal is for patients.")
	}
	return nil
}

func (s *Server) portalHome(w http.ResponseWriter, r *http.Request, u identity.User) {
	if err := requirePatient(u); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Your record", &u)
	if s.MFA != nil {
		v, err := s.security(r, u)
		if err != nil {
			s.renderError(w, r, &u, err)
			return
		}
		p.Security = v
	}
	if s.Notices != nil {
		ns, err := s.Notices.ForUser(r.Context(), u.ID)
		if err != nil {
			s.renderError(w, r, &u, err)
			return
		}
		p.Notices = ns
		// Shown once as new, then as read.
		if err := s.Notices.MarkRead(r.Context(), u.ID); err != nil {
			s.Log.Error("marking notices read", "err", err)
		}
	}
	s.render(w, r, http.StatusOK, "portal", p)
}

func (s *Server) portalAccesses(w http.ResponseWriter, r *http.Request, u identity.User) {
	if err := requirePatient(u); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	ctx := r.Context()
	period, kind := r.URL.Query().Get("period"), r.URL.Query().Get("kind")
	days := map[string]int{"30": 30, "90": 90, "365": 365, "all": 0}
	d, ok := days[period]
	if !ok {
		period, d = "365", 365
	}
	switch kind {
	case "all", "break-glass", "denied", "changes":
	default:
		kind = "all"
	}
	now := s.Clock()
	q := audit.Query{PatientID: u.PatientID, Limit: 10_000}
	if d > 0 {
		q.Since = now.AddDate(0, 0, -d)
	}
	evs, err := s.Audit.Events(ctx, q)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	// Viewing one's own access history is itself an access to the record.
	if err := s.Access.Recorder().Record(ctx, &audit.Event{Actor: audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role}, PatientID: u.PatientID,
		Action: audit.ActionRead, Subtype: "access-history", Purpose: "PATRQT", Basis: access.BasisSelf, Outcome: audit.OutcomeSuccess,
		Source: "trustward-portal", NetworkAddress: clientOf(r).Address, UserAgent: r.UserAgent()}); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	reports, err := s.Reports.ForPatient(ctx, u.PatientID)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	reported := map[string]bool{}
	for _, rep := range reports {
		reported[rep.EventID] = true
	}
	v := &portalView{Period: period, Kind: kind, Reports: reports}
	monitored := s.monitorExplanations(ctx, evs)
	var times []time.Time
	for _, st := range evs {
		e := st.Event
		if e.Actor.UserID == u.ID || e.Subtype == "login" || e.Subtype == "logout" {
			continue // the patient's own use of the portal
		}
		row := timelineRow{EventID: e.ID, Time: e.Time, Who: e.Actor.Name, Role: identity.RoleLabel(e.Actor.Role), What: describe(e),
			Purpose: purposeLabel(e.Purpose), Explanation: basisText[e.Basis], Denied: e.Outcome != audit.OutcomeSuccess, Reported: reported[e.ID]}
		if row.Who == "" {
			row.Who = "A staff member"
		}
		if e.Actor.Organization != "" {
			row.Department = s.Records.DirectoryName(ctx, "Organization", e.Actor.Organization)
		}
		if e.BreakGlass != nil {
			row.BreakGlass = true
			row.BGReason, _ = s.Access.Rules().ReasonLabel(e.BreakGlass.ReasonCode)
		}
		if row.Explanation == "" {
			row.Explanation = monitored[e.ID]
		}
		if row.Denied {
			row.Explanation = "The access was refused: " + e.OutcomeDesc
		}
		times = append(times, e.Time)
		switch kind {
		case "break-glass":
			if !row.BreakGlass {
				continue
			}
		case "denied":
			if !row.Denied {
				continue
			}
		case "changes":
			if e.Action != audit.ActionCreate && e.Action != audit.ActionUpdate && e.Action != audit.ActionDelete {
				continue
			}
		}
		v.Rows = append(v.Rows, row)
	}
	v.Total = len(times)
	v.Chart = weeklyChart(times, now, 26)
	p := s.newPage("Who accessed my record", &u)
	p.Portal = v
	p.Message = r.URL.Query().Get("msg")
	s.render(w, r, http.StatusOK, "accesslog", p)
}

func (s *Server) portalReport(w http.ResponseWriter, r *http.Request, u identity.User) {
	if err := requirePatient(u); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	rep, err := s.Reports.File(r.Context(), u.PatientID, r.PathValue("event"), u.ID, r.PostForm.Get("note"))
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if err := s.Access.Recorder().Record(r.Context(), &audit.Event{Actor: audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role}, PatientID: u.PatientID,
		Action: audit.ActionCreate, Subtype: "access-report", ResourceType: "AccessReport", ResourceID: rep.ID, Purpose: "PATRQT", Outcome: audit.OutcomeSuccess,
		Source: "trustward-portal", NetworkAddress: clientOf(r).Address, UserAgent: r.UserAgent()}); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, "/portal/accesses?msg="+url.QueryEscape("Thank you. The privacy office will look into this access and tell you what they find."), http.StatusSeeOther)
}

func (s *Server) officeDecideReport(w http.ResponseWriter, r *http.Request, u identity.User) {
	if u.Role != identity.RolePrivacyOfficer {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only privacy officers decide reports."))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	id := r.PathValue("id")
	if err := s.Reports.Decide(r.Context(), id, r.PostForm.Get("status"), r.PostForm.Get("outcome")); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if err := s.Access.Recorder().Record(r.Context(), &audit.Event{Actor: audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role},
		Action: audit.ActionUpdate, Subtype: "report-decision", ResourceType: "AccessReport", ResourceID: id, Purpose: "HOPERAT", Outcome: audit.OutcomeSuccess,
		OutcomeDesc: r.PostForm.Get("status"), Source: "trustward", NetworkAddress: clientOf(r).Address, UserAgent: r.UserAgent()}); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if pid, err := s.Reports.Patient(r.Context(), id); err == nil {
		s.notifyPatient(r.Context(), pid, notify.KindReportOutcome, "The privacy office answered your report",
			"The privacy office looked into the access you reported. Its answer: "+strings.TrimSpace(r.PostForm.Get("outcome")))
	}
	http.Redirect(w, r, "/office", http.StatusSeeOther)
}

// weeklyChart draws accesses per week as an accessible SVG bar chart.
func weeklyChart(times []time.Time, now time.Time, weeks int) template.HTML {
	counts := make([]int, weeks)
	start := now.AddDate(0, 0, -7*weeks)
	for _, t := range times {
		if t.Before(start) || t.After(now) {
			continue
		}
		i := min(weeks-1, int(t.Sub(start)/(7*24*time.Hour)))
		counts[i]++
	}
	peak := 1
	for _, c := range counts {
		peak = max(peak, c)
	}
	const w, h, pad = 720, 160, 24
	bw := float64(w-2*pad) / float64(weeks)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="chart-title" id="access-chart">`, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">Accesses to your record per week over the last %d weeks: %d in all, at most %d in one week.</title>`, weeks, sum(counts), peak)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#4a5360"/>`, pad, h-pad, w-pad, h-pad)
	for i, c := range counts {
		bh := float64(h-2*pad) * float64(c) / float64(peak)
		x := float64(pad) + float64(i)*bw
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#0b4f8a"><title>Week of %s: %d</title></rect>`,
			x+1, float64(h-pad)-bh, bw-2, bh, start.AddDate(0, 0, 7*i).Format("2 Jan 2006"), c)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#4a5360">%s</text>`, pad, h-6, start.Format("Jan 2006"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#4a5360" text-anchor="end">this week</text>`, w-pad, h-6)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#4a5360">%s a week at most</text>`, pad, 14, strconv.Itoa(peak))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and fixed text only
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// portalProof serves the proof bundle of one of the patient's own access
// events (docs/ledger.md, "Proof bundles"): the portal's script verifies
// it in the browser, and the patient may download it and verify it with
// any tool. Fetching proofs is not recorded as an access of its own: the
// page that lists the accesses was (decision 0018).
func (s *Server) portalProof(w http.ResponseWriter, r *http.Request, u identity.User) {
	if err := requirePatient(u); err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	id := r.PathValue("event")
	notMine := fault.New(fault.NotFound, "there is no such access to your record")
	if s.ProofBundle == nil {
		writeProblem(w, r, s.Log, fault.New(fault.Unavailable, "proofs are not available on this server"))
		return
	}
	b, patient, err := s.ProofBundle(r.Context(), id)
	// Not found, or about another patient or none (a sign-in event, say),
	// whether or not it is in the log yet: the same answer, so that event
	// ids reveal nothing.
	if fault.Is(err, fault.NotFound) || patient != u.PatientID {
		writeProblem(w, r, s.Log, notMine)
		return
	}
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	raw, err := b.Marshal()
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="access-`+safeFileName(id)+`-proof.json"`)
	w.Write(raw)
}

// safeFileName keeps letters, digits and dashes.
func safeFileName(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < 64; i++ {
		c := s[i]
		if c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			out = append(out, c)
		}
	}
	return string(out)
}

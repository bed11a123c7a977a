package explain

import (
	"time"

	"github.com/trustward/trustward/internal/audit"
)

// Kinds of explanation, strongest first. The first seven are direct: the
// hospital recorded this user's part in this patient's care. The others
// are indirect: they hold for the user's department or queue, not for
// the user by name.
const (
	KindEncounter   = "encounter-participant"
	KindCareTeam    = "care-team"
	KindAssignment  = "assignment"
	KindOrdered     = "ordered"
	KindCharted     = "charted"
	KindAppointment = "appointment"
	KindConsult     = "consult"
	// KindDepartmentOrder is a ServiceRequest performed by the user's
	// department rather than by the user by name (an imaging order sent
	// to Radiology): it says the department had work to do for the
	// patient, not which of its people did it, so it is indirect
	// (decision 0044).
	KindDepartmentOrder = "department-order"
	KindDepartment      = "department-open-encounter"
	KindCoverage        = "coverage"
	// KindUnassigned is a department explanation for a physician or nurse
	// while the department's assignment list for the patient names others
	// of their role (decision 0043): the access fits the department's
	// work (covering, charge nurse) but not this user by name, and it is
	// the weakest explanation.
	KindUnassigned = "department-unassigned"
	KindWorkQueue  = "work-queue"
	// Unexplained is neutral: nothing on record explains the access.
	Unexplained = "unexplained"
	// NoPatient marks events about no patient (sign-in, search, export).
	NoPatient = "no-patient"
)

// Windows around the recorded care within which an access counts as
// explained. They are the engine's only tuning, chosen on the tuning
// seeds (docs/monitoring.md).
const (
	encounterBefore = time.Hour           // registered minutes after the first look
	encounterAfter  = 30 * 24 * time.Hour // results, letters and calls after the visit
	teamAfter       = 30 * 24 * time.Hour
	assignedBefore  = time.Hour // hand-over before the shift
	assignedAfter   = teamAfter // like any care-team member afterwards
	orderAfter      = 90 * 24 * time.Hour
	chartedAfter    = 30 * 24 * time.Hour
	appointmentSlop = 24 * time.Hour
	consultAfter    = 14 * 24 * time.Hour
	coverageAfter   = 48 * time.Hour
	queueAfter      = 30 * 24 * time.Hour
	frontDeskBefore = 24 * time.Hour
)

// Explanation is why an access happened, or Unexplained.
type Explanation struct {
	Kind string
	// Ref is the resource that explains it ("Encounter/enc-1").
	Ref string
}

// Direct reports whether the user by name is on record in the patient's
// care; only a direct explanation clears a relationship flag.
func (e Explanation) Direct() bool {
	switch e.Kind {
	case KindEncounter, KindCareTeam, KindAssignment, KindOrdered, KindCharted, KindAppointment, KindConsult:
		return true
	}
	return false
}

// Explained reports whether any explanation was found.
func (e Explanation) Explained() bool { return e.Kind != Unexplained && e.Kind != NoPatient }

// Engine explains accesses against a context. It keeps one piece of
// state from the stream: who has written in whose chart, which explains
// their later reads. It is not safe for concurrent use.
type Engine struct {
	ctx     *Context
	charted map[[2]string]time.Time
}

// NewEngine returns an engine over ctx.
func NewEngine(ctx *Context) *Engine {
	return &Engine{ctx: ctx, charted: map[[2]string]time.Time{}}
}

// Context returns the engine's context.
func (e *Engine) Context() *Context { return e.ctx }

// StaffOf finds the staff member behind an event's actor.
func (e *Engine) StaffOf(ev *audit.Event) *Staff {
	if s := e.ctx.Staff[ev.Actor.PractitionerID]; s != nil {
		return s
	}
	return nil
}

// Explain explains one access. Events must come in time order for the
// "charted" explanation to see earlier writes.
func (e *Engine) Explain(ev *audit.Event) Explanation {
	if ev.PatientID == "" {
		return Explanation{Kind: NoPatient}
	}
	ex := e.explain(ev)
	if ev.Action == audit.ActionCreate || ev.Action == audit.ActionUpdate {
		e.charted[[2]string{ev.Actor.PractitionerID + "\x00" + ev.Actor.UserID, ev.PatientID}] = ev.Time
	}
	return ex
}

func (e *Engine) explain(ev *audit.Event) Explanation {
	t := ev.Time
	uid := ev.Actor.PractitionerID
	role, dept := ev.Actor.Role, ev.Actor.Organization
	if s := e.StaffOf(ev); s != nil {
		if s.Role != "" {
			role = s.Role
		}
		if s.Dept != "" {
			dept = s.Dept
		}
	}
	care := e.ctx.Care[ev.PatientID]
	if care == nil {
		care = &Care{}
	}
	if uid != "" {
		for _, enc := range care.Encounters {
			if contains(enc.Participants, uid) && enc.Span.Covers(t, encounterBefore, encounterAfter) {
				return Explanation{KindEncounter, "Encounter/" + enc.ID}
			}
		}
		for _, tm := range care.Teams {
			if contains(tm.Members, uid) && tm.Span.Covers(t, 24*time.Hour, teamAfter) {
				return Explanation{KindCareTeam, "CareTeam/" + tm.ID}
			}
		}
		for _, tm := range care.Teams {
			for _, sh := range tm.Shifts {
				if sh.Member == uid && sh.Span.Covers(t, assignedBefore, assignedAfter) {
					return Explanation{KindAssignment, "CareTeam/" + tm.ID}
				}
			}
		}
		for _, o := range care.Orders {
			if o.Requester == uid && !t.Before(o.Authored.Add(-time.Hour)) && t.Before(o.Authored.Add(orderAfter)) {
				return Explanation{KindOrdered, "Order/" + o.ID}
			}
		}
	}
	if at, ok := e.charted[[2]string{uid + "\x00" + ev.Actor.UserID, ev.PatientID}]; ok && t.Sub(at) < chartedAfter {
		return Explanation{KindCharted, ""}
	}
	if uid != "" {
		for _, a := range care.Appointments {
			if contains(a.Practitioners, uid) && a.Span.Covers(t, appointmentSlop, appointmentSlop) {
				return Explanation{KindAppointment, "Appointment/" + a.ID}
			}
		}
	}
	for _, o := range care.Orders {
		if uid != "" && contains(o.Performers, uid) &&
			!t.Before(o.Authored.Add(-time.Hour)) && t.Before(o.Authored.Add(consultAfter)) {
			return Explanation{KindConsult, "ServiceRequest/" + o.ID}
		}
	}
	// An order addressed to a department (imaging to Radiology) explains
	// the look of anyone in it, so only as the department's work.
	for _, o := range care.Orders {
		if dept != "" && contains(o.PerformerDepts, dept) &&
			!t.Before(o.Authored.Add(-time.Hour)) && t.Before(o.Authored.Add(consultAfter)) {
			return Explanation{KindDepartmentOrder, "ServiceRequest/" + o.ID}
		}
	}
	clinical := role == "clinician" || role == "nurse"
	if clinical && dept != "" {
		// An encounter whose assignment list names others of the user's
		// role explains the access only weakly; one without such a list
		// (a clinic, the emergency department, a shift the list missed)
		// explains it as before.
		unassigned := ""
		for _, enc := range care.Encounters {
			if enc.Dept == dept && enc.Span.Covers(t, encounterBefore, 0) {
				if !e.assignedOthers(care, enc, role, t, false) {
					return Explanation{KindDepartment, "Encounter/" + enc.ID}
				}
				if unassigned == "" {
					unassigned = enc.ID
				}
			}
		}
		for _, enc := range care.Encounters {
			if enc.Dept == dept && enc.Span.Covers(t, encounterBefore, coverageAfter) && !enc.Span.Covers(t, encounterBefore, 0) {
				if !e.assignedOthers(care, enc, role, t, true) {
					return Explanation{KindCoverage, "Encounter/" + enc.ID}
				}
				if unassigned == "" {
					unassigned = enc.ID
				}
			}
		}
		if unassigned != "" {
			return Explanation{KindUnassigned, "Encounter/" + unassigned}
		}
	}
	switch role {
	case "billing":
		// Billing and health information management work the queue of
		// encounters finished in the last month.
		for _, enc := range care.Encounters {
			if !enc.Span.To.IsZero() && !t.Before(enc.Span.To) && t.Before(enc.Span.To.Add(queueAfter)) {
				return Explanation{KindWorkQueue, "Encounter/" + enc.ID}
			}
		}
	case "front_desk":
		// The front desk registers today's arrivals.
		for _, enc := range care.Encounters {
			if !t.Before(enc.Span.From.Add(-frontDeskBefore)) && !t.After(enc.Span.From.Add(time.Hour)) {
				return Explanation{KindWorkQueue, "Encounter/" + enc.ID}
			}
		}
		for _, a := range care.Appointments {
			if !t.Before(a.Span.From.Add(-frontDeskBefore)) && !t.After(a.Span.From.Add(time.Hour)) {
				return Explanation{KindWorkQueue, "Appointment/" + a.ID}
			}
		}
	}
	return Explanation{Kind: Unexplained}
}

// assignedOthers reports whether the department published an assignment
// list for enc that names someone of role: at t while the encounter is
// open, or at any time once it has ended (covering after discharge). The
// user is not on it, or the assignment explanation would have held.
func (e *Engine) assignedOthers(care *Care, enc Encounter, role string, t time.Time, ended bool) bool {
	for _, tm := range care.Teams {
		if tm.Encounter != enc.ID && (tm.Encounter != "" || !contains(tm.Depts, enc.Dept) || !tm.Span.Covers(t, 0, 0)) {
			continue
		}
		for _, sh := range tm.Shifts {
			if !ended && !sh.Span.Covers(t, 0, 0) {
				continue
			}
			if s := e.ctx.Staff[sh.Member]; s != nil && s.Role == role {
				return true
			}
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
)

// This file generates a hospital's access log with ground truth for the
// privacy-monitoring benchmark: the demo hospital of Generate, the care
// that happens in it over a number of days (encounters, appointments,
// orders, consults, the inpatient units' nurse assignments) as FHIR
// context, the accesses that care causes as audit events, and, from
// violations.go, injected inappropriate accesses and hard negatives. Detectors never see the truth; only eval reads it.

// Access-simulation defaults.
const (
	DefaultAccessPatients = 2000
	DefaultAccessStaff    = 200
	DefaultAccessDays     = 28
)

// Labels of the ground truth.
const (
	LabelLegitimate   = "legitimate"
	LabelHardNegative = "hard-negative"
	LabelViolation    = "violation"
)

// AccessOptions say what access log to generate. The same options always
// produce the same output.
type AccessOptions struct {
	Seed     int64
	Patients int       // 0 means DefaultAccessPatients
	Staff    int       // 0 means DefaultAccessStaff
	Days     int       // 0 means DefaultAccessDays
	Now      time.Time // end of the simulated period; zero means 2026-06-01
}

// Truth is the ground truth about one event.
type Truth struct {
	Event string `json:"event"`
	// Label is legitimate, hard-negative or violation.
	Label string `json:"label"`
	// Scenario names why the access happened: a care activity for
	// legitimate ones ("encounter", "cover-colleague", ...), the hard
	// negative or the violation scenario otherwise.
	Scenario string `json:"scenario"`
	// Case groups the events of one violation (one user, one story).
	Case string `json:"case,omitempty"`
	// Recorded is true when the hospital recorded the care relationship
	// behind a legitimate access (encounter, care team, order,
	// appointment, consult, work queue).
	Recorded bool `json:"recorded"`
	// User is the account of the event, for reading the truth file alone.
	User string `json:"user"`
}

// AccessSink receives the output in order: all context first, then the
// events in time order, each followed by its truth.
type AccessSink struct {
	Context func(Resource) error
	Event   func(audit.Event) error
	Truth   func(Truth) error
}

// AccessSummary counts what GenerateAccesses produced.
type AccessSummary struct {
	Start, End time.Time
	// Warmup is the end of the first days, which hold no injected
	// violations so that detectors have a history to learn from.
	Warmup                                   time.Time
	Context, Events                          int
	Legitimate, Unrecorded, HardNeg, Violate int
	Cases                                    int
	ByScenario                               map[string]int
}

// simEvent is an event before it gets its id and is sent.
type simEvent struct {
	ev       audit.Event
	label    string
	scenario string
	caseKey  string
	recorded bool
}

// accessGen holds one access simulation.
type accessGen struct {
	g          *generator
	o          AccessOptions
	rng        *rand.Rand
	sink       AccessSink
	start, end time.Time
	warmup     time.Time
	events     []simEvent
	ctxCount   int
	encN       int
	resN       int

	clinical    []*department
	deptIndex   map[*department]int
	byPatient   map[*patient][]*visitRec // care generated in the window
	visits      []*visitRec
	active      []*patient          // patients in care during the period
	exclude     *staffMember        // kept off the next encounter (evasion)
	startAt     time.Time           // when set, the next encounter's start (evasion)
	careTeams   map[string][]string // staff id -> patient ids on base care teams
	patientByID map[string]*patient
	terminated  map[*staffMember]time.Time
	cases       int
}

// visitRec is one encounter generated in the window.
type visitRec struct {
	id         string
	class      string
	dept       *department
	p          *patient
	start, end time.Time
	staff      []*staffMember // on the Encounter, the attending first
	shifts     []shiftAssignment
}

// GenerateAccesses simulates o.Days of care in the hospital of
// Generate(o.Seed, o.Patients, o.Staff) and sends context, events and
// truth to sink.
func GenerateAccesses(ctx context.Context, o AccessOptions, sink AccessSink) (AccessSummary, error) {
	if o.Patients == 0 {
		o.Patients = DefaultAccessPatients
	}
	if o.Staff == 0 {
		o.Staff = DefaultAccessStaff
	}
	if o.Days == 0 {
		o.Days = DefaultAccessDays
	}
	if o.Days < 4 || o.Days > 366 {
		return AccessSummary{}, fmt.Errorf("sim: days must be between 4 and 366, got %d", o.Days)
	}
	if o.Patients < 50 || o.Patients > 1_000_000 {
		return AccessSummary{}, fmt.Errorf("sim: patients must be between 50 and 1000000, got %d", o.Patients)
	}
	if o.Staff < 40 || o.Staff > 20_000 {
		return AccessSummary{}, fmt.Errorf("sim: staff must be between 40 and 20000, got %d", o.Staff)
	}
	if sink.Context == nil || sink.Event == nil || sink.Truth == nil {
		return AccessSummary{}, errors.New("sim: every sink function is required")
	}
	if o.Now.IsZero() {
		o.Now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	o.Now = o.Now.UTC().Truncate(24 * time.Hour)
	a := &accessGen{
		o:           o,
		sink:        sink,
		end:         o.Now,
		start:       o.Now.AddDate(0, 0, -o.Days),
		rng:         rand.New(rand.NewPCG(uint64(o.Seed), 0x6163636573736573)),
		deptIndex:   map[*department]int{},
		byPatient:   map[*patient][]*visitRec{},
		careTeams:   map[string][]string{},
		patientByID: map[string]*patient{},
		terminated:  map[*staffMember]time.Time{},
	}
	a.warmup = a.start.AddDate(0, 0, max(3, o.Days/4))
	// The base hospital's history ends where the simulated period starts.
	g, err := newGenerator(ctx, Options{Seed: o.Seed, Patients: o.Patients, Staff: o.Staff, Now: a.start}, a.baseResource)
	if err != nil {
		return AccessSummary{}, err
	}
	a.g = g
	g.placeStaff()
	g.buildHouseholds()
	for i, d := range g.depts {
		a.deptIndex[d] = i
		if d.clinical {
			a.clinical = append(a.clinical, d)
		}
	}
	for _, p := range g.patients {
		a.patientByID[p.id] = p
	}
	// Only part of the registry is in care during any month; the rest
	// are former patients whose records stay on file.
	for _, i := range a.rng.Perm(len(g.patients))[:len(g.patients)*activeShare/100] {
		a.active = append(a.active, g.patients[i])
	}
	a.chooseTerminated()
	if err := g.emitAll(); err != nil {
		return AccessSummary{}, err
	}
	if err := a.emitRelatedPersons(); err != nil {
		return AccessSummary{}, err
	}
	if err := a.simulateCare(); err != nil {
		return AccessSummary{}, err
	}
	if err := a.injectHardNegatives(); err != nil {
		return AccessSummary{}, err
	}
	if err := a.injectViolations(); err != nil {
		return AccessSummary{}, err
	}
	return a.flush(ctx)
}

// contextTypes are the base resources the monitoring context needs.
var contextTypes = map[string]bool{
	"Organization": true, "Practitioner": true, "PractitionerRole": true, "Patient": true,
	"Encounter": true, "CareTeam": true, "MedicationRequest": true,
}

// baseResource passes on the base hospital's context, marking terminated
// staff on their PractitionerRole, and remembers care-team members.
func (a *accessGen) baseResource(r Resource) error {
	if !contextTypes[r.Type] {
		return nil
	}
	switch r.Type {
	case "PractitionerRole":
		for s, t := range a.terminated {
			if s.roleID == r.ID {
				pr := a.g.practitionerRoleOf(s)
				pr.Active = false
				pr.Period.End = fhirDateTime(t)
				b, err := json.Marshal(pr)
				if err != nil {
					return err
				}
				r.JSON = b
			}
		}
	case "Encounter":
		b, err := a.closeBaseEncounter(r)
		if err != nil {
			return err
		}
		r.JSON = b
	case "CareTeam":
		var ct careTeam
		if err := json.Unmarshal(r.JSON, &ct); err != nil {
			return err
		}
		pid := strings.TrimPrefix(ct.Subject.Reference, "Patient/")
		for _, m := range ct.Participant {
			sid := strings.TrimPrefix(m.Member.Reference, "Practitioner/")
			a.careTeams[sid] = append(a.careTeams[sid], pid)
		}
	}
	a.ctxCount++
	return a.sink.Context(r)
}

// closeBaseEncounter ends, during the simulated period, an encounter the
// base hospital's history left in progress at the period's start: a clinic
// visit, an emergency or a stay that was under way then is over within its
// usual length, not open for the whole period. Without this, about one
// patient in ten would be "being treated now" for four weeks, which
// explains department accesses and softens status flags far too often.
// Its length comes from its own random stream (seed and id), so the rest
// of the simulation draws the same numbers as before.
func (a *accessGen) closeBaseEncounter(r Resource) ([]byte, error) {
	var e encounter
	if err := json.Unmarshal(r.JSON, &e); err != nil {
		return nil, err
	}
	if e.Status != "in-progress" || e.Period.End != "" {
		return r.JSON, nil
	}
	start, err := time.Parse(time.RFC3339, e.Period.Start)
	if err != nil {
		return nil, fmt.Errorf("sim: encounter %s start: %w", e.ID, err)
	}
	h := fnv.New64a()
	h.Write([]byte(e.ID))
	rng := rand.New(rand.NewPCG(uint64(a.o.Seed), h.Sum64()))
	end := start.Add(visitLength(rng, e.Class.Code))
	if min := a.start.Add(10 * time.Minute); end.Before(min) {
		end = min.Add(between(rng, 0, 2*time.Hour))
	}
	if !end.Before(a.end) {
		return r.JSON, nil
	}
	e.Status, e.Period.End = "finished", fhirDateTime(end)
	return json.Marshal(e)
}

// outContext sends one generated context resource.
func (a *accessGen) outContext(typ, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sim: encode %s/%s: %w", typ, id, err)
	}
	a.ctxCount++
	if err := a.sink.Context(Resource{Type: typ, ID: id, JSON: b}); err != nil {
		return fmt.Errorf("sim: emit %s/%s: %w", typ, id, err)
	}
	return nil
}

type relatedPerson struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Identifier   []identifier   `json:"identifier,omitempty"`
	Active       bool           `json:"active"`
	Patient      reference      `json:"patient"`
	Relationship []concept      `json:"relationship,omitempty"`
	Name         []humanName    `json:"name,omitempty"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
	Address      []address      `json:"address,omitempty"`
}

// emitRelatedPersons records each household: for every member, the other
// members (at most five) as RelatedPersons, with their MRN and, for staff,
// their employee number, which is how a hospital links a relative to a
// colleague.
func (a *accessGen) emitRelatedPersons() error {
	for _, h := range a.g.households {
		if len(h.members) < 2 {
			continue
		}
		for _, p := range h.members {
			k := 0
			for _, q := range h.members {
				if q == p || k == 5 {
					continue
				}
				k++
				rp := relatedPerson{
					ResourceType: "RelatedPerson",
					ID:           "rp-" + strings.TrimPrefix(p.id, "pat-") + "-" + strings.TrimPrefix(q.id, "pat-"),
					Identifier:   []identifier{{System: SystemMRN, Value: q.mrn}},
					Active:       true,
					Patient:      ref("Patient", p.id),
					Relationship: []concept{code("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "HHMEMB", "household member")},
					Name:         q.name(),
					Address:      []address{h.home.address()},
				}
				if h.home.phone != "" {
					rp.Telecom = []contactPoint{{System: "phone", Value: h.home.phone, Use: "home"}}
				}
				if q.staff != nil {
					rp.Identifier = append(rp.Identifier, employeeIdentifier("secondary", q.staff.employee))
				}
				if err := a.outContext("RelatedPerson", rp.ID, rp); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// chooseTerminated picks staff whose employment ends during the period.
func (a *accessGen) chooseTerminated() {
	n := a.instances()
	for _, i := range a.rng.Perm(len(a.g.staff)) {
		s := a.g.staff[i]
		if n == 0 {
			break
		}
		if s.demoAs != "" || !accessRole(s.role) {
			continue
		}
		days := a.o.Days / 2
		a.terminated[s] = a.warmup.Add(time.Duration(a.rng.IntN(max(1, days))) * 24 * time.Hour).Add(17 * time.Hour)
		n--
	}
}

// instances is how many cases of each violation scenario to inject.
func (a *accessGen) instances() int { return max(1, a.o.Staff/100) }

// accessRole reports whether a role reads patient records in its work.
func accessRole(role string) bool {
	switch role {
	case roleClinician, roleNurse, roleFrontDesk, roleBilling:
		return true
	}
	return false
}

// Shifts. Physicians work days, nurses days or nights, the office roles
// office hours on weekdays.
func (a *accessGen) shift(s *staffMember) (startHour, hours int) {
	switch s.role {
	case roleNurse:
		if s.n%5 < 2 {
			return 19, 12
		}
		return 7, 12
	case roleClinician:
		return 8, 10
	case roleFrontDesk:
		return 7, 10
	}
	return 8, 9
}

// works reports whether s works on the day that starts at day, and the
// shift's start and end.
func (a *accessGen) works(s *staffMember, day time.Time) (bool, time.Time, time.Time) {
	h, n := a.shift(s)
	from := day.Add(time.Duration(h) * time.Hour)
	to := from.Add(time.Duration(n) * time.Hour)
	if t, ok := a.terminated[s]; ok && !from.Before(t) {
		return false, from, to
	}
	wd := day.Weekday()
	switch s.role {
	case roleClinician, roleNurse:
		// Five days in seven on a rota that differs per person.
		k := (int(day.Sub(a.start).Hours()/24) + s.n*3) % 7
		return k < 5, from, to
	default:
		return wd != time.Saturday && wd != time.Sunday, from, to
	}
}

// onShift lists the staff of role in dept working at t.
func (a *accessGen) onShift(dept *department, role string, t time.Time) []*staffMember {
	var list []*staffMember
	var pool []*staffMember
	switch role {
	case roleClinician:
		pool = dept.clinicians
	case roleNurse:
		pool = dept.nurses
	default:
		pool = dept.others
	}
	for _, s := range pool {
		if s.role != role {
			continue
		}
		for _, day := range []time.Time{t.Truncate(24 * time.Hour), t.Truncate(24 * time.Hour).Add(-24 * time.Hour)} {
			if ok, from, to := a.works(s, day); ok && !t.Before(from) && t.Before(to) {
				list = append(list, s)
				break
			}
		}
	}
	if a.exclude != nil {
		list = slices.DeleteFunc(list, func(s *staffMember) bool { return s == a.exclude })
	}
	return list
}

// inShift returns a random moment within a shift of s on or after day
// (searching forward up to a week), and false if none.
func (a *accessGen) inShift(s *staffMember, day time.Time) (time.Time, bool) {
	for i := range 7 {
		d := day.Add(time.Duration(i) * 24 * time.Hour)
		if ok, from, to := a.works(s, d); ok && to.Before(a.end) {
			return from.Add(time.Duration(a.rng.Int64N(int64(to.Sub(from) - time.Hour)))).Add(30 * time.Minute), true
		}
	}
	return time.Time{}, false
}

// Networks: each user's own workstations in their department's subnet, a
// VPN range, and documentation ranges standing for the internet.
func (a *accessGen) workstation(s *staffMember) string {
	return fmt.Sprintf("10.%d.%d.%d", 1+a.deptIndex[s.dept], (s.n/200)%250, 10+(s.n*7+a.rng.IntN(2))%200)
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) EHRClient/7.4",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) EHRClient/7.5",
	"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) EHRMobile/3.1",
}

// access adds one event by s about p at t.
func (a *accessGen) access(s *staffMember, p *patient, t time.Time, action, subtype, label, scenario, caseKey string, recorded bool) *simEvent {
	if t.Before(a.start) || !t.Before(a.end) {
		return nil
	}
	ev := audit.Event{
		V:              audit.CanonicalVersion,
		Time:           t.Truncate(time.Second),
		Actor:          audit.Actor{UserID: s.username, Name: s.displayName(), Role: s.role, PractitionerID: s.id, Organization: s.dept.id},
		Action:         action,
		Subtype:        subtype,
		Outcome:        audit.OutcomeSuccess,
		Source:         "ehr",
		NetworkAddress: a.workstation(s),
		UserAgent:      userAgents[s.n%2],
	}
	switch s.role {
	case roleBilling:
		ev.Purpose = "HPAYMT"
	case roleFrontDesk:
		ev.Purpose = "HOPERAT"
	default:
		ev.Purpose = "TREAT"
	}
	if p != nil {
		ev.PatientID = p.id
		ev.ResourceType = "Patient"
		ev.ResourceID = p.id
		if action != audit.ActionRead {
			ev.ResourceType, ev.ResourceID = "Observation", ""
		}
	}
	a.events = append(a.events, simEvent{ev: ev, label: label, scenario: scenario, caseKey: caseKey, recorded: recorded})
	return &a.events[len(a.events)-1]
}

// legit adds a legitimate read (and sometimes a chart entry) by s of p.
func (a *accessGen) legit(s *staffMember, p *patient, t time.Time, scenario string, recorded bool) {
	if s.patient == p || (scenario != "encounter" && a.sameHousehold(s, p)) {
		// Nobody works on their own record, and conflict-of-interest
		// rules route a relative's registration, bill or cover to a
		// colleague; only recorded care of a relative happens.
		return
	}
	a.access(s, p, t, audit.ActionRead, "chart", LabelLegitimate, scenario, "", recorded)
	if (s.role == roleClinician || s.role == roleNurse) && a.rng.Float64() < 0.3 {
		a.access(s, p, t.Add(between(a.rng, time.Minute, 8*time.Minute)), audit.ActionUpdate, "chart", LabelLegitimate, scenario, "", recorded)
	}
}

// sameHousehold reports whether p lives in s's household.
func (a *accessGen) sameHousehold(s *staffMember, p *patient) bool {
	return s.patient != nil && p.home == s.patient.home
}

// search adds a patient search (no patient: the result list is not an
// access to one record).
func (a *accessGen) search(s *staffMember, t time.Time, label, scenario, caseKey string) {
	if t.Before(a.start) || !t.Before(a.end) {
		return
	}
	if e := a.access(s, nil, t, audit.ActionExecute, "search", label, scenario, caseKey, label == LabelLegitimate); e != nil {
		e.ev.ResourceType = "Patient"
	}
}

// simulateCare generates the period's care day by day.
func (a *accessGen) simulateCare() error {
	for day := a.start; day.Before(a.end); day = day.Add(24 * time.Hour) {
		if err := a.g.ctx.Err(); err != nil {
			return err
		}
		if err := a.logins(day); err != nil {
			return err
		}
		for _, d := range a.clinical {
			nc := len(d.clinicians)
			class := "AMB"
			count := 3 * nc
			if d.id == "org-emergency" {
				class, count = "EMER", 4*nc
			}
			for range count {
				if err := a.encounter(d, class, day, a.randomPatient(), nil); err != nil {
					return err
				}
			}
			if d.id != "org-emergency" && d.id != "org-radiology" {
				for range max(1, nc/3) {
					if err := a.encounter(d, "IMP", day, a.randomPatient(), nil); err != nil {
						return err
					}
				}
			}
		}
		a.panelWork(day)
	}
	return nil
}

// activeShare is the percentage of the registry in care during the period.
const activeShare = 40

// randomPatient draws a patient in care during the period.
func (a *accessGen) randomPatient() *patient {
	return a.active[a.rng.IntN(len(a.active))]
}

// anyPatient draws from the whole registry: snoopers browse anyone, half
// the time someone in care, half the time anyone on file.
func (a *accessGen) anyPatient() *patient {
	if a.rng.Float64() < 0.5 {
		return a.randomPatient()
	}
	return a.g.patients[a.rng.IntN(len(a.g.patients))]
}

// logins adds each working user's sign-in at the start of their shift.
func (a *accessGen) logins(day time.Time) error {
	for _, s := range a.g.staff {
		if !accessRole(s.role) {
			continue
		}
		if ok, from, _ := a.works(s, day); ok {
			if e := a.access(s, nil, from.Add(between(a.rng, -10*time.Minute, 20*time.Minute)), audit.ActionExecute, "login", LabelLegitimate, "login", "", true); e != nil {
				e.ev.Purpose = ""
			}
		}
	}
	return nil
}

// panelWork: physicians and nurses of General Medicine answer calls and
// results for patients on their care teams from earlier years.
func (a *accessGen) panelWork(day time.Time) {
	for _, s := range a.g.general.clinicians {
		panel := a.careTeams[s.id]
		if len(panel) == 0 {
			continue
		}
		for range a.rng.IntN(4) {
			t, ok := a.inShift(s, day)
			if !ok || t.Sub(day) > 24*time.Hour {
				break
			}
			a.legit(s, a.patientByID[panel[a.rng.IntN(len(panel))]], t, "care-team", true)
		}
	}
}

// encounter generates one encounter starting on day in dept, its FHIR
// context and the accesses it causes. With attending set, that person
// attends (hard negatives use it).
func (a *accessGen) encounter(d *department, class string, day time.Time, p *patient, attending *staffMember) error {
	_, err := a.encounterVisit(d, class, day, p, attending)
	return err
}

// encounterVisit is encounter returning the visit (nil when nobody was on
// shift to attend it).
func (a *accessGen) encounterVisit(d *department, class string, day time.Time, p *patient, attending *staffMember) (*visitRec, error) {
	r := a.rng
	var start time.Time
	switch {
	case !a.startAt.IsZero():
		start = a.startAt
	case class == "AMB":
		start = day.Add(8*time.Hour + time.Duration(r.IntN(18))*30*time.Minute)
	default:
		start = day.Add(between(r, 0, 24*time.Hour))
	}
	if attending == nil {
		docs := a.onShift(d, roleClinician, start)
		if len(docs) == 0 {
			return nil, nil
		}
		attending = docs[r.IntN(len(docs))]
	}
	var length time.Duration
	switch class {
	case "AMB":
		length = 30 * time.Minute
	case "EMER":
		length = between(r, 2*time.Hour, 8*time.Hour)
	default:
		length = time.Duration(1+r.IntN(6))*24*time.Hour + between(r, 0, 12*time.Hour)
	}
	v := &visitRec{class: class, dept: d, p: p, start: start, end: start.Add(length), staff: []*staffMember{attending}}
	if class == "IMP" {
		// Inpatients are nursed shift by shift by assigned nurses; the
		// Encounter names the attending only.
		a.assignShifts(v)
	} else {
		nurses := a.onShift(d, roleNurse, start.Add(5*time.Minute))
		for range 1 + r.IntN(2) {
			if len(nurses) > 0 {
				if n := nurses[r.IntN(len(nurses))]; !slices.Contains(v.staff, n) {
					v.staff = append(v.staff, n)
				}
			}
		}
	}
	a.encN++
	v.id = fmt.Sprintf("enc-s%06d", a.encN)
	a.byPatient[p] = append(a.byPatient[p], v)
	a.visits = append(a.visits, v)
	if err := a.emitEncounter(v); err != nil {
		return nil, err
	}

	// Front desk registers the patient (search, then open) for clinic
	// visits and emergencies.
	if class != "IMP" {
		if fd := a.onShift(a.g.deptByID["org-registration"], roleFrontDesk, start.Add(-15*time.Minute)); len(fd) > 0 {
			s := fd[r.IntN(len(fd))]
			t := start.Add(-between(r, 5*time.Minute, 25*time.Minute))
			a.search(s, t.Add(-time.Minute), LabelLegitimate, "registration", "")
			a.legit(s, p, t, "registration", true)
		}
	}
	// The care team reads and charts while the encounter lasts.
	for _, s := range v.staff {
		reads := 2 + r.IntN(3)
		if class == "IMP" {
			reads = 2 * int(length.Hours()/24+1)
		}
		for range reads {
			t := v.start.Add(between(r, -20*time.Minute, length))
			if class == "IMP" {
				// only while this person is on shift
				if tt, ok := a.inShift(s, t.Truncate(24*time.Hour)); ok && tt.Before(v.end) && !tt.Before(v.start) {
					t = tt
				} else {
					continue
				}
			}
			a.legit(s, p, t, "encounter", true)
		}
	}
	if err := a.shiftCare(v); err != nil {
		return nil, err
	}
	// Orders and the consults and queues they cause.
	if r.Float64() < 0.5 {
		if err := a.medicationOrder(v, attending); err != nil {
			return nil, err
		}
	}
	if r.Float64() < 0.3 {
		if err := a.imagingOrder(v, attending); err != nil {
			return nil, err
		}
	}
	if class == "IMP" && r.Float64() < 0.3 {
		if err := a.consult(v, attending); err != nil {
			return nil, err
		}
	}
	a.workQueues(v)
	a.unrecorded(v)
	return v, nil
}

// emitEncounter writes the Encounter and, for clinic visits, the
// Appointment, and for admissions a CareTeam.
func (a *accessGen) emitEncounter(v *visitRec) error {
	e := encounter{
		ResourceType:    "Encounter",
		ID:              v.id,
		Status:          "finished",
		Class:           coding{System: systemActCode, Code: v.class, Display: classDisplay(v.class)},
		Subject:         ref("Patient", v.p.id),
		Period:          period{Start: fhirDateTime(v.start), End: fhirDateTime(v.end)},
		ServiceProvider: ref("Organization", v.dept.id),
	}
	if !v.end.Before(a.end) {
		e.Status, e.Period.End = "in-progress", ""
	}
	for i, s := range v.staff {
		typ := "PART"
		if i == 0 {
			typ = "ATND"
		}
		e.Participant = append(e.Participant, encounterParticipant{
			Type:       []concept{{Coding: []coding{{System: systemParticipation, Code: typ}}}},
			Individual: ref("Practitioner", s.id),
		})
	}
	if err := a.outContext("Encounter", e.ID, e); err != nil {
		return err
	}
	switch v.class {
	case "AMB":
		ap := appointment{
			ResourceType: "Appointment", ID: "apt-" + strings.TrimPrefix(v.id, "enc-"), Status: "fulfilled",
			Start: fhirDateTime(v.start), End: fhirDateTime(v.end),
			Participant: []appointmentParticipant{
				{Actor: ref("Patient", v.p.id), Status: "accepted"},
				{Actor: ref("Practitioner", v.staff[0].id), Status: "accepted"},
			},
		}
		return a.outContext("Appointment", ap.ID, ap)
	case "IMP":
		ct := a.treatmentTeam(v)
		return a.outContext("CareTeam", ct.ID, ct)
	}
	return nil
}

type appointmentParticipant struct {
	Actor  reference `json:"actor"`
	Status string    `json:"status"`
}

type appointment struct {
	ResourceType string                   `json:"resourceType"`
	ID           string                   `json:"id"`
	Status       string                   `json:"status"`
	Start        string                   `json:"start"`
	End          string                   `json:"end"`
	Participant  []appointmentParticipant `json:"participant"`
}

type serviceRequest struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Status       string      `json:"status"`
	Intent       string      `json:"intent"`
	Category     []concept   `json:"category,omitempty"`
	Code         concept     `json:"code"`
	Subject      reference   `json:"subject"`
	Encounter    *reference  `json:"encounter,omitempty"`
	AuthoredOn   string      `json:"authoredOn"`
	Requester    reference   `json:"requester"`
	Performer    []reference `json:"performer,omitempty"`
}

func (a *accessGen) medicationOrder(v *visitRec, by *staffMember) error {
	a.resN++
	m := medicationRequest{
		ResourceType: "MedicationRequest", ID: fmt.Sprintf("mr-s%06d", a.resN), Status: "active", Intent: "order",
		MedicationCodeableConcept: code(systemRxNorm, "197361", "amlodipine 5 MG Oral Tablet"),
		Subject:                   ref("Patient", v.p.id), Encounter: refPtr("Encounter", v.id),
		AuthoredOn: fhirDateTime(v.start.Add(20 * time.Minute)), Requester: ref("Practitioner", by.id),
	}
	return a.outContext("MedicationRequest", m.ID, m)
}

// imagingOrder: Radiology reads the patient's record to report the study.
func (a *accessGen) imagingOrder(v *visitRec, by *staffMember) error {
	a.resN++
	sr := serviceRequest{
		ResourceType: "ServiceRequest", ID: fmt.Sprintf("sr-s%06d", a.resN), Status: "completed", Intent: "order",
		Category: []concept{code(systemSNOMED, "363679005", "Imaging")},
		Code:     code(systemLOINC, "36643-5", "XR Chest 2 Views"),
		Subject:  ref("Patient", v.p.id), Encounter: refPtr("Encounter", v.id),
		AuthoredOn: fhirDateTime(v.start.Add(15 * time.Minute)), Requester: ref("Practitioner", by.id),
		Performer: []reference{ref("Organization", "org-radiology")},
	}
	if err := a.outContext("ServiceRequest", sr.ID, sr); err != nil {
		return err
	}
	t := v.start.Add(between(a.rng, time.Hour, 30*time.Hour))
	if rad := a.onShift(a.g.deptByID["org-radiology"], roleClinician, t); len(rad) > 0 {
		a.legit(rad[a.rng.IntN(len(rad))], v.p, t, "imaging-report", true)
	}
	return nil
}

// consult: a physician of another department is asked by name.
func (a *accessGen) consult(v *visitRec, by *staffMember) error {
	d := a.clinical[a.rng.IntN(len(a.clinical))]
	if d == v.dept {
		return nil
	}
	t := v.start.Add(between(a.rng, 2*time.Hour, 20*time.Hour))
	docs := a.onShift(d, roleClinician, t)
	if len(docs) == 0 {
		return nil
	}
	c := docs[a.rng.IntN(len(docs))]
	a.resN++
	sr := serviceRequest{
		ResourceType: "ServiceRequest", ID: fmt.Sprintf("sr-s%06d", a.resN), Status: "completed", Intent: "order",
		Category: []concept{code(systemSNOMED, "11429006", "Consultation")},
		Code:     code(systemSNOMED, "11429006", "Consultation"),
		Subject:  ref("Patient", v.p.id), Encounter: refPtr("Encounter", v.id),
		AuthoredOn: fhirDateTime(t.Add(-time.Hour)), Requester: ref("Practitioner", by.id),
		Performer: []reference{ref("Practitioner", c.id)},
	}
	if err := a.outContext("ServiceRequest", sr.ID, sr); err != nil {
		return err
	}
	for range 1 + a.rng.IntN(3) {
		a.legit(c, v.p, t.Add(between(a.rng, 0, 6*time.Hour)), "consult", true)
	}
	return nil
}

// workQueues: billing codes finished encounters, health information
// management completes a share of charts.
func (a *accessGen) workQueues(v *visitRec) {
	t := v.end.Add(between(a.rng, 12*time.Hour, 6*24*time.Hour))
	if b := a.onShift(a.g.deptByID["org-billing"], roleBilling, t); len(b) > 0 {
		a.legit(b[a.rng.IntN(len(b))], v.p, t, "billing-queue", true)
	}
	if a.rng.Float64() < 0.3 {
		t = v.end.Add(between(a.rng, 24*time.Hour, 10*24*time.Hour))
		if h := a.onShift(a.g.deptByID["org-him"], roleBilling, t); len(h) > 0 {
			a.legit(h[a.rng.IntN(len(h))], v.p, t, "him-queue", true)
		}
	}
}

// unrecorded adds the legitimate accesses a hospital does not record a
// reason for: a colleague covering, a float nurse, a curbside consult, a
// physician following up results after the visit.
func (a *accessGen) unrecorded(v *visitRec) {
	r := a.rng
	for range 3 {
		if r.Float64() < 0.5 {
			t := v.start.Add(between(r, 0, v.end.Sub(v.start)))
			role := roleClinician
			if r.Float64() < 0.5 {
				role = roleNurse
				if v.class == "IMP" {
					continue // the unit's nurses cover by shift (shiftCare)
				}
			}
			if cs := a.onShift(v.dept, role, t); len(cs) > 0 {
				if s := cs[r.IntN(len(cs))]; !slices.Contains(v.staff, s) {
					a.legit(s, v.p, t, "cover-colleague", false)
				}
			}
		}
	}
	if r.Float64() < 0.1 {
		t := v.start.Add(between(r, 0, v.end.Sub(v.start)))
		d := a.clinical[r.IntN(len(a.clinical))]
		if cs := a.onShift(d, roleClinician, t); len(cs) > 0 && d != v.dept {
			a.legit(cs[r.IntN(len(cs))], v.p, t, "curbside-consult", false)
		}
	}
	if r.Float64() < 0.08 {
		t := v.start.Add(between(r, 0, v.end.Sub(v.start)))
		d := a.clinical[r.IntN(len(a.clinical))]
		if ns := a.onShift(d, roleNurse, t); len(ns) > 0 && d != v.dept {
			a.legit(ns[r.IntN(len(ns))], v.p, t, "float-nurse", false)
		}
	}
	if r.Float64() < 0.2 {
		s := v.staff[0]
		if t, ok := a.inShift(s, v.end.Add(between(r, 8*24*time.Hour, 20*24*time.Hour)).Truncate(24*time.Hour)); ok {
			a.legit(s, v.p, t, "results-follow-up", false)
		}
	}
}

// flush sorts the events by time, numbers them and sends them.
func (a *accessGen) flush(ctx context.Context) (AccessSummary, error) {
	sort.SliceStable(a.events, func(i, j int) bool { return a.events[i].ev.Time.Before(a.events[j].ev.Time) })
	sum := AccessSummary{Start: a.start, End: a.end, Warmup: a.warmup, Context: a.ctxCount, ByScenario: map[string]int{}}
	cases := map[string]bool{}
	for i := range a.events {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
		}
		e := &a.events[i]
		e.ev.ID = fmt.Sprintf("s%d-%08d", uint32(a.o.Seed), i+1)
		if err := a.sink.Event(e.ev); err != nil {
			return sum, err
		}
		if err := a.sink.Truth(Truth{Event: e.ev.ID, Label: e.label, Scenario: e.scenario, Case: e.caseKey, Recorded: e.recorded, User: e.ev.Actor.UserID}); err != nil {
			return sum, err
		}
		sum.Events++
		sum.ByScenario[e.scenario]++
		switch e.label {
		case LabelLegitimate:
			sum.Legitimate++
			if !e.recorded {
				sum.Unrecorded++
			}
		case LabelHardNegative:
			sum.HardNeg++
		case LabelViolation:
			sum.Violate++
			cases[e.caseKey] = true
		}
	}
	sum.Cases = len(cases)
	return sum, nil
}

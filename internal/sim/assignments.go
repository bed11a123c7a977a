package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Nurse assignments on the inpatient units (decision 0043). Each shift
// (07:00-19:00 and 19:00-07:00), every inpatient has an assigned nurse
// from the unit's nurses on that shift, the same one as on the last
// shift of that kind when they are on again, most of the time. The unit
// publishes its list in the stay's CareTeam, one participant per shift
// with the shift as its period, as an EHR's inpatient treatment team
// exports it; the attending is on it for the whole stay.
//
// The lists are not perfect, as real ones are not: a share of shifts is
// never published (the board was not updated, the export missed it) and
// in another share the published nurse swapped with a colleague after
// publication, so the nurse who gave the care is not the one listed.
// Clinics and the emergency department publish no lists: their nurses
// are on the Encounter, or on nothing.
const (
	shiftUnlisted = 0.05 // shifts whose assignment was never published
	shiftSwapped  = 0.03 // shifts whose listed nurse swapped with a colleague
	shiftKeep     = 0.7  // chance the last nurse of the same shift keeps the patient
	// Unassigned nurses who open the chart during a shift.
	shiftCover  = 0.2  // a colleague covering the assigned nurse's break
	shiftCharge = 0.12 // the shift's charge nurse
	// stayRapid is the chance of a rapid-response call during a stay: an
	// ICU nurse and physician open the chart.
	stayRapid = 0.015
	// rapidOrdered is the share of rapid-response calls documented as an
	// order to Intensive Care.
	rapidOrdered = 0.7
)

// shiftAssignment is one shift of an inpatient's nursing: who gave the
// care and who the published list names (nil: not published).
type shiftAssignment struct {
	nurse, listed *staffMember
	from, to      time.Time
}

// shiftStart returns the start of the nursing shift that holds t.
func shiftStart(t time.Time) time.Time {
	day := t.Truncate(24 * time.Hour)
	switch h := t.Sub(day); {
	case h < 7*time.Hour:
		return day.Add(-5 * time.Hour)
	case h < 19*time.Hour:
		return day.Add(7 * time.Hour)
	default:
		return day.Add(19 * time.Hour)
	}
}

// assignShifts gives every shift of an inpatient stay, up to the end of
// the simulated period, its nurse and its published assignment.
func (a *accessGen) assignShifts(v *visitRec) {
	r := a.rng
	end := v.end
	if end.After(a.end) {
		end = a.end
	}
	var last [2]*staffMember // the last nurse of the day and of the night shifts
	for b := shiftStart(v.start); b.Before(end); b = b.Add(12 * time.Hour) {
		on := a.unitNurses(v, b.Add(time.Hour))
		if len(on) == 0 {
			continue
		}
		kind := 0
		if b.Sub(b.Truncate(24*time.Hour)) != 7*time.Hour {
			kind = 1
		}
		n := on[r.IntN(len(on))]
		if l := last[kind]; l != nil && slices.Contains(on, l) && r.Float64() < shiftKeep {
			n = l
		}
		last[kind] = n
		sa := shiftAssignment{nurse: n, listed: n, from: maxTime(b, v.start), to: minTime(b.Add(12*time.Hour), end)}
		switch x := r.Float64(); {
		case x < shiftUnlisted:
			sa.listed = nil
		case x < shiftUnlisted+shiftSwapped && len(on) > 1:
			for sa.listed == n {
				sa.listed = on[r.IntN(len(on))]
			}
		}
		v.shifts = append(v.shifts, sa)
	}
}

// unitNurses lists the nurses of the stay's unit on shift at t who may
// care for its patient: nobody nurses their own household.
func (a *accessGen) unitNurses(v *visitRec, t time.Time) []*staffMember {
	return slices.DeleteFunc(a.onShift(v.dept, roleNurse, t), func(s *staffMember) bool {
		return s.patient == v.p || a.sameHousehold(s, v.p)
	})
}

// shiftCare adds the nursing of an inpatient stay: the assigned nurse
// reads and charts through each shift; now and then a colleague covering
// a break or the charge nurse opens the chart; rarely the rapid-response
// team comes from Intensive Care.
func (a *accessGen) shiftCare(v *visitRec) error {
	r := a.rng
	for _, sa := range v.shifts {
		span := sa.to.Sub(sa.from)
		if span < 30*time.Minute {
			continue
		}
		for range 2 + r.IntN(3) {
			a.legit(sa.nurse, v.p, sa.from.Add(between(r, 0, span)), "assigned-nurse", sa.listed == sa.nurse)
		}
		others := slices.DeleteFunc(a.unitNurses(v, sa.from.Add(time.Minute)), func(s *staffMember) bool { return s == sa.nurse })
		if len(others) == 0 {
			continue
		}
		if r.Float64() < shiftCover {
			a.legit(others[r.IntN(len(others))], v.p, sa.from.Add(between(r, 0, span)), "cover-colleague", false)
		}
		if r.Float64() < shiftCharge {
			// The most senior nurse on the shift takes charge.
			charge := others[0]
			for _, s := range others[1:] {
				if s.hired.Before(charge.hired) {
					charge = s
				}
			}
			a.legit(charge, v.p, sa.from.Add(between(r, 0, span)), "charge-nurse", false)
		}
	}
	if icu := a.g.deptByID["org-intensive-care"]; v.dept != icu && r.Float64() < stayRapid {
		t := v.start.Add(between(r, 0, v.end.Sub(v.start)))
		if t.Before(a.end) && r.Float64() < rapidOrdered {
			// The call is documented as a consult order to Intensive
			// Care, often entered after the team has come.
			a.resN++
			sr := serviceRequest{
				ResourceType: "ServiceRequest", ID: fmt.Sprintf("sr-s%06d", a.resN), Status: "completed", Intent: "order",
				Category: []concept{code(systemSNOMED, "11429006", "Consultation")},
				Code:     concept{Text: "Rapid response team"},
				Subject:  ref("Patient", v.p.id), Encounter: refPtr("Encounter", v.id),
				AuthoredOn: fhirDateTime(t.Add(between(r, 0, 45*time.Minute))), Requester: ref("Practitioner", v.staff[0].id),
				Performer: []reference{ref("Organization", icu.id)},
			}
			if err := a.outContext("ServiceRequest", sr.ID, sr); err != nil {
				return err
			}
		}
		for _, role := range []string{roleNurse, roleClinician} {
			if cs := a.onShift(icu, role, t); len(cs) > 0 {
				a.legit(cs[r.IntN(len(cs))], v.p, t.Add(between(r, 0, 20*time.Minute)), "rapid-response", false)
			}
		}
	}
	return nil
}

// treatmentTeam is the CareTeam of an inpatient stay: the attending for
// the stay and each published shift assignment for its shift.
func (a *accessGen) treatmentTeam(v *visitRec) careTeam {
	ct := careTeam{
		ResourceType: "CareTeam", ID: "ct-" + strings.TrimPrefix(v.id, "enc-"), Status: "active",
		Category:             []concept{code(systemLOINC, "LA27976-2", "Encounter-focused care team")},
		Subject:              ref("Patient", v.p.id),
		Encounter:            refPtr("Encounter", v.id),
		Period:               &period{Start: fhirDateTime(v.start), End: fhirDateTime(v.end)},
		ManagingOrganization: []reference{ref("Organization", v.dept.id)},
	}
	if !v.end.Before(a.end) {
		ct.Period.End = ""
	}
	for i, s := range v.staff {
		role := code(systemSNOMED, "405279007", "Attending physician")
		if i > 0 {
			role = code(systemSNOMED, "309343006", "Physician")
			if s.role == roleNurse {
				role = code(systemSNOMED, "224535009", "Registered nurse")
			}
		}
		ct.Participant = append(ct.Participant, careTeamParticipant{Role: []concept{role}, Member: ref("Practitioner", s.id), Period: ct.Period})
	}
	for _, sa := range v.shifts {
		if sa.listed == nil {
			continue
		}
		role := code(systemSNOMED, "224535009", "Registered nurse")
		role.Text = "Assigned nurse"
		ct.Participant = append(ct.Participant, careTeamParticipant{
			Role: []concept{role}, Member: ref("Practitioner", sa.listed.id),
			Period: &period{Start: fhirDateTime(sa.from), End: fhirDateTime(sa.to)},
		})
	}
	return ct
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

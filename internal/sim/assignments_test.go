package sim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
)

func parseFHIRTime(t *testing.T, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// TestInpatientShiftAssignments checks the nurse assignment lists of the
// inpatient stays: one CareTeam per stay naming the attending for the
// stay and a nurse of the unit per shift, with realistic gaps; the
// assigned nurse does most of the unit's reading; covering colleagues and
// the charge nurse read without being listed; an evader is never listed
// on the target's shift.
func TestInpatientShiftAssignments(t *testing.T) {
	o := AccessOptions{Seed: 5, Patients: 800, Staff: 120, Days: 21}
	roles := map[string]string{} // practitioner id -> role
	depts := map[string]string{} // practitioner id -> department
	encs := map[string]encounter{}
	teams := map[string]careTeam{} // by encounter id
	byPatient := map[string][]careTeam{}
	var events []audit.Event
	var truth []Truth
	sum, err := GenerateAccesses(context.Background(), o, AccessSink{
		Context: func(r Resource) error {
			switch r.Type {
			case "PractitionerRole":
				var pr practitionerRole
				if err := json.Unmarshal(r.JSON, &pr); err != nil {
					return err
				}
				id := strings.TrimPrefix(pr.Practitioner.Reference, "Practitioner/")
				roles[id] = pr.Code[0].Coding[0].Code
				depts[id] = strings.TrimPrefix(pr.Organization.Reference, "Organization/")
			case "Encounter":
				var e encounter
				if err := json.Unmarshal(r.JSON, &e); err != nil {
					return err
				}
				encs[e.ID] = e
			case "CareTeam":
				var ct careTeam
				if err := json.Unmarshal(r.JSON, &ct); err != nil {
					return err
				}
				if ct.Encounter != nil {
					teams[strings.TrimPrefix(ct.Encounter.Reference, "Encounter/")] = ct
					pid := strings.TrimPrefix(ct.Subject.Reference, "Patient/")
					byPatient[pid] = append(byPatient[pid], ct)
				}
			}
			return nil
		},
		Event: func(e audit.Event) error { events = append(events, e); return nil },
		Truth: func(tr Truth) error { truth = append(truth, tr); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	stays, slots, listed := 0, 0, 0
	for id, e := range encs {
		if e.Class.Code != "IMP" || !strings.HasPrefix(id, "enc-s") {
			continue
		}
		stays++
		ct, ok := teams[id]
		if !ok {
			t.Fatalf("stay %s has no CareTeam", id)
		}
		if len(e.Participant) != 1 {
			t.Errorf("stay %s names %d participants, want the attending only", id, len(e.Participant))
		}
		att := ct.Participant[0]
		if att.Member != e.Participant[0].Individual || att.Period == nil || att.Period.Start != e.Period.Start || att.Period.End != e.Period.End {
			t.Errorf("stay %s: first participant %+v is not the attending for the stay", id, att)
		}
		dept := strings.TrimPrefix(e.ServiceProvider.Reference, "Organization/")
		from, to := parseFHIRTime(t, e.Period.Start), parseFHIRTime(t, e.Period.End)
		if to.IsZero() || to.After(sum.End) {
			to = sum.End
		}
		for b := shiftStart(from); b.Before(to); b = b.Add(12 * time.Hour) {
			slots++
		}
		for _, p := range ct.Participant[1:] {
			listed++
			n := strings.TrimPrefix(p.Member.Reference, "Practitioner/")
			if roles[n] != roleNurse || depts[n] != dept {
				t.Errorf("stay %s lists %s (%s of %s), not a nurse of %s", id, n, roles[n], depts[n], dept)
			}
			if p.Period == nil {
				t.Fatalf("stay %s: assignment of %s without a period", id, n)
			}
			a, z := parseFHIRTime(t, p.Period.Start), parseFHIRTime(t, p.Period.End)
			if a.Before(from) || z.After(to) || !z.After(a) || z.Sub(a) > 12*time.Hour {
				t.Errorf("stay %s (%s-%s): shift %s-%s", id, from, to, a, z)
			}
			if !a.Equal(from) && !a.Equal(shiftStart(a)) {
				t.Errorf("stay %s: shift starts at %s, not at 07:00 or 19:00", id, a)
			}
		}
	}
	if stays < 50 {
		t.Fatalf("only %d inpatient stays", stays)
	}
	// Most shifts are listed, not all: a unit sometimes has nobody on a
	// shift to assign (small units at night) or never published it.
	share := float64(listed) / float64(slots)
	t.Logf("%d stays, %d of %d shift slots listed (%.1f%%)", stays, listed, slots, 100*share)
	if share < 0.6 || share > 0.97 {
		t.Errorf("listed share %.3f, want gaps but mostly listed", share)
	}

	by := map[string][2]int{} // scenario -> recorded, unrecorded
	for _, tr := range truth {
		c := by[tr.Scenario]
		if tr.Recorded {
			c[0]++
		} else {
			c[1]++
		}
		by[tr.Scenario] = c
	}
	an := by["assigned-nurse"]
	if an[0] == 0 || float64(an[1])/float64(an[0]+an[1]) > 0.1 || an[1] == 0 {
		t.Errorf("assigned-nurse recorded/unrecorded %v: want mostly recorded, some swapped", an)
	}
	for _, sc := range []string{"cover-colleague", "charge-nurse", "rapid-response"} {
		if c := by[sc]; c[1] == 0 || c[0] != 0 {
			t.Errorf("%s recorded/unrecorded %v, want unrecorded only", sc, c)
		}
	}
	// On the units, the assigned nurse does most of the nurses' reading.
	inStay := func(e audit.Event) bool {
		for _, ct := range byPatient[e.PatientID] {
			a, z := parseFHIRTime(t, ct.Period.Start), parseFHIRTime(t, ct.Period.End)
			if ct.ManagingOrganization[0].Reference == "Organization/"+e.Actor.Organization && !e.Time.Before(a) && (z.IsZero() || e.Time.Before(z)) {
				return true
			}
		}
		return false
	}
	assigned, others := 0, 0
	for i, e := range events {
		if e.Actor.Role != roleNurse || e.PatientID == "" || !inStay(e) {
			continue
		}
		switch truth[i].Scenario {
		case "assigned-nurse":
			assigned++
		case "cover-colleague", "charge-nurse":
			others++
		}
	}
	t.Logf("nurses' reads of inpatients: %d by the assigned nurse, %d by others of the unit", assigned, others)
	if others == 0 || assigned < 5*others {
		t.Errorf("assigned nurses read %d times, covering and charge nurses %d: the assigned nurse should do most of it", assigned, others)
	}

	// The evader's target: never on a list that covers the look.
	last := map[string]int{}
	for i, tr := range truth {
		if tr.Scenario == ScenarioEvasion && events[i].PatientID != "" {
			last[tr.Case] = i
		}
	}
	if len(last) == 0 {
		t.Fatal("no evasion")
	}
	for k, i := range last {
		e := events[i]
		for _, ct := range byPatient[e.PatientID] {
			for _, p := range ct.Participant {
				if p.Member.Reference != "Practitioner/"+e.Actor.PractitionerID || p.Period == nil {
					continue
				}
				a, z := parseFHIRTime(t, p.Period.Start), parseFHIRTime(t, p.Period.End)
				if !e.Time.Before(a) && (z.IsZero() || e.Time.Before(z)) {
					t.Errorf("evasion %s: %s is listed on %s at %s", k, e.Actor.UserID, ct.ID, e.Time)
				}
			}
		}
	}
}

func TestShiftStart(t *testing.T) {
	day := time.Date(2026, 5, 13, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ at, want time.Duration }{
		{0, -5 * time.Hour}, {6*time.Hour + 59*time.Minute, -5 * time.Hour}, {7 * time.Hour, 7 * time.Hour},
		{18 * time.Hour, 7 * time.Hour}, {19 * time.Hour, 19 * time.Hour}, {23 * time.Hour, 19 * time.Hour},
	} {
		if got := shiftStart(day.Add(tc.at)); !got.Equal(day.Add(tc.want)) {
			t.Errorf("shiftStart(%s) = %s, want %s", day.Add(tc.at), got, day.Add(tc.want))
		}
	}
}

package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
)

// Scenario names of the ground truth: injected violations and the hard
// negatives that look like them.
const (
	ScenarioSelf        = "self"
	ScenarioFamily      = "family"
	ScenarioCoworker    = "coworker"
	ScenarioNeighbour   = "neighbour"
	ScenarioVIPBurst    = "vip-burst"
	ScenarioCuriosity   = "curiosity"
	ScenarioSerial      = "serial-snooper"
	ScenarioCompromised = "compromised-credential"
	ScenarioTerminated  = "terminated-account"
	ScenarioEvasion     = "evasion"

	HardSameSurname = "same-surname-care-team"
	HardHousehold   = "household-care"
	HardBreakGlass  = "justified-break-glass"
)

// ViolationScenarios lists the violation scenarios in report order.
var ViolationScenarios = []string{
	ScenarioSelf, ScenarioFamily, ScenarioCoworker, ScenarioNeighbour, ScenarioVIPBurst,
	ScenarioCuriosity, ScenarioSerial, ScenarioCompromised, ScenarioTerminated, ScenarioEvasion,
}

// afterWarmup returns a random day start between the warm-up and the
// last two days of the period.
func (a *accessGen) afterWarmup() time.Time {
	days := int(a.end.Sub(a.warmup).Hours()/24) - 2
	return a.warmup.Add(time.Duration(a.rng.IntN(max(1, days))) * 24 * time.Hour)
}

// violators draws staff who read records in their work and are not yet
// used, demo accounts and terminated staff excluded, who satisfy ok.
func (a *accessGen) violator(used map[*staffMember]bool, ok func(*staffMember) bool) *staffMember {
	for _, i := range a.rng.Perm(len(a.g.staff)) {
		s := a.g.staff[i]
		if used[s] || s.demoAs != "" || !accessRole(s.role) {
			continue
		}
		if _, gone := a.terminated[s]; gone {
			continue
		}
		if ok == nil || ok(s) {
			used[s] = true
			return s
		}
	}
	return nil
}

// snoop adds reads by s of p from t, a few minutes apart, optionally
// after a search by name.
func (a *accessGen) snoop(s *staffMember, p *patient, t time.Time, reads int, search bool, scenario, caseKey string) {
	if search {
		a.search(s, t.Add(-between(a.rng, 30*time.Second, 3*time.Minute)), LabelViolation, scenario, caseKey)
	}
	for i := range reads {
		a.access(s, p, t.Add(time.Duration(i)*between(a.rng, time.Minute, 9*time.Minute)), audit.ActionRead, "chart", LabelViolation, scenario, caseKey, false)
	}
}

// householdOf maps each patient to the other members of their household.
func (a *accessGen) householdOf() map[*patient][]*patient {
	out := map[*patient][]*patient{}
	for _, h := range a.g.households {
		for _, p := range h.members {
			for _, q := range h.members {
				if q != p {
					out[p] = append(out[p], q)
				}
			}
		}
	}
	return out
}

// streetNumber splits "12 Elm Street" into 12 and "Elm Street".
func streetNumber(line string) (int, string) {
	num, street, ok := strings.Cut(line, " ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return -1, line
	}
	return n, street
}

// neighbourOf finds the patient living closest to s on the same street,
// outside s's household, within 30 house numbers (about fifteen houses
// either way, numbers alternating sides).
func (a *accessGen) neighbourOf(s *staffMember) *patient {
	n, street := streetNumber(s.home.line[0])
	var best *patient
	bestD := 31
	for _, h := range a.g.households {
		if h.home == s.home || len(h.members) == 0 {
			continue
		}
		m, st := streetNumber(h.home.line[0])
		if st != street || n < 0 || m < 0 {
			continue
		}
		d := max(n-m, m-n)
		if d < bestD {
			best, bestD = h.members[a.rng.IntN(len(h.members))], d
		}
	}
	return best
}

// relabel marks the events from index from on by s about p.
func (a *accessGen) relabel(from int, s *staffMember, p *patient, label, scenario string) {
	for i := from; i < len(a.events); i++ {
		e := &a.events[i]
		if e.ev.Actor.UserID == s.username && e.ev.PatientID == p.id {
			e.label, e.scenario, e.recorded = label, scenario, true
		}
	}
}

// injectHardNegatives adds legitimate care that looks like snooping.
func (a *accessGen) injectHardNegatives() error {
	n := a.instances()
	households := a.householdOf()
	// Same surname, on the care team: a physician treats an unrelated
	// patient who shares their last name.
	bySurname := map[string][]*patient{}
	for _, p := range a.g.patients {
		bySurname[p.family] = append(bySurname[p.family], p)
	}
	done := 0
	for _, i := range a.rng.Perm(len(a.g.staff)) {
		s := a.g.staff[i]
		if done == n {
			break
		}
		if s.role != roleClinician || s.dept.id == "org-radiology" {
			continue
		}
		for _, p := range bySurname[s.family] {
			if p.staff == s || p.home == s.home {
				continue
			}
			from := len(a.events)
			v, err := a.encounterVisit(s.dept, "AMB", a.afterWarmup(), p, s)
			if err != nil {
				return err
			}
			if v != nil {
				a.relabel(from, s, p, LabelHardNegative, HardSameSurname)
				done++
			}
			break
		}
	}
	// Household care: a physician attends a relative in their department
	// (recorded as the attending, so the hospital knows).
	done = 0
	for _, i := range a.rng.Perm(len(a.g.staff)) {
		s := a.g.staff[i]
		if done == n {
			break
		}
		if s.role != roleClinician || s.patient == nil || len(households[s.patient]) == 0 {
			continue
		}
		rel := households[s.patient][a.rng.IntN(len(households[s.patient]))]
		from := len(a.events)
		v, err := a.encounterVisit(s.dept, "AMB", a.afterWarmup(), rel, s)
		if err != nil {
			return err
		}
		if v != nil {
			a.relabel(from, s, rel, LabelHardNegative, HardHousehold)
			done++
		}
	}
	// Justified break-the-glass: an emergency physician overrides access
	// before the patient is registered; the encounter lists them after.
	ed := a.g.deptByID["org-emergency"]
	for k, done := 0, 0; k < 40*n && done < 2*n; k++ {
		day := a.afterWarmup()
		p := a.randomPatient()
		if p.staff != nil {
			continue
		}
		from := len(a.events)
		v, err := a.encounterVisit(ed, "EMER", day, p, nil)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		s := v.staff[0]
		if e := a.access(s, p, v.start.Add(-between(a.rng, 3*time.Minute, 15*time.Minute)), audit.ActionExecute, "break-glass", LabelHardNegative, HardBreakGlass, "", true); e != nil {
			e.ev.Purpose = "ETREAT"
			e.ev.BreakGlass = &audit.BreakGlass{GrantID: fmt.Sprintf("bg-%d", k+1), ReasonCode: "ETREAT", Reason: "arrived unresponsive by ambulance, not yet registered"}
		}
		a.relabel(from, s, p, LabelHardNegative, HardBreakGlass)
		done++
	}
	return nil
}

// injectViolations adds the inappropriate accesses, each instance a case.
func (a *accessGen) injectViolations() error {
	n := a.instances()
	used := map[*staffMember]bool{}
	households := a.householdOf()
	key := func(scenario string, i int) string {
		a.cases++
		return fmt.Sprintf("%s-%d", scenario, i+1)
	}
	at := func(s *staffMember) (time.Time, bool) {
		for range 10 {
			if t, ok := a.inShift(s, a.afterWarmup()); ok {
				return t, true
			}
		}
		return time.Time{}, false
	}

	for i := range n {
		// Self: a staff member reads their own record.
		if s := a.violator(used, func(s *staffMember) bool { return s.patient != nil }); s != nil {
			if t, ok := at(s); ok {
				a.snoop(s, s.patient, t, 1+a.rng.IntN(3), false, ScenarioSelf, key(ScenarioSelf, i))
			}
		}
		// Family: a relative in the same household.
		if s := a.violator(used, func(s *staffMember) bool { return s.patient != nil && len(households[s.patient]) > 0 }); s != nil {
			rel := households[s.patient][a.rng.IntN(len(households[s.patient]))]
			if t, ok := at(s); ok {
				a.snoop(s, rel, t, 1+a.rng.IntN(4), a.rng.Float64() < 0.6, ScenarioFamily, key(ScenarioFamily, i))
			}
		}
		// Coworker: a colleague's record, preferably someone in the same
		// department.
		if s := a.violator(used, nil); s != nil {
			var target *patient
			for _, o := range a.g.staff {
				if o != s && o.patient != nil && (target == nil || o.dept == s.dept) {
					target = o.patient
					if o.dept == s.dept && a.rng.Float64() < 0.5 {
						break
					}
				}
			}
			if t, ok := at(s); ok && target != nil {
				a.snoop(s, target, t, 1+a.rng.IntN(3), a.rng.Float64() < 0.6, ScenarioCoworker, key(ScenarioCoworker, i))
			}
		}
		// Neighbour: someone living a few doors away.
		if s := a.violator(used, func(s *staffMember) bool { return a.neighbourOf(s) != nil }); s != nil {
			if t, ok := at(s); ok {
				a.snoop(s, a.neighbourOf(s), t, 1+a.rng.IntN(3), a.rng.Float64() < 0.6, ScenarioNeighbour, key(ScenarioNeighbour, i))
			}
		}
		// Curiosity: an afternoon of browsing strangers' records.
		if s := a.violator(used, nil); s != nil {
			if t, ok := at(s); ok {
				k := key(ScenarioCuriosity, i)
				for range 6 + a.rng.IntN(7) {
					a.snoop(s, a.anyPatient(), t, 1+a.rng.IntN(2), a.rng.Float64() < 0.5, ScenarioCuriosity, k)
					t = t.Add(between(a.rng, 3*time.Minute, 20*time.Minute))
				}
			}
		}
		// Serial snooper: one or two strangers a day for weeks.
		if s := a.violator(used, nil); s != nil {
			k := key(ScenarioSerial, i)
			days := 10 + a.rng.IntN(6)
			day := a.warmup
			for d := 0; d < days && day.Before(a.end); d++ {
				if t, ok := a.inShift(s, day); ok {
					for range 1 + a.rng.IntN(2) {
						a.snoop(s, a.anyPatient(), t, 1, false, ScenarioSerial, k)
						t = t.Add(between(a.rng, 20*time.Minute, 3*time.Hour))
					}
				}
				day = day.Add(time.Duration(1+a.rng.IntN(2)) * 24 * time.Hour)
			}
		}
		// Compromised credential: a stolen password used at night from
		// the internet to pull many records and export them.
		if s := a.violator(used, nil); s != nil {
			k := key(ScenarioCompromised, i)
			t := a.afterWarmup().Add(between(a.rng, 30*time.Minute, 4*time.Hour))
			addr := fmt.Sprintf("203.0.113.%d", 1+a.rng.IntN(250))
			mark := len(a.events)
			if e := a.access(s, nil, t, audit.ActionExecute, "login", LabelViolation, ScenarioCompromised, k, false); e != nil {
				e.ev.Purpose = ""
			}
			for range 15 + a.rng.IntN(30) {
				t = t.Add(between(a.rng, 10*time.Second, 80*time.Second))
				a.access(s, a.anyPatient(), t, audit.ActionRead, "chart", LabelViolation, ScenarioCompromised, k, false)
			}
			if e := a.access(s, nil, t.Add(time.Minute), audit.ActionExecute, "export", LabelViolation, ScenarioCompromised, k, false); e != nil {
				e.ev.ResourceType = "Bundle"
			}
			for j := mark; j < len(a.events); j++ {
				a.events[j].ev.NetworkAddress = addr
				a.events[j].ev.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
			}
		}
		// Evasion: a relative, neighbour or colleague read once, in
		// shift, from the usual workstation, without a search, between
		// accesses to patients the user is expected to see; half the
		// time the target is admitted to the user's own department, so
		// that the department explains the access.
		if s := a.violator(used, func(s *staffMember) bool { return s.role == roleClinician || s.role == roleNurse }); s != nil {
			var target *patient
			switch {
			case s.patient != nil && len(households[s.patient]) > 0:
				target = households[s.patient][a.rng.IntN(len(households[s.patient]))]
			case a.neighbourOf(s) != nil:
				target = a.neighbourOf(s)
			default:
				for _, o := range a.g.staff {
					if o != s && o.patient != nil && (target == nil || o.dept == s.dept) {
						target = o.patient
					}
				}
			}
			if t, ok := at(s); ok && target != nil {
				k := key(ScenarioEvasion, i)
				if a.rng.Float64() < 0.5 {
					// In the user's department, but not in the user's
					// care: admitted to the user's unit, or a visit to
					// the emergency department or radiology.
					a.exclude = s
					var err error
					switch s.dept.id {
					case "org-emergency":
						a.startAt = t.Add(-between(a.rng, 30*time.Minute, 2*time.Hour))
						_, err = a.encounterVisit(s.dept, "EMER", t.Truncate(24*time.Hour), target, nil)
					case "org-radiology":
						// Radiology has no beds: an outpatient study.
						a.startAt = t.Add(-between(a.rng, 5*time.Minute, 25*time.Minute))
						_, err = a.encounterVisit(s.dept, "AMB", t.Truncate(24*time.Hour), target, nil)
					default:
						_, err = a.encounterVisit(s.dept, "IMP", t.Truncate(24*time.Hour).Add(-24*time.Hour), target, nil)
					}
					a.exclude, a.startAt = nil, time.Time{}
					if err != nil {
						return err
					}
				}
				// The patient before is one the user is expected to see:
				// one assigned to them when they have one.
				var before *patient
				for _, v := range a.visits {
					if v.dept != s.dept || !v.start.Before(t) || !v.end.After(t) || v.p == target {
						continue
					}
					if before == nil {
						before = v.p
					}
					if slices.ContainsFunc(v.shifts, func(sa shiftAssignment) bool {
						return sa.nurse == s && !sa.from.After(t) && sa.to.After(t)
					}) {
						before = v.p
						break
					}
				}
				if before != nil {
					a.access(s, before, t.Add(-between(a.rng, 2*time.Minute, 10*time.Minute)), audit.ActionRead, "chart", LabelViolation, ScenarioEvasion, k, false)
				}
				a.snoop(s, target, t, 1, false, ScenarioEvasion, k)
			}
		}
	}
	// VIP burst: a VIP is admitted and word gets round.
	var vips []*patient
	for _, p := range a.g.patients {
		if p.vip {
			vips = append(vips, p)
		}
	}
	for i := 0; i < max(1, n/2) && len(vips) > 0; i++ {
		p := vips[i%len(vips)]
		day := a.afterWarmup()
		if _, err := a.encounterVisit(a.clinical[a.rng.IntN(len(a.clinical))], "IMP", day, p, nil); err != nil {
			return err
		}
		for j := range 3 + a.rng.IntN(3) {
			s := a.violator(used, nil)
			if s == nil {
				break
			}
			if t, ok := a.inShift(s, day); ok && t.Sub(day) < 48*time.Hour {
				a.snoop(s, p, t, 1+a.rng.IntN(2), a.rng.Float64() < 0.7, ScenarioVIPBurst, key(ScenarioVIPBurst, i*10+j))
			}
		}
	}
	// Terminated accounts: used after the employment ended.
	for s, end := range a.terminatedInOrder() {
		k := key(ScenarioTerminated, s)
		t := end.Add(between(a.rng, 15*time.Hour, 4*24*time.Hour))
		for range 1 + a.rng.IntN(4) {
			if e := a.access(end.s, a.anyPatient(), t, audit.ActionRead, "chart", LabelViolation, ScenarioTerminated, k, false); e != nil {
				e.ev.NetworkAddress = fmt.Sprintf("10.250.%d.%d", end.s.n%250, 1+a.rng.IntN(250))
			}
			t = t.Add(between(a.rng, 5*time.Minute, 40*time.Minute))
		}
	}
	return nil
}

type termination struct {
	s  *staffMember
	at time.Time
}

func (t termination) Add(d time.Duration) time.Time { return t.at.Add(d) }

// terminatedInOrder lists the terminated staff in staff order, so that
// output never depends on map order.
func (a *accessGen) terminatedInOrder() []termination {
	var out []termination
	for _, s := range a.g.staff {
		if t, ok := a.terminated[s]; ok {
			out = append(out, termination{s, t})
		}
	}
	return out
}

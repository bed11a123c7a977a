package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Each patient's clinical story is drawn from its own random stream, seeded
// by the hospital's seed and the patient's number, so that it does not
// shift when something earlier in the run changes shape.
func (g *generator) patientRand(p *patient) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.o.Seed), 0x9e3779b97f4a7c15^uint64(p.n)))
}

// visit is one Encounter.
type visit struct {
	id         string
	class      string // AMB, IMP or EMER
	dept       *department
	start, end time.Time // end is zero while in progress
	attending  *staffMember
	nurses     []*staffMember
}

func (v *visit) open() bool { return v.end.IsZero() }

// diagnosis is one Condition.
type diagnosis struct {
	def                     *conditionDef
	id                      string
	visit                   *visit
	onset, abated, recorded time.Time // abated is zero while active
}

// clinicalStory is everything generated for one patient.
type clinicalStory struct {
	p            *patient
	age          int
	visits       []*visit
	diagnoses    []*diagnosis
	penicillin   bool // allergic to penicillin
	primaryDoc   *staffMember
	primaryNurse *staffMember
}

func (g *generator) emitClinical(p *patient) error {
	r := g.patientRand(p)
	now := g.o.Now
	st := &clinicalStory{p: p, age: p.ageAt(now)}
	// Patients without a hospital encounter still have a family physician
	// and practice nurse in General Medicine, who order and chart for them.
	st.primaryDoc = g.general.clinicians[r.IntN(len(g.general.clinicians))]
	st.primaryNurse = g.general.nurses[r.IntN(len(g.general.nurses))]
	panel := r.Float64() < float64(demoPanel)/float64(g.o.Patients)
	st.visits = g.visitsOf(r, st, panel)

	subject := ref("Patient", p.id)
	for _, v := range st.visits {
		if err := g.out("Encounter", v.id, g.encounterOf(v, subject)); err != nil {
			return err
		}
		g.encounters++
	}
	if len(st.visits) > 0 {
		ct := g.careTeamOf(st, subject)
		if err := g.out("CareTeam", ct.ID, ct); err != nil {
			return err
		}
	}
	for _, c := range g.conditionsOf(r, st, subject) {
		if err := g.out("Condition", c.ID, c); err != nil {
			return err
		}
	}
	for _, a := range g.allergiesOf(r, st, subject) {
		if err := g.out("AllergyIntolerance", a.ID, a); err != nil {
			return err
		}
	}
	for _, m := range g.medicationsOf(r, st, subject) {
		if err := g.out("MedicationRequest", m.ID, m); err != nil {
			return err
		}
	}
	for _, o := range g.observationsOf(r, st, subject) {
		if err := g.out("Observation", o.ID, o); err != nil {
			return err
		}
	}
	return nil
}

type deptWeight struct {
	id string
	w  float64
}

// chooseDepartment picks where a visit of the given class happens, among
// departments that have a physician.
func (g *generator) chooseDepartment(r *rand.Rand, class string, age int, gender string) *department {
	child := age < 18
	childbearing := 0.0
	if gender == "female" && age >= 18 && age <= 44 {
		childbearing = 1
	}
	var ws []deptWeight
	switch {
	case class == "EMER":
		ws = []deptWeight{{"org-emergency", 1}}
	case class == "AMB" && child:
		ws = []deptWeight{{"org-pediatrics", 70}, {"org-orthopedics", 8}, {"org-radiology", 8}, {"org-neurology", 4}, {"org-psychiatry", 4 * b2f(age >= 6)}}
	case class == "AMB":
		ws = []deptWeight{{"org-general-medicine", 30}, {"org-cardiology", 10}, {"org-oncology", 5}, {"org-orthopedics", 8}, {"org-neurology", 6},
			{"org-surgery", 6}, {"org-radiology", 8}, {"org-psychiatry", 5}, {"org-obstetrics", 8 * childbearing}}
	case child:
		ws = []deptWeight{{"org-pediatrics", 70}, {"org-surgery", 10}, {"org-intensive-care", 8}, {"org-psychiatry", 3 * b2f(age >= 10)}}
	default:
		ws = []deptWeight{{"org-general-medicine", 30}, {"org-surgery", 15}, {"org-cardiology", 10}, {"org-intensive-care", 6}, {"org-oncology", 5},
			{"org-orthopedics", 6}, {"org-neurology", 5}, {"org-obstetrics", 10 * childbearing}, {"org-psychiatry", 3}}
	}
	weights := make([]float64, len(ws))
	for i, w := range ws {
		if len(g.deptByID[w.id].clinicians) > 0 {
			weights[i] = w.w
		}
	}
	if i := pickWeight(r, weights); i >= 0 {
		return g.deptByID[ws[i].id]
	}
	return g.general
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// visitsOf draws 0-4 encounters in chronological order. About one patient
// in nine with encounters is in hospital now (the last encounter is in
// progress). Patients on the demo panel have a recent General Medicine
// encounter with the demo physician and nurse.
func (g *generator) visitsOf(r *rand.Rand, st *clinicalStory, panel bool) []*visit {
	n := pickWeight(r, []float64{15, 30, 25, 18, 12})
	if panel && n == 0 {
		n = 1
	}
	if n == 0 {
		return nil
	}
	now, p := g.o.Now, st.p
	openLast := r.Float64() < 0.11
	if panel {
		openLast = r.Float64() < 0.25
	}
	special := panel || openLast

	earliest := p.birth.Add(12 * time.Hour)
	if t := now.AddDate(-3, 0, 0); t.After(earliest) {
		earliest = t
	}
	latest := now.Add(-2 * time.Hour)
	older := n
	if special {
		older = n - 1
		latest = now.AddDate(0, 0, -90)
	}
	if !latest.After(earliest) {
		older = 0
	}
	starts := make([]time.Time, older)
	for i := range starts {
		starts[i] = earliest.Add(between(r, 0, latest.Sub(earliest)))
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })

	var visits []*visit
	for _, s := range starts {
		class := []string{"AMB", "EMER", "IMP"}[pickWeight(r, []float64{70, 15, 15})]
		v := &visit{class: class, dept: g.chooseDepartment(r, class, st.age, p.gender)}
		if class == "AMB" {
			// Clinics run in the daytime.
			day := s.Truncate(24 * time.Hour)
			s = day.Add(8*time.Hour + between(r, 0, 9*time.Hour)).Truncate(5 * time.Minute)
		}
		v.start = s.Truncate(time.Minute)
		v.end = v.start.Add(visitLength(r, class))
		if limit := now.Add(-10 * time.Minute); v.end.After(limit) {
			shift := v.end.Sub(limit)
			v.start, v.end = v.start.Add(-shift), v.end.Add(-shift)
			if v.start.Before(p.birth) { // a stay as long as a newborn's life
				v.start = p.birth.Add(time.Hour)
			}
		}
		visits = append(visits, v)
	}
	slices.SortStableFunc(visits, func(a, b *visit) int { return a.start.Compare(b.start) })
	if special || len(visits) == 0 {
		var v *visit
		if panel {
			class := []string{"AMB", "IMP"}[pickWeight(r, []float64{70, 30})]
			v = &visit{class: class, dept: g.general}
		} else {
			class := []string{"AMB", "EMER", "IMP"}[pickWeight(r, []float64{20, 35, 45})]
			v = &visit{class: class, dept: g.chooseDepartment(r, class, st.age, p.gender)}
		}
		var age time.Duration
		switch {
		case openLast && v.class == "AMB":
			age = between(r, 10*time.Minute, 90*time.Minute)
		case openLast && v.class == "EMER":
			age = between(r, 30*time.Minute, 10*time.Hour)
		case openLast:
			age = between(r, 6*time.Hour, 7*24*time.Hour)
		default:
			age = between(r, 24*time.Hour, 60*24*time.Hour)
		}
		if limit := now.Sub(p.birth) - time.Hour; age > limit {
			age = limit
		}
		v.start = now.Add(-age).Truncate(time.Minute)
		if !openLast {
			v.end = v.start.Add(visitLength(r, v.class))
			if limit := now.Add(-10 * time.Minute); v.end.After(limit) {
				v.end = limit
			}
			if !v.end.After(v.start) {
				v.end = v.start.Add(time.Minute)
			}
		}
		visits = append(visits, v)
	}

	for i, v := range visits {
		v.id = fmt.Sprintf("enc-%05d-%d", p.n, i+1)
		cl := v.dept.clinicians
		v.attending = cl[r.IntN(len(cl))]
		nurses := 0
		switch v.class {
		case "AMB":
			if r.Float64() < 0.6 {
				nurses = 1
			}
		default:
			nurses = 1 + r.IntN(2)
		}
		if panel && i == len(visits)-1 {
			v.attending = g.demo[roleClinician]
			v.nurses = append(v.nurses, g.demo[roleNurse])
			nurses--
		}
		pool := v.dept.nurses
		for _, k := range r.Perm(len(pool)) {
			if nurses <= 0 {
				break
			}
			if !slices.Contains(v.nurses, pool[k]) {
				v.nurses = append(v.nurses, pool[k])
				nurses--
			}
		}
	}
	return visits
}

func visitLength(r *rand.Rand, class string) time.Duration {
	switch class {
	case "AMB":
		return between(r, 15*time.Minute, 60*time.Minute).Truncate(5 * time.Minute)
	case "EMER":
		return between(r, 2*time.Hour, 10*time.Hour).Truncate(time.Minute)
	}
	return between(r, 24*time.Hour, 9*24*time.Hour).Truncate(time.Minute)
}

func classDisplay(c string) string {
	switch c {
	case "AMB":
		return "ambulatory"
	case "EMER":
		return "emergency"
	}
	return "inpatient encounter"
}

func (g *generator) encounterOf(v *visit, subject reference) encounter {
	e := encounter{
		ResourceType:    "Encounter",
		ID:              v.id,
		Status:          "finished",
		Class:           coding{System: systemActCode, Code: v.class, Display: classDisplay(v.class)},
		Subject:         subject,
		Period:          period{Start: fhirDateTime(v.start)},
		ServiceProvider: ref("Organization", v.dept.id),
	}
	if v.open() {
		e.Status = "in-progress"
	} else {
		e.Period.End = fhirDateTime(v.end)
	}
	e.Participant = append(e.Participant, encounterParticipant{
		Type:       []concept{{Coding: []coding{{System: systemParticipation, Code: "ATND", Display: "attender"}}}},
		Individual: ref("Practitioner", v.attending.id),
	})
	for _, n := range v.nurses {
		e.Participant = append(e.Participant, encounterParticipant{
			Type:       []concept{{Coding: []coding{{System: systemParticipation, Code: "PART", Display: "Participation"}}}},
			Individual: ref("Practitioner", n.id),
		})
	}
	return e
}

// careTeamOf lists everyone who attended the patient, most recent first.
func (g *generator) careTeamOf(st *clinicalStory, subject reference) careTeam {
	last := st.visits[len(st.visits)-1]
	ct := careTeam{
		ResourceType:         "CareTeam",
		ID:                   fmt.Sprintf("ct-%05d", st.p.n),
		Status:               "active",
		Subject:              subject,
		Period:               &period{Start: fhirDateTime(st.visits[0].start)},
		ManagingOrganization: []reference{ref("Organization", last.dept.id)},
	}
	var seen []*staffMember
	for i := len(st.visits) - 1; i >= 0 && len(seen) < 8; i-- {
		v := st.visits[i]
		for _, s := range append([]*staffMember{v.attending}, v.nurses...) {
			if slices.Contains(seen, s) || len(seen) == 8 {
				continue
			}
			seen = append(seen, s)
			role := code(systemSNOMED, "309343006", "Physician")
			if s.role == roleNurse {
				role = code(systemSNOMED, "224535009", "Registered nurse")
			}
			ct.Participant = append(ct.Participant, careTeamParticipant{Role: []concept{role}, Member: ref("Practitioner", s.id)})
		}
	}
	return ct
}

// clamp keeps t within [lo, hi].
func clamp(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

// conditionsOf draws 0-3 diagnoses, more with age.
func (g *generator) conditionsOf(r *rand.Rand, st *clinicalStory, subject reference) []condition {
	now, p := g.o.Now, st.p
	counts := []float64{30, 35, 22, 13}
	switch {
	case st.age < 18:
		counts = []float64{55, 30, 12, 3}
	case st.age >= 60:
		counts = []float64{10, 25, 35, 30}
	}
	n := pickWeight(r, counts)
	weights := make([]float64, len(g.conditions))
	for i, c := range g.conditions {
		if st.age >= c.minAge && (c.maxAge == 0 || st.age <= c.maxAge) && (c.sex == "" || c.sex == p.gender) {
			weights[i] = c.weight
		}
	}
	hi := now.Add(-time.Minute)
	var out []condition
	for len(st.diagnoses) < n {
		i := pickWeight(r, weights)
		if i < 0 {
			break
		}
		def := &g.conditions[i]
		weights[i] = 0
		if def.diabetic { // one of diabetes or prediabetes
			for j := range g.conditions {
				if g.conditions[j].diabetic {
					weights[j] = 0
				}
			}
		}
		d := &diagnosis{def: def, id: fmt.Sprintf("cond-%05d-%d", p.n, len(st.diagnoses)+1)}
		earliest := p.birth.AddDate(def.minAge, 0, 0)
		linkShare := 0.85
		if def.chronic {
			linkShare = 0.5
		}
		if def.code != "72892002" && r.Float64() < linkShare {
			// Diagnosed at a visit made once the patient was old enough.
			var eligible []*visit
			for _, v := range st.visits {
				if !v.start.Before(earliest) {
					eligible = append(eligible, v)
				}
			}
			if len(eligible) > 0 {
				d.visit = eligible[r.IntN(len(eligible))]
			}
		}
		switch {
		case def.code == "72892002": // pregnancy: at most about nine months
			d.onset = clamp(now.Add(-between(r, 7*24*time.Hour, 2*365*24*time.Hour)), earliest, hi)
			d.recorded = clamp(d.onset.Add(between(r, 30*24*time.Hour, 60*24*time.Hour)), d.onset, hi)
			if end := d.onset.Add(266 * 24 * time.Hour); end.Before(now) {
				d.abated = end
			}
		case def.chronic && d.visit != nil:
			d.recorded = d.visit.start
			d.onset = clamp(d.visit.start.Add(-between(r, 0, 3*365*24*time.Hour)), earliest, d.visit.start)
		case def.chronic:
			lo := earliest
			if t := now.AddDate(-15, 0, 0); t.After(lo) {
				lo = t
			}
			d.onset = clamp(lo.Add(between(r, 0, now.AddDate(0, 0, -30).Sub(lo))), lo, hi)
			d.recorded = clamp(d.onset.Add(between(r, 0, 30*24*time.Hour)), d.onset, hi)
		case d.visit != nil:
			d.recorded = d.visit.start
			d.onset = clamp(d.visit.start.Add(-between(r, 0, 3*24*time.Hour)), p.birth, d.visit.start)
		default:
			lo := p.birth
			if t := now.AddDate(-3, 0, 0); t.After(lo) {
				lo = t
			}
			d.onset = clamp(lo.Add(between(r, 0, now.Sub(lo))), lo, hi)
			d.recorded = clamp(d.onset.Add(between(r, 0, 48*time.Hour)), d.onset, hi)
		}
		if def.code != "72892002" {
			resolve := false
			switch {
			case !def.chronic:
				resolve = !(d.visit != nil && d.visit.open()) && now.Sub(d.onset) > 10*24*time.Hour
				d.abated = d.onset.Add(between(r, 5*24*time.Hour, 40*24*time.Hour))
			case def.code == "195967001" && st.age < 25:
				resolve = r.Float64() < 0.25
				d.abated = d.onset.Add(between(r, 365*24*time.Hour, 5*365*24*time.Hour))
			case def.code == "15777000":
				resolve = r.Float64() < 0.1
				d.abated = d.onset.Add(between(r, 180*24*time.Hour, 3*365*24*time.Hour))
			}
			if !resolve || !d.abated.Before(hi) {
				d.abated = time.Time{}
			}
		}
		st.diagnoses = append(st.diagnoses, d)

		c := condition{
			ResourceType:       "Condition",
			ID:                 d.id,
			ClinicalStatus:     concept{Coding: []coding{{System: systemConditionClin, Code: "active", Display: "Active"}}},
			VerificationStatus: concept{Coding: []coding{{System: systemConditionVer, Code: "confirmed", Display: "Confirmed"}}},
			Category:           []concept{{Coding: []coding{{System: systemConditionCat, Code: "problem-list-item", Display: "Problem List Item"}}}},
			Code:               code(systemSNOMED, def.code, def.display),
			Subject:            subject,
			OnsetDateTime:      fhirDateTime(d.onset),
			RecordedDate:       fhirDateTime(d.recorded),
		}
		if !d.abated.IsZero() {
			c.ClinicalStatus.Coding[0].Code, c.ClinicalStatus.Coding[0].Display = "resolved", "Resolved"
			c.AbatementDateTime = fhirDateTime(d.abated)
		}
		if d.visit != nil {
			c.Category[0].Coding[0].Code, c.Category[0].Coding[0].Display = "encounter-diagnosis", "Encounter Diagnosis"
			c.Encounter = refPtr("Encounter", d.visit.id)
			c.Recorder = refPtr("Practitioner", d.visit.attending.id)
		}
		out = append(out, c)
	}
	return out
}

// allergiesOf draws 0-2 allergies.
func (g *generator) allergiesOf(r *rand.Rand, st *clinicalStory, subject reference) []allergyIntolerance {
	now, p := g.o.Now, st.p
	n := pickWeight(r, []float64{70, 22, 8})
	weights := make([]float64, len(g.allergies))
	for i, a := range g.allergies {
		weights[i] = a.weight
	}
	var severe, mild []reactionDef
	for _, rd := range g.reactions {
		if rd.severe {
			severe = append(severe, rd)
		} else {
			mild = append(mild, rd)
		}
	}
	var out []allergyIntolerance
	for len(out) < n {
		i := pickWeight(r, weights)
		weights[i] = 0
		def := g.allergies[i]
		st.penicillin = st.penicillin || def.penicillin
		a := allergyIntolerance{
			ResourceType:       "AllergyIntolerance",
			ID:                 fmt.Sprintf("alg-%05d-%d", p.n, len(out)+1),
			ClinicalStatus:     concept{Coding: []coding{{System: systemAllergyClin, Code: "active", Display: "Active"}}},
			VerificationStatus: concept{Coding: []coding{{System: systemAllergyVer, Code: "confirmed", Display: "Confirmed"}}},
			Type:               "allergy",
			Category:           []string{def.category},
			Criticality:        "low",
			Code:               code(systemSNOMED, def.code, def.display),
			Patient:            subject,
		}
		if r.Float64() < 0.05 {
			a.ClinicalStatus.Coding[0].Code, a.ClinicalStatus.Coding[0].Display = "inactive", "Inactive"
		}
		if r.Float64() < 0.15 {
			a.VerificationStatus.Coding[0].Code, a.VerificationStatus.Coding[0].Display = "unconfirmed", "Unconfirmed"
		}
		highShare := 0.05
		switch def.code {
		case "91936005", "91935009", "91934008", "300913006", "424213003":
			highShare = 0.35
		}
		reaction := allergyReaction{}
		if r.Float64() < highShare {
			a.Criticality = "high"
			rd := severe[r.IntN(len(severe))]
			reaction = allergyReaction{Manifestation: []concept{code(systemSNOMED, rd.code, rd.display)}, Severity: "severe"}
		} else {
			rd := mild[r.IntN(len(mild))]
			reaction = allergyReaction{Manifestation: []concept{code(systemSNOMED, rd.code, rd.display)}, Severity: []string{"mild", "moderate"}[r.IntN(2)]}
		}
		a.Reaction = []allergyReaction{reaction}
		if len(st.visits) > 0 && r.Float64() < 0.6 {
			v := st.visits[r.IntN(len(st.visits))]
			a.Encounter = refPtr("Encounter", v.id)
			a.RecordedDate = fhirDateTime(v.start)
			who := v.attending
			if len(v.nurses) > 0 {
				who = v.nurses[0]
			}
			a.Recorder = refPtr("Practitioner", who.id)
		} else {
			lo := p.birth.AddDate(1, 0, 0)
			if lo.After(now) {
				lo = p.birth
			}
			a.RecordedDate = fhirDateTime(clamp(lo.Add(between(r, 0, now.Sub(lo))), lo, now.Add(-time.Minute)))
		}
		out = append(out, a)
	}
	return out
}

// medicationsOf orders 0-4 medications, for the patient's diagnoses where
// a medication fits, or now and then a painkiller.
func (g *generator) medicationsOf(r *rand.Rand, st *clinicalStory, subject reference) []medicationRequest {
	now, p := g.o.Now, st.p
	var out []medicationRequest
	var chosen []string
	add := func(m medicationDef, status string, v *visit, at time.Time, requester *staffMember, reason *diagnosis) {
		if v != nil {
			requester = v.attending
			at = v.start.Add(between(r, 10*time.Minute, 40*time.Minute))
			if !v.open() && at.After(v.end) {
				at = v.end
			}
		}
		mr := medicationRequest{
			ResourceType:              "MedicationRequest",
			ID:                        fmt.Sprintf("med-%05d-%d", p.n, len(out)+1),
			Status:                    status,
			Intent:                    "order",
			MedicationCodeableConcept: code(systemRxNorm, m.code, m.display),
			Subject:                   subject,
			AuthoredOn:                fhirDateTime(clamp(at, p.birth, now.Add(-time.Minute))),
			Requester:                 ref("Practitioner", requester.id),
			DosageInstruction:         []dosage{{Text: m.dosage}},
		}
		if v != nil {
			mr.Encounter = refPtr("Encounter", v.id)
		}
		if reason != nil {
			mr.ReasonReference = []reference{ref("Condition", reason.id)}
		}
		out = append(out, mr)
		chosen = append(chosen, m.code)
	}
	for _, d := range st.diagnoses {
		if len(out) == 4 {
			break
		}
		var options []medicationDef
		for _, c := range d.def.meds {
			m := g.medications[c]
			if !(m.penicillin && st.penicillin) && !slices.Contains(chosen, c) {
				options = append(options, m)
			}
		}
		if len(options) == 0 {
			continue
		}
		m := options[r.IntN(len(options))]
		status := "completed"
		if d.abated.IsZero() {
			status = "active"
		}
		v := d.visit
		if v == nil && status == "active" && d.def.chronic && len(st.visits) > 0 {
			// A chronic treatment is renewed at the latest visit.
			if last := st.visits[len(st.visits)-1]; last.start.After(d.onset) {
				v = last
			}
		}
		add(m, status, v, d.recorded, st.primaryDoc, d)
	}
	if len(out) == 0 && r.Float64() < 0.2 {
		m := g.medications[[]string{"313782", "310965"}[r.IntN(2)]]
		lo := p.birth
		if t := now.AddDate(-2, 0, 0); t.After(lo) {
			lo = t
		}
		add(m, "completed", nil, lo.Add(between(r, 0, now.Sub(lo))), st.primaryDoc, nil)
	}
	return out
}

// vitals are a patient's usual values, from which each measurement varies.
type vitals struct {
	weight, heartRate, systolic, diastolic, hba1c float64
}

func (g *generator) baselineOf(r *rand.Rand, st *clinicalStory) vitals {
	age := st.age
	var b vitals
	months := g.o.Now.Sub(st.p.birth).Hours() / 24 / 30.4
	switch {
	case age < 1:
		b.weight = 3.5 + 0.55*months
		b.heartRate = 110 + r.Float64()*35
	case age < 13:
		b.weight = 9 + 2.9*float64(age) + r.NormFloat64()*2
		b.heartRate = 75 + r.Float64()*35 - float64(age)
	case age < 18:
		b.weight = 40 + 5*float64(age-13) + r.NormFloat64()*7
		b.heartRate = 62 + r.Float64()*30
	case st.p.gender == "male":
		b.weight = 72 + r.Float64()*28
		b.heartRate = 58 + r.Float64()*30
	default:
		b.weight = 56 + r.Float64()*29
		b.heartRate = 60 + r.Float64()*30
	}
	b.systolic, b.diastolic = 105+r.Float64()*25, 64+r.Float64()*20
	if age < 18 {
		b.systolic, b.diastolic = 92+r.Float64()*18, 55+r.Float64()*15
	}
	b.hba1c = 4.6 + r.Float64()
	for _, d := range st.diagnoses {
		switch d.def.code {
		case "38341003":
			b.systolic, b.diastolic = 135+r.Float64()*30, 85+r.Float64()*15
		case "44054006":
			b.hba1c = 6.5 + r.Float64()*3
		case "15777000":
			b.hba1c = 5.7 + r.Float64()*0.7
		case "414916001":
			b.weight *= 1.35
		}
	}
	b.weight = max(b.weight, 2.5)
	return b
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func loinc(c, display string) concept { return code(systemLOINC, c, display) }

func ucum(v float64, unit, c string) *quantity {
	return &quantity{Value: v, Unit: unit, System: systemUCUM, Code: c}
}

// observationsOf charts 2-8 measurements, at the patient's latest
// encounters first, then at earlier clinic visits of General Medicine.
func (g *generator) observationsOf(r *rand.Rand, st *clinicalStory, subject reference) []observation {
	now, p := g.o.Now, st.p
	n := 2 + r.IntN(7)
	base := g.baselineOf(r, st)
	diabetic := false
	for _, d := range st.diagnoses {
		diabetic = diabetic || d.def.diabetic
	}
	vitalSigns := []concept{{Coding: []coding{{System: systemObsCategory, Code: "vital-signs", Display: "Vital Signs"}}}}
	laboratory := []concept{{Coding: []coding{{System: systemObsCategory, Code: "laboratory", Display: "Laboratory"}}}}

	var out []observation
	hi := now.Add(-time.Minute)
	for session := 0; len(out) < n; session++ {
		var v *visit
		if session < len(st.visits) {
			v = st.visits[len(st.visits)-1-session]
		}
		var at time.Time
		nurse := st.primaryNurse
		fever := false
		if v != nil {
			end := v.end
			if v.open() {
				end = now
			}
			if v.class == "IMP" {
				at = v.start.Add(between(r, 0, end.Sub(v.start)))
			} else {
				at = v.start.Add(between(r, 5*time.Minute, 30*time.Minute))
			}
			if end.After(hi) {
				end = hi
			}
			at = clamp(at, v.start, end)
			switch {
			case len(v.nurses) > 0:
				nurse = v.nurses[r.IntN(len(v.nurses))]
			case len(v.dept.nurses) > 0:
				nurse = v.dept.nurses[r.IntN(len(v.dept.nurses))]
			}
			fever = v.class == "EMER" && r.Float64() < 0.25
		} else {
			lo := p.birth.Add(24 * time.Hour)
			if t := now.AddDate(-2, 0, 0); t.After(lo) {
				lo = t
			}
			at = clamp(lo.Add(between(r, 0, now.Sub(lo))), p.birth, hi)
		}
		at = at.Truncate(time.Minute)
		kinds := []string{"bp", "hr", "a1c", "temp", "weight"}
		if st.age < 3 {
			kinds = []string{"hr", "temp", "weight"}
		}
		for _, kind := range kinds {
			if len(out) == n {
				break
			}
			o := observation{
				ResourceType:      "Observation",
				ID:                fmt.Sprintf("obs-%05d-%d", p.n, len(out)+1),
				Status:            "final",
				Category:          vitalSigns,
				Subject:           subject,
				EffectiveDateTime: fhirDateTime(at),
				Performer:         []reference{ref("Practitioner", nurse.id)},
			}
			if v != nil {
				o.Encounter = refPtr("Encounter", v.id)
			}
			switch kind {
			case "bp":
				o.Code = loinc("85354-9", "Blood pressure panel with all children optional")
				o.Component = []observationComponent{
					{Code: loinc("8480-6", "Systolic blood pressure"), ValueQuantity: ucum(math.Round(base.systolic+r.NormFloat64()*6), "mmHg", "mm[Hg]")},
					{Code: loinc("8462-4", "Diastolic blood pressure"), ValueQuantity: ucum(math.Round(base.diastolic+r.NormFloat64()*4), "mmHg", "mm[Hg]")},
				}
			case "hr":
				hr := base.heartRate + r.NormFloat64()*6
				if fever {
					hr += 15
				}
				o.Code = loinc("8867-4", "Heart rate")
				o.ValueQuantity = ucum(math.Round(hr), "beats/minute", "/min")
			case "a1c":
				if !diabetic || st.age < 18 || (v != nil && v.class != "AMB") {
					continue
				}
				o.Category = laboratory
				o.Code = loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")
				o.ValueQuantity = ucum(round1(base.hba1c+r.NormFloat64()*0.3), "%", "%")
			case "temp":
				t := 36.4 + r.Float64()*0.8
				if fever {
					t = 38 + r.Float64()*1.6
				}
				o.Code = loinc("8310-5", "Body temperature")
				o.ValueQuantity = ucum(round1(t), "°C", "Cel")
			case "weight":
				o.Code = loinc("29463-7", "Body weight")
				o.ValueQuantity = ucum(round1(base.weight*(1+r.NormFloat64()*0.015)), "kg", "kg")
			}
			out = append(out, o)
		}
	}
	return out
}

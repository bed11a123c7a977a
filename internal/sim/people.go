package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// The fictional place every person lives in.
const (
	hospitalName = "Vellmar Bay General Hospital"
	cityName     = "Vellmar Bay"
	stateName    = "New Calder"
	staffDomain  = "vellmarbay-general.example"
	mailDomain   = "mail.example"
)

// Shares of the population.
const (
	staffPatientShare = 0.02  // patients who also work at the hospital
	vipShare          = 0.002 // patients whose record is very restricted
	// demoPanel is about how many patients the demo clinician and nurse
	// are guaranteed to see in a recent General Medicine encounter,
	// whatever the size of the hospital.
	demoPanel = 50
)

// home is a household's address and landline.
type home struct {
	line   []string
	postal string
	phone  string
}

func (h *home) address() address {
	return address{Use: "home", Type: "physical", Line: h.line, City: cityName, State: stateName, PostalCode: h.postal}
}

// person is what a Patient and a Practitioner share.
type person struct {
	given  []string
	family string
	gender string
	birth  time.Time
	home   *home
	mobile string
	email  string
}

func (p *person) displayName() string { return p.given[0] + " " + p.family }

func (p *person) ageAt(now time.Time) int {
	y := now.Year() - p.birth.Year()
	if now.YearDay() < p.birth.YearDay() {
		y--
	}
	return y
}

type staffMember struct {
	person
	n                int // 1-based order
	id, roleID       string
	role, label      string
	employee         string
	dept             *department
	username, demoAs string
	workEmail        string
	workPhone        string
	hired            time.Time
	patient          *patient
}

func (s *staffMember) account() Account {
	a := Account{Username: s.username, DisplayName: s.displayName(), Role: s.role, PractitionerID: s.id, DepartmentID: s.dept.id}
	if s.demoAs != "" {
		a.Username = s.demoAs
	}
	if s.patient != nil {
		a.PatientID = s.patient.id
	}
	return a
}

type household struct {
	home    *home
	members []*patient
}

type patient struct {
	person
	n        int
	id, mrn  string
	marital  string // v3-MaritalStatus code; empty for children
	staff    *staffMember
	vip      bool
	guardian *patient
}

// pick draws an index of w.
func pick(r *rand.Rand, w *weighted) int {
	x := r.Float64() * w.cum[len(w.cum)-1]
	return sort.SearchFloat64s(w.cum, x)
}

func pickValue(r *rand.Rand, w *weighted) string { return w.values[pick(r, w)] }

// pickWeight draws an index from a slice of weights; -1 when all are zero.
func pickWeight(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total <= 0 {
		return -1
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// between draws a duration uniformly in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

func (g *generator) newPerson(r *rand.Rand, gender string, age int, family string) person {
	if gender == "" {
		gender = "female"
		switch x := r.Float64(); {
		case x < 0.003 && age >= 16:
			gender = "other"
		case x < 0.5:
			gender = "male"
		}
	}
	list := g.female
	if gender == "male" || (gender == "other" && r.IntN(2) == 0) {
		list = g.male
	}
	given := []string{pickValue(r, list)}
	if r.Float64() < 0.35 {
		if middle := pickValue(r, list); middle != given[0] {
			given = append(given, middle)
		}
	}
	if family == "" {
		family = pickValue(r, g.surnames)
	}
	birth := g.o.Now.AddDate(-age, 0, 0).Add(-between(r, 24*time.Hour, 364*24*time.Hour))
	birth = time.Date(birth.Year(), birth.Month(), birth.Day(), 0, 0, 0, 0, time.UTC)
	return person{given: given, family: family, gender: gender, birth: birth}
}

// newHome draws an address no other household or staff member has.
func (g *generator) newHome(r *rand.Rand) *home {
	for {
		i := pick(r, g.streets)
		number := 1 + r.IntN(60)*r.IntN(40) + r.IntN(9)
		line := []string{fmt.Sprintf("%d %s", number, g.streets.values[i])}
		if r.Float64() < 0.18 {
			line = append(line, fmt.Sprintf("Apt %d%c", 1+r.IntN(6), 'A'+rune(r.IntN(6))))
		}
		key := strings.Join(line, "|")
		if g.usedAddress[key] {
			continue
		}
		g.usedAddress[key] = true
		// Streets belong to one of a dozen postal districts of the city.
		return &home{line: line, postal: fmt.Sprintf("%05d", 97310+(i*7)%12), phone: g.newPhone(r)}
	}
}

// newPhone draws an unused number in the unassigned 555 area code.
func (g *generator) newPhone(r *rand.Rand) string {
	for {
		p := fmt.Sprintf("(555) %03d-%04d", 200+r.IntN(800), r.IntN(10000))
		if !g.usedAddress["tel:"+p] {
			g.usedAddress["tel:"+p] = true
			return p
		}
	}
}

// adultAge draws the age of an adult living alone or heading a household.
func adultAge(r *rand.Rand) int {
	bands := []struct {
		lo, hi int
		w      float64
	}{{18, 29, 18}, {30, 39, 17}, {40, 49, 16}, {50, 59, 16}, {60, 69, 15}, {70, 79, 11}, {80, 97, 7}}
	ws := make([]float64, len(bands))
	for i, b := range bands {
		ws[i] = b.w
	}
	b := bands[pickWeight(r, ws)]
	return b.lo + r.IntN(b.hi-b.lo+1)
}

// roleCounts splits the staff over the roles: two or three privacy
// officers and security engineers, two administrators, and the rest over
// physicians, nurses, front desk and billing in the proportions 30:40:8:7
// (largest remainder), each with at least one person.
func roleCounts(n int) []int {
	infos := roleInfos()
	counts := make([]int, len(infos))
	few := 2
	if n >= 150 {
		few = 3
	}
	fixed := map[string]int{rolePrivacy: few, roleSecurity: few, roleAdmin: 2}
	rest := n
	for i, ri := range infos {
		if c, ok := fixed[ri.role]; ok {
			counts[i] = c
			rest -= c
		}
	}
	weights := []float64{30, 40, 8, 7} // the first four roles of roleInfos
	sum := 85.0
	type frac struct {
		i int
		f float64
	}
	var fr []frac
	given := 0
	for i, w := range weights {
		exact := float64(rest) * w / sum
		counts[i] = max(1, int(math.Floor(exact)))
		given += counts[i]
		fr = append(fr, frac{i, exact - math.Floor(exact)})
	}
	sort.SliceStable(fr, func(a, b int) bool { return fr[a].f > fr[b].f })
	for k := 0; given < rest; k++ {
		counts[fr[k%len(fr)].i]++
		given++
	}
	for given > rest { // only when the minimum of one pushed us over
		big := 0
		for i := range weights {
			if counts[i] > counts[big] {
				big = i
			}
		}
		counts[big]--
		given--
	}
	return counts
}

// deptSlots places k people over the clinical departments: one in each
// while there are enough (General Medicine first, then by weight), the
// rest in proportion to weight. The first slot is always General Medicine.
func deptSlots(r *rand.Rand, clinical []*department, k int, weight func(*department) float64) []*department {
	order := append([]*department(nil), clinical...)
	sort.SliceStable(order, func(a, b int) bool { return weight(order[a]) > weight(order[b]) })
	var slots []*department
	for i := 0; i < len(order) && i < k; i++ {
		slots = append(slots, order[i])
	}
	ws := make([]float64, len(order))
	for i, d := range order {
		ws[i] = weight(d)
	}
	for len(slots) < k {
		slots = append(slots, order[pickWeight(r, ws)])
	}
	rest := slots[1:]
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	return slots
}

// placeStaff creates the staff, their departments and usernames, and
// chooses the demo accounts.
func (g *generator) placeStaff() {
	r := g.rng
	infos := roleInfos()
	counts := roleCounts(g.o.Staff)
	var roles []int // index into infos, one per staff member
	for i, c := range counts {
		for range c {
			roles = append(roles, i)
		}
	}
	r.Shuffle(len(roles), func(i, j int) { roles[i], roles[j] = roles[j], roles[i] })

	var clinical []*department
	for _, d := range g.depts {
		if d.clinical {
			clinical = append(clinical, d)
		}
	}
	slots := map[string][]*department{
		roleClinician: deptSlots(r, clinical, counts[0], func(d *department) float64 { return d.clinicianWeight }),
		roleNurse:     deptSlots(r, clinical, counts[1], func(d *department) float64 { return d.nurseWeight }),
	}

	for _, ri := range infos {
		g.usedUsername[ri.demoUsername] = true
	}
	usedEmployee := map[int]bool{}
	for i, ri := range roles {
		info := infos[ri]
		var age int
		switch info.role {
		case roleClinician:
			age = 29 + r.IntN(40)
		case roleNurse:
			age = 22 + r.IntN(43)
		default:
			age = 21 + r.IntN(46)
		}
		s := &staffMember{
			person: g.newPerson(r, "", age, ""),
			n:      i + 1,
			id:     fmt.Sprintf("pr-%04d", i+1),
			roleID: fmt.Sprintf("prr-%04d", i+1),
			role:   info.role,
			label:  info.label,
		}
		if ss := slots[info.role]; len(ss) > 0 {
			s.dept, slots[info.role] = ss[0], ss[1:]
		} else {
			s.dept = g.deptByID[info.departments[r.IntN(len(info.departments))]]
		}
		switch info.role {
		case roleClinician:
			s.dept.clinicians = append(s.dept.clinicians, s)
		case roleNurse:
			s.dept.nurses = append(s.dept.nurses, s)
		default:
			s.dept.others = append(s.dept.others, s)
		}
		for {
			e := 100000 + r.IntN(900000)
			if !usedEmployee[e] {
				usedEmployee[e] = true
				s.employee = fmt.Sprintf("E%06d", e)
				break
			}
		}
		s.username = g.uniqueUsername(s.person)
		s.workEmail = s.username + "@" + staffDomain
		s.workPhone = fmt.Sprintf("(555) %03d-%04d", 10+(1000+i)/10000, (1000+i)%10000)
		s.home = g.newHome(r)
		s.mobile = g.newPhone(r)
		// Hired after turning 21 and within the last 35 years.
		years := min(age-21, 35)
		s.hired = g.o.Now.AddDate(-r.IntN(years+1), 0, -r.IntN(365)).Truncate(24 * time.Hour)
		if g.demo[info.role] == nil {
			g.demo[info.role] = s
			s.demoAs = info.demoUsername
		}
		g.staff = append(g.staff, s)
	}
}

// uniqueUsername is the first initial and the surname in lowercase ASCII,
// with a number from 2 up when taken: jsmith, jsmith2, ...
func (g *generator) uniqueUsername(p person) string {
	given := asciiLower(p.given[0])
	base := asciiLower(p.family)
	if given != "" {
		base = given[:1] + base
	}
	if base == "" {
		base = "staff"
	}
	u := base
	for n := 2; g.usedUsername[u]; n++ {
		u = fmt.Sprintf("%s%d", base, n)
	}
	g.usedUsername[u] = true
	return u
}

// asciiLower folds the letters the name lists use to lowercase ASCII and
// drops everything else (spaces, hyphens, apostrophes).
func asciiLower(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c)
		case strings.ContainsRune("áàâäãå", c):
			b.WriteByte('a')
		case strings.ContainsRune("éèêë", c):
			b.WriteByte('e')
		case strings.ContainsRune("íìîï", c):
			b.WriteByte('i')
		case strings.ContainsRune("óòôöõø", c):
			b.WriteByte('o')
		case strings.ContainsRune("úùûü", c):
			b.WriteByte('u')
		case c == 'ñ' || c == 'ń':
			b.WriteByte('n')
		case c == 'ç':
			b.WriteByte('c')
		case c == 'ś' || c == 'š':
			b.WriteByte('s')
		case c == 'ł':
			b.WriteByte('l')
		case c == 'ễ' || c == 'ế':
			b.WriteByte('e')
		}
	}
	return b.String()
}

// buildHouseholds groups the patients into households of one to six,
// including the staff members who are also patients, then numbers them.
func (g *generator) buildHouseholds() {
	r := g.rng
	total := g.o.Patients

	// Staff who are also patients; never a demo account, so that the demo
	// stays predictable.
	var candidates []*staffMember
	for _, s := range g.staff {
		if s.demoAs == "" {
			candidates = append(candidates, s)
		}
	}
	k := min(int(math.Round(staffPatientShare*float64(total))), len(candidates), total)
	perm := r.Perm(len(candidates))[:k]
	sort.Ints(perm)
	heads := make([]*staffMember, k)
	for i, p := range perm {
		heads[i] = candidates[p]
	}

	sizes := []float64{28, 34, 15, 13, 6, 4} // households of 1..6
	for remaining := total; remaining > 0; {
		size := 1 + pickWeight(r, sizes)
		var head *staffMember
		if len(heads) > 0 {
			head, heads = heads[0], heads[1:]
			size = min(size, remaining-len(heads))
		}
		size = min(size, remaining)
		g.households = append(g.households, g.newHousehold(r, size, head))
		remaining -= size
	}
	r.Shuffle(len(g.households), func(i, j int) { g.households[i], g.households[j] = g.households[j], g.households[i] })

	usedMRN := map[int]bool{}
	for _, h := range g.households {
		for _, p := range h.members {
			p.n = len(g.patients) + 1
			p.id = fmt.Sprintf("pat-%05d", p.n)
			for {
				m := 1_000_000 + r.IntN(9_000_000)
				if !usedMRN[m] {
					usedMRN[m] = true
					p.mrn = fmt.Sprintf("MRN%07d", m)
					break
				}
			}
			g.patients = append(g.patients, p)
		}
	}

	// VIPs: at least one, never a staff member.
	vips := max(1, int(math.Round(vipShare*float64(total))))
	for _, i := range r.Perm(len(g.patients)) {
		if vips == 0 {
			break
		}
		if p := g.patients[i]; p.staff == nil {
			p.vip = true
			vips--
		}
	}
}

func (g *generator) newHousehold(r *rand.Rand, size int, staff *staffMember) *household {
	h := &household{}
	var head *patient
	if staff != nil {
		head = &patient{person: staff.person, staff: staff}
		staff.patient = head
		h.home = staff.home
	} else {
		age := adultAge(r)
		if size >= 3 {
			age = 24 + r.IntN(32)
		}
		head = &patient{person: g.newPerson(r, "", age, "")}
		head.mobile = g.maybeMobile(r, age)
		h.home = g.newHome(r)
	}
	head.home = h.home
	headAge := head.ageAt(g.o.Now)
	h.members = append(h.members, head)

	var partner *patient
	add := func(gender string, age int, family string) *patient {
		m := &patient{person: g.newPerson(r, gender, max(age, 0), family)}
		m.home = h.home
		m.mobile = g.maybeMobile(r, age)
		h.members = append(h.members, m)
		return m
	}
	if size >= 2 {
		switch x := r.Float64(); {
		case headAge >= 70 && x < 0.3:
			// An elderly parent living with an adult child.
			add("", max(18, headAge-22-r.IntN(18)), g.sharedSurname(r, head.family, 0.8))
		case x < 0.78 || headAge < 20:
			gender := opposite(head.gender)
			if r.Float64() < 0.08 || gender == "" {
				gender = head.gender
			}
			partner = add(gender, max(18, headAge-6+r.IntN(13)), g.sharedSurname(r, head.family, 0.7))
		default:
			// A single parent, or adult relatives sharing a home.
			if headAge < 55 && headAge >= 20 && size > 2 || headAge >= 22 && headAge < 50 && r.IntN(2) == 0 {
				add("", r.IntN(min(17, headAge-18)+1), head.family)
			} else {
				add("", max(18, headAge-8+r.IntN(17)), g.sharedSurname(r, head.family, 0.8))
			}
		}
	}
	for slot := len(h.members); slot < size; slot++ {
		switch {
		case size >= 5 && slot == size-1 && headAge < 60 && r.Float64() < 0.4:
			// A grandparent.
			add("", min(98, headAge+22+r.IntN(14)), g.sharedSurname(r, head.family, 0.5))
		case headAge >= 58 || headAge >= 42 && r.Float64() < 0.35:
			// A grown-up child still at home.
			add("", 18+r.IntN(min(13, headAge-38)), g.childSurname(r, head, partner))
		case headAge >= 19:
			add("", r.IntN(min(17, headAge-18)+1), g.childSurname(r, head, partner))
		default:
			add("", 18+r.IntN(3), g.sharedSurname(r, head.family, 0.5))
		}
	}

	for _, m := range h.members {
		age := m.ageAt(g.o.Now)
		switch {
		case age < 18:
			m.guardian = head // heads are always adults
		case m == head && partner != nil, m == partner:
			m.marital = "M"
		case age >= 65 && r.Float64() < 0.4:
			m.marital = "W"
		case age >= 30 && r.Float64() < 0.3:
			m.marital = "D"
		default:
			m.marital = "S"
		}
		if age >= 18 && m.staff == nil && r.Float64() < 0.6 {
			m.email = fmt.Sprintf("%s.%s%d@%s", asciiLower(m.given[0]), asciiLower(m.family), 10+r.IntN(90), mailDomain)
		}
	}
	return h
}

func (g *generator) maybeMobile(r *rand.Rand, age int) string {
	if age >= 13 && r.Float64() < 0.85 {
		return g.newPhone(r)
	}
	return ""
}

func (g *generator) sharedSurname(r *rand.Rand, family string, p float64) string {
	if r.Float64() < p {
		return family
	}
	return pickValue(r, g.surnames)
}

func (g *generator) childSurname(r *rand.Rand, head, partner *patient) string {
	if partner != nil && partner.family != head.family && r.Float64() < 0.3 {
		return partner.family
	}
	if r.Float64() < 0.95 {
		return head.family
	}
	return pickValue(r, g.surnames) + "-" + head.family
}

func opposite(gender string) string {
	switch gender {
	case "female":
		return "male"
	case "male":
		return "female"
	}
	return ""
}

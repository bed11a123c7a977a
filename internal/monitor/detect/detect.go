package detect

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/monitor/explain"
)

// Config holds the detectors' thresholds and weights. DefaultConfig's
// values were chosen on the tuning seeds (docs/monitoring.md).
type Config struct {
	// Learn is how long after the first event the behaviour flags stay
	// quiet while baselines form; relationship, terminated-account and
	// outside-network flags are on from the start.
	Learn time.Duration
	// AlertAt is the risk of one event that raises an alert.
	AlertAt float64
	// CaseAt is the case score from which a case is reported.
	CaseAt float64
	// ReviewWithin is the deadline of a break-the-glass review.
	ReviewWithin time.Duration
	// NeighbourDoors is how many house numbers apart on one street count
	// as neighbours.
	NeighbourDoors int
	// Weights of the flags.
	Self, Household, SameAddress, SamePhone, SameSurname float64
	Coworker, SameDept, Neighbour, VIP                   float64
	Unexplained, NotInCare, SearchThenOpen, Burst        float64
	Curiosity, Serial, Dormant                           float64
	// DormantAt is how many patients not in care, opened without a care
	// relationship in 30 days, raise the dormant flag.
	DormantAt int
	// Browse is the weight of BrowseAt or more patients opened without a
	// care relationship within two hours.
	Browse   float64
	BrowseAt int
	// PresentFactor scales the coworker and same-surname flags when the
	// patient has an encounter in progress and the user is a physician or
	// nurse.
	PresentFactor float64
	// Unassigned is added to the relationship flags of an access that
	// only the department explains while the department's assignment
	// list names others (explain.KindUnassigned); such an access also
	// keeps the coworker and VIP flags that a department explanation
	// otherwise clears.
	Unassigned                                              float64
	Outside, NewNetwork, OffShift, Bulk, Export, Concurrent float64
	Terminated                                              float64
}

// DefaultConfig returns the tuned configuration.
func DefaultConfig() Config {
	return Config{
		Learn: 3 * 24 * time.Hour, AlertAt: 2, CaseAt: 3.2, ReviewWithin: 72 * time.Hour, NeighbourDoors: 30,
		Self: 6, Household: 5, SameAddress: 4, SamePhone: 4, SameSurname: 1.5,
		Coworker: 2.5, SameDept: 0.5, Neighbour: 3, VIP: 2.5,
		Unexplained: 0.5, NotInCare: 1, SearchThenOpen: 1, Burst: 1.5,
		Curiosity: 1, Serial: 1, Dormant: 2, DormantAt: 3, Browse: 2.5, BrowseAt: 4, PresentFactor: 0.4,
		Unassigned: 0.5,
		Outside:    2.5, NewNetwork: 0.7, OffShift: 1.2, Bulk: 3, Export: 2, Concurrent: 2,
		Terminated: 8,
	}
}

// Reason is one plain-language reason; Key groups reasons of one kind
// within a case (the latest text of a key wins).
type Reason struct {
	Key, Text string
}

// Alert is raised on one event whose risk reached Config.AlertAt.
type Alert struct {
	EventID string
	User    string
	Patient string // empty for events about no patient
	Time    time.Time
	Score   float64
	Reasons []Reason
	CaseID  string
}

// Summary joins the reasons as a sentence.
func (a Alert) Summary() string { return joinReasons(a.Reasons) }

func joinReasons(rs []Reason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Text
	}
	return strings.Join(parts, "; ")
}

// Case groups the alerts about one user.
type Case struct {
	ID       string
	User     string
	Opened   time.Time
	Updated  time.Time
	Patients []string
	// Events are the AuditEvent ids of the alerts, as given in the input.
	Events  []string
	Score   float64
	Reasons []Reason
	Alerts  int
	maxRisk float64
}

// Review is a break-the-glass use waiting for review.
type Review struct {
	EventID     string
	User        string
	Patient     string
	Time        time.Time
	Deadline    time.Time
	ReasonCode  string
	Explanation string // what the engine found for the access
}

// stamp is a patient access at a time.
type stamp struct {
	t   time.Time
	pid string
}

type userState struct {
	staff        *explain.Staff
	first        time.Time
	events       int
	hours        [24]int
	nets         map[string]bool
	lastNet      string
	lastAt       time.Time
	seen         map[string]bool
	lastHour     []stamp // patient accesses in the trailing hour
	maxHour      int     // most distinct patients in a trailing hour on earlier days
	dayMaxHour   int
	hourDay      time.Time
	dormant      []stamp // unexplained accesses to patients not in care, trailing 30 days
	recentUnexpl []stamp // unexplained accesses in the trailing 2 hours
	lastSrch     time.Time
	day          time.Time // calendar day of dayPts
	dayPts       map[string]bool
	days         []dayCount // finished days in the trailing 30
}

type dayCount struct {
	day time.Time
	n   int
}

// roleStats keeps a running mean and variance (Welford).
type roleStats struct {
	n           float64
	mean, m2    float64
	n30         float64
	mean30, s30 float64
}

func (r *roleStats) addDay(x float64) {
	r.n++
	d := x - r.mean
	r.mean += d / r.n
	r.m2 += d * (x - r.mean)
}

func (r *roleStats) add30(x float64) {
	r.n30++
	d := x - r.mean30
	r.mean30 += d / r.n30
	r.s30 += d * (x - r.mean30)
}

func (r *roleStats) sd() float64 {
	if r.n < 2 {
		return 0
	}
	return math.Sqrt(r.m2 / (r.n - 1))
}

func (r *roleStats) sd30() float64 {
	if r.n30 < 2 {
		return 0
	}
	return math.Sqrt(r.s30 / (r.n30 - 1))
}

// Detector scores events one at a time. It is not safe for concurrent
// use; a stream is one goroutine's work.
type Detector struct {
	cfg      Config
	eng      *explain.Engine
	users    map[string]*userState
	patients map[string][]stamp // unexplained accessors in the trailing 24h, as (time, user)
	roles    map[string]*roleStats
	cases    map[string]*Case
	order    []*Case
	reviews  []Review
	first    time.Time
	from     time.Time // alerts only for events at or after from (Rescore)
	// Counters for the office.
	Events, PatientAccesses, Explained, ExplainedAway int
}

// New returns a detector over a hospital's context.
func New(ctx *explain.Context, cfg Config) *Detector {
	return &Detector{
		cfg: cfg, eng: explain.NewEngine(ctx),
		users: map[string]*userState{}, patients: map[string][]stamp{},
		roles: map[string]*roleStats{}, cases: map[string]*Case{},
	}
}

func (d *Detector) user(ev *audit.Event) *userState {
	u := d.users[ev.Actor.UserID]
	if u == nil {
		u = &userState{staff: d.eng.StaffOf(ev), first: ev.Time, nets: map[string]bool{}, seen: map[string]bool{}, dayPts: map[string]bool{}}
		d.users[ev.Actor.UserID] = u
	}
	return u
}

// network names the /24 (IPv4) or /48 (IPv6) an address is in, or the
// host name itself.
func network(addr string) (string, bool) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return strings.ToLower(addr), false
	}
	bits := 24
	if ip.Is6() && !ip.Is4In6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	return p.String(), !(ip.IsPrivate() || ip.IsLoopback())
}

// ProcessEvent explains and scores one event, updates the baselines, and
// returns the alerts it raised (none or one). Events must come in time
// order per user for the windows to hold.
func (d *Detector) ProcessEvent(ev *audit.Event) (explain.Explanation, []Alert) {
	d.Events++
	if d.first.IsZero() {
		d.first = ev.Time
	}
	learning := ev.Time.Sub(d.first) < d.cfg.Learn
	u := d.user(ev)
	ex := d.eng.Explain(ev)
	var reasons []Reason
	risk := 0.0
	add := func(w float64, key, format string, args ...any) {
		risk += w
		reasons = append(reasons, Reason{key, fmt.Sprintf(format, args...)})
	}

	// Credential signals, on every event.
	if s := u.staff; s != nil && !s.Active && !s.End.IsZero() && ev.Time.After(s.End) {
		add(d.cfg.Terminated, "terminated", "account used after the employment ended on %s", s.End.Format("2006-01-02"))
	}
	if ev.NetworkAddress != "" {
		net, outside := network(ev.NetworkAddress)
		switch {
		case outside && !u.nets[net]:
			add(d.cfg.Outside, "outside", "from a network outside the hospital (%s)", net)
		case !u.nets[net] && !learning && u.events >= 50:
			add(d.cfg.NewNetwork, "new-network", "from a workstation network the user never used (%s)", net)
		}
		if u.lastNet != "" && u.lastNet != net && ev.Time.Sub(u.lastAt) < 10*time.Minute && outside {
			add(d.cfg.Concurrent, "concurrent", "sessions from two networks %d minutes apart", int(ev.Time.Sub(u.lastAt).Minutes()))
		}
		u.nets[net] = true
		u.lastNet, u.lastAt = net, ev.Time
	}
	h := ev.Time.UTC().Hour()
	if !learning && u.events >= 50 {
		near := u.hours[h] + u.hours[(h+1)%24] + u.hours[(h+23)%24]
		if float64(near) < 0.01*float64(u.events) {
			add(d.cfg.OffShift, "off-shift", "at %02d:00, outside the user's usual hours", h)
		}
	}
	u.hours[h]++
	u.events++
	if ev.Subtype == "export" {
		add(d.cfg.Export, "export", "bulk export of records")
	}
	if ev.Subtype == "search" {
		u.lastSrch = ev.Time
	}

	if ev.PatientID != "" {
		d.PatientAccesses++
		if ex.Explained() {
			d.Explained++
		}
		if ev.Subtype == "break-glass" {
			r := Review{EventID: ev.ID, User: ev.Actor.UserID, Patient: ev.PatientID, Time: ev.Time, Deadline: ev.Time.Add(d.cfg.ReviewWithin), Explanation: ex.Kind}
			if ev.BreakGlass != nil {
				r.ReasonCode = ev.BreakGlass.ReasonCode
			}
			d.reviews = append(d.reviews, r)
		}
		risk, reasons = d.scoreAccess(ev, u, ex, learning, risk, reasons)
	}

	if risk < d.cfg.AlertAt || ev.Time.Before(d.from) {
		return ex, nil
	}
	a := Alert{EventID: ev.ID, User: ev.Actor.UserID, Patient: ev.PatientID, Time: ev.Time, Score: math.Round(risk*100) / 100, Reasons: reasons}
	a.CaseID = d.addToCase(a)
	return ex, []Alert{a}
}

// scoreAccess adds the relationship and behaviour flags of a patient
// access and updates the user's windows.
func (d *Detector) scoreAccess(ev *audit.Event, u *userState, ex explain.Explanation, learning bool, risk float64, reasons []Reason) (float64, []Reason) {
	add := func(w float64, key, format string, args ...any) {
		risk += w
		reasons = append(reasons, Reason{key, fmt.Sprintf(format, args...)})
	}
	t, pid := ev.Time, ev.PatientID
	ctx := d.eng.Context()
	pat := ctx.Patients[pid]

	// Trailing hour of patient accesses: bulk volume and repeats.
	cut := 0
	for cut < len(u.lastHour) && t.Sub(u.lastHour[cut].t) > time.Hour {
		cut++
	}
	u.lastHour = append(u.lastHour[cut:], stamp{t, pid})
	distinct, repeats := distinctPatients(u.lastHour, pid, t)
	// The baseline is the most of any earlier day, so that a pull that
	// grows minute by minute is still measured against normal days.
	if day := t.Truncate(24 * time.Hour); !day.Equal(u.hourDay) {
		u.maxHour = max(u.maxHour, u.dayMaxHour)
		u.dayMaxHour, u.hourDay = 0, day
	}
	if !learning && distinct >= 20 && distinct >= 2*u.maxHour {
		add(d.cfg.Bulk, "bulk", "%d patients' records in an hour (the user's most before: %d)", distinct, u.maxHour)
	}
	u.dayMaxHour = max(u.dayMaxHour, distinct)
	firstTime := !u.seen[pid]
	u.seen[pid] = true

	// Relationship flags.
	var rel []Reason
	var relW []float64 // the weight of each of rel
	sameDept := false  // the patient is a colleague of the user's department
	relRisk := 0.0
	flag := func(w float64, key, text string) {
		relRisk += w
		rel = append(rel, Reason{key, text})
		relW = append(relW, w)
	}
	if s := u.staff; s != nil && pat != nil {
		switch {
		case s.Employee != "" && s.Employee == pat.Employee:
			flag(d.cfg.Self, "self", "the user's own record")
		case household(s, pat):
			flag(d.cfg.Household, "household", "a member of the user's household (RelatedPerson)")
		default:
			sameAddr := s.Address.Key() != "" && s.Address.Key() == pat.Address.Key()
			samePhone := sharesPhone(s.Phones, pat.Phones)
			sameName := s.Family != "" && s.Family == pat.Family
			switch {
			case sameAddr && sameName:
				flag(d.cfg.SameAddress+d.cfg.SameSurname, "same-address", "same last name and address")
			case sameAddr:
				flag(d.cfg.SameAddress, "same-address", "same address")
			case samePhone:
				flag(d.cfg.SamePhone, "same-phone", "same phone number")
			case sameName:
				flag(d.cfg.SameSurname, "same-surname", "same last name")
			}
			if !sameAddr {
				if dist := s.Address.Distance(pat.Address); dist <= d.cfg.NeighbourDoors {
					flag(d.cfg.Neighbour, "neighbour", fmt.Sprintf("lives %d house numbers away on the same street", dist))
				}
			}
			if pat.Employee != "" {
				if colleague := ctx.ByEmployee[pat.Employee]; colleague != nil && colleague.Dept == s.Dept {
					sameDept = true
					flag(d.cfg.Coworker+d.cfg.SameDept, "coworker", "a coworker in the same department")
				} else {
					flag(d.cfg.Coworker, "coworker", "a coworker (the patient is staff)")
				}
			}
		}
	}
	if pat != nil && pat.VIP {
		flag(d.cfg.VIP, "vip", "a VIP record (very restricted)")
	}
	// A colleague, or a namesake, being treated in the hospital right now
	// is consulted on by physicians and nurses of other departments all
	// the time: the status flags count for less then.
	if len(rel) > 0 && !ex.Explained() && clinicalRole(u.staff, ev.Actor.Role) && presentNow(ctx.Care[pid], t) {
		for i, r := range rel {
			if r.Key == "coworker" || r.Key == "same-surname" {
				w := d.cfg.Coworker
				if r.Key == "same-surname" {
					w = d.cfg.SameSurname
				}
				relRisk -= w * (1 - d.cfg.PresentFactor)
				relW[i] -= w * (1 - d.cfg.PresentFactor)
				rel[i].Text += " being treated here now"
			}
		}
	}
	if len(rel) > 0 {
		switch {
		case rel[0].Key == "self":
			// Nobody treats themselves: the own record is opened through
			// the patient portal, whatever the care relationship says.
		case ex.Direct():
			d.ExplainedAway++
			rel, relRisk = nil, 0
		case ex.Explained():
			// A department or work queue explains the status flags
			// (coworker, VIP, same surname): such patients are in many
			// people's work. Personal ties (self, household, address,
			// phone, neighbour) need the user on record by name. When
			// the department's assignment list names others, the
			// department explains even less: a colleague of the user's
			// own department admitted to it stays flagged too (decision
			// 0043).
			unassigned := ex.Kind == explain.KindUnassigned
			var keep []Reason
			relRisk = 0
			for i, r := range rel {
				if personal(r.Key) || unassigned && r.Key == "coworker" && sameDept {
					keep = append(keep, r)
					w := relW[i]
					if r.Key == "same-address" {
						w = d.cfg.SameAddress // the last name in it is a status
					}
					relRisk += w
				}
			}
			switch {
			case len(keep) == 0:
				d.ExplainedAway++
				rel = nil
			case unassigned:
				relRisk += d.cfg.Unassigned
				rel = append(keep, Reason{"weak", "in the user's department, but the assignment list names others of their role"})
			default:
				rel = append(keep, Reason{"weak", "explained only by " + ex.Kind})
			}
		}
	}
	risk += relRisk
	reasons = append(reasons, rel...)

	if ex.Explained() {
		return risk, reasons
	}
	// Behaviour of unexplained accesses.
	add(d.cfg.Unexplained, "no-care", "no care relationship")
	if repeats >= 3 {
		reasons = append(reasons, Reason{"repeats", fmt.Sprintf("%d accesses to this patient in 10 minutes", repeats)})
	}
	dormant := !inCare(ctx.Care[pid], t)
	if dormant {
		add(d.cfg.NotInCare, "not-in-care", "the patient has no encounter, appointment or order within 30 days")
	}
	if !u.lastSrch.IsZero() && t.Sub(u.lastSrch) < 3*time.Minute && firstTime {
		add(d.cfg.SearchThenOpen, "search", "searched by name, then opened the record")
	}
	// Bursts of users around one patient (VIP days).
	list := d.patients[pid]
	k := 0
	for k < len(list) && t.Sub(list[k].t) > 24*time.Hour {
		k++
	}
	list = append(list[k:], stamp{t, ev.Actor.UserID})
	d.patients[pid] = list
	users := map[string]bool{}
	for _, s := range list {
		users[s.pid] = true
	}
	if len(users) >= 3 {
		add(d.cfg.Burst, "burst", "one of %d users opening this record without a care relationship within 24 hours", len(users))
	}

	// Unexplained patients per day and per 30 days against the role.
	// The peer group is the role within the department: a neurologist's
	// curbside consults are compared with other neurologists'.
	peer := ev.Actor.Role + "/" + ev.Actor.Organization
	if u.staff != nil && u.staff.Role != "" {
		peer = u.staff.Role + "/" + u.staff.Dept
	}
	rs := d.roles[peer]
	if rs == nil {
		rs = &roleStats{}
		d.roles[peer] = rs
	}
	day := t.Truncate(24 * time.Hour)
	if !day.Equal(u.day) {
		d.closeDay(u, rs, day)
	}
	u.dayPts[pid] = true
	today := len(u.dayPts)
	month := today
	for _, dc := range u.days {
		month += dc.n
	}
	// Browsing: several strangers within two hours.
	k2 := 0
	for k2 < len(u.recentUnexpl) && t.Sub(u.recentUnexpl[k2].t) > 2*time.Hour {
		k2++
	}
	u.recentUnexpl = u.recentUnexpl[k2:]
	if !containsStamp(u.recentUnexpl, pid) {
		u.recentUnexpl = append(u.recentUnexpl, stamp{t, pid})
	}
	if n := len(u.recentUnexpl); n >= d.cfg.BrowseAt {
		add(d.cfg.Browse, "browsing", "%d patients without a care relationship in 2 hours", n)
	}
	if !learning {
		if thr := math.Max(4, rs.mean+4*rs.sd()); float64(today) > thr {
			add(d.cfg.Curiosity+0.5*(float64(today)-thr), "curiosity", "%d patients without a care relationship today (peers in the role: %.1f a day)", today, rs.mean)
		}
		if thr := math.Max(8, rs.mean30+3*rs.sd30()); float64(month) > thr {
			add(d.cfg.Serial, "serial", "%d patients without a care relationship in 30 days (peers: %.1f)", month, rs.mean30)
		}
	}
	// Records of people not in care, opened without a relationship: the
	// low-and-slow browser's trace, rare in anyone's work.
	if dormant {
		k := 0
		for k < len(u.dormant) && t.Sub(u.dormant[k].t) > 30*24*time.Hour {
			k++
		}
		u.dormant = u.dormant[k:]
		if !containsStamp(u.dormant, pid) {
			u.dormant = append(u.dormant, stamp{t, pid})
		}
		if n := len(u.dormant); n >= d.cfg.DormantAt {
			add(d.cfg.Dormant, "dormant", "%d patients not in care opened without a care relationship in 30 days", n)
		}
	}
	return risk, reasons
}

// closeDay files the user's finished day in their 30-day window and the
// role's baselines, counting the days they worked without unexplained
// accesses as zeros.
func (d *Detector) closeDay(u *userState, rs *roleStats, day time.Time) {
	if !u.day.IsZero() {
		u.days = append(u.days, dayCount{u.day, len(u.dayPts)})
		rs.addDay(float64(len(u.dayPts)))
	}
	cut := 0
	for cut < len(u.days) && day.Sub(u.days[cut].day) >= 30*24*time.Hour {
		cut++
	}
	u.days = u.days[cut:]
	if day.Sub(u.first) >= 7*24*time.Hour {
		total := 0
		for _, dc := range u.days {
			total += dc.n
		}
		rs.add30(float64(total))
	}
	u.day = day
	clear(u.dayPts)
}

// personal reports whether a flag is a personal tie (self, household,
// address, phone, neighbour) rather than a status (coworker, VIP, same
// surname).
func personal(key string) bool {
	switch key {
	case "self", "household", "same-address", "same-phone", "neighbour":
		return true
	}
	return false
}

func distinctPatients(list []stamp, pid string, t time.Time) (distinct, repeats int) {
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		seen[s.pid] = true
		if s.pid == pid && t.Sub(s.t) <= 10*time.Minute {
			repeats++
		}
	}
	return len(seen), repeats
}

func household(s *explain.Staff, p *explain.Patient) bool {
	for _, r := range p.Related {
		if s.Employee != "" && r.Employee == s.Employee {
			return true
		}
		// A name alone collides too often (two Maria Smiths); with the
		// same address it is the same person.
		if r.Family == s.Family && r.Given == s.Given && r.Family != "" && r.Address.Key() != "" && r.Address.Key() == s.Address.Key() {
			return true
		}
	}
	return false
}

func sharesPhone(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func clinicalRole(s *explain.Staff, role string) bool {
	if s != nil && s.Role != "" {
		role = s.Role
	}
	return role == "clinician" || role == "nurse"
}

// presentNow reports whether the patient has an encounter in progress.
func presentNow(c *explain.Care, t time.Time) bool {
	if c == nil {
		return false
	}
	for _, e := range c.Encounters {
		if e.Span.Covers(t, 0, 0) {
			return true
		}
	}
	return false
}

// inCare reports whether the patient has care on record within 30 days
// of t.
func inCare(c *explain.Care, t time.Time) bool {
	if c == nil {
		return false
	}
	const w = 30 * 24 * time.Hour
	for _, e := range c.Encounters {
		if e.Span.Covers(t, w, w) {
			return true
		}
	}
	for _, a := range c.Appointments {
		if a.Span.Covers(t, w, w) {
			return true
		}
	}
	for _, o := range c.Orders {
		if o.Authored.After(t.Add(-w)) && o.Authored.Before(t.Add(w)) {
			return true
		}
	}
	return false
}

// addToCase files an alert in its user's case and returns the case id.
func (d *Detector) addToCase(a Alert) string {
	c := d.cases[a.User]
	if c == nil {
		c = &Case{ID: fmt.Sprintf("case-%05d", len(d.order)+1), User: a.User, Opened: a.Time}
		d.cases[a.User] = c
		d.order = append(d.order, c)
	}
	c.Updated = a.Time
	c.Alerts++
	c.Events = append(c.Events, a.EventID)
	if a.Patient != "" && !contains(c.Patients, a.Patient) {
		c.Patients = append(c.Patients, a.Patient)
	}
	c.maxRisk = math.Max(c.maxRisk, a.Score)
	for _, r := range a.Reasons {
		found := false
		for i := range c.Reasons {
			if c.Reasons[i].Key == r.Key {
				c.Reasons[i].Text = r.Text
				found = true
			}
		}
		if !found {
			c.Reasons = append(c.Reasons, r)
		}
	}
	c.Score = math.Round((c.maxRisk+math.Min(3, 0.3*float64(c.Alerts-1)+0.3*float64(len(c.Patients)-1)))*100) / 100
	return c.ID
}

func containsStamp(list []stamp, pid string) bool {
	for _, s := range list {
		if s.pid == pid {
			return true
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

// AllCases returns every case, reported or not, highest score first.
func (d *Detector) AllCases() []Case {
	out := make([]Case, 0, len(d.order))
	for _, c := range d.order {
		cc := *c
		cc.Events = append([]string(nil), c.Events...)
		cc.Patients = append([]string(nil), c.Patients...)
		cc.Reasons = append([]Reason(nil), c.Reasons...)
		out = append(out, cc)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// Cases returns the cases whose score reached Config.CaseAt, highest
// first: the privacy office's queue.
func (d *Detector) Cases() []Case {
	var out []Case
	for _, c := range d.AllCases() {
		if c.Score >= d.cfg.CaseAt {
			out = append(out, c)
		}
	}
	return out
}

// ReviewQueue returns every break-the-glass use with its deadline.
func (d *Detector) ReviewQueue() []Review { return append([]Review(nil), d.reviews...) }

// Rescore is batch mode: it runs the events (in time order) through a
// fresh detector, letting the events before from build the baselines
// without raising alerts, and stops after to. It returns that detector.
func Rescore(ctx *explain.Context, cfg Config, events func(yield func(*audit.Event) bool), from, to time.Time) *Detector {
	d := New(ctx, cfg)
	d.from = from
	for ev := range events {
		if !to.IsZero() && ev.Time.After(to) {
			break
		}
		d.ProcessEvent(ev)
	}
	return d
}

// Explainer returns the detector's explanation engine.
func (d *Detector) Explainer() *explain.Engine { return d.eng }

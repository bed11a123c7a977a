package explain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/fault"
)

// Identifier systems the context is read with. They are the demo
// hospital's; another hospital maps its own onto them at ingestion.
const (
	SystemMRN      = "urn:trustward:mrn"
	SystemEmployee = "urn:trustward:employee"
	SystemRole     = "urn:trustward:role"
)

// Address is a postal address reduced to what neighbour distance needs.
type Address struct {
	Number int    // house number, -1 when the first line has none
	Street string // lower case, without the number
	Postal string
	Unit   string // second line (apartment), lower case
}

// Key is the whole address, lower case, for equality.
func (a Address) Key() string {
	if a.Street == "" {
		return ""
	}
	return fmt.Sprintf("%d|%s|%s|%s", a.Number, a.Street, a.Unit, a.Postal)
}

// Distance is a proxy for how far apart two addresses are, in house
// numbers along the same street; math.MaxInt when on different streets or
// unknown (the context has no coordinates).
func (a Address) Distance(b Address) int {
	if a.Street == "" || a.Street != b.Street || a.Postal != b.Postal || a.Number < 0 || b.Number < 0 {
		return math.MaxInt
	}
	return max(a.Number-b.Number, b.Number-a.Number)
}

// Person is what relationship checks compare: names, address, phones,
// identifiers.
type Person struct {
	Family   string // lower case
	Given    string // lower case, first given name
	Address  Address
	Phones   []string // digits only
	MRN      string
	Employee string
}

// Staff is a Practitioner with their PractitionerRole.
type Staff struct {
	ID string
	Person
	Role string // Trustward role code, or the role text
	Dept string // Organization id
	// Active is false, and End set, once the PractitionerRole has ended.
	Active bool
	End    time.Time
}

// Patient is a Patient with their household (RelatedPerson).
type Patient struct {
	ID string
	Person
	VIP     bool
	Related []Person
}

// Span is a time interval; a zero To means open (still going).
type Span struct{ From, To time.Time }

// Covers reports whether t lies in [From-before, To+after].
func (s Span) Covers(t time.Time, before, after time.Duration) bool {
	if t.Before(s.From.Add(-before)) {
		return false
	}
	return s.To.IsZero() || !t.After(s.To.Add(after))
}

// Encounter is an Encounter reduced to who, where and when.
type Encounter struct {
	ID           string
	Dept         string
	Span         Span
	Participants []string
}

// Order is a ServiceRequest or MedicationRequest.
type Order struct {
	ID             string
	Authored       time.Time
	Requester      string
	Performers     []string // Practitioner ids
	PerformerDepts []string // Organization ids
}

// Team is a CareTeam. Members without a period of their own are on the
// team for its whole span; a participant with a period (an inpatient
// unit's shift assignment, decision 0043) is on it for that period only,
// and is kept in Shifts.
type Team struct {
	ID        string
	Encounter string // the Encounter the team serves, when the CareTeam names one
	Span      Span
	Members   []string
	Depts     []string
	Shifts    []Shift
}

// Shift is one participant's period on a care team: who was assigned to
// the patient, and when.
type Shift struct {
	Member string
	Span   Span
}

// Appointment is an Appointment's practitioners and time.
type Appointment struct {
	ID            string
	Span          Span
	Practitioners []string
}

// Care is everything the context says about one patient's care.
type Care struct {
	Encounters   []Encounter
	Teams        []Team
	Orders       []Order
	Appointments []Appointment
}

// Context is the hospital's context, held in memory.
type Context struct {
	Depts    map[string]string // Organization id -> name
	Staff    map[string]*Staff
	Patients map[string]*Patient
	Care     map[string]*Care // by patient id
	// ByEmployee finds staff by employee number.
	ByEmployee map[string]*Staff
	// pending RelatedPersons whose Patient comes later
	related map[string][]Person
	roles   []roleRec
}

type roleRec struct {
	practitioner, dept, role string
	active                   bool
	end                      time.Time
}

// NewContext returns an empty context.
func NewContext() *Context {
	return &Context{
		Depts: map[string]string{}, Staff: map[string]*Staff{}, Patients: map[string]*Patient{},
		Care: map[string]*Care{}, ByEmployee: map[string]*Staff{}, related: map[string][]Person{},
	}
}

// maxLine bounds one NDJSON line of context.
const maxLine = 4 << 20

// ReadNDJSON adds every resource of r, one FHIR R4 JSON resource per line
// (a Bundle on a line is read entry by entry). It stops at the first bad
// line with an error that names the line.
func (c *Context) ReadNDJSON(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := c.Add(line); err != nil {
			return fmt.Errorf("context line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fault.Wrap(fault.Invalid, err, "context line %d", n+1)
	}
	c.Finish()
	return nil
}

// Finish links PractitionerRoles to their Practitioners; ReadNDJSON calls
// it, callers of Add call it once after the last resource.
func (c *Context) Finish() {
	for _, r := range c.roles {
		s := c.Staff[r.practitioner]
		if s == nil {
			s = &Staff{ID: r.practitioner}
			c.Staff[r.practitioner] = s
		}
		s.Dept, s.Role, s.Active, s.End = r.dept, r.role, r.active, r.end
	}
	c.roles = nil
	for id, rel := range c.related {
		if p := c.Patients[id]; p != nil {
			p.Related = append(p.Related, rel...)
			delete(c.related, id)
		}
	}
}

type jCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}
type jConcept struct {
	Coding []jCoding `json:"coding"`
	Text   string    `json:"text"`
}
type jRef struct {
	Reference string `json:"reference"`
}
type jIdent struct {
	System string `json:"system"`
	Value  string `json:"value"`
}
type jName struct {
	Family string   `json:"family"`
	Given  []string `json:"given"`
}
type jTelecom struct {
	System string `json:"system"`
	Value  string `json:"value"`
}
type jAddress struct {
	Line       []string `json:"line"`
	PostalCode string   `json:"postalCode"`
}
type jPeriod struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type jResource struct {
	ResourceType string                        `json:"resourceType"`
	ID           string                        `json:"id"`
	Meta         *struct{ Security []jCoding } `json:"meta"`
	Active       *bool                         `json:"active"`
	Identifier   []jIdent                      `json:"identifier"`
	Name         json.RawMessage               `json:"name"` // Organization: string; people: []jName
	Telecom      []jTelecom                    `json:"telecom"`
	Address      []jAddress                    `json:"address"`
	// PractitionerRole
	Practitioner *jRef           `json:"practitioner"`
	Organization *jRef           `json:"organization"`
	Code         json.RawMessage `json:"code"`
	Period       *jPeriod        `json:"period"`
	// Patient links
	Patient *jRef `json:"patient"`
	Subject *jRef `json:"subject"`
	// Encounter
	Participant     []jParticipant `json:"participant"`
	ServiceProvider *jRef          `json:"serviceProvider"`
	// CareTeam
	ManagingOrganization []jRef `json:"managingOrganization"`
	Encounter            *jRef  `json:"encounter"`
	// Appointment
	Start string `json:"start"`
	End   string `json:"end"`
	// orders
	AuthoredOn string `json:"authoredOn"`
	Requester  *jRef  `json:"requester"`
	Performer  []jRef `json:"performer"`
	// Bundle
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type jParticipant struct {
	Individual *jRef    `json:"individual"` // Encounter
	Member     *jRef    `json:"member"`     // CareTeam
	Period     *jPeriod `json:"period"`     // CareTeam: the participant's own period
	Actor      *jRef    `json:"actor"`      // Appointment
}

// Add reads one FHIR R4 resource in JSON. Resource types the context does
// not use are rejected, so that a wrong file is noticed.
func (c *Context) Add(b []byte) error {
	var r jResource
	if err := json.Unmarshal(b, &r); err != nil {
		return fault.Wrap(fault.Invalid, err, "not a FHIR resource in JSON")
	}
	if r.ResourceType == "Bundle" {
		for i, e := range r.Entry {
			if err := c.Add(e.Resource); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	}
	if r.ResourceType == "" {
		return fault.InvalidField("resourceType", "is required")
	}
	if r.ID == "" || len(r.ID) > 64 {
		return fault.InvalidField("id", "is required and at most 64 characters")
	}
	switch r.ResourceType {
	case "Organization":
		var name string
		if len(r.Name) > 0 {
			if err := json.Unmarshal(r.Name, &name); err != nil {
				return fault.InvalidField("name", "is not a string")
			}
		}
		c.Depts[r.ID] = name
	case "Practitioner":
		p, err := person(r)
		if err != nil {
			return err
		}
		s := c.Staff[r.ID]
		if s == nil {
			s = &Staff{ID: r.ID, Active: true}
			c.Staff[r.ID] = s
		}
		s.Person = p
		if p.Employee != "" {
			c.ByEmployee[p.Employee] = s
		}
	case "PractitionerRole":
		pid, err := refID(r.Practitioner, "Practitioner", "practitioner")
		if err != nil {
			return err
		}
		dept, err := refID(r.Organization, "Organization", "organization")
		if err != nil {
			return err
		}
		rr := roleRec{practitioner: pid, dept: dept, role: roleOf(r.Code), active: r.Active == nil || *r.Active}
		if r.Period != nil && r.Period.End != "" {
			t, err := ParseTime(r.Period.End)
			if err != nil {
				return fault.InvalidField("period.end", "%v", err)
			}
			rr.end = t
		}
		c.roles = append(c.roles, rr)
	case "Patient":
		p, err := person(r)
		if err != nil {
			return err
		}
		pat := &Patient{ID: r.ID, Person: p}
		if r.Meta != nil {
			for _, s := range r.Meta.Security {
				if s.Code == "V" {
					pat.VIP = true
				}
			}
		}
		c.Patients[r.ID] = pat
	case "RelatedPerson":
		pid, err := refID(r.Patient, "Patient", "patient")
		if err != nil {
			return err
		}
		p, err := person(r)
		if err != nil {
			return err
		}
		if pat := c.Patients[pid]; pat != nil {
			pat.Related = append(pat.Related, p)
		} else {
			c.related[pid] = append(c.related[pid], p)
		}
	case "Encounter":
		pid, err := refID(r.Subject, "Patient", "subject")
		if err != nil {
			return err
		}
		e := Encounter{ID: r.ID}
		if r.ServiceProvider != nil {
			if e.Dept, err = refID(r.ServiceProvider, "Organization", "serviceProvider"); err != nil {
				return err
			}
		}
		if e.Span, err = span(r.Period, "period"); err != nil {
			return err
		}
		for i, p := range r.Participant {
			if p.Individual == nil {
				continue
			}
			id, err := refID(p.Individual, "Practitioner", fmt.Sprintf("participant[%d].individual", i))
			if err != nil {
				continue // a RelatedPerson or PractitionerRole participant explains no staff access
			}
			e.Participants = append(e.Participants, id)
		}
		c.care(pid).Encounters = append(c.care(pid).Encounters, e)
	case "CareTeam":
		pid, err := refID(r.Subject, "Patient", "subject")
		if err != nil {
			return err
		}
		t := Team{ID: r.ID}
		if t.Span, err = span(r.Period, "period"); err != nil {
			return err
		}
		if r.Encounter != nil && r.Encounter.Reference != "" {
			if t.Encounter, err = refID(r.Encounter, "Encounter", "encounter"); err != nil {
				return err
			}
		}
		for i, p := range r.Participant {
			id, err := refID(p.Member, "Practitioner", "member")
			if err != nil {
				continue // an Organization or RelatedPerson member explains no staff access
			}
			if p.Period == nil || p.Period.Start == "" && p.Period.End == "" {
				t.Members = append(t.Members, id)
				continue
			}
			sp, err := span(p.Period, fmt.Sprintf("participant[%d].period", i))
			if err != nil {
				return err
			}
			if sp.From.IsZero() {
				// An assignment without a start began with the team.
				sp.From = t.Span.From
			}
			t.Shifts = append(t.Shifts, Shift{Member: id, Span: sp})
		}
		for _, o := range r.ManagingOrganization {
			if id, err := refID(&o, "Organization", "managingOrganization"); err == nil {
				t.Depts = append(t.Depts, id)
			}
		}
		c.care(pid).Teams = append(c.care(pid).Teams, t)
	case "Appointment":
		a := Appointment{ID: r.ID}
		var pid string
		var err error
		if a.Span, err = span(&jPeriod{Start: r.Start, End: r.End}, "start"); err != nil {
			return err
		}
		for _, p := range r.Participant {
			if id, err := refID(p.Actor, "Patient", "actor"); err == nil {
				pid = id
			} else if id, err := refID(p.Actor, "Practitioner", "actor"); err == nil {
				a.Practitioners = append(a.Practitioners, id)
			}
		}
		if pid == "" {
			return fault.InvalidField("participant", "names no Patient")
		}
		c.care(pid).Appointments = append(c.care(pid).Appointments, a)
	case "ServiceRequest", "MedicationRequest":
		pid, err := refID(r.Subject, "Patient", "subject")
		if err != nil {
			return err
		}
		o := Order{ID: r.ID}
		if r.AuthoredOn == "" {
			return fault.InvalidField("authoredOn", "is required")
		}
		if o.Authored, err = ParseTime(r.AuthoredOn); err != nil {
			return fault.InvalidField("authoredOn", "%v", err)
		}
		if r.Requester != nil {
			if o.Requester, err = refID(r.Requester, "Practitioner", "requester"); err != nil {
				return err
			}
		}
		for _, p := range r.Performer {
			if id, err := refID(&p, "Practitioner", "performer"); err == nil {
				o.Performers = append(o.Performers, id)
			} else if id, err := refID(&p, "Organization", "performer"); err == nil {
				o.PerformerDepts = append(o.PerformerDepts, id)
			}
		}
		c.care(pid).Orders = append(c.care(pid).Orders, o)
	default:
		return fault.InvalidField("resourceType", "%q is not a context resource (Organization, Practitioner, PractitionerRole, Patient, RelatedPerson, Encounter, CareTeam, Appointment, ServiceRequest, MedicationRequest)", r.ResourceType)
	}
	return nil
}

func (c *Context) care(pid string) *Care {
	k := c.Care[pid]
	if k == nil {
		k = &Care{}
		c.Care[pid] = k
	}
	return k
}

// refID returns the id of a "Type/id" reference.
func refID(r *jRef, typ, field string) (string, error) {
	if r == nil || r.Reference == "" {
		return "", fault.InvalidField(field, "is required")
	}
	t, id, ok := strings.Cut(r.Reference, "/")
	if !ok || t != typ || id == "" || len(id) > 64 {
		return "", fault.InvalidField(field, "%q is not a reference to a %s", r.Reference, typ)
	}
	return id, nil
}

// roleOf reads the Trustward role coding of a PractitionerRole.code.
func roleOf(raw json.RawMessage) string {
	var cs []jConcept
	if json.Unmarshal(raw, &cs) != nil {
		return ""
	}
	for _, c := range cs {
		for _, cd := range c.Coding {
			if cd.System == SystemRole {
				return cd.Code
			}
		}
	}
	for _, c := range cs {
		if c.Text != "" {
			return strings.ToLower(c.Text)
		}
	}
	return ""
}

// person reads names, address, telecom and identifiers.
func person(r jResource) (Person, error) {
	var p Person
	var names []jName
	if len(r.Name) > 0 {
		if err := json.Unmarshal(r.Name, &names); err != nil {
			return p, fault.InvalidField("name", "is not a list of HumanName")
		}
	}
	if len(names) > 0 {
		p.Family = strings.ToLower(strings.TrimSpace(names[0].Family))
		if len(names[0].Given) > 0 {
			p.Given = strings.ToLower(names[0].Given[0])
		}
	}
	if len(r.Address) > 0 {
		p.Address = ParseAddress(r.Address[0].Line, r.Address[0].PostalCode)
	}
	for _, t := range r.Telecom {
		if t.System == "phone" {
			if d := digits(t.Value); len(d) >= 7 {
				p.Phones = append(p.Phones, d)
			}
		}
	}
	for _, id := range r.Identifier {
		switch id.System {
		case SystemMRN:
			p.MRN = id.Value
		case SystemEmployee:
			p.Employee = id.Value
		}
	}
	return p, nil
}

// ParseAddress reads the house number and street of the first line.
func ParseAddress(lines []string, postal string) Address {
	a := Address{Number: -1, Postal: strings.TrimSpace(postal)}
	if len(lines) == 0 {
		return a
	}
	first := strings.ToLower(strings.Join(strings.Fields(lines[0]), " "))
	if num, rest, ok := strings.Cut(first, " "); ok {
		if n, err := strconv.Atoi(num); err == nil && n >= 0 {
			a.Number, first = n, rest
		}
	}
	a.Street = first
	if len(lines) > 1 {
		a.Unit = strings.ToLower(strings.TrimSpace(lines[1]))
	}
	return a
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func span(p *jPeriod, field string) (Span, error) {
	var s Span
	if p == nil {
		return s, nil
	}
	var err error
	if p.Start != "" {
		if s.From, err = ParseTime(p.Start); err != nil {
			return s, fault.InvalidField(field+".start", "%v", err)
		}
	}
	if p.End != "" {
		if s.To, err = ParseTime(p.End); err != nil {
			return s, fault.InvalidField(field+".end", "%v", err)
		}
		if s.To.Before(s.From) {
			return s, fault.InvalidField(field+".end", "is before the start")
		}
	}
	return s, nil
}

// ParseTime reads a FHIR date or dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or
// a full time with a zone.
func ParseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01", "2006"} {
		if len(layout) >= 10 && layout != "2006-01-02" && !strings.Contains(v, "T") {
			continue
		}
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a FHIR date or dateTime", v)
}

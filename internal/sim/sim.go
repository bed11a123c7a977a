package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Default sizes of the demo hospital.
const (
	DefaultPatients = 5000
	DefaultStaff    = 300
	// MinStaff is the smallest staff that fills every role.
	MinStaff = 10
)

// Options say what hospital to generate. The same Options always produce
// the same resources, byte for byte.
type Options struct {
	Seed     int64
	Patients int       // 0 means DefaultPatients
	Staff    int       // 0 means DefaultStaff
	Now      time.Time // every generated time lies before it; zero means time.Now()
}

// Resource is one FHIR R4 resource as compact JSON.
type Resource struct {
	Type, ID string
	JSON     []byte
}

// Account is the sign-in account of a staff member.
type Account struct {
	Username       string // unique, lowercase
	DisplayName    string
	Role           string // a role of the identity package
	PractitionerID string
	PatientID      string // set when the staff member is also a patient
	DepartmentID   string // the Organization of their PractitionerRole
}

// Summary counts what Generate emitted and lists the staff accounts.
type Summary struct {
	Departments, Staff, Patients, Households, Encounters, Resources int
	// Accounts has one account per staff member, in Practitioner order.
	Accounts []Account
	// Demo has one memorable account per staff role, with the usernames
	// clinician, nurse, frontdesk, billing, privacy, security and admin.
	// They are also in Accounts.
	Demo []Account
	// ByType counts the resources emitted per resource type.
	ByType map[string]int
}

// Generate builds the hospital described by o and passes every resource to
// emit in dependency order: Organizations, Practitioners, PractitionerRoles,
// Patients, then for each patient its Encounters, CareTeam, Conditions,
// AllergyIntolerances, MedicationRequests and Observations. A resource only
// refers to resources emitted before it. Generate stops at the first error
// of emit or when ctx is done, and returns that error.
func Generate(ctx context.Context, o Options, emit func(Resource) error) (Summary, error) {
	if o.Patients == 0 {
		o.Patients = DefaultPatients
	}
	if o.Staff == 0 {
		o.Staff = DefaultStaff
	}
	if o.Patients < 0 || o.Patients > 9_999_999 {
		return Summary{}, fmt.Errorf("sim: patients must be between 1 and 9999999, got %d", o.Patients)
	}
	if o.Staff < MinStaff || o.Staff > 99_999 {
		return Summary{}, fmt.Errorf("sim: staff must be between %d and 99999, got %d", MinStaff, o.Staff)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if emit == nil {
		return Summary{}, errors.New("sim: emit is nil")
	}

	g, err := newGenerator(ctx, o, emit)
	if err != nil {
		return Summary{}, err
	}
	g.placeStaff()
	g.buildHouseholds()
	if err := g.emitAll(); err != nil {
		return Summary{}, err
	}
	return g.summary(), nil
}

// generator holds one run's state. Output order never depends on map
// iteration; maps only answer membership questions.
type generator struct {
	ctx  context.Context
	o    Options
	emit func(Resource) error
	rng  *rand.Rand

	surnames, female, male, streets *weighted
	conditions                      []conditionDef
	medications                     map[string]medicationDef
	allergies                       []allergyDef
	reactions                       []reactionDef

	depts        []*department
	deptByID     map[string]*department
	general      *department // General Medicine, home of the demo clinician and nurse
	staff        []*staffMember
	demo         map[string]*staffMember // by role
	households   []*household
	patients     []*patient
	usedAddress  map[string]bool
	usedUsername map[string]bool

	resources  int
	encounters int
	byType     map[string]int
}

func newGenerator(ctx context.Context, o Options, emit func(Resource) error) (*generator, error) {
	g := &generator{
		ctx:  ctx,
		o:    o,
		emit: emit,
		// The second PCG word is fixed so that a seed names one hospital.
		rng:          rand.New(rand.NewPCG(uint64(o.Seed), 0x7472757374776172)),
		conditions:   conditionCatalog(),
		medications:  medicationCatalog(),
		allergies:    allergyCatalog(),
		reactions:    reactionCatalog(),
		depts:        departments(),
		deptByID:     map[string]*department{},
		demo:         map[string]*staffMember{},
		usedAddress:  map[string]bool{},
		usedUsername: map[string]bool{},
		byType:       map[string]int{},
	}
	var err error
	lists := []struct {
		dst  **weighted
		name string
	}{{&g.surnames, "surnames.txt"}, {&g.female, "given_female.txt"}, {&g.male, "given_male.txt"}, {&g.streets, "streets.txt"}}
	for _, l := range lists {
		if *l.dst, err = loadList(l.name); err != nil {
			return nil, err
		}
	}
	for _, d := range g.depts {
		g.deptByID[d.id] = d
	}
	g.general = g.deptByID["org-general-medicine"]
	return g, nil
}

// out marshals one resource and hands it to emit.
func (g *generator) out(typ, id string, v any) error {
	if err := g.ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sim: encode %s/%s: %w", typ, id, err)
	}
	if err := g.emit(Resource{Type: typ, ID: id, JSON: b}); err != nil {
		return fmt.Errorf("sim: emit %s/%s: %w", typ, id, err)
	}
	g.resources++
	g.byType[typ]++
	return nil
}

func (g *generator) emitAll() error {
	if err := g.emitOrganizations(); err != nil {
		return err
	}
	for _, s := range g.staff {
		if err := g.out("Practitioner", s.id, g.practitionerOf(s)); err != nil {
			return err
		}
	}
	for _, s := range g.staff {
		if err := g.out("PractitionerRole", s.roleID, g.practitionerRoleOf(s)); err != nil {
			return err
		}
	}
	for _, p := range g.patients {
		if err := g.out("Patient", p.id, g.patientOf(p)); err != nil {
			return err
		}
	}
	for _, p := range g.patients {
		if err := g.emitClinical(p); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) summary() Summary {
	s := Summary{
		Departments: len(g.depts),
		Staff:       len(g.staff),
		Patients:    len(g.patients),
		Households:  len(g.households),
		Encounters:  g.encounters,
		Resources:   g.resources,
		ByType:      g.byType,
	}
	for _, m := range g.staff {
		s.Accounts = append(s.Accounts, m.account())
	}
	for _, ri := range roleInfos() {
		if m := g.demo[ri.role]; m != nil {
			s.Demo = append(s.Demo, m.account())
		}
	}
	return s
}

// Time formats of FHIR: dates without a zone, dateTimes in UTC.
func fhirDate(t time.Time) string     { return t.UTC().Format("2006-01-02") }
func fhirDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

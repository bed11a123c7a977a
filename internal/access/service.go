package access

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/records"
	"github.com/trustward/trustward/internal/seal"
)

// Bases: why an access was allowed.
const (
	BasisCareTeam   = "care-team"
	BasisEncounter  = "encounter"
	BasisDepartment = "department"
	BasisBreakGlass = "break-glass"
	BasisSelf       = "self"
	BasisRole       = "role"
)

// Subject is who asks, and from where.
type Subject struct {
	User      identity.User
	Address   string
	UserAgent string
	Source    string // "trustward-ui", "trustward-api", "trustward-fhir"
}

// Decision is the outcome of the policy.
type Decision struct {
	Allowed bool
	Basis   string
	Purpose string
	// Reason explains a denial for the person who was denied.
	Reason string
	// BreakGlassAvailable: the user may break the glass for this patient.
	BreakGlassAvailable bool
	Grant               *Grant
}

// Grant is a break-the-glass grant.
type Grant struct {
	ID         string
	UserID     string
	PatientID  string
	ReasonCode string
	Reason     string
	Created    time.Time
	Expires    time.Time
	Reviewed   bool
}

// Recorder makes audit events durable.
type Recorder interface {
	Record(ctx context.Context, ev *audit.Event) error
}

// Service decides and enforces access to patient data.
type Service struct {
	db      *db.DB
	records *records.Store
	audit   Recorder
	sealer  *seal.Sealer
	rules   Rules
	ttl     time.Duration
	clock   func() time.Time
	log     *slog.Logger
}

// NewService returns the policy decision point.
func NewService(d *db.DB, rs *records.Store, rec Recorder, sealer *seal.Sealer, rules Rules, breakGlassTTL time.Duration, clock func() time.Time, log *slog.Logger) *Service {
	return &Service{db: d, records: rs, audit: rec, sealer: sealer, rules: rules, ttl: breakGlassTTL, clock: clock, log: log}
}

// Rules returns the rules in force.
func (s *Service) Rules() Rules { return s.rules }

// Decide applies the policy to an action on one patient's resource type.
func (s *Service) Decide(ctx context.Context, sub Subject, patientID, resourceType string, write bool, purpose string) (Decision, error) {
	u := sub.User
	rr, ok := s.rules.Roles[u.Role]
	if !ok || u.Disabled {
		return Decision{Reason: "your account has no role that allows access to patient records"}, nil
	}
	verb := "read"
	allowed := rr.mayRead(resourceType)
	if write {
		verb = "change"
		allowed = rr.mayWrite(resourceType)
	}
	if !allowed {
		return Decision{Reason: fmt.Sprintf("your role (%s) does not allow you to %s %s records", identity.RoleLabel(u.Role), verb, resourceType)}, nil
	}
	if purpose == "" {
		purpose = rr.Purposes[0]
	}
	if !slices.Contains(rr.Purposes, purpose) {
		return Decision{Reason: fmt.Sprintf("purpose %s is not allowed for your role (allowed: %s)", purpose, strings.Join(rr.Purposes, ", "))}, nil
	}
	d := Decision{Purpose: purpose}
	switch rr.Relationship {
	case "none":
		d.Allowed, d.Basis = true, BasisRole
		return d, nil
	case "self":
		if u.PatientID != "" && u.PatientID == patientID {
			d.Allowed, d.Basis = true, BasisSelf
			return d, nil
		}
		d.Reason = "you can only see your own record"
		return d, nil
	}
	// Care relationship required.
	if u.PractitionerID != "" {
		links, err := s.records.CareLinks(ctx, patientID, u.PractitionerID)
		if err != nil {
			return Decision{}, err
		}
		now := s.clock()
		lookback := now.AddDate(0, 0, -s.rules.EncounterLookbackDays)
		for _, l := range links {
			switch l.Kind {
			case records.LinkCareTeam:
				if (l.Start.IsZero() || !l.Start.After(now)) && (l.End.IsZero() || l.End.After(now)) {
					d.Allowed, d.Basis = true, BasisCareTeam
				}
			case records.LinkEncounter:
				if d.Basis == "" && (l.End.IsZero() || l.End.After(lookback)) {
					d.Allowed, d.Basis = true, BasisEncounter
				}
			}
			if d.Basis == BasisCareTeam {
				break
			}
		}
		if d.Allowed {
			if purpose == "ETREAT" {
				d.Purpose = "TREAT"
			}
			return d, nil
		}
		depts, err := s.records.OpenEncounterDepartments(ctx, patientID)
		if err != nil {
			return Decision{}, err
		}
		mine, err := s.records.Departments(ctx, u.PractitionerID)
		if err != nil {
			return Decision{}, err
		}
		for _, dep := range depts {
			if slices.Contains(mine, dep) {
				d.Allowed, d.Basis = true, BasisDepartment
				if purpose == "ETREAT" {
					d.Purpose = "TREAT"
				}
				return d, nil
			}
		}
	}
	g, err := s.ActiveGrant(ctx, u.ID, patientID)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return Decision{}, err
	}
	if g != nil {
		d.Allowed, d.Basis, d.Grant, d.Purpose = true, BasisBreakGlass, g, "ETREAT"
		return d, nil
	}
	d.BreakGlassAvailable = rr.BreakGlass
	d.Reason = "you are not on this patient's care team, an encounter, or the department of an open encounter"
	return d, nil
}

// event builds the audit event of a decision.
func (s *Service) event(sub Subject, patientID, typ, id, action, subtype string, d Decision) *audit.Event {
	u := sub.User
	ev := &audit.Event{
		Actor:          audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		PatientID:      patientID,
		ResourceType:   typ,
		ResourceID:     id,
		Action:         action,
		Subtype:        subtype,
		Purpose:        d.Purpose,
		Basis:          d.Basis,
		Source:         sub.Source,
		NetworkAddress: sub.Address,
		UserAgent:      sub.UserAgent,
		Outcome:        audit.OutcomeSuccess,
	}
	if ev.Source == "" {
		ev.Source = "trustward"
	}
	if !d.Allowed {
		ev.Outcome, ev.OutcomeDesc = audit.OutcomeDenied, d.Reason
	}
	if d.Grant != nil {
		ev.BreakGlass = &audit.BreakGlass{GrantID: d.Grant.ID, ReasonCode: d.Grant.ReasonCode, Reason: d.Grant.Reason}
	}
	return ev
}

// deny records a denied attempt and returns the Forbidden error.
func (s *Service) deny(ctx context.Context, ev *audit.Event, d Decision) error {
	if err := s.audit.Record(ctx, ev); err != nil {
		return err
	}
	return &fault.Error{Kind: fault.Forbidden, Msg: d.Reason, Err: &DeniedError{Decision: d}}
}

// DeniedError carries the decision of a denial (whether break-the-glass is
// available) to the caller.
type DeniedError struct{ Decision Decision }

func (e *DeniedError) Error() string { return "access denied: " + e.Decision.Reason }

// Chart is a patient's record as one view.
type Chart struct {
	Patient   records.Resource
	Resources []records.Resource
	Decision  Decision
	EventID   string
}

// chartTypes are the resource types a chart view shows.
var chartTypes = []string{"Encounter", "CareTeam", "Condition", "AllergyIntolerance", "MedicationRequest", "Observation"}

// OpenChart is the audited access of a chart view: decide, read and decrypt,
// record the access durably, and only then return the data.
func (s *Service) OpenChart(ctx context.Context, sub Subject, patientID, purpose string) (Chart, error) {
	d, err := s.Decide(ctx, sub, patientID, "Patient", false, purpose)
	if err != nil {
		return Chart{}, err
	}
	ev := s.event(sub, patientID, "Patient", patientID, audit.ActionRead, "chart", d)
	if !d.Allowed {
		// A patient who does not exist is not found, not forbidden. On the
		// allowed path the read below answers that without a query more.
		if _, err := s.records.PatientOf(ctx, "Patient", patientID); err != nil {
			return Chart{}, err
		}
		return Chart{}, s.deny(ctx, ev, d)
	}
	rr := s.rules.Roles[sub.User.Role]
	var types []string
	for _, t := range chartTypes {
		if rr.mayRead(t) {
			types = append(types, t)
		}
	}
	p, err := s.records.Read(ctx, "Patient", patientID)
	if err != nil {
		return Chart{}, err
	}
	var res []records.Resource
	if len(types) > 0 {
		if res, err = s.records.ByPatient(ctx, patientID, types...); err != nil {
			return Chart{}, err
		}
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		// Fail closed: no durable record of the access, no data.
		return Chart{}, err
	}
	return Chart{Patient: p, Resources: res, Decision: d, EventID: ev.ID}, nil
}

// Read is the audited read of one resource.
func (s *Service) Read(ctx context.Context, sub Subject, typ, id, purpose string) (records.Resource, Decision, error) {
	pid, err := s.records.PatientOf(ctx, typ, id)
	if err != nil {
		return records.Resource{}, Decision{}, err
	}
	var d Decision
	if pid == "" {
		// Directory resources (Practitioner, Organization ...) hold no
		// patient data; any signed-in staff member may read them.
		if sub.User.Role == identity.RolePatient {
			d = Decision{Reason: "patients can read only their own record"}
		} else {
			d = Decision{Allowed: true, Basis: BasisRole, Purpose: "HOPERAT"}
		}
	} else if d, err = s.Decide(ctx, sub, pid, typ, false, purpose); err != nil {
		return records.Resource{}, Decision{}, err
	}
	ev := s.event(sub, pid, typ, id, audit.ActionRead, "read", d)
	if !d.Allowed {
		return records.Resource{}, d, s.deny(ctx, ev, d)
	}
	r, err := s.records.Read(ctx, typ, id)
	if err != nil {
		return records.Resource{}, d, err
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		return records.Resource{}, d, err
	}
	return r, d, nil
}

// ByPatient is the audited FHIR search of one patient's resources of a type.
func (s *Service) ByPatient(ctx context.Context, sub Subject, patientID, typ, purpose string) ([]records.Resource, error) {
	if _, err := s.records.PatientOf(ctx, "Patient", patientID); err != nil {
		return nil, err
	}
	d, err := s.Decide(ctx, sub, patientID, typ, false, purpose)
	if err != nil {
		return nil, err
	}
	ev := s.event(sub, patientID, typ, "", audit.ActionExecute, "search-type", d)
	if !d.Allowed {
		return nil, s.deny(ctx, ev, d)
	}
	res, err := s.records.ByPatient(ctx, patientID, typ)
	if err != nil {
		return nil, err
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		return nil, err
	}
	return res, nil
}

// Write is the audited create or update of a resource. For an update the
// policy is decided on the stored resource's patient and on the new one's.
func (s *Service) Write(ctx context.Context, sub Subject, typ, id string, raw []byte, purpose string) (records.Resource, error) {
	p, err := records.Validate(raw)
	if err != nil {
		return records.Resource{}, err
	}
	if typ == "" {
		typ = p.Type
	}
	if p.Type != typ {
		return records.Resource{}, fault.InvalidField("resourceType", "is %s but the request is for %s", p.Type, typ)
	}
	if p.ID == "" && id != "" {
		p.ID = id
	}
	pid, err := records.CompartmentOf(p)
	if err != nil {
		return records.Resource{}, err
	}
	action := audit.ActionCreate
	if id != "" {
		if old, err := s.records.PatientOf(ctx, typ, id); err == nil {
			action = audit.ActionUpdate
			if old != pid && old != "" {
				return records.Resource{}, fault.New(fault.Conflict, "%s/%s belongs to another patient; a resource cannot move between patients", typ, id)
			}
		} else if !fault.Is(err, fault.NotFound) {
			return records.Resource{}, err
		}
	}
	var d Decision
	if p.Type == "Patient" && action == audit.ActionCreate {
		// Registration: the front desk (and administrators) create patients.
		if rr, ok := s.rules.Roles[sub.User.Role]; ok && rr.mayWrite("Patient") {
			d = Decision{Allowed: true, Basis: BasisRole, Purpose: rr.Purposes[0]}
		} else {
			d = Decision{Reason: "your role does not allow registering patients"}
		}
	} else if pid == "" {
		if sub.User.Role == identity.RoleAdmin {
			d = Decision{Allowed: true, Basis: BasisRole, Purpose: "HOPERAT"}
		} else {
			d = Decision{Reason: "only administrators may change directory resources"}
		}
	} else if d, err = s.Decide(ctx, sub, pid, typ, true, purpose); err != nil {
		return records.Resource{}, err
	}
	ev := s.event(sub, pid, typ, id, action, map[string]string{audit.ActionCreate: "create", audit.ActionUpdate: "update"}[action], d)
	if !d.Allowed {
		return records.Resource{}, s.deny(ctx, ev, d)
	}
	// The event is durable before the write: an unrecorded change must not
	// happen. If the write then fails, a second event records the failure.
	if id == "" {
		id = p.ID
	}
	if id == "" {
		id = newResourceID()
	}
	ev.ResourceID = id
	if typ == "Patient" {
		ev.PatientID = id
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		return records.Resource{}, err
	}
	var r records.Resource
	if action == audit.ActionCreate && p.ID != "" {
		r, err = s.records.Create(ctx, raw)
	} else {
		r, err = s.records.Put(ctx, typ, id, raw)
	}
	if err != nil {
		fail := *ev
		fail.ID, fail.Time = "", time.Time{}
		fail.Outcome, fail.OutcomeDesc = audit.OutcomeFailure, "the change was not stored: "+fault.Message(err)
		if aerr := s.audit.Record(ctx, &fail); aerr != nil {
			s.log.Error("recording a failed write failed", "err", aerr)
		}
		return records.Resource{}, err
	}
	return r, nil
}

func newResourceID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// PatientSummary is what a search result shows.
type PatientSummary struct {
	ID        string
	Name      string
	BirthDate string
	Gender    string
	MRN       string
}

// SearchPatients finds patients by name, birth date or MRN. The search is
// itself audited (without the query text, which may be PHI).
func (s *Service) SearchPatients(ctx context.Context, sub Subject, q string) ([]PatientSummary, error) {
	rr, ok := s.rules.Roles[sub.User.Role]
	if !ok || !rr.mayRead("Patient") || rr.Relationship == "self" {
		return nil, fault.New(fault.Forbidden, "your role does not allow searching for patients")
	}
	ids, err := s.records.FindPatients(ctx, q, 50)
	if err != nil {
		return nil, err
	}
	out := make([]PatientSummary, 0, len(ids))
	for _, id := range ids {
		r, err := s.records.Read(ctx, "Patient", id)
		if err != nil {
			return nil, err
		}
		out = append(out, Summarise(r.JSON))
	}
	ev := &audit.Event{
		Actor:  audit.Actor{UserID: sub.User.ID, Name: sub.User.DisplayName, Role: sub.User.Role, PractitionerID: sub.User.PractitionerID, Organization: sub.User.DepartmentID},
		Action: audit.ActionExecute, Subtype: "patient-search", Outcome: audit.OutcomeSuccess,
		OutcomeDesc: fmt.Sprintf("%d results", len(out)), Purpose: rr.Purposes[0],
		Source: sub.Source, NetworkAddress: sub.Address, UserAgent: sub.UserAgent,
	}
	if ev.Source == "" {
		ev.Source = "trustward"
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		return nil, err
	}
	return out, nil
}

// BreakGlass grants the user emergency access to one patient for the
// configured time, after a reason code and the user's own words. The grant
// is audited and enters the privacy office's review queue.
func (s *Service) BreakGlass(ctx context.Context, sub Subject, patientID, reasonCode, text string) (Grant, error) {
	rr, ok := s.rules.Roles[sub.User.Role]
	if !ok || !rr.BreakGlass {
		return Grant{}, fault.New(fault.Forbidden, "your role cannot break the glass")
	}
	if _, ok := s.rules.ReasonLabel(reasonCode); !ok {
		return Grant{}, fault.InvalidField("reason", "choose one of the listed reasons")
	}
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n < 10 || n > 1000 || !utf8.ValidString(text) {
		return Grant{}, fault.InvalidField("explanation", "explain in 10 to 1000 characters why you need this record now")
	}
	if _, err := s.records.PatientOf(ctx, "Patient", patientID); err != nil {
		return Grant{}, err
	}
	now := s.clock().UTC().Truncate(time.Microsecond)
	b := make([]byte, 10)
	rand.Read(b)
	g := Grant{ID: "bg-" + hex.EncodeToString(b), UserID: sub.User.ID, PatientID: patientID, ReasonCode: reasonCode, Reason: text, Created: now, Expires: now.Add(s.ttl)}
	sealed, err := s.sealer.Seal(ctx, seal.PatientSubject(patientID), "BreakGlass/"+g.ID, []byte(text))
	if err != nil {
		return Grant{}, err
	}
	ev := s.event(sub, patientID, "Patient", patientID, audit.ActionExecute, "break-glass", Decision{Allowed: true, Basis: BasisBreakGlass, Purpose: "ETREAT", Grant: &g})
	// The grant's event is durable before the grant exists.
	if err := s.audit.Record(ctx, ev); err != nil {
		return Grant{}, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO break_glass (id, user_id, patient_id, reason_code, reason_text, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		g.ID, g.UserID, g.PatientID, g.ReasonCode, sealed, now.UnixMicro(), g.Expires.UnixMicro()); err != nil {
		return Grant{}, err
	}
	return g, nil
}

// ActiveGrant returns the user's unexpired grant for the patient.
func (s *Service) ActiveGrant(ctx context.Context, userID, patientID string) (*Grant, error) {
	row := s.db.QueryRow(ctx, `SELECT id, reason_code, reason_text, created_at, expires_at, reviewed_at FROM break_glass WHERE user_id = $1 AND patient_id = $2 AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1`,
		userID, patientID, s.clock().UnixMicro())
	g := Grant{UserID: userID, PatientID: patientID}
	var sealed []byte
	var created, expires int64
	var reviewed sql.NullInt64
	if err := db.ScanRow(row, "break-the-glass grant", &g.ID, &g.ReasonCode, &sealed, &created, &expires, &reviewed); err != nil {
		return nil, err
	}
	text, err := s.sealer.Open(ctx, seal.PatientSubject(patientID), "BreakGlass/"+g.ID, sealed)
	if err != nil {
		return nil, err
	}
	g.Reason, g.Created, g.Expires, g.Reviewed = string(text), time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC(), reviewed.Valid
	return &g, nil
}

// PendingReviews lists break-the-glass grants the privacy office has not
// reviewed, oldest first.
func (s *Service) PendingReviews(ctx context.Context, limit int) ([]Grant, error) {
	rows, err := s.db.Query(ctx, fmt.Sprintf(`SELECT id, user_id, patient_id, reason_code, reason_text, created_at, expires_at FROM break_glass WHERE reviewed_at IS NULL ORDER BY created_at LIMIT %d`, max(1, min(limit, 1000))))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		var sealed []byte
		var c, e int64
		if err := rows.Scan(&g.ID, &g.UserID, &g.PatientID, &g.ReasonCode, &sealed, &c, &e); err != nil {
			return nil, db.Translate(err)
		}
		g.Created, g.Expires = time.UnixMicro(c).UTC(), time.UnixMicro(e).UTC()
		if text, err := s.sealer.Open(ctx, seal.PatientSubject(g.PatientID), "BreakGlass/"+g.ID, sealed); err == nil {
			g.Reason = string(text)
		} else {
			g.Reason = "(erased)"
		}
		out = append(out, g)
	}
	return out, db.Translate(rows.Err())
}

// TTL is the lifetime of a break-the-glass grant.
func (s *Service) TTL() time.Duration { return s.ttl }

// Recorder returns the audit recorder decisions are written to.
func (s *Service) Recorder() Recorder { return s.audit }

// MyPatients lists the patients the user has a care relationship with by
// the same rules as Decide (ids only; opening one is the audited step).
func (s *Service) MyPatients(ctx context.Context, sub Subject, limit int) ([]string, error) {
	if sub.User.PractitionerID == "" {
		return []string{}, nil
	}
	now := s.clock()
	ids, err := s.records.PatientsOf(ctx, sub.User.PractitionerID, now, now.AddDate(0, 0, -s.rules.EncounterLookbackDays), limit)
	if ids == nil && err == nil {
		ids = []string{}
	}
	return ids, err
}

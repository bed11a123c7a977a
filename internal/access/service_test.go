package access_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/records"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const fixture = `{"resourceType":"Organization","id":"org-med","name":"General Medicine"}
{"resourceType":"Organization","id":"org-card","name":"Cardiology"}
{"resourceType":"Practitioner","id":"pr-1","name":[{"family":"Okafor","given":["Ben"]}]}
{"resourceType":"Practitioner","id":"pr-2","name":[{"family":"Lindqvist","given":["Sara"]}]}
{"resourceType":"Practitioner","id":"pr-3","name":[{"family":"Moreau","given":["Luc"]}]}
{"resourceType":"PractitionerRole","id":"prr-1","practitioner":{"reference":"Practitioner/pr-1"},"organization":{"reference":"Organization/org-med"},"code":[{"text":"clinician"}]}
{"resourceType":"PractitionerRole","id":"prr-2","practitioner":{"reference":"Practitioner/pr-2"},"organization":{"reference":"Organization/org-card"},"code":[{"text":"clinician"}]}
{"resourceType":"PractitionerRole","id":"prr-3","practitioner":{"reference":"Practitioner/pr-3"},"organization":{"reference":"Organization/org-med"},"code":[{"text":"clinician"}]}
{"resourceType":"Patient","id":"pat-1","name":[{"family":"Quillfeather","given":["Marisol"]}],"birthDate":"1961-04-09"}
{"resourceType":"Patient","id":"pat-2","name":[{"family":"Quill","given":["Tom"]}],"birthDate":"1990-01-01"}
{"resourceType":"CareTeam","id":"ct-1","status":"active","subject":{"reference":"Patient/pat-1"},"participant":[{"member":{"reference":"Practitioner/pr-1"}}]}
{"resourceType":"Encounter","id":"enc-2","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/pat-2"},"serviceProvider":{"reference":"Organization/org-card"},"period":{"start":"2026-11-20T08:00:00Z"}}
{"resourceType":"Encounter","id":"enc-old","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/pat-2"},"participant":[{"individual":{"reference":"Practitioner/pr-1"}}],"serviceProvider":{"reference":"Organization/org-med"},"period":{"start":"2019-03-01T08:00:00Z","end":"2019-03-01T09:00:00Z"}}
{"resourceType":"Condition","id":"cond-1","subject":{"reference":"Patient/pat-1"},"code":{"text":"Hypertension"}}
{"resourceType":"Observation","id":"obs-1","status":"final","code":{"text":"Heart rate"},"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":72,"unit":"/min"}}
`

type env struct {
	svc   *access.Service
	audit *audit.Store
	db    *db.DB
	now   *time.Time
}

func setup(t *testing.T, d *db.DB) env {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	sl := seal.NewSealer(d, kek, clock)
	rs, err := records.NewStore(ctx, d, sl, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Import(ctx, strings.NewReader(fixture), nil); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.NewRecorder(d, sl, clock, log)
	t.Cleanup(rec.Close)
	rules, err := access.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	return env{svc: access.NewService(d, rs, rec, sl, rules, 24*time.Hour, clock, log), audit: audit.NewStore(d, sl), db: d, now: &now}
}

func staff(id, role, pract, dept string) access.Subject {
	return access.Subject{User: identity.User{ID: id, DisplayName: id, Role: role, PractitionerID: pract, DepartmentID: dept}, Address: "127.0.0.1", Source: "test"}
}

var (
	careTeamDoc = staff("u-1", identity.RoleClinician, "pr-1", "org-med")
	cardioDoc   = staff("u-2", identity.RoleClinician, "pr-2", "org-card")
	otherDoc    = staff("u-3", identity.RoleClinician, "pr-3", "org-med")
	frontDesk   = staff("u-4", identity.RoleFrontDesk, "", "")
	patientOne  = access.Subject{User: identity.User{ID: "u-5", DisplayName: "pat", Role: identity.RolePatient, PatientID: "pat-1"}, Source: "test"}
)

func TestPolicyDecisions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		cases := []struct {
			name    string
			sub     access.Subject
			patient string
			typ     string
			write   bool
			allowed bool
			basis   string
			bg      bool
		}{
			{"care team member reads", careTeamDoc, "pat-1", "Condition", false, true, access.BasisCareTeam, false},
			{"same department as an open encounter", cardioDoc, "pat-2", "Patient", false, true, access.BasisDepartment, false},
			{"no relationship", otherDoc, "pat-1", "Patient", false, false, "", true},
			{"no relationship to a patient in another department", careTeamDoc, "pat-2", "Patient", false, false, "", true},
			{"front desk reads demographics", frontDesk, "pat-1", "Patient", false, true, access.BasisRole, false},
			{"front desk cannot read conditions", frontDesk, "pat-1", "Condition", false, false, "", false},
			{"patient reads own record", patientOne, "pat-1", "Observation", false, true, access.BasisSelf, false},
			{"patient cannot read another", patientOne, "pat-2", "Patient", false, false, "", false},
			{"clinician writes a condition", careTeamDoc, "pat-1", "Condition", true, true, access.BasisCareTeam, false},
			{"clinician cannot write a patient", careTeamDoc, "pat-1", "Patient", true, false, "", false},
		}
		for _, c := range cases {
			dec, err := e.svc.Decide(ctx, c.sub, c.patient, c.typ, c.write, "")
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if dec.Allowed != c.allowed || dec.Basis != c.basis || dec.BreakGlassAvailable != c.bg {
				t.Errorf("%s: got %+v", c.name, dec)
			}
			if !dec.Allowed && dec.Reason == "" {
				t.Errorf("%s: a denial without a reason", c.name)
			}
		}
		if dec, _ := e.svc.Decide(ctx, frontDesk, "pat-1", "Patient", false, "TREAT"); dec.Allowed {
			t.Error("front desk allowed purpose TREAT")
		}
	})
}

func TestOpenChartIsAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		ch, err := e.svc.OpenChart(ctx, careTeamDoc, "pat-1", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Resources) != 3 || !strings.Contains(string(ch.Patient.JSON), "Quillfeather") {
			t.Fatalf("chart has %d resources", len(ch.Resources))
		}
		evs, err := e.audit.Events(ctx, audit.Query{PatientID: "pat-1"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("events: %d %v", len(evs), err)
		}
		ev := evs[0].Event
		if ev.ID != ch.EventID || ev.Actor.UserID != "u-1" || ev.Subtype != "chart" || ev.Outcome != audit.OutcomeSuccess || ev.Basis != access.BasisCareTeam || ev.Purpose != "TREAT" || ev.NetworkAddress != "127.0.0.1" {
			t.Fatalf("event: %+v", ev)
		}
		// A denied attempt is recorded too, with the reason.
		_, err = e.svc.OpenChart(ctx, otherDoc, "pat-1", "")
		var de *access.DeniedError
		if !fault.Is(err, fault.Forbidden) || !errors.As(err, &de) || !de.Decision.BreakGlassAvailable {
			t.Fatalf("denied chart: %v", err)
		}
		evs, _ = e.audit.Events(ctx, audit.Query{ActorID: "u-3"})
		if len(evs) != 1 || evs[0].Event.Outcome != audit.OutcomeDenied || evs[0].Event.OutcomeDesc == "" {
			t.Fatalf("denied attempt not recorded: %+v", evs)
		}
		// Front desk sees demographics only.
		ch, err = e.svc.OpenChart(ctx, frontDesk, "pat-1", "")
		if err != nil || len(ch.Resources) != 0 {
			t.Fatalf("front desk chart: %d resources, %v", len(ch.Resources), err)
		}
		if _, err := e.svc.OpenChart(ctx, careTeamDoc, "ghost", ""); !fault.Is(err, fault.NotFound) {
			t.Fatalf("missing patient: %v", err)
		}
	})
}

func TestChartRefusedWhenAuditFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		if _, err := d.Exec(ctx, `ALTER TABLE audit_events RENAME TO audit_broken`); err != nil {
			t.Fatal(err)
		}
		ch, err := e.svc.OpenChart(ctx, careTeamDoc, "pat-1", "")
		if !fault.Is(err, fault.Unavailable) {
			t.Fatalf("OpenChart with a broken audit store = %v, want Unavailable", err)
		}
		if ch.Patient.JSON != nil || ch.Resources != nil {
			t.Fatal("chart data returned although its access was not recorded")
		}
		if _, _, err := e.svc.Read(ctx, careTeamDoc, "Condition", "cond-1", ""); !fault.Is(err, fault.Unavailable) {
			t.Fatalf("Read with a broken audit store = %v", err)
		}
	})
}

func TestBreakTheGlass(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		if _, err := e.svc.BreakGlass(ctx, otherDoc, "pat-1", "emergency", "short"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("too short an explanation: %v", err)
		}
		if _, err := e.svc.BreakGlass(ctx, otherDoc, "pat-1", "bogus", "Patient collapsed in the corridor"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("unknown reason: %v", err)
		}
		if _, err := e.svc.BreakGlass(ctx, frontDesk, "pat-1", "emergency", "Patient collapsed in the corridor"); !fault.Is(err, fault.Forbidden) {
			t.Fatalf("front desk broke the glass: %v", err)
		}
		g, err := e.svc.BreakGlass(ctx, otherDoc, "pat-1", "emergency", "Patient collapsed in the corridor")
		if err != nil {
			t.Fatal(err)
		}
		if !g.Expires.Equal(e.now.Add(24 * time.Hour)) {
			t.Fatalf("grant expires %v", g.Expires)
		}
		ch, err := e.svc.OpenChart(ctx, otherDoc, "pat-1", "")
		if err != nil || ch.Decision.Basis != access.BasisBreakGlass || ch.Decision.Purpose != "ETREAT" || ch.Decision.Grant == nil {
			t.Fatalf("chart after break-glass: %+v %v", ch.Decision, err)
		}
		// The grant is scoped to that patient.
		if dec, _ := e.svc.Decide(ctx, otherDoc, "pat-2", "Patient", false, ""); dec.Allowed {
			t.Fatal("a grant for pat-1 opened pat-2")
		}
		evs, _ := e.audit.Events(ctx, audit.Query{ActorID: "u-3"})
		var sawGrant, sawRead bool
		for _, s := range evs {
			if s.Event.BreakGlass != nil && s.Event.BreakGlass.Reason == "Patient collapsed in the corridor" {
				sawGrant = sawGrant || s.Event.Subtype == "break-glass"
				sawRead = sawRead || s.Event.Subtype == "chart"
			}
		}
		if !sawGrant || !sawRead {
			t.Fatalf("break-glass events missing: grant %v read %v", sawGrant, sawRead)
		}
		pending, err := e.svc.PendingReviews(ctx, 10)
		if err != nil || len(pending) != 1 || pending[0].Reason != "Patient collapsed in the corridor" {
			t.Fatalf("review queue: %+v %v", pending, err)
		}
		// After the grant expires the access is denied again.
		*e.now = e.now.Add(24*time.Hour + time.Second)
		if dec, _ := e.svc.Decide(ctx, otherDoc, "pat-1", "Patient", false, ""); dec.Allowed {
			t.Fatal("an expired grant still allows access")
		}
	})
}

func TestWriteIsAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		obs := `{"resourceType":"Observation","status":"final","code":{"text":"Body temperature"},"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":37.2,"unit":"Cel"}}`
		r, err := e.svc.Write(ctx, careTeamDoc, "Observation", "", []byte(obs), "")
		if err != nil || r.ID == "" {
			t.Fatalf("write: %+v %v", r, err)
		}
		if _, err := e.svc.Write(ctx, otherDoc, "Observation", "", []byte(obs), ""); !fault.Is(err, fault.Forbidden) {
			t.Fatalf("write without relationship: %v", err)
		}
		evs, _ := e.audit.Events(ctx, audit.Query{PatientID: "pat-1"})
		var created, denied int
		for _, s := range evs {
			if s.Event.Action == audit.ActionCreate && s.Event.Outcome == audit.OutcomeSuccess && s.Event.ResourceID == r.ID {
				created++
			}
			if s.Event.Action == audit.ActionCreate && s.Event.Outcome == audit.OutcomeDenied {
				denied++
			}
		}
		if created != 1 || denied != 1 {
			t.Fatalf("created %d denied %d events", created, denied)
		}
		// Front desk registers a patient.
		p, err := e.svc.Write(ctx, frontDesk, "Patient", "", []byte(`{"resourceType":"Patient","name":[{"family":"Newcomer"}]}`), "")
		if err != nil || p.PatientID == "" {
			t.Fatalf("registration: %+v %v", p, err)
		}
	})
}

func TestMyPatientsMatchesThePolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		for _, sub := range []access.Subject{careTeamDoc, cardioDoc, otherDoc} {
			ids, err := e.svc.MyPatients(ctx, sub, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if dec, _ := e.svc.Decide(ctx, sub, id, "Patient", false, ""); !dec.Allowed {
					t.Errorf("%s lists %s but may not open it", sub.User.ID, id)
				}
			}
		}
		ids, _ := e.svc.MyPatients(ctx, careTeamDoc, 100)
		if len(ids) != 1 || ids[0] != "pat-1" {
			t.Fatalf("care-team doctor's patients: %v", ids)
		}
	})
}

package detect

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/monitor/explain"
)

func testContext(t testing.TB) *explain.Context {
	t.Helper()
	c, err := explain.LoadContext("../explain/testdata/context.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var t0 = time.Date(2026, 5, 13, 10, 0, 0, 0, time.UTC)

type evOpt func(*audit.Event)

func ev(id, pract, role, dept, patient string, t time.Time, opts ...evOpt) audit.Event {
	e := audit.Event{V: 1, ID: id, Time: t, Actor: audit.Actor{UserID: "u-" + pract, PractitionerID: pract, Role: role, Organization: dept},
		PatientID: patient, Action: "R", Subtype: "chart", Outcome: "0", Source: "ehr", NetworkAddress: "10.1.0.5"}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func keys(a Alert) []string {
	var ks []string
	for _, r := range a.Reasons {
		ks = append(ks, r.Key)
	}
	return ks
}

func TestRelationshipFlags(t *testing.T) {
	c := testContext(t)
	for _, tc := range []struct {
		name     string
		e        audit.Event
		wantKey  string // "" means no alert
		wantText string
	}{
		{"household member, no care relationship", ev("1", "pr-doc", "clinician", "org-cardiology", "pat-spouse", t0), "household", "a member of the user's household (RelatedPerson)"},
		{"own record", ev("2", "pr-doc", "clinician", "org-cardiology", "pat-doc", t0), "self", "the user's own record"},
		{"neighbour", ev("3", "pr-doc", "clinician", "org-cardiology", "pat-neigh", t0), "neighbour", "lives 6 house numbers away on the same street"},
		{"VIP", ev("4", "pr-rad", "clinician", "org-radiology", "pat-vip", t0), "vip", "a VIP record (very restricted)"},
		{"coworker's record", ev("5", "pr-rad", "clinician", "org-radiology", "pat-doc", t0), "coworker", "a coworker (the patient is staff)"},
		{"coworker in the same department", ev("6", "pr-nurse", "nurse", "org-cardiology", "pat-doc", t0), "coworker", "a coworker in the same department"},
		{"care relationship explains the access", ev("7", "pr-doc", "clinician", "org-cardiology", "pat-a", t0), "", ""},
		{"terminated account", ev("8", "pr-gone", "nurse", "org-cardiology", "pat-a", t0), "terminated", "account used after the employment ended on 2026-05-10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(c, DefaultConfig())
			ex, alerts := d.ProcessEvent(&tc.e)
			if tc.wantKey == "" {
				if len(alerts) != 0 || !ex.Explained() {
					t.Fatalf("explained %q but alerts %+v", ex.Kind, alerts)
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("no alert (explanation %q)", ex.Kind)
			}
			a := alerts[0]
			i := slices.IndexFunc(a.Reasons, func(r Reason) bool { return r.Key == tc.wantKey })
			if i < 0 || a.Reasons[i].Text != tc.wantText {
				t.Fatalf("reasons %v, want %s %q", a.Reasons, tc.wantKey, tc.wantText)
			}
			if a.Score < DefaultConfig().AlertAt || a.CaseID == "" || a.EventID != tc.e.ID {
				t.Errorf("alert %+v", a)
			}
		})
	}
}

func TestFlagsExplainedAway(t *testing.T) {
	c := testContext(t)
	d := New(c, DefaultConfig())
	// The doctor attends their spouse: recorded, so the household flag
	// is explained away. The spouse has no encounter in the test context,
	// so add one.
	if err := c.Add([]byte(`{"resourceType":"Encounter","id":"enc-s","subject":{"reference":"Patient/pat-spouse"},"participant":[{"individual":{"reference":"Practitioner/pr-doc"}}],"period":{"start":"2026-05-13T09:00:00Z"},"serviceProvider":{"reference":"Organization/org-cardiology"}}`)); err != nil {
		t.Fatal(err)
	}
	e := ev("1", "pr-doc", "clinician", "org-cardiology", "pat-spouse", t0)
	if _, alerts := d.ProcessEvent(&e); len(alerts) != 0 || d.ExplainedAway != 1 {
		t.Fatalf("alerts %+v, explained away %d", alerts, d.ExplainedAway)
	}
	// A nurse of the department, not on record, sees the same patient:
	// the department explains the work but not the personal tie of the
	// doctor; for the nurse there is no tie, so nothing.
	e = ev("2", "pr-nurse", "nurse", "org-cardiology", "pat-spouse", t0.Add(time.Hour))
	if _, alerts := d.ProcessEvent(&e); len(alerts) != 0 {
		t.Fatalf("alerts %+v", alerts)
	}
	// Self is never explained away, not even by being on the encounter.
	if err := c.Add([]byte(`{"resourceType":"Encounter","id":"enc-self","subject":{"reference":"Patient/pat-doc"},"participant":[{"individual":{"reference":"Practitioner/pr-doc"}}],"period":{"start":"2026-05-13T09:00:00Z"},"serviceProvider":{"reference":"Organization/org-cardiology"}}`)); err != nil {
		t.Fatal(err)
	}
	e = ev("3", "pr-doc", "clinician", "org-cardiology", "pat-doc", t0.Add(2*time.Hour))
	if _, alerts := d.ProcessEvent(&e); len(alerts) != 1 || !slices.Contains(keys(alerts[0]), "self") {
		t.Fatalf("self access explained away: %+v", alerts)
	}
}

func TestCasesGroupAlertsByUser(t *testing.T) {
	d := New(testContext(t), DefaultConfig())
	for i, p := range []string{"pat-spouse", "pat-neigh", "pat-spouse"} {
		e := ev(fmt.Sprint("e", i), "pr-doc", "clinician", "org-cardiology", p, t0.Add(time.Duration(i)*time.Minute))
		d.ProcessEvent(&e)
	}
	e := ev("other", "pr-rad", "clinician", "org-radiology", "pat-vip", t0)
	d.ProcessEvent(&e)
	cases := d.AllCases()
	if len(cases) != 2 {
		t.Fatalf("%d cases, want 2", len(cases))
	}
	c := cases[0]
	if c.User != "u-pr-doc" || len(c.Events) != 3 || !slices.Equal(c.Patients, []string{"pat-spouse", "pat-neigh"}) || c.Alerts != 3 {
		t.Fatalf("case %+v", c)
	}
	if c.Score <= cases[1].Score {
		t.Errorf("cases not ordered by score: %v then %v", c.Score, cases[1].Score)
	}
	if got := joinReasons(c.Reasons); got == "" {
		t.Error("case without reasons")
	}
	for _, r := range c.Reasons {
		if r.Key == "household" || r.Key == "neighbour" || r.Key == "no-care" {
			continue
		}
		if r.Key != "not-in-care" && r.Key != "repeats" {
			t.Errorf("unexpected reason %v", r)
		}
	}
}

func TestBreakGlassReview(t *testing.T) {
	d := New(testContext(t), DefaultConfig())
	e := ev("bg", "pr-rad", "clinician", "org-radiology", "pat-b", t0, func(e *audit.Event) {
		e.Action, e.Subtype = "E", "break-glass"
		e.BreakGlass = &audit.BreakGlass{ReasonCode: "ETREAT", Reason: "unconscious"}
	})
	d.ProcessEvent(&e)
	q := d.ReviewQueue()
	if len(q) != 1 || q[0].EventID != "bg" || !q[0].Deadline.Equal(t0.Add(72*time.Hour)) || q[0].ReasonCode != "ETREAT" {
		t.Fatalf("review queue %+v", q)
	}
}

// history gives a user a normal week: 30 explained reads a day in day
// shift from their workstation.
func history(d *Detector, pract, role, dept, patient string, days int) time.Time {
	start := t0.Add(-time.Duration(days) * 24 * time.Hour)
	n := 0
	for day := range days {
		for i := range 30 {
			n++
			e := ev(fmt.Sprint("h", pract, n), pract, role, dept, patient, start.Add(time.Duration(day)*24*time.Hour+time.Duration(i)*15*time.Minute))
			d.ProcessEvent(&e)
		}
	}
	return start.Add(time.Duration(days) * 24 * time.Hour)
}

func TestCredentialSignals(t *testing.T) {
	c := testContext(t)
	d := New(c, DefaultConfig())
	now := history(d, "pr-doc", "clinician", "org-cardiology", "pat-a", 5)
	// A stolen password: sign-in from the internet at 02:00.
	night := now.Add(16 * time.Hour) // 02:00 the next day
	login := ev("login", "pr-doc", "clinician", "org-cardiology", "", night, func(e *audit.Event) {
		e.Action, e.Subtype, e.NetworkAddress = "E", "login", "203.0.113.7"
	})
	_, alerts := d.ProcessEvent(&login)
	if len(alerts) != 1 || !slices.Contains(keys(alerts[0]), "outside") || !slices.Contains(keys(alerts[0]), "off-shift") {
		t.Fatalf("login alerts %+v", alerts)
	}
	// Then 25 strangers in 25 minutes: bulk.
	var last Alert
	for i := range 25 {
		e := ev(fmt.Sprint("b", i), "pr-doc", "clinician", "org-cardiology", fmt.Sprint("stranger-", i), night.Add(time.Duration(i+1)*time.Minute), func(e *audit.Event) { e.NetworkAddress = "203.0.113.7" })
		if _, al := d.ProcessEvent(&e); len(al) == 1 {
			last = al[0]
		}
	}
	if !slices.Contains(keys(last), "bulk") {
		t.Fatalf("no bulk flag: %+v", last)
	}
	exp := ev("x", "pr-doc", "clinician", "org-cardiology", "", night.Add(30*time.Minute), func(e *audit.Event) {
		e.Action, e.Subtype, e.NetworkAddress = "E", "export", "203.0.113.7"
	})
	if _, al := d.ProcessEvent(&exp); len(al) != 1 || !slices.Contains(keys(al[0]), "export") {
		t.Fatalf("export alerts %+v", al)
	}
	if cs := d.Cases(); len(cs) != 1 || cs[0].Events[0] != "login" || cs[0].Events[len(cs[0].Events)-1] != "x" || len(cs[0].Patients) < 20 {
		t.Fatalf("cases %+v", cs)
	}
}

func TestCuriosityAgainstPeers(t *testing.T) {
	d := New(testContext(t), DefaultConfig())
	now := history(d, "pr-doc", "clinician", "org-cardiology", "pat-a", 5)
	var last Alert
	for i := range 10 {
		e := ev(fmt.Sprint("c", i), "pr-doc", "clinician", "org-cardiology", fmt.Sprint("stranger-", i), now.Add(2*time.Hour+time.Duration(i)*10*time.Minute))
		if _, al := d.ProcessEvent(&e); len(al) == 1 {
			last = al[0]
		}
	}
	if !slices.Contains(keys(last), "curiosity") || !slices.Contains(keys(last), "dormant") {
		t.Fatalf("last alert %+v", last)
	}
}

func TestRescoreRaisesAlertsOnlyInRange(t *testing.T) {
	c := testContext(t)
	events := []audit.Event{
		ev("before", "pr-doc", "clinician", "org-cardiology", "pat-spouse", t0),
		ev("inside", "pr-doc", "clinician", "org-cardiology", "pat-neigh", t0.Add(48*time.Hour)),
		ev("after", "pr-rad", "clinician", "org-radiology", "pat-vip", t0.Add(96*time.Hour)),
	}
	d := Rescore(c, DefaultConfig(), func(yield func(*audit.Event) bool) {
		for i := range events {
			if !yield(&events[i]) {
				return
			}
		}
	}, t0.Add(24*time.Hour), t0.Add(72*time.Hour))
	cs := d.AllCases()
	if len(cs) != 1 || !slices.Equal(cs[0].Events, []string{"inside"}) {
		t.Fatalf("cases %+v", cs)
	}
	if d.Events != 2 {
		t.Errorf("scored %d events, want 2 (stop after to)", d.Events)
	}
}

// assignmentContext is the test context with explain's
// testdata/assignments.ndjson: pat-neigh (pr-doc's neighbour) and pat-doc
// (pr-doc, a Cardiology colleague) admitted to Cardiology on 2026-05-13
// with shift assignments that name pr-doc2, pr-nurse and pr-nurse2, and
// pat-vip's Cardiology stay finished on 2026-05-12. Without teams, the
// CareTeams are left out: the department publishes no lists.
func assignmentContext(t testing.TB, teams bool) *explain.Context {
	t.Helper()
	c := testContext(t)
	b, err := os.ReadFile("../explain/testdata/assignments.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !teams && strings.Contains(line, `"resourceType":"CareTeam"`) {
			continue
		}
		if err := c.Add([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	c.Finish()
	return c
}

func TestAssignmentListsWeakenTheDepartment(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name  string
		teams bool
		e     audit.Event
		kind  string
		keys  []string // the alert's reason keys; nil means no alert
		case_ bool     // the alert alone reaches the queue
		away  bool     // a flag was explained away
	}{
		{"a neighbour admitted to the user's department, the list names others", true,
			ev("1", "pr-doc", "clinician", "org-cardiology", "pat-neigh", t0), explain.KindUnassigned, []string{"neighbour", "weak"}, true, false},
		{"the same without lists: the department explains the work", false,
			ev("2", "pr-doc", "clinician", "org-cardiology", "pat-neigh", t0), explain.KindDepartment, []string{"neighbour", "weak"}, false, false},
		{"a colleague of the department admitted to it, the list names others", true,
			ev("3", "pr-nurse", "nurse", "org-cardiology", "pat-doc", t0), explain.KindUnassigned, []string{"coworker", "weak"}, true, false},
		{"the same without lists: the coworker flag is cleared", false,
			ev("4", "pr-nurse", "nurse", "org-cardiology", "pat-doc", t0), explain.KindDepartment, nil, false, true},
		{"the colleague's assigned nurse", true,
			ev("5", "pr-nurse2", "nurse", "org-cardiology", "pat-doc", t0), explain.KindAssignment, nil, false, true},
		{"covering a stranger, the list names others", true,
			ev("6", "pr-nurse2", "nurse", "org-cardiology", "pat-neigh", t0), explain.KindUnassigned, nil, false, false},
		{"a VIP after discharge, the list named others: VIP stays cleared by the department", true,
			ev("7", "pr-nurse", "nurse", "org-cardiology", "pat-vip", t0.Add(-3*time.Hour)), explain.KindUnassigned, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(assignmentContext(t, tc.teams), cfg)
			ex, alerts := d.ProcessEvent(&tc.e)
			if ex.Kind != tc.kind {
				t.Fatalf("explanation %q, want %q", ex.Kind, tc.kind)
			}
			if tc.keys == nil {
				if len(alerts) != 0 {
					t.Fatalf("alerts %+v", alerts)
				}
				if got := d.ExplainedAway > 0; got != tc.away {
					t.Errorf("explained away: %v, want %v", got, tc.away)
				}
				return
			}
			if len(alerts) != 1 || !slices.Equal(keys(alerts[0]), tc.keys) {
				t.Fatalf("alerts %+v, want keys %v", alerts, tc.keys)
			}
			if got := len(d.Cases()) == 1; got != tc.case_ {
				t.Errorf("score %.2f reaches the queue: %v, want %v", alerts[0].Score, got, tc.case_)
			}
		})
	}
}

func TestUnassignedWeight(t *testing.T) {
	// The weight of an access the list does not name is the tie plus
	// Config.Unassigned, nothing for the behaviour of explained accesses.
	cfg := DefaultConfig()
	d := New(assignmentContext(t, true), cfg)
	e := ev("1", "pr-doc", "clinician", "org-cardiology", "pat-neigh", t0)
	_, alerts := d.ProcessEvent(&e)
	if len(alerts) != 1 || alerts[0].Score != cfg.Neighbour+cfg.Unassigned {
		t.Fatalf("alerts %+v, want score %.2f", alerts, cfg.Neighbour+cfg.Unassigned)
	}
	cfg.Unassigned = 0
	d = New(assignmentContext(t, true), cfg)
	if _, alerts := d.ProcessEvent(&e); len(alerts) != 1 || alerts[0].Score != cfg.Neighbour {
		t.Fatalf("alerts %+v without the weight", alerts)
	}
}

package explain

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

func loadTestContext(t testing.TB) *Context {
	t.Helper()
	f, err := os.Open("testdata/context.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := NewContext()
	if err := c.ReadNDJSON(f); err != nil {
		t.Fatal(err)
	}
	return c
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func access(pract, role, dept, patient, when string, action string) audit.Event {
	return audit.Event{V: 1, ID: "e", Time: at(when), Actor: audit.Actor{UserID: "u-" + pract, PractitionerID: pract, Role: role, Organization: dept},
		PatientID: patient, Action: action, Outcome: "0", Source: "ehr"}
}

func TestReadContext(t *testing.T) {
	c := loadTestContext(t)
	doc := c.Staff["pr-doc"]
	if doc == nil || doc.Role != "clinician" || doc.Dept != "org-cardiology" || doc.Employee != "E1" || doc.Family != "rivera" {
		t.Fatalf("doc = %+v", doc)
	}
	if doc.Address.Number != 12 || doc.Address.Street != "elm street" || len(doc.Phones) != 1 {
		t.Errorf("doc address/phones = %+v %v", doc.Address, doc.Phones)
	}
	if g := c.Staff["pr-gone"]; g.Active || g.End.IsZero() {
		t.Errorf("terminated staff = %+v", g)
	}
	// The RelatedPerson came before its Patient and is still linked.
	if sp := c.Patients["pat-spouse"]; len(sp.Related) != 1 || sp.Related[0].Employee != "E1" {
		t.Errorf("spouse related = %+v", sp.Related)
	}
	if !c.Patients["pat-vip"].VIP || c.Patients["pat-a"].VIP {
		t.Error("VIP flag wrong")
	}
	if c.ByEmployee["E1"] != doc {
		t.Error("employee index wrong")
	}
	if d := c.Patients["pat-neigh"].Address.Distance(doc.Address); d != 6 {
		t.Errorf("neighbour distance %d, want 6", d)
	}
}

func TestExplain(t *testing.T) {
	c := loadTestContext(t)
	for _, tc := range []struct {
		name string
		ev   audit.Event
		want string
	}{
		{"encounter participant", access("pr-doc", "clinician", "org-cardiology", "pat-a", "2026-05-13T10:00:00Z", "R"), KindEncounter},
		{"participant a week after discharge", access("pr-doc", "clinician", "org-cardiology", "pat-b", "2026-05-07T10:00:00Z", "R"), KindEncounter},
		{"participant three weeks after the visit", access("pr-doc", "clinician", "org-cardiology", "pat-b", "2026-05-22T10:00:00Z", "R"), KindEncounter},
		{"care team member", access("pr-nurse", "nurse", "org-cardiology", "pat-b", "2026-05-20T10:00:00Z", "R"), KindCareTeam},
		{"ordered", access("pr-nurse", "nurse", "org-cardiology", "pat-a", "2026-06-01T10:00:00Z", "R"), KindOrdered},
		{"ordered long after the encounter", access("pr-doc", "clinician", "org-cardiology", "pat-b", "2026-06-20T10:00:00Z", "R"), KindOrdered},
		{"appointment", access("pr-rad", "clinician", "org-radiology", "pat-a", "2026-05-20T09:30:00Z", "R"), KindAppointment},
		{"order to the performing department", access("pr-rad", "clinician", "org-radiology", "pat-b", "2026-05-02T10:00:00Z", "R"), KindDepartmentOrder},
		{"department of an open encounter", access("pr-x", "nurse", "org-cardiology", "pat-a", "2026-05-14T03:00:00Z", "R"), KindDepartment},
		{"coverage after discharge", access("pr-x", "clinician", "org-cardiology", "pat-b", "2026-05-02T12:00:00Z", "R"), KindCoverage},
		{"billing work queue", access("pr-bill", "billing", "org-billing", "pat-b", "2026-05-10T10:00:00Z", "R"), KindWorkQueue},
		{"billing outside the queue", access("pr-bill", "billing", "org-billing", "pat-b", "2026-07-10T10:00:00Z", "R"), Unexplained},
		{"stranger", access("pr-rad", "clinician", "org-radiology", "pat-neigh", "2026-05-13T10:00:00Z", "R"), Unexplained},
		{"no patient", access("pr-doc", "clinician", "org-cardiology", "", "2026-05-13T10:00:00Z", "E"), NoPatient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewEngine(c).Explain(&tc.ev)
			if got.Kind != tc.want {
				t.Fatalf("kind %q (%s), want %q", got.Kind, got.Ref, tc.want)
			}
			if tc.want == KindEncounter && !strings.HasPrefix(got.Ref, "Encounter/") {
				t.Errorf("ref %q", got.Ref)
			}
		})
	}
	// A write explains the writer's later reads: charted.
	e := NewEngine(c)
	w := access("pr-rad", "clinician", "org-radiology", "pat-neigh", "2026-05-13T10:00:00Z", "U")
	if got := e.Explain(&w); got.Kind != Unexplained {
		t.Fatalf("the write itself: %q", got.Kind)
	}
	r := access("pr-rad", "clinician", "org-radiology", "pat-neigh", "2026-05-14T10:00:00Z", "R")
	if got := e.Explain(&r); got.Kind != KindCharted || !got.Direct() {
		t.Fatalf("read after a write: %q", got.Kind)
	}
}

// loadAssignments adds testdata/assignments.ndjson to the test context:
// pat-neigh and pat-doc admitted to Cardiology with shift assignments,
// pat-vip's stay there finished on 2026-05-12.
func loadAssignments(t testing.TB, c *Context) {
	t.Helper()
	b, err := os.ReadFile("testdata/assignments.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadNDJSON(strings.NewReader(string(b))); err != nil {
		t.Fatal(err)
	}
}

func TestReadAssignments(t *testing.T) {
	c := loadTestContext(t)
	loadAssignments(t, c)
	teams := c.Care["pat-neigh"].Teams
	if len(teams) != 1 {
		t.Fatalf("teams %+v", teams)
	}
	tm := teams[0]
	if tm.Encounter != "enc-n" || len(tm.Members) != 0 || len(tm.Shifts) != 3 {
		t.Fatalf("team %+v", tm)
	}
	if sh := tm.Shifts[1]; sh.Member != "pr-nurse" || !sh.Span.From.Equal(at("2026-05-13T08:00:00Z")) || !sh.Span.To.Equal(at("2026-05-13T19:00:00Z")) {
		t.Errorf("day shift %+v", sh)
	}
	if sh := tm.Shifts[0]; sh.Member != "pr-doc2" || !sh.Span.To.IsZero() {
		t.Errorf("the attending's open period %+v", sh)
	}
	// A participant without a period of its own is a member for the
	// team's whole span, as before.
	if tb := c.Care["pat-b"].Teams[0]; len(tb.Members) != 1 || len(tb.Shifts) != 0 {
		t.Errorf("team without periods %+v", tb)
	}
	// A period with an end only starts with the team.
	c2 := NewContext()
	if err := c2.Add([]byte(`{"resourceType":"CareTeam","id":"ct","subject":{"reference":"Patient/p"},"period":{"start":"2026-05-01T00:00:00Z"},"participant":[{"member":{"reference":"Practitioner/n"},"period":{"end":"2026-05-01T19:00:00Z"}}]}`)); err != nil {
		t.Fatal(err)
	}
	if sh := c2.Care["p"].Teams[0].Shifts[0]; !sh.Span.From.Equal(at("2026-05-01T00:00:00Z")) {
		t.Errorf("shift without a start %+v", sh)
	}
}

func TestExplainAssignments(t *testing.T) {
	c := loadTestContext(t)
	loadAssignments(t, c)
	for _, tc := range []struct {
		name   string
		ev     audit.Event
		want   string
		direct bool
	}{
		{"assigned nurse on her shift", access("pr-nurse", "nurse", "org-cardiology", "pat-neigh", "2026-05-13T10:00:00Z", "R"), KindAssignment, true},
		{"assigned nurse an hour before her shift", access("pr-nurse2", "nurse", "org-cardiology", "pat-neigh", "2026-05-13T18:15:00Z", "R"), KindAssignment, true},
		{"assigned nurse the next days", access("pr-nurse", "nurse", "org-cardiology", "pat-neigh", "2026-05-16T10:00:00Z", "R"), KindAssignment, true},
		{"another nurse while the list names a colleague", access("pr-nurse2", "nurse", "org-cardiology", "pat-neigh", "2026-05-13T10:00:00Z", "R"), KindUnassigned, false},
		{"a nurse not on staff lists, same department", access("pr-x", "nurse", "org-cardiology", "pat-neigh", "2026-05-13T22:00:00Z", "R"), KindUnassigned, false},
		{"a shift the list missed", access("pr-x", "nurse", "org-cardiology", "pat-neigh", "2026-05-14T10:00:00Z", "R"), KindDepartment, false},
		{"another physician while the attending is listed", access("pr-doc", "clinician", "org-cardiology", "pat-neigh", "2026-05-13T10:00:00Z", "R"), KindUnassigned, false},
		{"the attending", access("pr-doc2", "clinician", "org-cardiology", "pat-neigh", "2026-05-13T10:00:00Z", "R"), KindEncounter, true},
		{"another department", access("pr-rad", "clinician", "org-radiology", "pat-neigh", "2026-05-13T10:00:00Z", "R"), Unexplained, false},
		{"covering after discharge, the stay had nurses listed", access("pr-x", "nurse", "org-cardiology", "pat-vip", "2026-05-13T07:00:00Z", "R"), KindUnassigned, false},
		{"covering after discharge, no physician was listed", access("pr-x", "clinician", "org-cardiology", "pat-vip", "2026-05-13T07:00:00Z", "R"), KindCoverage, false},
		{"nurse listed on the finished stay", access("pr-nurse2", "nurse", "org-cardiology", "pat-vip", "2026-05-13T07:00:00Z", "R"), KindAssignment, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewEngine(c).Explain(&tc.ev)
			if got.Kind != tc.want || got.Direct() != tc.direct {
				t.Fatalf("kind %q (%s, direct %v), want %q", got.Kind, got.Ref, got.Direct(), tc.want)
			}
			if !got.Explained() && tc.want != Unexplained {
				t.Error("not explained")
			}
			if tc.want == KindAssignment && got.Ref != "CareTeam/ct-n" && got.Ref != "CareTeam/ct-v" {
				t.Errorf("ref %q", got.Ref)
			}
		})
	}
}

func TestContextRejectsBadResources(t *testing.T) {
	for _, tc := range []struct {
		name, line, want string
	}{
		{"broken JSON", `{"resourceType":`, "not a FHIR resource"},
		{"no type", `{"id":"x"}`, "resourceType"},
		{"no id", `{"resourceType":"Patient"}`, "id"},
		{"wrong type", `{"resourceType":"Observation","id":"o1"}`, "not a context resource"},
		{"encounter without subject", `{"resourceType":"Encounter","id":"e1"}`, "subject"},
		{"subject of the wrong type", `{"resourceType":"Encounter","id":"e1","subject":{"reference":"Group/g"}}`, "not a reference to a Patient"},
		{"bad date", `{"resourceType":"Encounter","id":"e1","subject":{"reference":"Patient/p"},"period":{"start":"yesterday"}}`, "period.start"},
		{"end before start", `{"resourceType":"Encounter","id":"e1","subject":{"reference":"Patient/p"},"period":{"start":"2026-05-02","end":"2026-05-01"}}`, "before the start"},
		{"order without date", `{"resourceType":"MedicationRequest","id":"m1","subject":{"reference":"Patient/p"}}`, "authoredOn"},
		{"appointment without patient", `{"resourceType":"Appointment","id":"a1","start":"2026-05-01T10:00:00Z","participant":[]}`, "names no Patient"},
		{"role without practitioner", `{"resourceType":"PractitionerRole","id":"r1","organization":{"reference":"Organization/o"}}`, "practitioner"},
		{"names not a list", `{"resourceType":"Patient","id":"p1","name":"Ada"}`, "name"},
		{"assignment ending before it starts", `{"resourceType":"CareTeam","id":"c1","subject":{"reference":"Patient/p"},"participant":[{"member":{"reference":"Practitioner/n"},"period":{"start":"2026-05-01T19:00:00Z","end":"2026-05-01T07:00:00Z"}}]}`, "participant[0].period.end"},
		{"assignment with a bad date", `{"resourceType":"CareTeam","id":"c1","subject":{"reference":"Patient/p"},"participant":[{"member":{"reference":"Practitioner/n"},"period":{"start":"tonight"}}]}`, "participant[0].period.start"},
		{"care team of another resource's encounter", `{"resourceType":"CareTeam","id":"c1","subject":{"reference":"Patient/p"},"encounter":{"reference":"EpisodeOfCare/e"}}`, "not a reference to a Encounter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NewContext().ReadNDJSON(strings.NewReader("\n" + tc.line + "\n"))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want line 2 and %q", err, tc.want)
			}
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("kind %v, want invalid", fault.KindOf(err))
			}
		})
	}
}

func TestReadEventsKeepsGoodLines(t *testing.T) {
	ev := access("pr-doc", "clinician", "org-cardiology", "pat-a", "2026-05-13T10:00:00Z", "R")
	ev.ID = "a1"
	good, err := ev.ToFHIR()
	if err != nil {
		t.Fatal(err)
	}
	in := string(good) + "\n{broken\n" + `{"resourceType":"Patient","id":"x"}` + "\n" + string(good) + "\n"
	var got []string
	var bad []int
	n, err := ReadEvents(strings.NewReader(in), func(e audit.Event) error { got = append(got, e.ID); return nil }, func(line int, err error) { bad = append(bad, line) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(got) != 2 || len(bad) != 2 || bad[0] != 2 || bad[1] != 3 {
		t.Fatalf("good %d %v, bad lines %v", n, got, bad)
	}
}

func FuzzContextAdd(f *testing.F) {
	b, err := os.ReadFile("testdata/context.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f.Add([]byte(line))
	}
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`))
	f.Add([]byte(`{"resourceType":"Encounter","id":"e","subject":{"reference":"Patient/"},"period":{"end":"2026"}}`))
	if b, err := os.ReadFile("testdata/assignments.ndjson"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f.Add([]byte(line))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c := NewContext()
		if err := c.Add(line); err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
			}
			return
		}
		c.Finish()
		// Whatever was accepted can be explained against.
		ev := access("pr-doc", "clinician", "org-cardiology", "p", "2026-05-13T10:00:00Z", "R")
		for id := range c.Care {
			ev.PatientID = id
			NewEngine(c).Explain(&ev)
		}
	})
}

// An order addressed to a practitioner explains that practitioner's looks
// directly (consult); one addressed to a department (imaging to
// Radiology) explains anyone in it, but only as the department's work:
// indirect, so a personal tie stays flagged (decision 0044).
func TestOrderToPersonOrDepartment(t *testing.T) {
	c := loadTestContext(t)
	if err := c.Add([]byte(`{"resourceType":"ServiceRequest","id":"sr-named","status":"completed","intent":"order","code":{"text":"cardiology consult"},"subject":{"reference":"Patient/pat-neigh"},"authoredOn":"2026-05-12T09:00:00Z","requester":{"reference":"Practitioner/pr-doc"},"performer":[{"reference":"Practitioner/pr-rad"}]}`)); err != nil {
		t.Fatal(err)
	}
	c.Finish()
	for _, tc := range []struct {
		name   string
		ev     audit.Event
		want   string
		direct bool
	}{
		{"named performer", access("pr-rad", "clinician", "org-radiology", "pat-neigh", "2026-05-12T11:00:00Z", "R"), KindConsult, true},
		{"the performing department", access("pr-rad", "clinician", "org-radiology", "pat-b", "2026-05-03T10:00:00Z", "R"), KindDepartmentOrder, false},
		{"the department after the order's window", access("pr-rad", "clinician", "org-radiology", "pat-b", "2026-05-16T10:00:00Z", "R"), Unexplained, false},
		{"another department", access("pr-bill", "billing", "org-billing", "pat-neigh", "2026-05-12T11:00:00Z", "R"), Unexplained, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewEngine(c).Explain(&tc.ev)
			if got.Kind != tc.want || got.Direct() != tc.direct {
				t.Fatalf("kind %q direct %v (%s), want %q direct %v", got.Kind, got.Direct(), got.Ref, tc.want, tc.direct)
			}
		})
	}
}

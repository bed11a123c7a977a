package records_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/records"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func clock() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }

func newStore(t *testing.T, d *db.DB) *records.Store {
	t.Helper()
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	s, err := records.NewStore(context.Background(), d, seal.NewSealer(d, kek, clock), clock)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const patientJSON = `{"resourceType":"Patient","id":"pat-1","identifier":[{"system":"urn:trustward:mrn","value":"MRN0000042"}],"name":[{"family":"Quillfeather","given":["Marisol","Anne"]}],"gender":"female","birthDate":"1961-04-09","address":[{"line":["12 Lantern Row"],"city":"Brookhaven"}]}`

const fixtureNDJSON = `{"resourceType":"Organization","id":"org-med","name":"General Medicine"}
{"resourceType":"Organization","id":"org-card","name":"Cardiology"}
{"resourceType":"Practitioner","id":"pr-1","name":[{"family":"Okafor","given":["Ben"]}]}
{"resourceType":"Practitioner","id":"pr-2","name":[{"family":"Lindqvist","given":["Sara"]}]}
{"resourceType":"PractitionerRole","id":"prr-1","practitioner":{"reference":"Practitioner/pr-1"},"organization":{"reference":"Organization/org-med"},"code":[{"coding":[{"system":"urn:trustward:role","code":"clinician"}]}]}
{"resourceType":"PractitionerRole","id":"prr-2","practitioner":{"reference":"Practitioner/pr-2"},"organization":{"reference":"Organization/org-card"},"code":[{"coding":[{"system":"urn:trustward:role","code":"clinician"}]}]}
` + patientJSON + `
{"resourceType":"Patient","id":"pat-2","name":[{"family":"Quill","given":["Tom"]}],"birthDate":"1990-01-01"}
{"resourceType":"CareTeam","id":"ct-1","status":"active","subject":{"reference":"Patient/pat-1"},"participant":[{"member":{"reference":"Practitioner/pr-1"}}]}
{"resourceType":"Encounter","id":"enc-2","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/pat-2"},"serviceProvider":{"reference":"Organization/org-card"},"period":{"start":"2026-11-20T08:00:00Z"}}
{"resourceType":"Condition","id":"cond-1","subject":{"reference":"Patient/pat-1"},"code":{"text":"Hypertension"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}}
`

func load(t *testing.T, s *records.Store) {
	t.Helper()
	res, err := s.Import(context.Background(), strings.NewReader(fixtureNDJSON), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resources != 11 || res.ByType["Patient"] != 2 {
		t.Fatalf("import result %+v", res)
	}
}

func TestCreateReadUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		r, err := s.Create(ctx, []byte(patientJSON))
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != "pat-1" || r.Version != 1 || r.PatientID != "pat-1" {
			t.Fatalf("created %+v", r)
		}
		got, err := s.Read(ctx, "Patient", "pat-1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(got.JSON, []byte("Quillfeather")) || !bytes.Contains(got.JSON, []byte(`"versionId":"1"`)) {
			t.Fatalf("read back %s", got.JSON)
		}
		if _, err := s.Create(ctx, []byte(patientJSON)); !fault.Is(err, fault.Conflict) {
			t.Fatalf("duplicate create: %v", err)
		}
		up, err := s.Put(ctx, "Patient", "pat-1", []byte(strings.Replace(patientJSON, "1961-04-09", "1961-04-10", 1)))
		if err != nil || up.Version != 2 {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := s.Put(ctx, "Patient", "other-id", []byte(patientJSON)); !fault.Is(err, fault.Invalid) {
			t.Fatalf("id mismatch: %v", err)
		}
		if _, err := s.Read(ctx, "Patient", "nope"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("missing: %v", err)
		}
		if _, err := s.Read(ctx, "Patient", "bad id!"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("bad id: %v", err)
		}
		// An id is assigned when none is given.
		r2, err := s.Create(ctx, []byte(`{"resourceType":"Patient","name":[{"family":"Noid"}]}`))
		if err != nil || r2.ID == "" {
			t.Fatalf("create without id: %+v %v", r2, err)
		}
	})
}

func TestRejectsBadInputAndWritesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		cases := []struct{ name, body string }{
			{"not json", `{"resourceType":`},
			{"unknown type", `{"resourceType":"Spaceship","id":"x"}`},
			{"condition without patient", `{"resourceType":"Condition","id":"c","subject":{"reference":"Group/g"},"code":{"text":"x"}}`},
			{"unknown patient", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/ghost"},"code":{"text":"x"}}`},
		}
		for _, c := range cases {
			if _, err := s.Create(ctx, []byte(c.body)); !fault.Is(err, fault.Invalid) {
				t.Errorf("%s: err = %v, want Invalid", c.name, err)
			}
		}
		if n, _ := s.Count(ctx, ""); n != 0 {
			t.Fatalf("%d resources written by bad input", n)
		}
		// One bad line in an import: nothing is written, the line is named.
		bad := strings.Replace(fixtureNDJSON, `{"resourceType":"Patient","id":"pat-2"`, `{"resourceType":"Patiant","id":"pat-2"`, 1)
		_, err := s.Import(ctx, strings.NewReader(bad), nil)
		var ie *records.ImportError
		if !errors.As(err, &ie) || len(ie.Lines) != 1 || ie.Lines[0].Line != 8 {
			t.Fatalf("import with a bad line: %v", err)
		}
		if n, _ := s.Count(ctx, ""); n != 0 {
			t.Fatalf("%d resources written by a failed import", n)
		}
		if _, err := s.Import(ctx, strings.NewReader("   "), nil); !fault.Is(err, fault.Invalid) {
			t.Fatalf("empty import: %v", err)
		}
		if _, err := s.Import(ctx, strings.NewReader(`{"resourceType":"Bundle","type":"searchset","entry":[]}`), nil); !fault.Is(err, fault.Invalid) {
			t.Fatalf("searchset bundle: %v", err)
		}
	})
}

func TestBundleImport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		var entries []string
		for _, l := range strings.Split(strings.TrimSpace(fixtureNDJSON), "\n") {
			entries = append(entries, `{"resource":`+l+`}`)
		}
		bundle := "{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"transaction\",\n  \"entry\": [" + strings.Join(entries, ",\n") + "]\n}"
		res, err := s.Import(ctx, strings.NewReader(bundle), nil)
		if err != nil || res.Resources != 11 {
			t.Fatalf("bundle import: %+v %v", res, err)
		}
	})
}

func TestSearchAndIndex(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		load(t, s)
		for q, want := range map[string]string{
			"quillfeather":         "pat-1",
			"Quillf marisol":       "pat-1",
			"1961-04-09":           "pat-1",
			"MRN0000042":           "pat-1",
			"quill 1990-01-01":     "pat-2",
			"QUILLFEATHER Marisól": "",
		} {
			ids, err := s.FindPatients(ctx, q, 10)
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			got := strings.Join(ids, ",")
			if want == "" {
				continue
			}
			if got != want {
				t.Errorf("FindPatients(%q) = %q, want %q", q, got, want)
			}
		}
		// "quill" is a prefix of both.
		if ids, _ := s.FindPatients(ctx, "quill", 10); len(ids) != 2 {
			t.Errorf("prefix search found %v", ids)
		}
		if _, err := s.FindPatients(ctx, "x", 10); !fault.Is(err, fault.Invalid) {
			t.Errorf("one-letter search: %v", err)
		}
		links, err := s.CareLinks(ctx, "pat-1", "pr-1")
		if err != nil || len(links) != 1 || links[0].Kind != records.LinkCareTeam {
			t.Fatalf("care links: %+v %v", links, err)
		}
		depts, _ := s.OpenEncounterDepartments(ctx, "pat-2")
		mine, _ := s.Departments(ctx, "pr-2")
		if fmt.Sprint(depts) != "[org-card]" || fmt.Sprint(mine) != "[org-card]" {
			t.Fatalf("departments: %v %v", depts, mine)
		}
		res, err := s.ByPatient(ctx, "pat-1", "Condition", "CareTeam")
		if err != nil || len(res) != 2 {
			t.Fatalf("ByPatient: %d %v", len(res), err)
		}
		// Removing the practitioner from the care team removes the link.
		if _, err := s.Put(ctx, "CareTeam", "ct-1", []byte(`{"resourceType":"CareTeam","id":"ct-1","status":"inactive","subject":{"reference":"Patient/pat-1"}}`)); err != nil {
			t.Fatal(err)
		}
		if links, _ := s.CareLinks(ctx, "pat-1", "pr-1"); len(links) != 0 {
			t.Fatalf("link survived the update: %+v", links)
		}
	})
}

// TestNoPlaintextAtRest scans the SQLite files for the patient's details.
func TestNoPlaintextAtRest(t *testing.T) {
	dir := t.TempDir()
	d, err := db.OpenSQLite(context.Background(), filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, d)
	load(t, s)
	d.Close()
	var all []byte
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		all = append(all, b...)
	}
	if len(all) < 4096 {
		t.Fatal("database files not found")
	}
	for _, secret := range []string{"Quillfeather", "quillfeather", "Marisol", "1961-04-09", "MRN0000042", "Lantern", "Hypertension"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("%q is stored in plaintext", secret)
		}
	}
}

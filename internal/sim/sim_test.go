package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var testNow = time.Date(2026, 3, 4, 10, 15, 0, 0, time.UTC)

// small is the hospital most tests look at.
var small = Options{Seed: 42, Patients: 200, Staff: 40, Now: testNow}

func generate(t testing.TB, o Options) (Summary, []Resource) {
	t.Helper()
	var out []Resource
	s, err := Generate(context.Background(), o, func(r Resource) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Generate(%+v): %v", o, err)
	}
	return s, out
}

func decode(t testing.TB, r Resource) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.JSON, &m); err != nil {
		t.Fatalf("%s/%s: %v", r.Type, r.ID, err)
	}
	return m
}

func TestGenerateIsDeterministic(t *testing.T) {
	_, a := generate(t, small)
	_, b := generate(t, small)
	if len(a) != len(b) {
		t.Fatalf("two runs emitted %d and %d resources", len(a), len(b))
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].ID != b[i].ID || !bytes.Equal(a[i].JSON, b[i].JSON) {
			t.Fatalf("resource %d differs between runs:\n%s\n%s", i, a[i].JSON, b[i].JSON)
		}
	}
	other := small
	other.Seed = 43
	_, c := generate(t, other)
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = bytes.Equal(a[i].JSON, c[i].JSON)
	}
	if same {
		t.Error("seeds 42 and 43 produced the same hospital")
	}
}

func TestCountsMatchOptions(t *testing.T) {
	for _, o := range []Options{small, {Seed: 7, Patients: 1, Staff: MinStaff, Now: testNow}, {Seed: 1, Patients: 1234, Staff: 97, Now: testNow}} {
		t.Run(fmt.Sprintf("%d_patients_%d_staff", o.Patients, o.Staff), func(t *testing.T) {
			s, rs := generate(t, o)
			byType := map[string]int{}
			for _, r := range rs {
				byType[r.Type]++
			}
			if byType["Patient"] != o.Patients || s.Patients != o.Patients {
				t.Errorf("patients: emitted %d, summary %d, want %d", byType["Patient"], s.Patients, o.Patients)
			}
			for _, typ := range []string{"Practitioner", "PractitionerRole"} {
				if byType[typ] != o.Staff {
					t.Errorf("%s: emitted %d, want %d", typ, byType[typ], o.Staff)
				}
			}
			if s.Staff != o.Staff || len(s.Accounts) != o.Staff {
				t.Errorf("summary staff %d, accounts %d, want %d", s.Staff, len(s.Accounts), o.Staff)
			}
			if byType["Organization"] != s.Departments+1 || s.Departments < 12 {
				t.Errorf("organizations %d for %d departments", byType["Organization"], s.Departments)
			}
			if s.Encounters != byType["Encounter"] || s.Resources != len(rs) {
				t.Errorf("summary encounters %d resources %d, emitted %d and %d", s.Encounters, s.Resources, byType["Encounter"], len(rs))
			}
			for typ, n := range byType {
				if s.ByType[typ] != n {
					t.Errorf("summary counts %d %s, emitted %d", s.ByType[typ], typ, n)
				}
			}
			if s.Households < 1 || s.Households > o.Patients {
				t.Errorf("%d households for %d patients", s.Households, o.Patients)
			}
			if byType["Observation"] < 2*o.Patients || byType["Observation"] > 8*o.Patients {
				t.Errorf("%d observations for %d patients, want 2-8 each", byType["Observation"], o.Patients)
			}
		})
	}
}

func TestDefaultsAndBadOptions(t *testing.T) {
	n := 0
	s, err := Generate(context.Background(), Options{Seed: 1, Now: testNow}, func(Resource) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if s.Patients != DefaultPatients || s.Staff != DefaultStaff || n != s.Resources {
		t.Errorf("defaults gave %d patients, %d staff, %d resources emitted of %d", s.Patients, s.Staff, n, s.Resources)
	}
	for _, o := range []Options{{Patients: -1, Staff: 50}, {Patients: 10, Staff: MinStaff - 1}} {
		if _, err := Generate(context.Background(), o, func(Resource) error { return nil }); err == nil {
			t.Errorf("Generate(%+v) accepted bad options", o)
		}
	}
}

// typeRank is the emission order the package promises.
var typeRank = map[string]int{"Organization": 0, "Practitioner": 1, "PractitionerRole": 2, "Patient": 3,
	"Encounter": 4, "CareTeam": 5, "Condition": 6, "AllergyIntolerance": 7, "MedicationRequest": 8, "Observation": 9}

// references lists every Reference.reference in a resource.
func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "reference" {
				out = append(out, s)
			} else {
				out = append(out, references(e)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, references(e)...)
		}
	}
	return out
}

func subjectOf(m map[string]any) string {
	for _, k := range []string{"subject", "patient"} {
		if r, ok := m[k].(map[string]any); ok {
			s, _ := r["reference"].(string)
			return s
		}
	}
	return ""
}

func TestReferencesResolveToEarlierResourcesInOrder(t *testing.T) {
	_, rs := generate(t, small)
	idPattern := regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	seen := map[string]bool{}
	patientOrder := map[string]int{}
	lastRank, lastPatient := -1, -1
	for i, r := range rs {
		m := decode(t, r)
		if m["resourceType"] != r.Type || m["id"] != r.ID {
			t.Fatalf("resource %d: %s/%s holds %v/%v", i, r.Type, r.ID, m["resourceType"], m["id"])
		}
		if !idPattern.MatchString(r.ID) {
			t.Errorf("%s/%s: id does not match the FHIR id pattern", r.Type, r.ID)
		}
		key := r.Type + "/" + r.ID
		if seen[key] {
			t.Errorf("%s emitted twice", key)
		}
		rank, ok := typeRank[r.Type]
		if !ok {
			t.Fatalf("unexpected type %s", r.Type)
		}
		if rank <= typeRank["Patient"] {
			if rank < lastRank {
				t.Errorf("%s emitted after a %d-ranked resource", key, lastRank)
			}
			if r.Type == "Patient" {
				patientOrder[key] = len(patientOrder)
			}
		} else {
			pn, ok := patientOrder[subjectOf(m)]
			if !ok {
				t.Fatalf("%s: subject %q is not an emitted patient", key, subjectOf(m))
			}
			if pn < lastPatient || pn == lastPatient && rank < lastRank {
				t.Errorf("%s for patient %d emitted out of order", key, pn)
			}
			lastPatient = pn
		}
		lastRank = rank
		for _, ref := range references(m) {
			if !seen[ref] {
				t.Errorf("%s refers to %s, not emitted before it", key, ref)
			}
		}
		seen[key] = true
	}
}

// checkShape reports empty values, malformed dates and times after now.
func checkShape(t *testing.T, where string, v any, now time.Time) {
	date := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	dateTime := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				t.Errorf("%s%s: empty object", where, path)
			}
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			if len(x) == 0 {
				t.Errorf("%s%s: empty array", where, path)
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			switch {
			case strings.TrimSpace(x) == "":
				t.Errorf("%s%s: empty string", where, path)
			case date.MatchString(x):
				d, err := time.Parse("2006-01-02", x)
				if err != nil || d.After(now) {
					t.Errorf("%s%s: bad or future date %q", where, path, x)
				}
			case dateTime.MatchString(x):
				d, err := time.Parse(time.RFC3339, x)
				if err != nil || !strings.HasSuffix(x, "Z") || d.After(now) {
					t.Errorf("%s%s: dateTime %q must be RFC 3339 with a zone, before now", where, path, x)
				}
			}
		}
	}
	walk("", v)
}

func TestResourcesAreValidFHIR(t *testing.T) {
	const schemaPath = "../../../shared/data/fhir/fhir.schema.json"
	f, err := os.Open(schemaPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("the official FHIR R4 JSON schema is not at %s; schema validation skipped", schemaPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("fhir.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*jsonschema.Schema{}
	_, rs := generate(t, small)
	for _, r := range rs {
		sch := schemas[r.Type]
		if sch == nil {
			if sch, err = c.Compile("fhir.schema.json#/definitions/" + r.Type); err != nil {
				t.Fatalf("compile %s: %v", r.Type, err)
			}
			schemas[r.Type] = sch
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.JSON))
		if err != nil {
			t.Fatalf("%s/%s: %v", r.Type, r.ID, err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s/%s is not valid FHIR R4: %v\n%s", r.Type, r.ID, err, r.JSON)
		}
		checkShape(t, r.Type+"/"+r.ID, decode(t, r), testNow)
		if bytes.ContainsAny(r.JSON, "\n\t") || bytes.Contains(r.JSON, []byte(": ")) {
			t.Errorf("%s/%s is not compact JSON", r.Type, r.ID)
		}
	}
	if len(schemas) != len(typeRank) {
		t.Errorf("validated %d resource types, want %d", len(schemas), len(typeRank))
	}
}

func TestEncountersPeriodsAndStatus(t *testing.T) {
	_, rs := generate(t, Options{Seed: 3, Patients: 3000, Staff: 150, Now: testNow})
	clinicalDept := map[string]bool{}
	roleOf := map[string]string{}
	deptOf := map[string]string{}
	open, total := 0, 0
	for _, r := range rs {
		m := decode(t, r)
		switch r.Type {
		case "Organization":
			if r.ID != "org-hospital" {
				if m["partOf"].(map[string]any)["reference"] != "Organization/org-hospital" {
					t.Errorf("%s is not part of the hospital", r.ID)
				}
			}
		case "PractitionerRole":
			pr := m["practitioner"].(map[string]any)["reference"].(string)
			role := m["code"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)
			if role["system"] != SystemRole {
				t.Fatalf("%s: first role coding is %v", r.ID, role)
			}
			roleOf[pr] = role["code"].(string)
			deptOf[pr] = m["organization"].(map[string]any)["reference"].(string)
			if roleOf[pr] == roleClinician || roleOf[pr] == roleNurse {
				clinicalDept[deptOf[pr]] = true
			}
		case "Encounter":
			total++
			p := m["period"].(map[string]any)
			start, _ := time.Parse(time.RFC3339, p["start"].(string))
			end, hasEnd := p["end"].(string)
			switch m["status"] {
			case "in-progress":
				open++
				if hasEnd {
					t.Errorf("%s is in progress but has an end", r.ID)
				}
			case "finished":
				e, _ := time.Parse(time.RFC3339, end)
				if !hasEnd || !e.After(start) {
					t.Errorf("%s finished without a later end: %v", r.ID, p)
				}
			default:
				t.Errorf("%s: status %v", r.ID, m["status"])
			}
			class := m["class"].(map[string]any)
			if class["system"] != "http://terminology.hl7.org/CodeSystem/v3-ActCode" || !slices.Contains([]string{"AMB", "IMP", "EMER"}, class["code"].(string)) {
				t.Errorf("%s: class %v", r.ID, class)
			}
			dept := m["serviceProvider"].(map[string]any)["reference"].(string)
			if !clinicalDept[dept] {
				t.Errorf("%s: service provider %s is not a clinical department", r.ID, dept)
			}
			parts := m["participant"].([]any)
			if len(parts) < 1 || len(parts) > 3 {
				t.Errorf("%s: %d participants", r.ID, len(parts))
			}
			for _, p := range parts {
				pr := p.(map[string]any)["individual"].(map[string]any)["reference"].(string)
				if deptOf[pr] != dept || (roleOf[pr] != roleClinician && roleOf[pr] != roleNurse) {
					t.Errorf("%s: participant %s (%s of %s) is not clinical staff of %s", r.ID, pr, roleOf[pr], deptOf[pr], dept)
				}
			}
		case "MedicationRequest":
			if pr := m["requester"].(map[string]any)["reference"].(string); roleOf[pr] != roleClinician {
				t.Errorf("%s: requester %s is a %s", r.ID, pr, roleOf[pr])
			}
		case "Observation":
			for _, p := range m["performer"].([]any) {
				if pr := p.(map[string]any)["reference"].(string); roleOf[pr] != roleNurse {
					t.Errorf("%s: performer %s is a %s", r.ID, pr, roleOf[pr])
				}
			}
		}
	}
	if share := float64(open) / float64(total); share < 0.03 || share > 0.08 {
		t.Errorf("%d of %d encounters in progress (%.1f%%), want about 5%%", open, total, 100*share)
	}
}

func TestRoleShares(t *testing.T) {
	s, _ := generate(t, Options{Seed: 5, Patients: 100, Staff: DefaultStaff, Now: testNow})
	n := map[string]int{}
	for _, a := range s.Accounts {
		n[a.Role]++
	}
	share := func(role string) float64 { return float64(n[role]) / float64(len(s.Accounts)) }
	for _, c := range []struct {
		role   string
		lo, hi float64
	}{{roleClinician, 0.28, 0.36}, {roleNurse, 0.38, 0.48}, {roleFrontDesk, 0.07, 0.10}, {roleBilling, 0.06, 0.09}} {
		if sh := share(c.role); sh < c.lo || sh > c.hi {
			t.Errorf("%s: %.1f%% of staff, want %.0f-%.0f%%", c.role, 100*sh, 100*c.lo, 100*c.hi)
		}
	}
	for _, role := range []string{rolePrivacy, roleSecurity} {
		if n[role] < 2 || n[role] > 3 {
			t.Errorf("%d %s, want 2 or 3", n[role], role)
		}
	}
	if n[roleAdmin] != 2 {
		t.Errorf("%d admins, want 2", n[roleAdmin])
	}
	for _, total := range []int{MinStaff, 11, 40, 149, 150, 1000} {
		counts := roleCounts(total)
		sum := 0
		for _, c := range counts {
			sum += c
			if c < 1 {
				t.Errorf("roleCounts(%d) = %v leaves a role empty", total, counts)
			}
		}
		if sum != total {
			t.Errorf("roleCounts(%d) = %v sums to %d", total, counts, sum)
		}
	}
}

func TestAccounts(t *testing.T) {
	s, rs := generate(t, small)
	usernames := map[string]bool{}
	lower := regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	for _, a := range s.Accounts {
		if usernames[a.Username] {
			t.Errorf("username %q used twice", a.Username)
		}
		usernames[a.Username] = true
		if !lower.MatchString(a.Username) || a.DisplayName == "" || a.PractitionerID == "" || a.DepartmentID == "" {
			t.Errorf("incomplete account %+v", a)
		}
	}
	want := map[string]string{"clinician": roleClinician, "nurse": roleNurse, "frontdesk": roleFrontDesk, "billing": roleBilling,
		"privacy": rolePrivacy, "security": roleSecurity, "admin": roleAdmin}
	if len(s.Demo) != len(want) {
		t.Fatalf("%d demo accounts, want %d", len(s.Demo), len(want))
	}
	demo := map[string]Account{}
	for _, a := range s.Demo {
		if want[a.Username] != a.Role {
			t.Errorf("demo account %q has role %q", a.Username, a.Role)
		}
		if !slices.Contains(s.Accounts, a) {
			t.Errorf("demo account %+v is not among the accounts", a)
		}
		demo[a.Username] = a
	}
	for _, u := range []string{"clinician", "nurse"} {
		if demo[u].DepartmentID != "org-general-medicine" {
			t.Errorf("demo %s works in %s, want General Medicine", u, demo[u].DepartmentID)
		}
	}

	// The demo clinician and nurse have patients to open.
	patientsOf := map[string]map[string]bool{}
	for _, r := range rs {
		if r.Type != "Encounter" && r.Type != "CareTeam" {
			continue
		}
		m := decode(t, r)
		for _, ref := range references(m) {
			if strings.HasPrefix(ref, "Practitioner/") {
				id := strings.TrimPrefix(ref, "Practitioner/")
				if patientsOf[id] == nil {
					patientsOf[id] = map[string]bool{}
				}
				patientsOf[id][subjectOf(m)] = true
			}
		}
	}
	for _, u := range []string{"clinician", "nurse"} {
		if n := len(patientsOf[demo[u].PractitionerID]); n < 20 {
			t.Errorf("demo %s is on the encounters or care teams of %d patients, want at least 20", u, n)
		}
	}
}

func homeOf(m map[string]any) (phone, addr string) {
	for _, tc := range m["telecom"].([]any) {
		c := tc.(map[string]any)
		if c["system"] == "phone" && c["use"] == "home" {
			phone = c["value"].(string)
		}
	}
	b, _ := json.Marshal(m["address"])
	return phone, string(b)
}

func TestHouseholdsShareAnAddress(t *testing.T) {
	s, rs := generate(t, Options{Seed: 9, Patients: 2000, Staff: 100, Now: testNow})
	type member struct{ family string }
	byPhone := map[string][]member{}
	addrOf := map[string]string{}
	phoneOf := map[string]string{}
	for _, r := range rs {
		if r.Type != "Patient" {
			continue
		}
		m := decode(t, r)
		phone, addr := homeOf(m)
		if phone == "" {
			t.Fatalf("%s has no home phone", r.ID)
		}
		if a, ok := addrOf[phone]; ok && a != addr {
			t.Errorf("%s shares home phone %s but not the address: %s vs %s", r.ID, phone, addr, a)
		}
		if p, ok := phoneOf[addr]; ok && p != phone {
			t.Errorf("two households at %s", addr)
		}
		addrOf[phone], phoneOf[addr] = addr, phone
		byPhone[phone] = append(byPhone[phone], member{m["name"].([]any)[0].(map[string]any)["family"].(string)})
	}
	if len(byPhone) != s.Households {
		t.Errorf("%d home phones for %d households", len(byPhone), s.Households)
	}
	together, multi, sharedName := 0, 0, 0
	for _, ms := range byPhone {
		if len(ms) > 6 {
			t.Errorf("a household of %d", len(ms))
		}
		if len(ms) < 2 {
			continue
		}
		together += len(ms)
		multi++
		names := map[string]int{}
		for _, m := range ms {
			names[m.family]++
		}
		for _, n := range names {
			if 2*n > len(ms) {
				sharedName++
				break
			}
		}
	}
	if share := float64(together) / float64(s.Patients); share < 0.6 {
		t.Errorf("only %.0f%% of patients live with someone", 100*share)
	}
	if share := float64(sharedName) / float64(multi); share < 0.6 {
		t.Errorf("only %.0f%% of households mostly share a surname", 100*share)
	}
}

func TestStaffPatientsAndVIPs(t *testing.T) {
	for _, o := range []Options{small, {Seed: 11, Patients: DefaultPatients, Staff: DefaultStaff, Now: testNow}} {
		t.Run(fmt.Sprint(o.Patients), func(t *testing.T) {
			s, rs := generate(t, o)
			type staffInfo struct{ id, family, birth, addr string }
			byEmployee := map[string]staffInfo{}
			staffPatients, vips := 0, 0
			accountPatient := map[string]string{}
			staffStreets := map[string][]string{} // street -> practitioners living there
			neighbours := map[string]bool{}       // staff, not patients, on a patient's street
			for _, a := range s.Accounts {
				if a.PatientID != "" {
					accountPatient[a.PractitionerID] = a.PatientID
				}
			}
			for _, r := range rs {
				if r.Type != "Practitioner" && r.Type != "Patient" {
					continue
				}
				m := decode(t, r)
				employee := ""
				for _, id := range m["identifier"].([]any) {
					if im := id.(map[string]any); im["system"] == SystemEmployee {
						employee = im["value"].(string)
					}
				}
				family := m["name"].([]any)[0].(map[string]any)["family"].(string)
				addr := m["address"].([]any)[0].(map[string]any)["line"].([]any)[0].(string)
				street := addr[strings.IndexByte(addr, ' ')+1:] // without the house number
				if r.Type == "Practitioner" {
					byEmployee[employee] = staffInfo{r.ID, family, m["birthDate"].(string), addr}
					staffStreets[street] = append(staffStreets[street], r.ID)
					continue
				}
				for _, id := range staffStreets[street] {
					if accountPatient[id] == "" {
						neighbours[id] = true
					}
				}
				if employee != "" {
					staffPatients++
					st, ok := byEmployee[employee]
					if !ok || st.family != family || st.birth != m["birthDate"] || st.addr != addr {
						t.Errorf("%s: employee %s does not match its Practitioner %+v", r.ID, employee, st)
					}
					if accountPatient[st.id] != r.ID {
						t.Errorf("account of %s names patient %q, want %s", st.id, accountPatient[st.id], r.ID)
					}
				}
				if mt, ok := m["meta"].(map[string]any); ok {
					sec := mt["security"].([]any)[0].(map[string]any)
					if sec["system"] != "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" || sec["code"] != "V" {
						t.Errorf("%s: security label %v", r.ID, sec)
					}
					vips++
				}
			}
			if want := int(math.Round(0.02 * float64(o.Patients))); staffPatients != want || len(accountPatient) != want {
				t.Errorf("%d staff patients (%d accounts), want %d (2%%)", staffPatients, len(accountPatient), want)
			}
			if len(neighbours) < o.Staff/10 {
				t.Errorf("only %d staff who are not patients live in a street where patients live", len(neighbours))
			}
			if want := max(1, int(math.Round(0.002*float64(o.Patients)))); vips != want {
				t.Errorf("%d VIPs, want %d (0.2%%)", vips, want)
			}
		})
	}
}

func TestEmitErrorStopsGeneration(t *testing.T) {
	stop := errors.New("disk full")
	calls := 0
	_, err := Generate(context.Background(), small, func(Resource) error {
		calls++
		if calls == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Generate returned %v, want the emit error", err)
	}
	if calls != 100 {
		t.Errorf("emit called %d times, want generation to stop at the failing 100th", calls)
	}
}

func TestContextCancellationStopsGeneration(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := Generate(ctx, small, func(Resource) error {
		calls++
		if calls == 500 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate returned %v, want context.Canceled", err)
	}
	if calls != 500 {
		t.Errorf("emit called %d times after cancellation at 500", calls)
	}

	calls = 0
	if _, err := Generate(ctx, small, func(Resource) error { calls++; return nil }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("with a cancelled context: err %v after %d resources", err, calls)
	}
}

func TestUsernameFolding(t *testing.T) {
	for in, want := range map[string]string{"Núñez": "nunez", "O'Connor": "oconnor", "Sørensen": "sorensen", "Wiśniewski": "wisniewski", "Two-Rivers": "tworivers", "Çelik": "celik"} {
		if got := asciiLower(in); got != want {
			t.Errorf("asciiLower(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	o := Options{Seed: 1, Now: testNow} // default size: 5000 patients, 300 staff
	resources := 0
	for b.Loop() {
		s, err := Generate(context.Background(), o, func(Resource) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		resources = s.Resources
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/hospital")
	b.ReportMetric(float64(resources*b.N)/b.Elapsed().Seconds(), "resources/s")
}

package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/trustward/trustward/internal/fault"
)

// schemaPath is the HL7 FHIR R4 JSON schema, from the package directory.
const schemaPath = "../../../shared/data/fhir/fhir.schema.json"

type wantIssue struct{ expression, code string }

// invalidCases lists every file of testdata/invalid with the issues
// Validate must report, in order. schema says whether the HL7 JSON schema
// rejects the file as well (or cannot even parse it); when false, the
// problem is one FHIR forbids but the schema does not express, and the
// cross-check asserts that the schema indeed accepts it, so that the column
// stays honest.
var invalidCases = []struct {
	file   string
	want   []wantIssue
	schema bool
}{
	// JSON shape and resource type.
	{"patient-malformed", []wantIssue{{"", "structure"}}, true},
	{"patient-trailing-data", []wantIssue{{"", "structure"}}, true},
	{"patient-in-array", []wantIssue{{"", "structure"}}, true},
	{"patient-duplicate-key", []wantIssue{{"Patient.gender", "structure"}}, false},
	{"missing-resourcetype", []wantIssue{{"resourceType", "required"}}, true},
	{"unsupported-resourcetype", []wantIssue{{"resourceType", "not-supported"}}, false},

	// Patient.
	{"patient-unknown-property", []wantIssue{{"Patient.nickname", "structure"}}, true},
	{"patient-given-not-array", []wantIssue{{"Patient.name[0].given", "structure"}}, true},
	{"patient-gender-code", []wantIssue{{"Patient.gender", "value"}}, true},
	{"patient-birthdate-format", []wantIssue{{"Patient.birthDate", "value"}}, true},
	{"patient-birthdate-no-such-day", []wantIssue{{"Patient.birthDate", "value"}}, false},
	{"patient-empty-string", []wantIssue{{"Patient.name[0].family", "value"}}, true},
	{"patient-empty-array", []wantIssue{{"Patient.telecom", "structure"}}, false},
	{"patient-empty-object", []wantIssue{{"Patient.maritalStatus", "structure"}}, false},
	{"patient-companion-of-complex", []wantIssue{{"Patient._name", "structure"}}, true},
	{"patient-companion-of-id", []wantIssue{{"Patient._id", "structure"}}, true},
	{"patient-choice-twice", []wantIssue{{"Patient.deceased[x]", "structure"}}, false},
	{"patient-id-format", []wantIssue{{"Patient.id", "value"}}, true},
	{"patient-id-too-long", []wantIssue{{"Patient.id", "value"}}, true},
	{"patient-given-null", []wantIssue{{"Patient.name[0].given[1]", "structure"}}, true},
	{"patient-given-misaligned", []wantIssue{{"Patient.name[0].given", "structure"}}, false},
	{"patient-link-without-type", []wantIssue{{"Patient.link[0].type", "required"}}, false},
	{"patient-link-without-other", []wantIssue{{"Patient.link[0].other", "required"}}, true},
	{"patient-integer-fraction", []wantIssue{{"Patient.multipleBirthInteger", "value"}}, false},
	{"patient-integer-range", []wantIssue{{"Patient.multipleBirthInteger", "value"}}, false},
	{"patient-many-problems", []wantIssue{
		{"Patient.telecom[1].system", "value"},
		{"Patient.gender", "value"},
		{"Patient.birthDate", "value"},
		{"Patient.nickname", "structure"},
	}, true},

	// Practitioner and PractitionerRole.
	{"practitioner-qualification-without-code", []wantIssue{{"Practitioner.qualification[0].code", "required"}}, true},
	{"practitioner-birthdate-number", []wantIssue{{"Practitioner.birthDate", "structure"}}, true},
	{"practitionerrole-time-format", []wantIssue{{"PractitionerRole.availableTime[0].availableStartTime", "value"}}, true},
	{"practitionerrole-active-string", []wantIssue{{"PractitionerRole.active", "structure"}}, true},

	// Organization and extensions.
	{"organization-extension-without-url", []wantIssue{{"Organization.extension[0].url", "required"}}, false},
	{"organization-extension-value-and-nested", []wantIssue{{"Organization.extension[0]", "invariant"}}, false},
	{"organization-telecom-system-code", []wantIssue{{"Organization.telecom[0].system", "value"}}, true},

	// Encounter.
	{"encounter-status-code", []wantIssue{{"Encounter.status", "value"}}, true},
	{"encounter-missing-class", []wantIssue{{"Encounter.class", "required"}}, true},
	{"encounter-statushistory-not-array", []wantIssue{{"Encounter.statusHistory", "structure"}}, true},
	{"encounter-participant-period-bad", []wantIssue{{"Encounter.participant[0].period.start", "value"}}, true},

	// CareTeam.
	{"careteam-member-array", []wantIssue{{"CareTeam.participant[0].member", "structure"}}, false},
	{"careteam-status-code", []wantIssue{{"CareTeam.status", "value"}}, true},

	// Condition.
	{"condition-missing-subject", []wantIssue{{"Condition.subject", "required"}}, true},
	{"condition-onset-twice", []wantIssue{{"Condition.onset[x]", "structure"}}, false},
	{"condition-note-without-text", []wantIssue{{"Condition.note[0].text", "required"}}, false},

	// AllergyIntolerance.
	{"allergy-category-code", []wantIssue{{"AllergyIntolerance.category[0]", "value"}}, true},
	{"allergy-category-not-array", []wantIssue{{"AllergyIntolerance.category", "structure"}}, true},
	{"allergy-reaction-without-manifestation", []wantIssue{{"AllergyIntolerance.reaction[0].manifestation", "required"}}, true},
	{"allergy-missing-patient", []wantIssue{{"AllergyIntolerance.patient", "required"}}, true},

	// MedicationRequest and contained resources.
	{"medicationrequest-missing-medication", []wantIssue{{"MedicationRequest.medication[x]", "required"}}, false},
	{"medicationrequest-contained-medication", []wantIssue{{"MedicationRequest.contained[0]", "not-supported"}}, false},
	{"medicationrequest-contained-nested", []wantIssue{{"MedicationRequest.contained[0].contained", "invariant"}}, false},
	{"medicationrequest-contained-bad-field", []wantIssue{{"MedicationRequest.contained[0].gender", "value"}}, true},
	{"medicationrequest-frequency-zero", []wantIssue{{"MedicationRequest.dosageInstruction[0].timing.repeat.frequency", "value"}}, false},
	{"medicationrequest-substitution-empty-allowed", []wantIssue{{"MedicationRequest.substitution.allowed[x]", "required"}}, false},

	// Observation and narrative.
	{"observation-missing-code", []wantIssue{{"Observation.code", "required"}}, true},
	{"observation-missing-status", []wantIssue{{"Observation.status", "required"}}, false},
	{"observation-two-values", []wantIssue{{"Observation.value[x]", "structure"}}, false},
	{"observation-four-values", []wantIssue{{"Observation.value[x]", "structure"}}, false},
	{"observation-quantity-as-string", []wantIssue{{"Observation.valueQuantity.value", "structure"}}, true},
	{"observation-component-without-code", []wantIssue{{"Observation.component[0].code", "required"}}, true},
	{"observation-datetime-without-zone", []wantIssue{{"Observation.effectiveDateTime", "value"}}, true},
	{"observation-null-value", []wantIssue{{"Observation.valueString", "structure"}}, true},
	{"observation-narrative-script", []wantIssue{{"Observation.text.div", "invariant"}}, false},
	{"observation-narrative-not-div", []wantIssue{{"Observation.text.div", "value"}}, false},
	{"observation-narrative-onclick", []wantIssue{{"Observation.text.div", "invariant"}}, false},
}

func readTestdata(t testing.TB, pattern string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata %s: %v", pattern, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = raw
	}
	return out
}

func issuesOf(t *testing.T, err error) []Issue {
	t.Helper()
	if err == nil {
		t.Fatal("Validate accepted the resource")
	}
	if fault.KindOf(err) != fault.Invalid {
		t.Fatalf("error kind = %v, want invalid input: %v", fault.KindOf(err), err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error does not wrap a *ValidationError: %v", err)
	}
	for _, is := range ve.Issues {
		if is.Severity != "error" || is.Code == "" || is.Diagnostics == "" {
			t.Errorf("incomplete issue %+v", is)
		}
	}
	return ve.Issues
}

func TestValidateAcceptsValidResources(t *testing.T) {
	types := map[string]bool{}
	for name, raw := range readTestdata(t, "valid/*.json") {
		t.Run(name, func(t *testing.T) {
			p, err := Validate(raw)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var head struct{ ResourceType, ID string }
			if err := json.Unmarshal(raw, &head); err != nil {
				t.Fatal(err)
			}
			if p.Type != head.ResourceType || p.ID != head.ID || p.Object["resourceType"] != head.ResourceType {
				t.Errorf("Parsed = %q/%q, want %q/%q", p.Type, p.ID, head.ResourceType, head.ID)
			}
			types[p.Type] = true
			// What the store writes back must validate again.
			again, err := json.Marshal(p.Object)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Validate(again); err != nil {
				t.Errorf("re-marshalled resource rejected: %v", err)
			}
		})
	}
	for _, typ := range SupportedTypes {
		if !types[typ] {
			t.Errorf("no valid testdata of type %s", typ)
		}
	}
}

func TestValidateKeepsDecimalsExact(t *testing.T) {
	raw := readTestdata(t, "valid/observation-weight.json")["observation-weight"]
	p, err := Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Object["valueQuantity"].(map[string]any)
	if q["value"] != json.Number("72.450") {
		t.Errorf("valueQuantity.value = %#v, want json.Number(\"72.450\")", q["value"])
	}
}

func TestValidateRejectsInvalidResources(t *testing.T) {
	files := readTestdata(t, "invalid/*.json")
	seen := map[string]bool{}
	for _, tc := range invalidCases {
		t.Run(tc.file, func(t *testing.T) {
			raw, ok := files[tc.file]
			if !ok {
				t.Fatalf("no testdata/invalid/%s.json", tc.file)
			}
			seen[tc.file] = true
			_, err := Validate(raw)
			issues := issuesOf(t, err)
			var got []wantIssue
			for _, is := range issues {
				got = append(got, wantIssue{is.Expression, is.Code})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("issues = %v, want %v\n%v", got, tc.want, err)
			}
		})
	}
	for name := range files {
		if !seen[name] {
			t.Errorf("testdata/invalid/%s.json has no case", name)
		}
	}
}

// The diagnostics are logged and shown; they must not repeat what the
// resource says, which may be patient data.
func TestValidateDiagnosticsDoNotRepeatValues(t *testing.T) {
	raw := []byte(`{"resourceType":"Patient","id":"pat-1","gender":"Zelda-Secret",
		"birthDate":"Zelda-Born","name":[{"family":"","given":["Zelda-Given",null]}],
		"telecom":[{"system":"Zelda-Sys","value":"+00 555"}],"active":"Zelda-Active",
		"multipleBirthInteger":123456789012,"contained":[{"resourceType":"ZeldaType"}]}`)
	_, err := Validate(raw)
	issuesOf(t, err)
	if strings.Contains(err.Error(), "Zelda") || strings.Contains(err.Error(), "123456789012") {
		t.Errorf("the error repeats resource values: %v", err)
	}
	var ve *ValidationError
	errors.As(err, &ve)
	for _, is := range ve.Issues {
		if strings.Contains(is.Diagnostics+is.Expression, "Zelda") {
			t.Errorf("issue repeats resource values: %+v", is)
		}
	}
}

func TestValidateLimits(t *testing.T) {
	deep := `{"url":"http://example.org/x","valueString":"leaf"}`
	for range 40 {
		deep = `{"url":"http://example.org/x","extension":[` + deep + `]}`
	}
	var many strings.Builder
	many.WriteString(`{"resourceType":"Patient"`)
	for i := range 300 {
		many.WriteString(`,"unknown` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
	}
	many.WriteString("}")
	tests := []struct {
		name string
		raw  []byte
		want wantIssue
	}{
		{"larger than 1 MiB", []byte(`{"resourceType":"Patient","id":"p1","name":[{"text":"` + strings.Repeat("a", MaxResourceBytes) + `"}]}`), wantIssue{"", "too-long"}},
		{"nested 80 levels", []byte(`{"resourceType":"Patient","extension":[` + deep + `]}`), wantIssue{"", "too-long"}},
		{"nested arrays", []byte(`{"resourceType":"Patient","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`), wantIssue{"", "too-long"}},
		{"not UTF-8", []byte("{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"\xff\xfe\"}]}"), wantIssue{"", "structure"}},
		{"empty input", nil, wantIssue{"", "structure"}},
		{"JSON null", []byte("null"), wantIssue{"", "structure"}},
		{"many problems", []byte(many.String()), wantIssue{"", "too-costly"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issues := issuesOf(t, func() error { _, err := Validate(tc.raw); return err }())
			last := issues[len(issues)-1]
			if got := (wantIssue{last.Expression, last.Code}); got != tc.want {
				t.Errorf("last issue = %v, want %v (%d issues)", got, tc.want, len(issues))
			}
			if len(issues) > maxIssues {
				t.Errorf("%d issues, more than %d", len(issues), maxIssues)
			}
			if tc.want.code == "too-costly" && len(issues) != maxIssues {
				t.Errorf("%d issues, want %d", len(issues), maxIssues)
			}
		})
	}
	// Just under the depth limit a resource is fine: the resource, its
	// extension array and object, then an array and object per level.
	deep = `{"url":"http://example.org/x","valueString":"leaf"}`
	levels := 3
	for ; levels+2 <= maxDepth; levels += 2 {
		deep = `{"url":"http://example.org/x","extension":[` + deep + `]}`
	}
	if _, err := Validate([]byte(`{"resourceType":"Patient","extension":[` + deep + `]}`)); err != nil {
		t.Errorf("resource nested %d levels rejected: %v", levels, err)
	}
}

// TestValidatePrimitiveExtensions checks the `_name` companions that
// the valid testdata (kept schema-valid) cannot show: an extension without
// a value, and nulls keeping arrays aligned.
func TestValidatePrimitiveExtensions(t *testing.T) {
	ext := `{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}`
	tests := []struct {
		name, resource string
		want           []wantIssue
	}{
		{"required primitive given only as an extension",
			`{"resourceType":"Observation","_status":` + ext + `,"code":{"text":"x"}}`, nil},
		{"null value aligned with an extension",
			`{"resourceType":"Patient","name":[{"given":["Ada",null],"_given":[null,` + ext + `]}]}`, nil},
		{"extensions only",
			`{"resourceType":"Patient","name":[{"_given":[` + ext + `]}]}`, nil},
		{"null on both sides",
			`{"resourceType":"Patient","name":[{"given":["Ada",null],"_given":[null,null]}]}`,
			[]wantIssue{{"Patient.name[0].given[1]", "structure"}}},
		{"companion not an object",
			`{"resourceType":"Patient","_birthDate":"1990"}`,
			[]wantIssue{{"Patient.birthDate", "structure"}}},
		{"companion with a bad extension",
			`{"resourceType":"Patient","birthDate":"1990","_birthDate":{"extension":[{"valueCode":"x"}]}}`,
			[]wantIssue{{"Patient.birthDate.extension[0].url", "required"}}},
		{"companion with an unknown property",
			`{"resourceType":"Patient","birthDate":"1990","_birthDate":{"value":"1990"}}`,
			[]wantIssue{{"Patient.birthDate.value", "structure"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate([]byte(tc.resource))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var got []wantIssue
			for _, is := range issuesOf(t, err) {
				got = append(got, wantIssue{is.Expression, is.Code})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("issues = %v, want %v\n%v", got, tc.want, err)
			}
		})
	}
}

// hl7Schema compiles the HL7 schema once for the cross-checks.
var hl7Schema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open(schemaPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("fhir.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("fhir.schema.json")
})

func schemaOrSkip(t *testing.T) *jsonschema.Schema {
	t.Helper()
	if _, err := os.Stat(filepath.Dir(schemaPath)); errors.Is(err, os.ErrNotExist) {
		t.Skipf("the HL7 FHIR schema is not here (%s): the shared data folder is missing", schemaPath)
	}
	sch, err := hl7Schema()
	if err != nil {
		t.Fatalf("compile the HL7 schema: %v", err)
	}
	return sch
}

func schemaAccepts(sch *jsonschema.Schema, raw []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestValidateAgreesWithHL7Schema checks the validator against an
// independent implementation of the official schema: every valid resource
// passes it, and the invalid ones fail it exactly where the table says the
// schema can tell.
func TestValidateAgreesWithHL7Schema(t *testing.T) {
	sch := schemaOrSkip(t)
	for name, raw := range readTestdata(t, "valid/*.json") {
		if err := schemaAccepts(sch, raw); err != nil {
			t.Errorf("valid/%s: the HL7 schema rejects it: %v", name, err)
		}
	}
	files := readTestdata(t, "invalid/*.json")
	for _, tc := range invalidCases {
		err := schemaAccepts(sch, files[tc.file])
		switch {
		case tc.schema && err == nil:
			t.Errorf("invalid/%s: the HL7 schema accepts it, but the table says it rejects it", tc.file)
		case !tc.schema && err != nil:
			t.Errorf("invalid/%s: the HL7 schema rejects it too; mark it so in the table: %v", tc.file, err)
		}
	}
}

// TestDefinitionsUpToDate regenerates the definitions from the HL7 schema
// and compares them with the committed fhirdefs.json.
func TestDefinitionsUpToDate(t *testing.T) {
	schemaOrSkip(t)
	if testing.Short() {
		t.Skip("builds and runs the generator")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to run the generator: %v", err)
	}
	out := filepath.Join(t.TempDir(), "fhirdefs.json")
	cmd := exec.Command(goTool, "run", "./gendefs", "-schema", schemaPath, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gendefs: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, fhirdefsJSON) {
		t.Error("fhirdefs.json is not what the generator makes from the schema now; run go generate ./internal/records")
	}
}

func FuzzValidate(f *testing.F) {
	for _, dir := range []string{"valid/*.json", "invalid/*.json"} {
		for _, raw := range readTestdata(f, dir) {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Validate(raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Issues) == 0 || len(ve.Issues) > maxIssues {
				t.Fatalf("error without 1 to %d issues: %v", maxIssues, err)
			}
			for _, is := range ve.Issues {
				if !issueCodes[is.Code] || is.Severity != "error" || is.Diagnostics == "" {
					t.Fatalf("bad issue %+v", is)
				}
			}
			return
		}
		if p.Type == "" || p.Object == nil {
			t.Fatalf("accepted without a type or object: %+v", p)
		}
		if depth, dup := tokenOracle(t, raw); depth > maxDepth || dup != "" {
			t.Fatalf("accepted a resource nested %d levels or with the key %q twice", depth, dup)
		}
		again, err := json.Marshal(p.Object)
		if err != nil {
			t.Fatalf("marshal accepted object: %v", err)
		}
		if len(again) > MaxResourceBytes {
			return // escaping grew it past the size limit
		}
		p2, err := Validate(again)
		if err != nil {
			t.Fatalf("accepted resource rejected after a round trip: %v\nfirst:  %q\nsecond: %q", err, raw, again)
		}
		if p2.Type != p.Type || p2.ID != p.ID {
			t.Fatalf("round trip changed %s/%s into %s/%s", p.Type, p.ID, p2.Type, p2.ID)
		}
	})
}

var issueCodes = map[string]bool{"structure": true, "required": true, "value": true, "invariant": true,
	"not-supported": true, "too-long": true, "too-costly": true}

// tokenOracle measures nesting and finds a duplicate key the slow, obvious
// way, through json.Decoder.Token, as a check on scanKeys.
func tokenOracle(t *testing.T, raw []byte) (maxSeen int, dup string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return maxSeen, dup
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if top != nil && top.object {
				top.key = true
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), keys: map[string]bool{}, key: true})
			maxSeen = max(maxSeen, len(stack))
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].key = true
			}
			continue
		}
		if top == nil || !top.object {
			continue
		}
		if top.key {
			k, _ := tok.(string)
			if top.keys[k] && dup == "" {
				dup = k
			}
			top.keys[k] = true
		}
		top.key = !top.key
	}
}

func BenchmarkValidate(b *testing.B) {
	raw := readTestdata(b, "valid/observation-weight.json")["observation-weight"]
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/resource")
}

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/trustward/trustward/internal/fault"
)

// fhirSchemaPath is the official HL7 FHIR R4 JSON schema, shared by the
// project outside the module.
const fhirSchemaPath = "../../../shared/data/fhir/fhir.schema.json"

// fhirSchema compiles the schema once per test binary: it is 3 MB.
var fhirSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	abs, err := filepath.Abs(fhirSchemaPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	return jsonschema.NewCompiler().Compile(abs)
})

// validateFHIR checks b against the R4 JSON schema.
func validateFHIR(t *testing.T, b []byte) error {
	t.Helper()
	sch, err := fhirSchema()
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the FHIR R4 JSON schema is not at %s; schema validation skipped", fhirSchemaPath)
	}
	if err != nil {
		t.Fatalf("compile the FHIR schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode for the schema: %v", err)
	}
	return sch.Validate(inst)
}

// goldenJSON compares compact JSON with an indented golden file, so that
// the files are readable and the comparison is still byte for byte.
func goldenJSON(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *updateGolden {
		golden(t, name, pretty.Bytes())
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("ToFHIR differs from %s\n got: %s", path, pretty.Bytes())
	}
}

func TestFHIRRoundTrip(t *testing.T) {
	for _, tc := range testEvents() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.e.ToFHIR()
			if err != nil {
				t.Fatal(err)
			}
			goldenJSON(t, filepath.Join("fhir", tc.name+".json"), b)
			if err := validateFHIR(t, b); err != nil {
				t.Errorf("not a valid R4 AuditEvent: %v", err)
			}
			got, err := EventFromFHIR(b)
			if err != nil {
				t.Fatalf("EventFromFHIR(ToFHIR()): %v", err)
			}
			if d := diffEvents(got, normalised(tc.e)); d != "" {
				t.Error(d)
			}
		})
	}
}

// The validator must reject what is not an AuditEvent, or the round trip
// test above proves nothing about validity.
func TestFHIRSchemaCatchesErrors(t *testing.T) {
	b, err := testEvents()[0].e.ToFHIR()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ old, new string }{
		{`"outcome":"0"`, `"outcome":"5"`},
		{`"recorded":"2025-03-14T09:26:53.589793Z"`, `"recorded":"2025-03-14"`},
		{`"requestor":true`, `"requestor":true,"user":"x"`},
		{`"id":"9f1c2e7a4b3d5f60718293a4b5c6d7e8"`, `"id":"has spaces"`},
		{`"code":"110110"`, `"code":" 110110"`},
	} {
		mutated := bytes.Replace(b, []byte(bad.old), []byte(bad.new), 1)
		if bytes.Equal(mutated, b) {
			t.Fatalf("%s is not in the output", bad.old)
		}
		if err := validateFHIR(t, mutated); err == nil {
			t.Errorf("schema accepted %s", bad.new)
		}
	}
}

// at reads a value from decoded JSON by a path like "agent.0.who.reference".
func at(t *testing.T, v any, path string) any {
	t.Helper()
	for _, step := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[step]
		case []any:
			i, err := strconv.Atoi(step)
			if err != nil || i >= len(x) {
				t.Fatalf("%s: no element %s", path, step)
			}
			v = x[i]
		default:
			t.Fatalf("%s: cannot step into %T at %s", path, v, step)
		}
	}
	return v
}

func TestFHIRMapping(t *testing.T) {
	events := map[string]Event{}
	for _, tc := range testEvents() {
		events[tc.name] = tc.e
	}
	tests := []struct {
		event string
		want  map[string]any // path -> value; nil means absent
	}{
		{"chart-read", map[string]any{
			"resourceType": "AuditEvent", "id": "9f1c2e7a4b3d5f60718293a4b5c6d7e8",
			"type.system": systemDICOM, "type.code": "110110", "type.display": "Patient Record",
			"subtype.0.system": systemSubtype, "subtype.0.code": "chart",
			"action": "R", "recorded": "2025-03-14T09:26:53.589793Z", "outcome": "0", "outcomeDesc": nil,
			"purposeOfEvent.0.coding.0.system": systemActReason, "purposeOfEvent.0.coding.0.code": "TREAT",
			"agent.0.who.reference": "Practitioner/pr-0042", "agent.0.who.identifier.system": "urn:trustward:user",
			"agent.0.who.identifier.value": "u-0042", "agent.0.who.display": "Dr. Ada Okafor",
			"agent.0.role.0.text": "clinician", "agent.0.requestor": true, "agent.0.type.coding.0.code": "IRCP",
			"agent.0.network.address": "192.0.2.10", "agent.0.network.type": "2",
			"agent.1.who.type": "Organization", "agent.1.who.identifier.system": "urn:trustward:organization",
			"agent.1.who.identifier.value": "dept-cardiology", "agent.1.requestor": false,
			"source.observer.display": "trustward", "source.observer.identifier.value": "trustward",
			"entity.0.what.reference": "Patient/pt-7f3a", "entity.0.role.code": "1", "entity.0.type.code": "1",
			"entity.1.detail.0.type": "basis", "entity.1.detail.0.valueString": "care-team",
			"entity.1.detail.1.type": "userAgent",
		}},
		{"denied-read", map[string]any{
			"type.system": systemEventType, "type.code": "rest",
			"subtype.0.system": systemRestful, "subtype.0.code": "read", "outcome": "4",
			"outcomeDesc":             "you are not on this patient's care team, an encounter, or the department of an open encounter",
			"agent.0.network.address": "2001:db8::7", "agent.0.network.type": "2",
			"entity.0.what.reference": "Patient/pt-1c9d",
			"entity.1.what.reference": "Observation/obs-991", "entity.1.what.type": "Observation",
			"entity.1.role.code": "4", "entity.1.type.code": "2",
		}},
		{"break-glass-read", map[string]any{
			"purposeOfEvent.0.coding.0.code": "ETREAT", "purposeOfEvent.0.coding.0.display": "Emergency Treatment",
			"entity.1.role.system": systemObjectRole, "entity.1.role.code": "13",
			"entity.1.what.identifier.system": "urn:trustward:break-glass-grant", "entity.1.what.identifier.value": "bg-31",
			"entity.1.detail.0.type": "reasonCode", "entity.1.detail.0.valueString": "unconscious",
			"entity.1.detail.1.type": "reason", "entity.2.detail.0.valueString": "break-glass",
		}},
		{"break-glass-grant", map[string]any{
			"type.code": "110113", "subtype.0.system": systemDICOM, "subtype.0.code": "110127",
			"entity.1.what": nil, "entity.1.detail.0.valueString": "unconscious",
		}},
		{"login", map[string]any{
			"type.system": systemDICOM, "type.code": "110114", "type.display": "User Authentication",
			"subtype.0.code": "110122", "subtype.0.display": "Login", "action": "E",
			"agent.0.type.coding.0.code": "humanuser", "entity.0.detail.0.type": "userAgent",
		}},
		{"patient-search", map[string]any{
			"type.code": "110112", "subtype.0.code": "patient-search", "outcomeDesc": "3 results",
			"entity": nil,
		}},
		{"fhir-create", map[string]any{
			"type.code": "rest", "subtype.0.system": systemRestful, "subtype.0.code": "create", "action": "C",
			"agent.0.type.coding.0.code": "AGNT", "source.observer.display": "fhir-api",
			"entity.1.what.reference": "Observation/obs-1002",
		}},
		{"patient-self-read", map[string]any{
			"agent.0.who.reference": nil, "agent.0.type.coding.0.code": "PAT", "agent.1": nil,
			"agent.0.network.type":    "1",
			"entity.0.what.reference": "Patient/pt-7f3a", "entity.0.role.code": "1",
			"entity.1.what.reference": "Patient/pt-7f3a", "entity.1.role.code": "4",
		}},
		{"minimal", map[string]any{
			"type.code": "110100", "subtype": nil, "purposeOfEvent": nil, "entity": nil, "agent.0.network": nil,
			"agent.0.who.display": nil, "outcome": "12", "recorded": "2024-12-31T23:59:59.000000Z",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			b, err := events[tc.event].ToFHIR()
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				var got any
				if want == nil {
					// The parent must exist for "absent" to mean anything.
					parent, last := "", path
					if i := strings.LastIndexByte(path, '.'); i >= 0 {
						parent, last = path[:i], path[i+1:]
					}
					p := doc
					if parent != "" {
						p = at(t, doc, parent)
					}
					switch x := p.(type) {
					case map[string]any:
						got = x[last]
					case []any:
						if i, _ := strconv.Atoi(last); i < len(x) {
							got = x[i]
						}
					}
				} else {
					got = at(t, doc, path)
				}
				if !jsonEqual(got, want) {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestEventFromExternalAuditEvent(t *testing.T) {
	tests := []struct {
		file string
		want Event
	}{
		{"external-balp-read.json", Event{
			V: CanonicalVersion, ID: "ehr-ae-20250314-000731",
			Time:      time.Date(2025, 3, 14, 8, 15, 2, 123456000, time.UTC),
			Actor:     Actor{UserID: "jdoe", Name: "Dr. Jane Doe", Role: "Attending physician", PractitionerID: "prac-77", Organization: "org-stmary"},
			PatientID: "ext-pat-19", ResourceType: "Observation", ResourceID: "obs-7",
			Action: ActionRead, Subtype: "read", Purpose: "TREAT", Outcome: OutcomeSuccess,
			Source: "St Mary EHR audit", NetworkAddress: "10.20.30.40",
		}},
		{"external-minimal.json", Event{
			V: CanonicalVersion, ID: "ext-min-1", Time: time.Date(2024, 11, 30, 22, 0, 0, 0, time.UTC),
			Actor:  Actor{UserID: "svc-batch", Role: UnknownRole},
			Action: ActionExecute, Outcome: OutcomeSuccess, Source: "Device/etl-7",
		}},
		{"external-login.json", Event{
			V: CanonicalVersion, ID: "ext-login-9", Time: time.Date(2025, 2, 1, 6, 30, 0, 0, time.UTC),
			Actor:  Actor{UserID: "Practitioner/prac-12", Role: "nurse", PractitionerID: "prac-12"},
			Action: ActionExecute, Subtype: "logout", Outcome: OutcomeSuccess, Source: "sso-gateway",
			UserAgent: "Mozilla/5.0", Basis: "sso",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "fhir", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := validateFHIR(t, raw); err != nil {
				t.Fatalf("the sample is not a valid R4 AuditEvent: %v", err)
			}
			got, err := EventFromFHIR(raw)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffEvents(got, tc.want); d != "" {
				t.Error(d)
			}
			// Re-exported, the event must come back unchanged.
			b, err := got.ToFHIR()
			if err != nil {
				t.Fatal(err)
			}
			again, err := EventFromFHIR(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffEvents(again, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestEventFromFHIRRejects(t *testing.T) {
	good, err := testEvents()[0].e.ToFHIR()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	replace := func(old, new string) []byte {
		if !strings.Contains(s, old) {
			t.Fatalf("the AuditEvent lacks %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	nested := `{"resourceType":"AuditEvent","extension":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`
	tests := []struct {
		name string
		in   []byte
		kind fault.Kind
		msg  string
	}{
		{"empty", nil, fault.Invalid, "AuditEvent: is not valid JSON"},
		{"not JSON", []byte(`{"resourceType":`), fault.Invalid, "AuditEvent.resourceType: is not valid JSON"},
		{"array", []byte(`[` + s + `]`), fault.Invalid, "AuditEvent: is not a JSON object"},
		{"string", []byte(`"AuditEvent"`), fault.Invalid, "AuditEvent: is not a JSON object"},
		{"trailing data", []byte(s + ` {}`), fault.Invalid, "AuditEvent: has trailing data"},
		{"trailing garbage", []byte(s + `x`), fault.Invalid, "AuditEvent: has trailing data"},
		{"invalid UTF-8", replace(`"Dr. Ada`, "\"Dr. \xffAda"), fault.Invalid, "AuditEvent: is not valid UTF-8"},
		{"too large", []byte(`{"resourceType":"AuditEvent","text":"` + strings.Repeat("x", 1<<20) + `"}`), fault.TooLarge, "AuditEvent is larger than 1 MiB"},
		{"too deep", []byte(nested), fault.Invalid, ""},
		{"duplicate key", replace(`"display":"Dr. Ada Okafor"`, `"display":"Dr. Ada Okafor","display":"Mallory"`), fault.Invalid, `AuditEvent.agent[0].who: has the key "display" twice`},
		{"duplicate top-level key", replace(`"action":"R"`, `"action":"R","action":"D"`), fault.Invalid, `AuditEvent: has the key "action" twice`},
		{"other resource", replace(`"resourceType":"AuditEvent"`, `"resourceType":"Patient"`), fault.Invalid, `AuditEvent.resourceType: is "Patient", not AuditEvent`},
		{"no resourceType", replace(`"resourceType":"AuditEvent",`, ``), fault.Invalid, "AuditEvent.resourceType: missing"},
		{"no id", replace(`"id":"9f1c2e7a4b3d5f60718293a4b5c6d7e8",`, ``), fault.Invalid, "AuditEvent.id: missing"},
		{"no type", replace(`"type":{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110110","display":"Patient Record"},`, ``), fault.Invalid, "AuditEvent.type: missing"},
		{"no recorded", replace(`"recorded":"2025-03-14T09:26:53.589793Z",`, ``), fault.Invalid, "AuditEvent.recorded: missing"},
		{"recorded without zone", replace(`53.589793Z`, `53.589793`), fault.Invalid, "AuditEvent.recorded: is not a FHIR instant"},
		{"recorded as date", replace(`2025-03-14T09:26:53.589793Z`, `2025-03-14`), fault.Invalid, "AuditEvent.recorded: is not a FHIR instant"},
		{"recorded month 13", replace(`2025-03-14T`, `2025-13-14T`), fault.Invalid, "AuditEvent.recorded: is not a FHIR instant"},
		{"recorded as number", replace(`"2025-03-14T09:26:53.589793Z"`, `1741944413`), fault.Invalid, "AuditEvent.recorded: is not a string"},
		{"recorded in year 0", replace(`2025-03-14T`, `0000-03-14T`), fault.Invalid, "AuditEvent.recorded: year 0 is outside 1 to 9999"},
		{"bad action", replace(`"action":"R"`, `"action":"read"`), fault.Invalid, `AuditEvent.action: "read" is not one of C, R, U, D, E`},
		{"bad outcome", replace(`"outcome":"0"`, `"outcome":"1"`), fault.Invalid, `AuditEvent.outcome: "1" is not one of 0, 4, 8, 12`},
		{"outcome as number", replace(`"outcome":"0"`, `"outcome":0`), fault.Invalid, `AuditEvent.outcome: is not a string`},
		{"null", replace(`"outcome":"0"`, `"outcome":"0","outcomeDesc":null`), fault.Invalid, "AuditEvent.outcomeDesc: is null"},
		{"no agent", replace(s[strings.Index(s, `"agent":`):strings.Index(s, `"source":`)], ``), fault.Invalid, "AuditEvent.agent: missing"},
		{"empty agent", replace(s[strings.Index(s, `"agent":`):strings.Index(s, `"source":`)], `"agent":[],`), fault.Invalid, "AuditEvent.agent: missing"},
		{"agent not an array", replace(`"agent":[`, `"agent":{"x":[`), fault.Invalid, ""},
		{"agent item not an object", replace(`"agent":[`, `"agent":["x",`), fault.Invalid, "AuditEvent.agent[0]: is not a JSON object"},
		{"no who", replace(`"who":{"reference":"Practitioner/pr-0042","identifier":{"system":"urn:trustward:user","value":"u-0042"},"display":"Dr. Ada Okafor"},`, ``), fault.Invalid, "AuditEvent.agent[0].who: missing"},
		{"who without identity", replace(`"who":{"reference":"Practitioner/pr-0042","identifier":{"system":"urn:trustward:user","value":"u-0042"},`, `"who":{`), fault.Invalid, "AuditEvent.agent[0].who: has neither an identifier nor a reference"},
		{"who not an object", replace(`"who":{"reference":"Practitioner/pr-0042","identifier":{"system":"urn:trustward:user","value":"u-0042"},"display":"Dr. Ada Okafor"}`, `"who":"Practitioner/pr-0042"`), fault.Invalid, "AuditEvent.agent[0].who: is not a JSON object"},
		{"requestor as string", replace(`"requestor":true`, `"requestor":"true"`), fault.Invalid, "AuditEvent.agent[0].requestor: is not true or false"},
		{"bad network type", replace(`"type":"2"`, `"type":"IP"`), fault.Invalid, `AuditEvent.agent[0].network.type: "IP" is not one of 1, 2, 3, 4, 5`},
		{"role too long", replace(`"text":"clinician"`, `"text":"`+strings.Repeat("r", 257)+`"`), fault.Invalid, "AuditEvent.agent[0].role: is longer than 256 bytes"},
		{"user too long", replace(`"value":"u-0042"`, `"value":"`+strings.Repeat("u", 257)+`"`), fault.Invalid, "AuditEvent.agent[0].who.identifier.value: is longer than 256 bytes"},
		{"patient too long", replace(`"Patient/pt-7f3a"`, `"Patient/`+strings.Repeat("p", 257)+`"`), fault.Invalid, "AuditEvent.entity[0].what.reference: is longer than 256 bytes"},
		{"no source", replace(`"source":{`, `"origin":{`), fault.Invalid, "AuditEvent.source: missing"},
		{"no observer", replace(`"observer":{`, `"watcher":{`), fault.Invalid, "AuditEvent.source.observer: missing"},
		{"empty observer", replace(`"observer":{"type":"Device","identifier":{"system":"urn:trustward:source","value":"trustward"},"display":"trustward"}`, `"observer":{"type":"Device"}`), fault.Invalid, "AuditEvent.source.observer: has no display, identifier or reference"},
		{"entity not an array", replace(`"entity":[`, `"entity":{"x":[`), fault.Invalid, ""},
		{"detail without type", replace(`{"type":"basis",`, `{`), fault.Invalid, "AuditEvent.entity[1].detail[0].type: missing"},
		{"detail not base64", replace(`{"type":"basis","valueString":"care-team"}`, `{"type":"basis","valueBase64Binary":"%%%"}`), fault.Invalid, "AuditEvent.entity[1].detail[0].valueBase64Binary: is not base64 of UTF-8 text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := EventFromFHIR(tc.in)
			if err == nil {
				t.Fatalf("EventFromFHIR accepted it: %v", e)
			}
			if k := fault.KindOf(err); k != tc.kind {
				t.Errorf("kind %v, want %v (%v)", k, tc.kind, err)
			}
			if tc.msg != "" && fault.Message(err) != tc.msg {
				t.Errorf("message %q,\n         want %q", fault.Message(err), tc.msg)
			}
			if e != (Event{}) {
				t.Errorf("a rejected AuditEvent returned a partial event: %v", e)
			}
		})
	}
}

func TestEventFromFHIRTooDeepNamesThePath(t *testing.T) {
	nested := `{"resourceType":"AuditEvent","extension":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`
	_, err := EventFromFHIR([]byte(nested))
	msg := fault.Message(err)
	if !strings.HasPrefix(msg, "AuditEvent.extension[0][0]") || !strings.HasSuffix(msg, ": is nested deeper than 64 levels") {
		t.Errorf("message %q", msg)
	}
}

// Defaults an external event may rely on, and what they become.
func TestEventFromFHIRDefaults(t *testing.T) {
	base := `{"resourceType":"AuditEvent","id":"x1","type":{"code":"rest"},"recorded":"2025-01-01T00:00:00Z",` +
		`"agent":[{"who":{"identifier":{"value":"u1"}},"requestor":true}],"source":{"observer":{"display":"ehr"}}%s}`
	tests := []struct {
		name, extra  string
		check        func(Event) bool
		action, want string
	}{
		{"no action, RESTful create", `,"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"create"}]`, nil, ActionCreate, "create"},
		{"no action, RESTful patch", `,"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"patch"}]`, nil, ActionUpdate, "patch"},
		{"no action, vendor subtype", `,"subtype":[{"system":"urn:ihe:event-type-code","code":"ITI-78"}]`, nil, ActionExecute, "ITI-78"},
		{"RESTful code preferred", `,"subtype":[{"system":"urn:ihe:event-type-code","code":"ITI-78"},{"system":"http://hl7.org/fhir/restful-interaction","code":"search-type"}]`, nil, ActionExecute, "search-type"},
		{"DICOM logout", `,"subtype":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110123"}]`, nil, ActionExecute, "logout"},
		{"no subtype", ``, nil, ActionExecute, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := EventFromFHIR([]byte(strings.Replace(base, "%s", tc.extra, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if e.Action != tc.action || e.Subtype != tc.want || e.Outcome != OutcomeSuccess || e.Actor.Role != UnknownRole {
				t.Errorf("got action %q subtype %q outcome %q role %q, want %q %q 0 %q", e.Action, e.Subtype, e.Outcome, e.Actor.Role, tc.action, tc.want, UnknownRole)
			}
		})
	}
}

func FuzzEventFromFHIR(f *testing.F) {
	for _, tc := range testEvents() {
		b, err := tc.e.ToFHIR()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	samples, _ := filepath.Glob(filepath.Join("testdata", "fhir", "external-*.json"))
	for _, name := range samples {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"AuditEvent"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := EventFromFHIR(raw)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted an invalid event: %v", err)
		}
		b, err := e.ToFHIR()
		if err != nil {
			t.Fatalf("ToFHIR of an accepted event: %v", err)
		}
		again, err := EventFromFHIR(b)
		if err != nil {
			t.Fatalf("EventFromFHIR(ToFHIR(%q)) = %v", b, err)
		}
		if d := diffEvents(again, e); d != "" {
			t.Fatalf("from %q:\n%s", raw, d)
		}
	})
}

// FuzzFHIRRoundTrip checks the promise of ToFHIR: every valid event comes
// back from its AuditEvent field for field.
func FuzzFHIRRoundTrip(f *testing.F) {
	addFuzzedEventSeeds(f)
	f.Fuzz(func(t *testing.T, id, user, name, role, practitioner, org, patient, rtype, rid, action, subtype, purpose,
		outcome, desc, basis, source, addr, ua, grant, code, reason string, sec, nsec int64, zone int32, breakGlass bool) {
		e := fuzzedEvent(id, user, name, role, practitioner, org, patient, rtype, rid, action, subtype, purpose,
			outcome, desc, basis, source, addr, ua, grant, code, reason, sec, nsec, zone, breakGlass)
		if e.Validate() != nil {
			return
		}
		b, err := e.ToFHIR()
		if err != nil {
			t.Fatalf("Validate passed but ToFHIR fails: %v", err)
		}
		got, err := EventFromFHIR(b)
		if err != nil {
			t.Fatalf("EventFromFHIR(%s): %v", b, err)
		}
		if d := diffEvents(got, normalised(e)); d != "" {
			t.Fatal(d)
		}
	})
}

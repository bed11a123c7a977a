package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/fault"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

type namedEvent struct {
	name string
	e    Event
}

// testEvents are representative events: each kind Trustward records, plus
// edge cases of the encoding.
func testEvents() []namedEvent {
	at := time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
	clinician := Actor{UserID: "u-0042", Name: "Dr. Ada Okafor", Role: "clinician", PractitionerID: "pr-0042", Organization: "dept-cardiology"}
	nurse := Actor{UserID: "u-0107", Name: "Sam Lindqvist", Role: "nurse", PractitionerID: "pr-0107", Organization: "dept-emergency"}
	return []namedEvent{
		{"chart-read", Event{
			V: CanonicalVersion, ID: "9f1c2e7a4b3d5f60718293a4b5c6d7e8", Time: at, Actor: clinician,
			PatientID: "pt-7f3a", Action: ActionRead, Subtype: "chart", Purpose: "TREAT",
			Outcome: OutcomeSuccess, Basis: "care-team", Source: "trustward",
			NetworkAddress: "192.0.2.10", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		}},
		{"denied-read", Event{
			V: CanonicalVersion, ID: "0b5e8d2c1a3f4e6d7c8b9a0f1e2d3c4b", Time: at.Add(time.Minute), Actor: clinician,
			PatientID: "pt-1c9d", ResourceType: "Observation", ResourceID: "obs-991", Action: ActionRead, Subtype: "read",
			Purpose: "TREAT", Outcome: OutcomeDenied,
			OutcomeDesc: "you are not on this patient's care team, an encounter, or the department of an open encounter",
			Source:      "trustward", NetworkAddress: "2001:db8::7", UserAgent: "curl/8.5.0",
		}},
		{"break-glass-read", Event{
			V: CanonicalVersion, ID: "5d6e7f8091a2b3c4d5e6f708192a3b4c", Time: at.Add(2 * time.Hour), Actor: nurse,
			PatientID: "pt-1c9d", Action: ActionRead, Subtype: "chart", Purpose: "ETREAT",
			Outcome: OutcomeSuccess, Basis: "break-glass", Source: "trustward", NetworkAddress: "198.51.100.23",
			BreakGlass: &BreakGlass{GrantID: "bg-31", ReasonCode: "unconscious", Reason: "Arrived unresponsive; no one on the care team is on call."},
		}},
		{"break-glass-grant", Event{
			V: CanonicalVersion, ID: "6e7f8091a2b3c4d5e6f708192a3b4c5d", Time: at.Add(2*time.Hour - time.Second), Actor: nurse,
			PatientID: "pt-1c9d", Action: ActionExecute, Subtype: "break-glass", Purpose: "ETREAT",
			Outcome: OutcomeSuccess, Source: "trustward",
			BreakGlass: &BreakGlass{ReasonCode: "unconscious"},
		}},
		{"login", Event{
			V: CanonicalVersion, ID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", Time: at.Add(-time.Hour), Actor: clinician,
			Action: ActionExecute, Subtype: "login", Outcome: OutcomeSuccess, Source: "trustward",
			NetworkAddress: "192.0.2.10", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		}},
		{"login-failed", Event{
			V: CanonicalVersion, ID: "b2c3d4e5f60718293a4b5c6d7e8f90a1", Time: at.Add(-2 * time.Hour), Actor: Actor{UserID: "u-0042", Role: "clinician"},
			Action: ActionExecute, Subtype: "login", Outcome: OutcomeDenied, OutcomeDesc: "wrong password",
			Source: "trustward", NetworkAddress: "203.0.113.9",
		}},
		{"patient-search", Event{
			V: CanonicalVersion, ID: "c3d4e5f60718293a4b5c6d7e8f90a1b2", Time: at.Add(3 * time.Minute), Actor: clinician,
			Action: ActionExecute, Subtype: "patient-search", Purpose: "TREAT", Outcome: OutcomeSuccess,
			OutcomeDesc: "3 results", Source: "trustward", NetworkAddress: "192.0.2.10",
		}},
		{"fhir-create", Event{
			V: CanonicalVersion, ID: "d4e5f60718293a4b5c6d7e8f90a1b2c3", Time: at.Add(5 * time.Minute), Actor: clinician,
			PatientID: "pt-7f3a", ResourceType: "Observation", ResourceID: "obs-1002", Action: ActionCreate,
			Subtype: "create", Purpose: "TREAT", Outcome: OutcomeSuccess, Basis: "care-team", Source: "fhir-api",
			NetworkAddress: "10.1.2.3", UserAgent: "HAPI-FHIR/7.0.0 (FHIR Client; FHIR 4.0.1/R4; apache)",
		}},
		{"patient-self-read", Event{
			V: CanonicalVersion, ID: "e5f60718293a4b5c6d7e8f90a1b2c3d4", Time: at.Add(6 * time.Minute),
			Actor:     Actor{UserID: "u-p-7f3a", Name: "Grace Hopper", Role: "patient"},
			PatientID: "pt-7f3a", ResourceType: "Patient", ResourceID: "pt-7f3a", Action: ActionRead, Subtype: "read",
			Purpose: "PATRQT", Outcome: OutcomeSuccess, Basis: "self", Source: "portal", NetworkAddress: "portal-gw.internal",
		}},
		{"minimal", Event{
			V: CanonicalVersion, ID: "f60718293a4b5c6d7e8f90a1b2c3d4e5", Time: time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC),
			Actor: Actor{UserID: "svc-export", Role: "system"}, Action: ActionExecute, Outcome: OutcomeMajor, Source: "batch",
		}},
		{"escapes", Event{
			V: CanonicalVersion, ID: "0718293a4b5c6d7e8f90a1b2c3d4e5f6", Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC),
			Actor: Actor{UserID: "u-9", Name: "Zoë <O'Brien> & \"Co\"", Role: "clinician"}, Action: ActionRead,
			Outcome: OutcomeFailure, OutcomeDesc: "line1\nline2\ttab \u2028 sep \u00e9 \U0001F600 \\ end",
			Source: "trustward", UserAgent: "ua/1.0 <script>",
		}},
	}
}

// diffEvents lists the fields in which two events differ.
func diffEvents(got, want Event) string {
	var diffs []string
	var walk func(prefix string, g, w reflect.Value)
	walk = func(prefix string, g, w reflect.Value) {
		switch {
		case g.Type() == reflect.TypeFor[time.Time]():
			gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
			if !gt.Equal(wt) || gt.Location() != wt.Location() {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", prefix, gt, wt))
			}
		case g.Kind() == reflect.Struct:
			for i := range g.NumField() {
				walk(prefix+"."+g.Type().Field(i).Name, g.Field(i), w.Field(i))
			}
		case g.Kind() == reflect.Pointer:
			if g.IsNil() != w.IsNil() {
				diffs = append(diffs, fmt.Sprintf("%s: got nil=%v, want nil=%v", prefix, g.IsNil(), w.IsNil()))
			} else if !g.IsNil() {
				walk(prefix, g.Elem(), w.Elem())
			}
		default:
			if !reflect.DeepEqual(g.Interface(), w.Interface()) {
				diffs = append(diffs, fmt.Sprintf("%s: got %q, want %q", prefix, fmt.Sprint(g.Interface()), fmt.Sprint(w.Interface())))
			}
		}
	}
	walk("Event", reflect.ValueOf(got), reflect.ValueOf(want))
	return strings.Join(diffs, "\n")
}

func normalised(e Event) Event {
	e.normalise()
	return e
}

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n got: %s\nwant: %s", path, got, want)
	}
}

func TestCanonicalGolden(t *testing.T) {
	for _, tc := range testEvents() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.e.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("canonical", tc.name+".json"), b)
			got, err := ParseCanonical(b)
			if err != nil {
				t.Fatalf("ParseCanonical(Canonical()): %v", err)
			}
			if d := diffEvents(got, normalised(tc.e)); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestCanonicalStable(t *testing.T) {
	base := testEvents()[0].e
	want, err := base.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("fixed field order", func(t *testing.T) {
		got := topLevelKeys(t, want)
		order := []string{"v", "id", "time", "actor", "patient", "action", "subtype", "purpose", "outcome", "basis", "source", "address", "userAgent"}
		if !slices.Equal(got, order) {
			t.Errorf("key order %v, want %v", got, order)
		}
		var actor struct{ Actor json.RawMessage }
		if err := json.Unmarshal(want, &actor); err != nil {
			t.Fatal(err)
		}
		if got, order := topLevelKeys(t, actor.Actor), []string{"user", "name", "role", "practitioner", "org"}; !slices.Equal(got, order) {
			t.Errorf("actor key order %v, want %v", got, order)
		}
	})
	t.Run("same bytes every time", func(t *testing.T) {
		for range 50 {
			b, err := base.Canonical()
			if err != nil || !bytes.Equal(b, want) {
				t.Fatalf("Canonical changed between calls: %s, %v", b, err)
			}
		}
	})
	t.Run("equal instants encode equally", func(t *testing.T) {
		e := base
		e.Time = base.Time.In(time.FixedZone("UTC+5:30", 5*3600+1800)).Add(999 * time.Nanosecond)
		b, err := e.Canonical()
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("got %s, %v\nwant %s", b, err, want)
		}
	})
	t.Run("reordered keys are not canonical", func(t *testing.T) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(want, &m); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m) // encoding/json sorts map keys
		if bytes.Equal(b, want) {
			t.Fatal("sorted keys happen to be the canonical order; the test proves nothing")
		}
		if _, err := ParseCanonical(b); !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseCanonical(sorted keys) = %v, want invalid", err)
		}
	})
}

func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestParseCanonicalRejects(t *testing.T) {
	good, err := testEvents()[0].e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	replace := func(old, new string) []byte {
		if !strings.Contains(s, old) {
			t.Fatalf("the canonical form lacks %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	long := strings.Repeat("x", maxField+1)
	tests := []struct {
		name string
		in   []byte
		kind fault.Kind
		msg  string // fault.Message, when the test pins it
	}{
		{"empty", nil, fault.Invalid, ""},
		{"not an object", []byte(`[1]`), fault.Invalid, ""},
		{"unknown field", replace(`"source":`, `"site":"x","source":`), fault.Invalid, ""},
		{"unknown actor field", replace(`"role":"clinician"`, `"role":"clinician","email":"a@b"`), fault.Invalid, ""},
		{"key in another case", replace(`"id":`, `"ID":`), fault.Invalid, "event encoding is not canonical"},
		{"duplicate key", replace(`"id":`, `"id":"x","id":`), fault.Invalid, "event encoding is not canonical"},
		{"space after colon", replace(`"id":`, `"id": `), fault.Invalid, "event encoding is not canonical"},
		{"leading space", append([]byte(" "), good...), fault.Invalid, "event encoding is not canonical"},
		{"trailing newline", append(append([]byte{}, good...), '\n'), fault.Invalid, "event encoding is not canonical"},
		{"trailing data", append(append([]byte{}, good...), good...), fault.Invalid, "canonical event has trailing data"},
		{"indented", indent(t, good), fault.Invalid, "event encoding is not canonical"},
		{"escaped letter", replace(`"chart"`, `"\u0063hart"`), fault.Invalid, "event encoding is not canonical"},
		{"HTML-escaped", replace(`"Mozilla/5.0`, `"\u003cMozilla/5.0`), fault.Invalid, "event encoding is not canonical"},
		{"time without microseconds", replace(`53.589793Z`, `53Z`), fault.Invalid, "event encoding is not canonical"},
		{"time with nanoseconds", replace(`53.589793Z`, `53.589793000Z`), fault.Invalid, "event encoding is not canonical"},
		{"time with offset", replace(`09:26:53.589793Z`, `10:26:53.589793+01:00`), fault.Invalid, "event encoding is not canonical"},
		{"time as date", replace(`2025-03-14T09:26:53.589793Z`, `2025-03-14`), fault.Invalid, ""},
		{"time as number", replace(`"2025-03-14T09:26:53.589793Z"`, `1741944413`), fault.Invalid, ""},
		{"version 2", replace(`"v":1`, `"v":2`), fault.Invalid, "v: unsupported event version 2"},
		{"version as float", replace(`"v":1`, `"v":1.0`), fault.Invalid, ""},
		{"missing id", replace(`"id":"9f1c2e7a4b3d5f60718293a4b5c6d7e8",`, ``), fault.Invalid, "id: is required"},
		{"missing user", replace(`"user":"u-0042",`, ``), fault.Invalid, "actor.user: is required"},
		{"missing role", replace(`"role":"clinician",`, ``), fault.Invalid, "actor.role: is required"},
		{"missing action", replace(`"action":"R",`, ``), fault.Invalid, `action: "" is not one of C, R, U, D, E`},
		{"missing outcome", replace(`"outcome":"0",`, ``), fault.Invalid, `outcome: "" is not one of 0, 4, 8, 12`},
		{"missing source", replace(`"source":"trustward",`, ``), fault.Invalid, "source: is required"},
		{"missing time", replace(`"time":"2025-03-14T09:26:53.589793Z",`, ``), fault.Invalid, "time: is required"},
		{"bad action", replace(`"action":"R"`, `"action":"X"`), fault.Invalid, `action: "X" is not one of C, R, U, D, E`},
		{"empty optional present", replace(`"subtype":"chart"`, `"subtype":""`), fault.Invalid, "event encoding is not canonical"},
		{"null break-glass", replace(`"userAgent":`, `"breakGlass":null,"userAgent":`), fault.Invalid, ""},
		{"invalid UTF-8", replace(`"Dr. Ada`, "\"Dr. \xffAda"), fault.Invalid, "event encoding is not canonical"},
		{"escaped lone surrogate", replace(`"Dr. Ada`, `"Dr. \ud800Ada`), fault.Invalid, "event encoding is not canonical"},
		{"oversize id", replace(`"9f1c2e7a4b3d5f60718293a4b5c6d7e8"`, `"`+long+`"`), fault.Invalid, "id: is longer than 256 bytes"},
		{"oversize user agent", replace(`"Mozilla/5.0`, `"`+strings.Repeat("m", maxText)), fault.Invalid, "userAgent: is longer than 2000 bytes"},
		{"oversize input", append(replace(`"userAgent":"`, `"userAgent":"`+strings.Repeat(" ", 80<<10)), good...), fault.TooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCanonical(tc.in)
			if err == nil {
				t.Fatalf("ParseCanonical accepted %s", tc.in)
			}
			if k := fault.KindOf(err); k != tc.kind {
				t.Errorf("kind %v, want %v (%v)", k, tc.kind, err)
			}
			if tc.msg != "" && fault.Message(err) != tc.msg {
				t.Errorf("message %q, want %q", fault.Message(err), tc.msg)
			}
		})
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// maximalEvent has every field at its size limit, made of the characters
// that JSON escapes the most.
func maximalEvent() Event {
	short := strings.Repeat("\x01", maxField)
	text := strings.Repeat("\x1f", maxText)
	return Event{
		V: CanonicalVersion, ID: short, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		Actor:     Actor{UserID: short, Name: short, Role: short, PractitionerID: short, Organization: short},
		PatientID: short, ResourceType: short, ResourceID: short, Action: ActionExecute, Subtype: short,
		Purpose: short, Outcome: OutcomeMajor, OutcomeDesc: text, Basis: short, Source: short,
		NetworkAddress: short, UserAgent: text,
		BreakGlass: &BreakGlass{GrantID: short, ReasonCode: short, Reason: text},
	}
}

// Every event that Validate accepts must come back from its canonical
// encoding, even the largest.
func TestCanonicalLargestEvent(t *testing.T) {
	e := maximalEvent()
	b, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCanonical(b)
	if err != nil {
		t.Fatalf("ParseCanonical of a valid %d-byte event: %v", len(b), err)
	}
	if d := diffEvents(got, e); d != "" {
		t.Error(d)
	}
}

func TestValidateTime(t *testing.T) {
	base := testEvents()[0].e
	tests := []struct {
		name string
		t    time.Time
		ok   bool
	}{
		{"first instant", time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), true},
		{"last instant", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), true},
		{"zero", time.Time{}, false},
		{"zero after truncation", time.Time{}.Add(999), false},
		{"year 0", time.Date(0, 12, 31, 23, 0, 0, 0, time.UTC), false},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"year 10000 in UTC only", time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("-2", -7200)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			e.Time = tc.t
			err := e.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				if fault.Message(err) == "" || !strings.HasPrefix(fault.Message(err), "time: ") {
					t.Errorf("message %q does not name the time", fault.Message(err))
				}
				return
			}
			b, err := e.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseCanonical(b); err != nil {
				t.Fatalf("ParseCanonical(%s): %v", b, err)
			}
		})
	}
}

func FuzzCanonical(f *testing.F) {
	for _, tc := range testEvents() {
		b, err := tc.e.Canonical()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"id":"a","time":"2025-01-01T00:00:00.000000Z","actor":{"user":"u","role":"r"},"action":"R","outcome":"0","source":"s","breakGlass":{"grant":"","code":"c","text":""}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseCanonical(b)
		if err != nil {
			return
		}
		again, err := e.Canonical()
		if err != nil {
			t.Fatalf("accepted %q but Canonical fails: %v", b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %q but Canonical gives %q", b, again)
		}
	})
}

// fuzzedEvent builds an event from fuzzed parts; the time comes from
// seconds, nanoseconds and a zone offset so that normalisation is fuzzed
// too.
func fuzzedEvent(id, user, name, role, practitioner, org, patient, rtype, rid, action, subtype, purpose,
	outcome, desc, basis, source, addr, ua, grant, code, reason string, sec, nsec int64, zone int32, breakGlass bool) Event {
	e := Event{
		V: CanonicalVersion, ID: id,
		Time:      time.Unix(sec, nsec).In(time.FixedZone("fuzz", int(zone%(18*3600)))),
		Actor:     Actor{UserID: user, Name: name, Role: role, PractitionerID: practitioner, Organization: org},
		PatientID: patient, ResourceType: rtype, ResourceID: rid, Action: action, Subtype: subtype,
		Purpose: purpose, Outcome: outcome, OutcomeDesc: desc, Basis: basis, Source: source,
		NetworkAddress: addr, UserAgent: ua,
	}
	if breakGlass {
		e.BreakGlass = &BreakGlass{GrantID: grant, ReasonCode: code, Reason: reason}
	}
	return e
}

func addFuzzedEventSeeds(f *testing.F) {
	for _, tc := range testEvents() {
		e := tc.e
		bg := e.BreakGlass
		if bg == nil {
			bg = &BreakGlass{}
		}
		f.Add(e.ID, e.Actor.UserID, e.Actor.Name, e.Actor.Role, e.Actor.PractitionerID, e.Actor.Organization,
			e.PatientID, e.ResourceType, e.ResourceID, e.Action, e.Subtype, e.Purpose, e.Outcome, e.OutcomeDesc,
			e.Basis, e.Source, e.NetworkAddress, e.UserAgent, bg.GrantID, bg.ReasonCode, bg.Reason,
			e.Time.Unix(), int64(e.Time.Nanosecond()), int32(0), e.BreakGlass != nil)
	}
	f.Add("i", "u", "", "r", "", "", "", "", "", "E", "", "", "12", "", "", "s", "", "", "", "c", "", int64(-62135596800), int64(1), int32(-3600), true)
}

func FuzzEventFields(f *testing.F) {
	addFuzzedEventSeeds(f)
	f.Fuzz(func(t *testing.T, id, user, name, role, practitioner, org, patient, rtype, rid, action, subtype, purpose,
		outcome, desc, basis, source, addr, ua, grant, code, reason string, sec, nsec int64, zone int32, breakGlass bool) {
		e := fuzzedEvent(id, user, name, role, practitioner, org, patient, rtype, rid, action, subtype, purpose,
			outcome, desc, basis, source, addr, ua, grant, code, reason, sec, nsec, zone, breakGlass)
		if e.Validate() != nil {
			return
		}
		b, err := e.Canonical()
		if err != nil {
			t.Fatalf("Validate passed but Canonical fails: %v", err)
		}
		got, err := ParseCanonical(b)
		if err != nil {
			t.Fatalf("ParseCanonical(%q): %v", b, err)
		}
		if d := diffEvents(got, normalised(e)); d != "" {
			t.Fatal(d)
		}
	})
}

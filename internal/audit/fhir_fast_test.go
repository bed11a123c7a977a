package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
)

// fastSeeds are AuditEvents the fast reader must read itself: every event
// ToFHIR writes, the external samples, and spellings of them that other
// systems use (escapes, white space, other member order, numbers and
// unknown elements).
func fastSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, tc := range testEvents() {
		b, err := tc.e.ToFHIR()
		if err != nil {
			t.Fatal(err)
		}
		seeds[tc.name] = b
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fhir", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		seeds["file "+filepath.Base(name)] = b
	}
	base := string(seeds["chart-read"])
	seeds["escaped values"] = []byte(strings.NewReplacer(
		`"Dr. Ada Okafor"`, `"Dr. \u0041da \"Okafor\"\t\ud83d\ude00 \ud800 \\ \/"`,
		`"http://hl7.org/fhir/restful-interaction"`, `"http:\/\/hl7.org\/fhir\/restful-interaction"`,
		`"Patient/pt-7f3a"`, `"Patient\/pt-7f3a"`,
	).Replace(base))
	seeds["unknown elements"] = []byte(strings.Replace(base, `"action":"R"`,
		`"meta":{"versionId":"1","tag":[{"code":"x"}],"n":[-0.5e+10,0,12.25E3,true,false,null,[],{}]},"action":"R"`, 1))
	var v any
	if err := json.Unmarshal([]byte(base), &v); err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(v, " ", "\t")
	if err != nil {
		t.Fatal(err)
	}
	seeds["indented, keys sorted"] = append(append([]byte("\r\n"), indented...), " \n"...)
	return seeds
}

func TestFastFHIRReadsTheUsualEvents(t *testing.T) {
	for name, raw := range fastSeeds(t) {
		t.Run(name, func(t *testing.T) {
			want, err := eventFromFHIRStrict(raw)
			if err != nil {
				t.Fatal(err)
			}
			got, out := eventFromFHIRFast(raw)
			if out != fastOK {
				t.Fatalf("the fast reader gave %d, not fastOK", out)
			}
			if d := diffEvents(got, want); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestFastFHIRRejectsWhatStrictRejects: for inputs that are wrong, the fast
// reader says so (and EventFromFHIR gives the strict reader's message).
func TestFastFHIRRejectsWhatStrictRejects(t *testing.T) {
	good, err := testEvents()[0].e.ToFHIR()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	tests := map[string]string{
		"empty":                  ``,
		"not JSON":               `{"resourceType":`,
		"array":                  `[` + s + `]`,
		"trailing data":          s + ` {}`,
		"comma missing":          strings.Replace(s, `"action":"R",`, `"action":"R"`, 1),
		"trailing comma":         strings.Replace(s, `"action":"R",`, `"action":"R",,`, 1),
		"bad escape":             strings.Replace(s, `"Dr. Ada`, `"Dr. \x Ada`, 1),
		"short unicode escape":   strings.Replace(s, `"Dr. Ada`, `"Dr. \u12 Ada`, 1),
		"control character":      strings.Replace(s, `"Dr. Ada`, "\"Dr.\tAda", 1),
		"leading zero":           strings.Replace(s, `"action":"R"`, `"n":01,"action":"R"`, 1),
		"bare minus":             strings.Replace(s, `"action":"R"`, `"n":-,"action":"R"`, 1),
		"bad literal":            strings.Replace(s, `"action":"R"`, `"n":nul,"action":"R"`, 1),
		"duplicate key":          strings.Replace(s, `"action":"R"`, `"action":"R","action":"D"`, 1),
		"nested duplicate key":   strings.Replace(s, `"action":"R"`, `"x":{"a":1,"a":2},"action":"R"`, 1),
		"too deep":               `{"resourceType":"AuditEvent","extension":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`,
		"bad action":             strings.Replace(s, `"action":"R"`, `"action":"read"`, 1),
		"null":                   strings.Replace(s, `"outcome":"0"`, `"outcome":"0","outcomeDesc":null`, 1),
		"recorded without zone":  strings.Replace(s, `53.589793Z`, `53.589793`, 1),
		"recorded month 13":      strings.Replace(s, `2025-03-14T`, `2025-13-14T`, 1),
		"requestor as string":    strings.Replace(s, `"requestor":true`, `"requestor":"true"`, 1),
		"user too long":          strings.Replace(s, `"value":"u-0042"`, `"value":"`+strings.Repeat("u", 257)+`"`, 1),
		"detail not base64":      strings.Replace(s, `{"type":"basis","valueString":"care-team"}`, `{"type":"basis","valueBase64Binary":"%%%"}`, 1),
		"detail without type":    strings.Replace(s, `{"type":"basis",`, `{`, 1),
		"agent item not object":  strings.Replace(s, `"agent":[`, `"agent":["x",`, 1),
		"invalid UTF-8":          strings.Replace(s, `"Dr. Ada`, "\"Dr. \xffAda", 1),
		"no source":              strings.Replace(s, `"source":{`, `"origin":{`, 1),
		"entity role not object": strings.Replace(s, `"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}`, `"role":[]`, 1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if in == s {
				t.Fatal("the case changes nothing")
			}
			if _, err := eventFromFHIRStrict([]byte(in)); err == nil {
				t.Fatal("the strict reader accepts it")
			}
			if _, out := eventFromFHIRFast([]byte(in)); out != fastReject {
				t.Errorf("the fast reader gave %d, not fastReject", out)
			}
		})
	}
}

// TestFastFHIRLeavesUnusualShapes: an escaped key or a wide object goes to
// the strict reader, which accepts or rejects it.
func TestFastFHIRLeavesUnusualShapes(t *testing.T) {
	good, err := testEvents()[0].e.ToFHIR()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	wide := make([]string, fastMaxKeys+1)
	for i := range wide {
		wide[i] = `"k` + strings.Repeat("x", i) + `":1`
	}
	tests := map[string]struct {
		in       string
		accepted bool
	}{
		"escaped key":          {strings.Replace(s, `"action":"R"`, `"\u0061ction":"R"`, 1), true},
		"escaped duplicate":    {strings.Replace(s, `"action":"R"`, `"action":"R","\u0061ction":"R"`, 1), false},
		"wide unknown element": {strings.Replace(s, `"action":"R"`, `"x":{`+strings.Join(wide, ",")+`},"action":"R"`, 1), true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, out := eventFromFHIRFast([]byte(tc.in)); out != fastUnusual {
				t.Errorf("the fast reader gave %d, not fastUnusual", out)
			}
			_, err := EventFromFHIR([]byte(tc.in))
			if (err == nil) != tc.accepted {
				t.Errorf("accepted %v, want %v (%v)", err == nil, tc.accepted, err)
			}
		})
	}
}

// FuzzFastFHIR holds the fast reader to its promises: what it accepts, the
// strict reader accepts as the same event; what it rejects, the strict
// reader rejects; and EventFromFHIR answers as the strict reader does,
// down to the message.
func FuzzFastFHIR(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"AuditEvent"}`))
	f.Add([]byte(`{"a":"\ud800\u0041","b":"\udc00\ud800\udc00","c":[1e5,-0,0.1E-2]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		strict, serr := eventFromFHIRStrict(raw)
		fast, out := eventFromFHIRFast(raw)
		switch out {
		case fastOK:
			if serr != nil {
				t.Fatalf("fast accepts, strict rejects: %v", serr)
			}
			if d := diffEvents(fast, strict); d != "" || !reflect.DeepEqual(fast, strict) {
				t.Fatalf("fast and strict differ:\n%s\nfast   %#v\nstrict %#v", d, fast, strict)
			}
		case fastReject:
			if serr == nil {
				t.Fatalf("fast rejects, strict accepts %#v", strict)
			}
		case fastUnusual:
		default:
			t.Fatalf("outcome %d", out)
		}
		e, err := EventFromFHIR(raw)
		if (err == nil) != (serr == nil) || (err != nil && (fault.Message(err) != fault.Message(serr) || fault.KindOf(err) != fault.KindOf(serr))) {
			t.Fatalf("EventFromFHIR: %v, strict: %v", err, serr)
		}
		if d := diffEvents(e, strict); d != "" {
			t.Fatal(d)
		}
	})
}

// FuzzFastString compares the fast reader's string scanning and decoding
// with encoding/json on one JSON string.
func FuzzFastString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\ud800\udc00"`, `"x\u12"`, "\"\x01\"", `"\'"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := &fastReader{raw: raw}
		var want string
		werr := json.Unmarshal(raw, &want)
		if len(raw) == 0 || raw[0] != '"' || !utf8.Valid(raw) {
			return // EventFromFHIR checks UTF-8 before it scans
		}
		ok := r.str(nodeString)
		if ok {
			r.skipSpace()
			ok = r.pos == len(raw)
		}
		if ok != (werr == nil) {
			t.Fatalf("fast scan %v, encoding/json %v", ok, werr)
		}
		if ok {
			if got := string(r.text(0)); got != want {
				t.Fatalf("decoded %q, encoding/json %q", got, want)
			}
		}
	})
}

// BenchmarkEventFromFHIR reads the chart-read AuditEvent through each path.
func BenchmarkEventFromFHIR(b *testing.B) {
	raw, err := testEvents()[0].e.ToFHIR()
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []struct {
		name string
		read func([]byte) (Event, error)
	}{{"fast", EventFromFHIR}, {"strict", eventFromFHIRStrict}} {
		b.Run(path.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := path.read(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

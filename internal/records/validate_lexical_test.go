package records

import (
	"strings"
	"testing"
)

// lexicalSamples are strings at the edges of the primitive patterns.
var lexicalSamples = []string{
	"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\fb", "\f", "a\nb", "a\vb", "é", "é b", "x\u00a0y",
	"0", "00", "01", "1", "-0", "-1", "-01", "+1", "1.0", "1e3", "2147483648", "-", "--1",
	"pat-0001", "a.b-C", strings.Repeat("a", 64), strings.Repeat("a", 65), "a_b", "a/b",
	"0000", "0001", "1000", "2024", "999", "20245", "2024-00", "2024-01", "2024-12", "2024-13", "2024-1",
	"2024-01-00", "2024-01-01", "2024-01-31", "2024-01-32", "2024-02-30", "2024-01-1", "2024/01/01",
	"2024-01-01T", "2024-01-01T10:00", "2024-01-01T10:00:00", "2024-01-01T10:00:00Z", "2024-01-01T24:00:00Z",
	"2024-01-01T23:59:60Z", "2024-01-01T23:59:61Z", "2024-01-01T23:60:00Z", "2024-01-01T10:00:00.Z",
	"2024-01-01T10:00:00.123Z", "2024-01-01T10:00:00.123456789+01:00", "2024-01-01T10:00:00+14:00",
	"2024-01-01T10:00:00+14:01", "2024-01-01T10:00:00-13:59", "2024-01-01T10:00:00+13:60",
	"2024-01-01T10:00:00+1:00", "2024-01-01T10:00:00+01:00Z", "2024-01-01T10:00:00z", "2024-01-01t10:00:00Z",
	"2024-01T10:00:00Z", "10:00:00", "10:00:00.5", "10:00", "24:00:00", "9:00:00", "10:00:00Z", "10:00:00.",
	"http://example.org/a b", "urn:oid:1.2", "a\rb", "a\u2028b",
}

func TestLexicalCheckersMatchPatterns(t *testing.T) {
	defs, err := definitions()
	if err != nil {
		t.Fatal(err)
	}
	prims := primitivesWithCheckers(t, defs)
	for _, p := range prims {
		for _, s := range lexicalSamples {
			if got, want := p.lexical(s), p.re.MatchString(s); got != want {
				t.Errorf("%s %q: hand-written checker says %v, pattern says %v", p.name, s, got, want)
			}
		}
	}
}

func primitivesWithCheckers(t testing.TB, defs *fhirDefinitions) []*primitiveDef {
	seen := map[string]*primitiveDef{}
	for _, td := range defs.types {
		for _, el := range td.elements {
			if el.prim != nil && el.prim.lexical != nil {
				seen[el.prim.name] = el.prim
			}
		}
	}
	if len(seen) != len(lexicalCheckers) {
		t.Fatalf("%d primitives use a hand-written checker, want %d", len(seen), len(lexicalCheckers))
	}
	var out []*primitiveDef
	for _, p := range seen {
		out = append(out, p)
	}
	return out
}

func FuzzLexicalCheckers(f *testing.F) {
	for _, s := range lexicalSamples {
		f.Add(s)
	}
	defs, err := definitions()
	if err != nil {
		f.Fatal(err)
	}
	prims := primitivesWithCheckers(f, defs)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range prims {
			if got, want := p.lexical(s), p.re.MatchString(s); got != want {
				t.Errorf("%s %q: hand-written checker says %v, pattern says %v", p.name, s, got, want)
			}
		}
	})
}

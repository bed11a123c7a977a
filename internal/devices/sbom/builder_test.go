package sbom

import (
	"fmt"
	"reflect"
	"testing"
)

func TestCycles(t *testing.T) {
	graph := map[string][]string{
		"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, // a cycle of three, leaving to d
		"d": {"e"}, "e": {}, // no cycle
		"f": {"f"},             // a self-loop
		"g": {"h"}, "h": {"g"}, // a cycle of two
	}
	order := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	got := cycles(graph, order)
	want := [][]string{{"a", "b", "c"}, {"f"}, {"g", "h"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cycles = %v, want %v", got, want)
	}
}

// TestCyclesLongChain: a chain of 300,000 dependencies closing into one
// cycle must neither overflow the stack nor take long.
func TestCyclesLongChain(t *testing.T) {
	const n = 300_000
	graph := make(map[string][]string, n)
	order := make([]string, n)
	for i := range n {
		order[i] = fmt.Sprint(i)
		graph[order[i]] = []string{fmt.Sprint((i + 1) % n)}
	}
	got := cycles(graph, order)
	if len(got) != 1 || len(got[0]) != n || got[0][0] != "0" {
		t.Fatalf("got %d cycles", len(got))
	}
}

func TestSupportField(t *testing.T) {
	for key, want := range map[string][2]bool{
		"fda:levelOfSupport":  {true, false},
		"Level of Support":    {true, false},
		"level_of_support":    {true, false},
		"supportLevel":        {true, false},
		"acme.supportStatus":  {true, false},
		"fda:endOfSupport":    {false, true},
		"End-of-Support Date": {false, true},
		"supportEndOfSupport": {false, true},
		"EOS":                 {false, true},
		"endOfLife":           {false, false}, // end of life is not end of support
		"support":             {false, false},
		"cdx:device:quantity": {false, false},
	} {
		level, end := supportField(key)
		if [2]bool{level, end} != want {
			t.Errorf("supportField(%q) = %v, %v; want %v", key, level, end, want)
		}
	}
}

func TestProblemsAreBounded(t *testing.T) {
	b := newBuilder(t.Context(), &Document{Dependencies: map[string][]string{}}, DefaultLimits())
	for i := 0; i < MaxProblems+5; i++ {
		b.add(Component{Name: "x", Purl: "not a purl"})
	}
	doc, err := b.finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Problems) != MaxProblems+1 || doc.Problems[MaxProblems].Detail != "5 more problems were not kept" {
		t.Fatalf("%d problems, last %v", len(doc.Problems), doc.Problems[len(doc.Problems)-1])
	}
	if len(doc.Components) != MaxProblems+5 {
		t.Fatalf("components must all be kept: %d", len(doc.Components))
	}
}

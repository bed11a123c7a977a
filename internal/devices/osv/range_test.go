package osv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trustward/trustward/internal/devices/version"
)

// walkAll is contains as the OSV schema words it, without its shortcuts
// (the stop at the first event above v, the comparison with the highest
// event): every event is visited.
func walkAll(r *versionRange, v version.Version) (bool, *event) {
	for _, l := range r.limits {
		if v.Compare(l) < 0 {
			goto inLimit
		}
	}
	if len(r.limits) > 0 {
		return false, nil
	}
inLimit:
	affected, opened := false, -1
	for i := range r.events {
		e := &r.events[i]
		switch e.kind {
		case introduced:
			if e.origin || v.Compare(e.v) >= 0 {
				affected, opened = true, i
			}
		case fixed:
			if v.Compare(e.v) >= 0 {
				affected = false
			}
		case lastAffected:
			if v.Compare(e.v) > 0 {
				affected = false
			}
		}
	}
	if !affected {
		return false, nil
	}
	for i := opened + 1; i < len(r.events); i++ {
		if r.events[i].kind != introduced {
			return true, &r.events[i]
		}
	}
	return true, nil
}

// TestContainsShortcuts holds contains to the plain walk on random ranges
// of up to eight events (several windows, events at one version, limits,
// pre-releases) in the SemVer, PyPI and Maven schemes, for versions below,
// on, between and above their events.
func TestContainsShortcuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	pool := map[string][]string{
		"Go":    {"0.9.0", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.2.3", "1.10.0", "2.0.0", "2.0.0-beta", "3.0.0", "10.0.0"},
		"PyPI":  {"0.9", "1.0rc1", "1.0", "1.0.post1", "1.1", "1.2.dev0", "1.2", "1.10", "2.0", "2!1.0", "3.0", "1.0+local"},
		"Maven": {"0.9", "1.0-alpha", "1.0", "1.0.1", "1.1", "1.2-SNAPSHOT", "1.2", "1.10", "2.0", "2.0.RELEASE", "3.0", "10.0"},
	}
	kinds := []string{"introduced", "fixed", "last_affected"}
	checked := 0
	for eco, versions := range pool {
		for range 3000 {
			var events []rawEvent
			for range 1 + rng.IntN(8) {
				s := versions[rng.IntN(len(versions))]
				if rng.IntN(6) == 0 {
					s = "0"
				}
				switch kinds[rng.IntN(len(kinds))] {
				case "introduced":
					events = append(events, rawEvent{Introduced: &s})
				case "fixed":
					events = append(events, rawEvent{Fixed: &s})
				default:
					events = append(events, rawEvent{LastAffected: &s})
				}
			}
			if rng.IntN(5) == 0 {
				l := versions[rng.IntN(len(versions))]
				events = append(events, rawEvent{Limit: &l})
			}
			r, err := compileRange(eco, events)
			if err != nil {
				continue // no introduced event, or "0" where a version must be
			}
			for _, s := range versions {
				v, err := version.Parse(eco, s)
				if err != nil {
					t.Fatal(err)
				}
				gotOK, gotE := r.contains(v)
				wantOK, wantE := walkAll(r, v)
				if gotOK != wantOK || gotE != wantE {
					t.Fatalf("%s %s in %s: contains %v %v, walk %v %v", eco, s, describe(r), gotOK, gotE, wantOK, wantE)
				}
				checked++
			}
		}
	}
	if checked < 50000 {
		t.Fatalf("only %d cases checked", checked)
	}
}

func describe(r *versionRange) string {
	s := ""
	for _, e := range r.events {
		s += fmt.Sprintf("%d:%s ", e.kind, e.v)
	}
	return fmt.Sprintf("[%s] limits %v", s, r.limits)
}

// TestIndexListed checks the per-package union of versions lists and each
// entry's marks against the lists themselves, on random lists.
func TestIndexListed(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	names := make([]string, 150)
	for i := range names {
		names[i] = fmt.Sprintf("%d.%d", i/10, i%10)
	}
	for range 300 {
		pa := &packageAdvisories{entries: make([]entry, 1+rng.IntN(6))}
		for i := range pa.entries {
			for _, v := range names {
				if rng.IntN(4) == 0 {
					pa.entries[i].versions = append(pa.entries[i].versions, v)
				}
			}
			slices.Sort(pa.entries[i].versions)
		}
		pa.indexListed()
		if !slices.IsSorted(pa.listed) || len(slices.Compact(slices.Clone(pa.listed))) != len(pa.listed) {
			t.Fatalf("union not sorted and without repeats: %v", pa.listed)
		}
		for i := range pa.entries {
			e := &pa.entries[i]
			for _, v := range e.versions {
				if !slices.Contains(pa.listed, v) {
					t.Fatalf("entry %d lists %s, the union does not", i, v)
				}
			}
			for at, v := range pa.listed {
				if got, want := e.lists(at), slices.Contains(e.versions, v); got != want {
					t.Fatalf("entry %d, %s: lists %v, want %v", i, v, got, want)
				}
			}
			if e.lists(-1) {
				t.Fatalf("entry %d lists the version no entry lists", i)
			}
		}
	}
}

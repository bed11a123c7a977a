package osv

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/devices/version"
)

// Errors carried by unmatched and error findings.
var (
	// ErrUnknownEcosystem: no advisories are loaded for the component's
	// ecosystem (or its purl type has none), so it cannot be judged.
	ErrUnknownEcosystem = errors.New("no advisories loaded for this ecosystem")
	// ErrIncomplete: the component lacks a name, or an ecosystem and a purl.
	ErrIncomplete = errors.New("component incomplete")
	// ErrNoVersion: the component has advisories but no version to check.
	ErrNoVersion = errors.New("component has no version")
)

// Index is a read-only vulnerability index; it is safe for concurrent use.
type Index struct {
	packages map[packageKey]*packageAdvisories
	// ecosystems maps an ecosystem in lower case, and each spelling the
	// advisories use, to the spelling the index keys packages by.
	ecosystems     map[string]string
	counts         map[string]int // advisories per ecosystem
	advisories     int
	withdrawn      int
	problems       []Problem
	kev            *KEV
	indexed        []*Advisory // by Advisory.seq
	kevBySeq       []*KEVEntry // kev.match of indexed[i]
	likeOSVScanner bool
}

// packageKey is an ecosystem without its release suffix and a package name
// as OSV normalises it.
type packageKey struct {
	ecosystem, name string
}

// packageAdvisories is what the index holds for one package: its affected
// entries, in advisory ID order, and every version their versions lists
// name (sorted, without repeats), which each entry's listedBits marks.
type packageAdvisories struct {
	entries []entry // one after another in memory, for the scan's sake
	listed  []string
}

// WithKEV returns an index that marks findings whose advisory ID or alias
// is in the KEV catalog. The advisories are shared, not copied.
func (ix *Index) WithKEV(k *KEV) *Index {
	c := *ix
	c.kev = k
	c.kevBySeq = nil
	if k != nil {
		// Matched once per advisory here rather than once per finding.
		c.kevBySeq = make([]*KEVEntry, len(ix.indexed))
		for i, a := range ix.indexed {
			c.kevBySeq[i] = k.match(a)
		}
	}
	return &c
}

// LikeOSVScanner returns an index that reproduces OSV-Scanner's matching
// (v2.6, osv-scalibr's local matcher) where it departs from the OSV schema:
// an entry's ranges after its first GIT range are not read, and an advisory
// must spell a PyPI name already normalised. It exists for side-by-side
// comparisons with OSV-Scanner, not for risk decisions, and it does not
// change the other departures listed under Scan.
func (ix *Index) LikeOSVScanner() *Index {
	c := *ix
	c.likeOSVScanner = true
	return &c
}

// Problems lists the advisories, and parts of advisories, that were skipped
// while loading, each naming its file and the reason.
func (ix *Index) Problems() []Problem { return slices.Clone(ix.problems) }

// Stats counts what the index holds.
type Stats struct {
	Advisories  int            // indexed; withdrawn ones are not
	Withdrawn   int            // read and ignored
	Packages    int            // distinct (ecosystem, name) pairs
	ByEcosystem map[string]int // advisories per ecosystem
	Problems    int
}

// Stats counts what the index holds.
func (ix *Index) Stats() Stats {
	return Stats{
		Advisories:  ix.advisories,
		Withdrawn:   ix.withdrawn,
		Packages:    len(ix.packages),
		ByEcosystem: maps.Clone(ix.counts),
		Problems:    len(ix.problems),
	}
}

// Component is one software component to check: an OSV ecosystem, name and
// version, or a purl that supplies whichever of them are empty.
type Component struct {
	Ecosystem string
	Name      string
	Version   string
	PURL      string
	Ref       string // the caller's identifier (an SBOM bom-ref), copied to findings
}

// Status says what a finding is.
type Status uint8

const (
	// StatusAffected: the component's version is affected by the advisory.
	StatusAffected Status = iota + 1
	// StatusUnmatched: the component could not be looked up (Err says why,
	// wrapping ErrUnknownEcosystem); it is neither clean nor affected.
	StatusUnmatched
	// StatusError: the component has advisories that could not be
	// evaluated (Err says why: no version, an unreadable version or purl).
	StatusError
)

func (s Status) String() string {
	switch s {
	case StatusAffected:
		return "affected"
	case StatusUnmatched:
		return "unmatched"
	case StatusError:
		return "error"
	}
	return fmt.Sprintf("Status(%d)", s)
}

// Finding is one advisory affecting one component, or one component that
// could not be judged. A component with no finding was checked and is not
// affected by any loaded advisory.
type Finding struct {
	Component Component // as given, with blanks filled from its purl
	// Position is the component's index in the list given to Scan (0 for
	// Match).
	Position int
	Status   Status
	Advisory *Advisory // StatusAffected only; shared, do not modify

	// InRange: the version lies in a SEMVER or ECOSYSTEM range; Listed: an
	// explicit versions list names it. Either makes it affected.
	InRange, Listed bool
	// Fixed lists the versions that close the component's affected window
	// (one per matching range); LastAffected the last affected versions of
	// windows that have no fix. Both are empty when no fix is known. They
	// may share memory with the index: do not modify their elements.
	Fixed, LastAffected []string
	// KEV is set when the advisory's ID or an alias is in the CISA Known
	// Exploited Vulnerabilities catalog.
	KEV *KEVEntry

	Err error // StatusUnmatched and StatusError
}

// Match checks one package version; see Scan.
func (ix *Index) Match(ecosystem, name, version string) []Finding {
	return ix.appendMatch(nil, Component{Ecosystem: ecosystem, Name: name, Version: version}, 0)
}

// Scan checks components, on all CPUs, and returns their findings in the
// components' order (by advisory ID within a component); each finding's
// Position is its component's index in components.
//
// A version is affected by an advisory's affected entry when it lies in one
// of its SEMVER or ECOSYSTEM ranges (OSV schema evaluation: events sorted
// by version, "introduced" <= v switches on, "fixed" <= v and
// "last_affected" < v switch off, and any "limit" must lie above v) or when
// its explicit versions list names it exactly (a leading "v" ignored). GIT
// ranges are never expanded. Where this departs from OSV-Scanner (v2.6,
// osv-scalibr's local matcher), it is deliberate:
//
//   - OSV-Scanner stops at the first GIT range of an entry and never reads
//     the ECOSYSTEM range after it (most PyPI advisories list GIT first), so
//     it matches those only through the versions list; we evaluate every
//     SEMVER and ECOSYSTEM range, as the schema says.
//   - OSV-Scanner ignores "limit" events; we honour them (none occur in
//     SEMVER or ECOSYSTEM ranges of the shared data).
//   - OSV-Scanner normalises PyPI names of components but not of
//     advisories; we normalise both (PEP 503), as osv.dev does.
//   - OSV-Scanner treats a component without a version as affected by all
//     of its package's advisories; we return a StatusError finding.
//   - Events at one version keep the advisory's order (a stable sort);
//     OSV-Scanner's sort is unstable there.
//
// LikeOSVScanner reproduces the first and third, which are the only ones
// that change results on the shared data.
func (ix *Index) Scan(components []Component) []Finding {
	return slices.Concat(ix.ScanParts(components)...)
}

// partSize bounds the parts of ScanParts, in findings.
const partSize = 2048

// ScanParts is Scan without the joining: the findings come in parts, in
// order, that together are what Scan returns. A caller that reads them
// once, in order, saves a copy of every finding; and the parts, being
// bounded, are seldom copied to grow (only when one component's findings
// overflow the room left in a part).
func (ix *Index) ScanParts(components []Component) [][]Finding {
	workers := max(1, min(runtime.GOMAXPROCS(0), (len(components)+255)/256))
	parts := make([][][]Finding, workers)
	chunk := (len(components) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(components))
		scan := func() {
			var done [][]Finding
			var out []Finding
			for i := lo; i < hi; i++ {
				// A part is closed when it is nearly full, so that a
				// component's findings seldom make it grow; parts start
				// small and double up to partSize.
				if cap(out)-len(out) < cap(out)/8+1 {
					if len(out) > 0 {
						done = append(done, out)
					}
					out = make([]Finding, 0, min(partSize, max(16, 2*cap(out))))
				}
				out = ix.appendMatch(out, components[i], i)
			}
			if len(out) > 0 {
				done = append(done, out)
			}
			parts[w] = done
		}
		if workers == 1 {
			scan()
			break
		}
		wg.Go(scan)
	}
	wg.Wait()
	return slices.Concat(parts...)
}

// appendMatch appends the findings of the component at position pos to
// out. The package's entries are in advisory ID order, so an advisory's
// entries come one after another (its finding is the last one appended)
// and the findings need no sorting.
func (ix *Index) appendMatch(out []Finding, c Component, pos int) []Finding {
	c, err := c.resolve()
	if err != nil {
		status := StatusError
		if errors.Is(err, ErrUnknownEcosystem) {
			status = StatusUnmatched
		}
		return append(out, Finding{Component: c, Position: pos, Status: status, Err: err})
	}
	base, release, _ := strings.Cut(c.Ecosystem, ":")
	eco, known := ix.ecosystems[base]
	if !known {
		eco, known = ix.ecosystems[strings.ToLower(base)]
	}
	if !known {
		return append(out, Finding{Component: c, Position: pos, Status: StatusUnmatched,
			Err: fmt.Errorf("%w: %q (loaded: %s)", ErrUnknownEcosystem, c.Ecosystem, strings.Join(slices.Sorted(maps.Keys(ix.counts)), ", "))})
	}
	name, ver := normalizeName(eco, c.Name), c.Version
	if eco == "Go" {
		name, ver = goStdlib(name, ver)
	}
	pa := ix.packages[packageKey{ecosystem: eco, name: name}]
	if pa == nil {
		return out
	}
	entries := pa.entries
	if strings.TrimSpace(ver) == "" {
		return append(out, Finding{Component: c, Position: pos, Status: StatusError,
			Err: fmt.Errorf("%w: %s %s has %d advisory entries", ErrNoVersion, eco, c.Name, len(entries))})
	}
	v, verr := version.Parse(eco, ver)
	// The version's place among those the entries list, looked up once
	// for all the entries; -1 when none lists it.
	listedAt := -1
	if len(pa.listed) > 0 {
		if i, found := slices.BinarySearch(pa.listed, strings.TrimPrefix(ver, "v")); found {
			listedAt = i
		}
	}
	first := len(out) // this component's findings are out[first:]
	unchecked := 0
	for ei := range entries {
		e := &entries[ei]
		if release != "" && e.release != "" && e.release != release {
			continue
		}
		ranges := e.ranges
		if ix.likeOSVScanner {
			if e.rawName != name {
				continue
			}
			ranges = ranges[:e.beforeOther]
		}
		listed := e.lists(listedAt)
		var f *Finding // the advisory's finding, once the entry affects v
		if verr != nil {
			if len(ranges) > 0 && !listed {
				unchecked++
			}
		} else {
			for ri := range ranges {
				ok, closer := ranges[ri].contains(v)
				if !ok {
					continue
				}
				if f == nil {
					out, f = ix.findingFor(out, first, c, pos, e.advisory)
				}
				f.InRange = true
				switch {
				case closer == nil:
				case closer.kind == fixed:
					f.Fixed = appendNew(f.Fixed, closer.one)
				default:
					f.LastAffected = appendNew(f.LastAffected, closer.one)
				}
			}
		}
		if listed {
			if f == nil {
				out, f = ix.findingFor(out, first, c, pos, e.advisory)
			}
			f.Listed = true
		}
	}
	if unchecked > 0 {
		out = append(out, Finding{Component: c, Position: pos, Status: StatusError,
			Err: fmt.Errorf("%d advisory ranges for %s %s not checked: %w", unchecked, eco, c.Name, verr)})
	}
	return out
}

// findingFor returns the finding of advisory a among the component's
// findings out[first:], appending it if it is not the last one (a's
// entries are adjacent, so it can only be the last).
func (ix *Index) findingFor(out []Finding, first int, c Component, pos int, a *Advisory) ([]Finding, *Finding) {
	if n := len(out); n > first && out[n-1].Advisory == a {
		return out, &out[n-1]
	}
	out = append(out, Finding{Component: c, Position: pos, Status: StatusAffected, Advisory: a, KEV: ix.kevOf(a)})
	return out, &out[len(out)-1]
}

// resolve fills the component's blanks from its purl.
func (c Component) resolve() (Component, error) {
	if c.PURL != "" && (c.Ecosystem == "" || c.Name == "" || c.Version == "") {
		p, err := purl.Parse(c.PURL)
		if err != nil {
			return c, err
		}
		if c.Ecosystem == "" {
			eco, err := p.Ecosystem()
			if err != nil {
				return c, fmt.Errorf("%w: %w", ErrUnknownEcosystem, err)
			}
			c.Ecosystem = eco
		}
		if c.Name == "" {
			c.Name = p.PackageName()
		}
		if c.Version == "" {
			c.Version = p.Version
		}
	}
	switch {
	case c.Ecosystem == "":
		return c, fmt.Errorf("%w: no ecosystem and no purl", ErrIncomplete)
	case c.Name == "":
		return c, fmt.Errorf("%w: no name", ErrIncomplete)
	}
	return c, nil
}

// goStdlib maps what SBOMs write for the Go standard library to OSV's
// spelling: module "stdlib" (OSV-Scanner also reads "go"), versions without
// the "go" prefix of go1.21.3.
func goStdlib(name, ver string) (string, string) {
	if name == "go" {
		name = "stdlib"
	}
	if name == "stdlib" || name == "toolchain" {
		ver = strings.TrimPrefix(ver, "go")
	}
	return name, ver
}

// kevOf returns the KEV entry of an indexed advisory.
func (ix *Index) kevOf(a *Advisory) *KEVEntry {
	if ix.kevBySeq == nil {
		return nil
	}
	return ix.kevBySeq[a.seq]
}

// appendNew adds the string of one, a slice of a single version, to list
// unless list has it. An empty list becomes one itself: its capacity is
// one, so a later append copies and the index's slice is never written.
func appendNew(list, one []string) []string {
	switch {
	case len(list) == 0:
		return one
	case slices.Contains(list, one[0]):
		return list
	}
	return append(list, one[0])
}

package osv

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/devices/version"
)

// Advisory is what the index keeps of an OSV record: enough to report and
// rank a finding, not the details and references (read those from OSV).
type Advisory struct {
	ID        string
	Aliases   []string
	Summary   string
	Published time.Time
	Modified  time.Time
	Withdrawn time.Time // zero unless withdrawn
	Severity  []Severity
	Source    string // the file (and zip member) it was read from

	seq int // its place among the index's advisories
}

// Severity is one OSV severity score, e.g. {"CVSS_V3", "CVSS:3.1/AV:N/..."}.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// IDs returns the advisory's ID followed by its aliases.
func (a *Advisory) IDs() []string {
	return append([]string{a.ID}, a.Aliases...)
}

// record is the part of the OSV JSON schema that matching needs; the
// decoder skips the rest (details, references, credits, *_specific).
type record struct {
	ID        string     `json:"id"`
	Modified  string     `json:"modified"`
	Published string     `json:"published"`
	Withdrawn string     `json:"withdrawn"`
	Aliases   []string   `json:"aliases"`
	Summary   string     `json:"summary"`
	Severity  []Severity `json:"severity"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string     `json:"type"`
			Events []rawEvent `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

type rawEvent struct {
	Introduced   *string `json:"introduced"`
	Fixed        *string `json:"fixed"`
	LastAffected *string `json:"last_affected"`
	Limit        *string `json:"limit"`
}

// compiled is one advisory ready for the index: its affected entries with
// names normalised and range versions parsed.
type compiled struct {
	advisory *Advisory
	entries  []*entry
	problems []error // parts that were skipped
}

// entry is one affected package of one advisory.
type entry struct {
	advisory  *Advisory
	ecosystem string // as the advisory writes it, e.g. "Debian:12"
	base      string // without the release suffix
	release   string // the suffix, "" when none
	name      string // OSV-normalised
	rawName   string // as the advisory writes it
	ranges    []versionRange
	versions  []string // explicit versions, a leading "v" removed, sorted
	// listedBits marks versions among its package's listed versions
	// (packageAdvisories.listed); nil when it lists none.
	listedBits []uint64

	// beforeOther counts the ranges that come before the first range of
	// another type (GIT) in the advisory: all that OSV-Scanner reads.
	beforeOther int
}

type eventKind uint8

const (
	introduced eventKind = iota
	fixed
	lastAffected
)

type event struct {
	kind   eventKind
	origin bool // introduced "0": before every version
	v      version.Version
	// one is v's string alone in a slice of capacity one: a finding whose
	// window this event closes shares it as its Fixed or LastAffected list
	// instead of allocating one (an append to it copies).
	one []string
}

// versionRange is a SEMVER or ECOSYSTEM range with its events parsed and
// sorted by version (stably, so that events at one version keep the order
// the advisory gives them).
type versionRange struct {
	events []event
	limits []version.Version
	// monotone: the scheme's order is transitive (all but Maven's and
	// Alpine's, at their edges), so no event after one above v can change
	// v's status and contains stops there.
	monotone bool
}

// errMalformed marks problems with the content of an advisory.
var errMalformed = errors.New("malformed advisory")

// compile decodes one OSV JSON record. A record that cannot be used at all
// is an error; parts that cannot be used are dropped and listed in
// problems, so that one bad range does not hide the rest.
func compile(data []byte, source string) (*compiled, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: not OSV JSON: %v", errMalformed, err)
	}
	if r.ID == "" {
		return nil, fmt.Errorf("%w: no id", errMalformed)
	}
	a := &Advisory{
		ID:       r.ID,
		Aliases:  r.Aliases,
		Summary:  r.Summary,
		Severity: r.Severity,
		Source:   source,
	}
	c := &compiled{advisory: a}
	var err error
	if a.Modified, err = parseTime(r.Modified); err != nil {
		c.problems = append(c.problems, fmt.Errorf("modified: %w", err))
	}
	if r.Published != "" {
		if a.Published, err = parseTime(r.Published); err != nil {
			c.problems = append(c.problems, fmt.Errorf("published: %w", err))
		}
	}
	if r.Withdrawn != "" {
		if a.Withdrawn, err = parseTime(r.Withdrawn); err != nil {
			// Withdrawn all the same: the field's presence is the statement.
			a.Withdrawn = time.Unix(0, 0).UTC()
			c.problems = append(c.problems, fmt.Errorf("withdrawn: %w", err))
		}
	}
	if !a.Withdrawn.IsZero() {
		return c, nil // never matched, so its ranges are not read
	}
	if len(r.Affected) == 0 {
		return nil, fmt.Errorf("%w: %s affects no package", errMalformed, r.ID)
	}
	for i, af := range r.Affected {
		where := fmt.Sprintf("affected[%d]", i)
		eco, name := af.Package.Ecosystem, af.Package.Name
		if eco == "" || name == "" {
			// Valid OSV for GIT-only records of software without a package;
			// nothing can match it by package, so say so rather than guess.
			c.problems = append(c.problems, fmt.Errorf("%s: no package ecosystem and name; cannot be matched", where))
			continue
		}
		base, release, _ := strings.Cut(eco, ":")
		e := &entry{advisory: a, ecosystem: eco, base: base, release: release, name: normalizeName(base, name), rawName: name}
		otherSeen := false
		for _, v := range af.Versions {
			if v != "" {
				e.versions = append(e.versions, strings.TrimPrefix(v, "v"))
			}
		}
		slices.Sort(e.versions)
		e.versions = slices.Compact(e.versions)
		for j, rg := range af.Ranges {
			where := fmt.Sprintf("%s.ranges[%d]", where, j)
			switch rg.Type {
			case "GIT":
				otherSeen = true
				continue // commits are not versions; only the versions list can match
			case "SEMVER", "ECOSYSTEM":
			default:
				otherSeen = true
				c.problems = append(c.problems, fmt.Errorf("%s: unknown range type %q", where, rg.Type))
				continue
			}
			vr, err := compileRange(base, rg.Events)
			if err != nil {
				c.problems = append(c.problems, fmt.Errorf("%s (%s) skipped: %w", where, rg.Type, err))
				continue
			}
			e.ranges = append(e.ranges, *vr)
			if !otherSeen {
				e.beforeOther++
			}
		}
		if len(e.ranges) == 0 && len(e.versions) == 0 {
			c.problems = append(c.problems, fmt.Errorf("%s (%s %s): no usable range or version; cannot be matched", where, eco, name))
			continue
		}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

// compileRange parses a range's events with the ecosystem's version scheme
// (for SEMVER ranges too, as OSV-Scanner does: the component's version is
// read by its ecosystem).
func compileRange(ecosystem string, events []rawEvent) (*versionRange, error) {
	scheme := version.SchemeOf(ecosystem)
	vr := &versionRange{monotone: scheme != version.Maven && scheme != version.Alpine}
	for k, ev := range events {
		set := 0
		for _, p := range []*string{ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit} {
			if p != nil {
				set++
			}
		}
		if set != 1 {
			return nil, fmt.Errorf("events[%d] has %d of introduced, fixed, last_affected, limit; want one", k, set)
		}
		var s string
		var kind eventKind
		switch {
		case ev.Introduced != nil:
			s, kind = *ev.Introduced, introduced
		case ev.Fixed != nil:
			s, kind = *ev.Fixed, fixed
		case ev.LastAffected != nil:
			s, kind = *ev.LastAffected, lastAffected
		default:
			v, err := version.Parse(ecosystem, *ev.Limit)
			if err != nil {
				return nil, fmt.Errorf("events[%d].limit: %w", k, err)
			}
			vr.limits = append(vr.limits, v)
			continue
		}
		if kind == introduced && s == "0" {
			vr.events = append(vr.events, event{kind: introduced, origin: true})
			continue
		}
		v, err := version.Parse(ecosystem, s)
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", k, err)
		}
		ev := event{kind: kind, v: v}
		if kind != introduced {
			ev.one = []string{v.String()}
		}
		vr.events = append(vr.events, ev)
	}
	if !slices.ContainsFunc(vr.events, func(e event) bool { return e.kind == introduced }) {
		return nil, errors.New("no introduced event")
	}
	slices.SortStableFunc(vr.events, func(x, y event) int {
		switch {
		case x.origin && y.origin:
			return 0
		case x.origin:
			return -1
		case y.origin:
			return +1
		}
		return x.v.Compare(y.v)
	})
	return vr, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	return time.Parse(time.RFC3339, s)
}

// normalizeName spells a package name the way OSV does for lookups: PEP
// 503 for PyPI; everything else as written (Go module paths and the rest
// are case-sensitive).
func normalizeName(ecosystem, name string) string {
	if ecosystem == "PyPI" {
		return purl.NormalizePyPIName(name)
	}
	return name
}

// contains evaluates the range for v as the OSV schema does: walking the
// sorted events, introduced <= v turns the status on, fixed <= v and
// last_affected < v turn it off; v must also lie below a limit, if any.
// It returns the event that closes v's window (a fix or the last affected
// version), if there is one.
func (r *versionRange) contains(v version.Version) (bool, *event) {
	if len(r.limits) > 0 && !slices.ContainsFunc(r.limits, func(l version.Version) bool { return v.Compare(l) < 0 }) {
		return false, nil
	}
	// Above a range that ends in a fix, with more than a window or two to
	// walk: one comparison with its highest event settles it (every event
	// then applies, the last one a fix).
	if n := len(r.events); n > 2 && r.monotone {
		if last := &r.events[n-1]; last.kind != introduced {
			c := v.Compare(last.v)
			if c > 0 || (c == 0 && last.kind == fixed) {
				return false, nil
			}
		}
	}
	affected, opened := false, -1
	for i := range r.events {
		e := &r.events[i]
		if e.origin {
			affected, opened = true, i
			continue
		}
		c := v.Compare(e.v)
		if c < 0 && r.monotone {
			break // every later event is above v too
		}
		switch e.kind {
		case introduced:
			if c >= 0 {
				affected, opened = true, i
			}
		case fixed:
			if c >= 0 {
				affected = false
			}
		case lastAffected:
			if c > 0 {
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

// lists reports whether the explicit versions list names the version at
// place i of its package's listed versions (-1: none lists it). A leading
// "v" is ignored on either side, as OSV-Scanner does.
func (e *entry) lists(i int) bool {
	return i >= 0 && i/64 < len(e.listedBits) && e.listedBits[i/64]&(1<<(i%64)) != 0
}

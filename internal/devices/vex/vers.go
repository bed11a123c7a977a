package vex

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/devices/version"
)

// versRange is a parsed vers range ("vers:<type>/<constraint>|..."), the
// syntax CycloneDX uses in affects[].versions[].range
// (https://github.com/package-url/purl-spec/blob/master/VERSION-RANGE-SPEC.rst).
type versRange struct {
	ecosystem   string // whose version ordering applies
	all         bool   // "*"
	constraints []versConstraint
}

type versConstraint struct {
	op      string // "=", "!=", "<", "<=", ">", ">="
	version version.Version
}

// versEcosystem names the ordering of a vers type: the OSV ecosystem of
// the purl type of the same name, else the generic ordering.
func versEcosystem(typ string) string {
	switch typ {
	case "deb":
		return "Debian"
	case "apk", "alpine":
		return "Alpine"
	}
	if eco, err := (purl.PURL{Type: typ}).Ecosystem(); err == nil {
		return eco
	}
	return "generic"
}

func parseVers(s string) (versRange, error) {
	fail := func(format string, args ...any) (versRange, error) {
		return versRange{}, fmt.Errorf("version range %q: %s", s, fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || !strings.EqualFold(scheme, "vers") {
		return fail("does not start with %q", "vers:")
	}
	typ, list, ok := strings.Cut(rest, "/")
	typ = strings.ToLower(strings.TrimSpace(typ))
	if !ok || typ == "" {
		return fail("has no versioning scheme before %q", "/")
	}
	r := versRange{ecosystem: versEcosystem(typ)}
	list = strings.TrimSpace(list)
	if list == "*" {
		r.all = true
		return r, nil
	}
	for _, c := range strings.Split(list, "|") {
		c = strings.TrimSpace(c)
		op := "="
		for _, candidate := range []string{">=", "<=", "!=", "<", ">", "="} {
			if strings.HasPrefix(c, candidate) {
				op, c = candidate, strings.TrimSpace(c[len(candidate):])
				break
			}
		}
		if c == "" {
			return fail("a constraint has no version")
		}
		raw, err := url.PathUnescape(c)
		if err != nil {
			return fail("version %q: %v", c, err)
		}
		v, err := version.Parse(r.ecosystem, raw)
		if err != nil {
			return fail("%v", err)
		}
		r.constraints = append(r.constraints, versConstraint{op: op, version: v})
	}
	slices.SortStableFunc(r.constraints, func(a, b versConstraint) int { return a.version.Compare(b.version) })
	return r, nil
}

// contains applies the vers specification's algorithm: an equal version
// matches, an excluded one does not, then the remaining comparators are
// read as intervals in version order.
func (r versRange) contains(s string) (bool, error) {
	if r.all {
		return true, nil
	}
	v, err := version.Parse(r.ecosystem, s)
	if err != nil {
		return false, err
	}
	var ranges []versConstraint
	for _, c := range r.constraints {
		switch c.op {
		case "=":
			if v.Compare(c.version) == 0 {
				return true, nil
			}
		case "!=":
			if v.Compare(c.version) == 0 {
				return false, nil
			}
		default:
			ranges = append(ranges, c)
		}
	}
	if len(ranges) == 0 {
		return false, nil
	}
	holds := func(c versConstraint) bool {
		cmp := v.Compare(c.version)
		switch c.op {
		case "<":
			return cmp < 0
		case "<=":
			return cmp <= 0
		case ">":
			return cmp > 0
		}
		return cmp >= 0
	}
	lower := func(c versConstraint) bool { return c.op == ">" || c.op == ">=" }
	if first := ranges[0]; !lower(first) && holds(first) {
		return true, nil
	}
	if last := ranges[len(ranges)-1]; lower(last) && holds(last) {
		return true, nil
	}
	for i := 0; i+1 < len(ranges); i++ {
		if lower(ranges[i]) && !lower(ranges[i+1]) && holds(ranges[i]) && holds(ranges[i+1]) {
			return true, nil
		}
	}
	return false, nil
}

var errNoVersion = errors.New("no version to compare")

// versionIn reports whether version v is one a constraint list admits; an
// empty list admits every version.
func versionIn(v string, constraints []VersionConstraint, ecosystem string) (bool, error) {
	if len(constraints) == 0 {
		return true, nil
	}
	if v == "" {
		return false, errNoVersion
	}
	for _, c := range constraints {
		if c.Version != "" {
			if c.Version == v {
				return true, nil
			}
			a, errA := version.Parse(ecosystem, c.Version)
			b, errB := version.Parse(ecosystem, v)
			if errA == nil && errB == nil && a.Compare(b) == 0 {
				return true, nil
			}
			continue
		}
		r := c.vers
		if r == nil {
			parsed, err := parseVers(c.Range)
			if err != nil {
				continue // reported when the document was read
			}
			r = &parsed
		}
		if ok, err := r.contains(v); err == nil && ok {
			return true, nil
		}
	}
	return false, nil
}

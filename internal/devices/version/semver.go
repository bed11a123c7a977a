package version

import (
	"fmt"
	"strings"
)

// semver is SemVer 2.0 as OSV's tooling applies it to Go, npm and
// crates.io, and (with case-insensitive labels) to NuGet: an optional "v";
// numeric components, the missing ones zero (1.2 equals 1.2.0, and a
// fourth component, as NuGet has, orders after the third); a
// pre-release after "-" (or straight after the numbers, as in "1.0.0rc1",
// which OSV's tooling also reads as a pre-release); build metadata after
// "+", which takes no part in the order (so "+incompatible" is ignored).
//
// Go pseudo-versions need nothing special: v0.0.0-20191109021931-daa7c04131f5
// is a pre-release of v0.0.0 whose fixed-width timestamp orders it, and
// v1.2.4-0.20191109021931-daa7c04131f5 sorts after v1.2.3 and before v1.2.4.
type semver struct {
	nums []string // digit strings without leading zeros
	pre  []string // nil for a release
	// buf holds nums when there are at most four, so that a version is
	// one allocation.
	buf [4]string
}

func parseSemVer(s string, foldCase bool) (ordered, error) {
	t := s
	if t[0] == 'v' || t[0] == 'V' {
		t = t[1:]
	}
	v := &semver{}
	v.nums = v.buf[:0]
	i := 0
	for {
		j := i
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		switch {
		case j == i && len(v.nums) == 0:
			return nil, fmt.Errorf("does not start with a number")
		case j == i:
			return nil, fmt.Errorf("a %q is not followed by a number", '.')
		}
		v.nums = append(v.nums, trimZeros(t[i:j]))
		i = j
		if i < len(t) && t[i] == '.' {
			i++
			continue
		}
		break
	}
	rest := t[i:]
	if rest == "" {
		return v, nil
	}
	pre, build, hasBuild := strings.Cut(rest, "+")
	if hasBuild && build == "" {
		return nil, fmt.Errorf("empty build metadata after %q", '+')
	}
	if pre == "" {
		return v, nil
	}
	if pre[0] == '-' {
		pre = pre[1:]
		if pre == "" {
			return nil, fmt.Errorf("empty pre-release after %q", '-')
		}
	}
	if strings.ContainsAny(pre, " \t") {
		return nil, fmt.Errorf("white space in the pre-release")
	}
	if foldCase {
		pre = strings.ToLower(pre)
	}
	v.pre = strings.Split(pre, ".")
	for _, id := range v.pre {
		if id == "" {
			return nil, fmt.Errorf("empty pre-release identifier in %q", pre)
		}
	}
	return v, nil
}

// plainKey: a release (no pre-release; build metadata takes no part in
// the order) of at most four small numbers.
func (v *semver) plainKey() (uint64, bool) {
	if v.pre != nil {
		return 0, false
	}
	return plainKey(v.nums)
}

func (v *semver) compare(o ordered) int {
	w := o.(*semver)
	for k := 0; k < len(v.nums) || k < len(w.nums); k++ {
		if c := cmpDigits(at(v.nums, k), at(w.nums, k)); c != 0 {
			return c
		}
	}
	switch {
	case v.pre == nil && w.pre == nil:
		return 0
	case v.pre == nil:
		return +1 // a release sorts after its pre-releases
	case w.pre == nil:
		return -1
	}
	for k := 0; k < len(v.pre) && k < len(w.pre); k++ {
		if c := cmpIdentifier(v.pre[k], w.pre[k]); c != 0 {
			return c
		}
	}
	return cmpInt(len(v.pre), len(w.pre))
}

// cmpIdentifier orders pre-release identifiers: numbers numerically, below
// any alphanumeric identifier; alphanumeric ones in ASCII order.
func cmpIdentifier(a, b string) int {
	an, bn := allDigits(a), allDigits(b)
	switch {
	case an && bn:
		return cmpDigits(a, b)
	case an:
		return -1
	case bn:
		return +1
	}
	return strings.Compare(a, b)
}

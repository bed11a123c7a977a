package version

import "strings"

// alpine is an apk version, {number}{.number}...{letter}{_suffix{n}}...
// {~hash}{-r{n}}, ordered as OSV's tooling orders them (the shared vectors
// record where apk 2.x and 3.x themselves disagree):
//
//   - numbers component by component; after the first, a component with a
//     leading zero compares as a string (1.02 < 1.1, as apk does);
//   - a single lower-case letter, none sorting first;
//   - suffixes by kind, alpha < beta < pre < rc < (none) < cvs < svn < git
//     < hg < p, then by number;
//   - the -r build number;
//   - anything left unread makes the version sort below the same version
//     without it; two versions that both end in unreadable text compare as
//     plain strings.
//
// The ~hash part is read but takes no part in the order.
type alpine struct {
	raw      string
	nums     []alpineNumber
	letter   byte
	suffixes []alpineSuffix
	build    string
	rest     string // unread text; "" when all was read
	invalid  bool   // text after the suffixes that is not a -r build
}

type alpineNumber struct {
	digits string // as written, leading zeros kept
	first  bool
}

type alpineSuffix struct {
	rank int
	n    string
}

// alpineSuffixes in order; the empty suffix sorts between rc and cvs.
var alpineSuffixes = [...]string{"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"}

const alpineNoSuffix = 4

func parseAlpine(s string) (ordered, error) {
	v := &alpine{raw: s, build: "0"}
	i := 0
	// Numbers: runs of digits, each optionally followed by one ".".
	for i < len(s) && isDigit(s[i]) {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		v.nums = append(v.nums, alpineNumber{digits: s[i:j], first: len(v.nums) == 0})
		i = j
		if i < len(s) && s[i] == '.' {
			i++
		}
	}
	if i < len(s) && isLower(s[i]) {
		v.letter = s[i]
		i++
	}
	rest := s[i:]
	// Suffixes are looked for anywhere in the rest (as OSV's tooling does),
	// but only those that follow each other from its start are consumed.
	consumed := 0
	atStart := true
	for k := 0; k < len(rest); {
		if rest[k] != '_' {
			k++
			continue
		}
		rank, n, end, ok := readAlpineSuffix(rest, k)
		if !ok {
			k++
			continue
		}
		v.suffixes = append(v.suffixes, alpineSuffix{rank: rank, n: n})
		if atStart && k == consumed {
			consumed = end
		} else {
			atStart = false
		}
		k = end
	}
	rest = rest[consumed:]
	if strings.HasPrefix(rest, "~") {
		j := 1
		for j < len(rest) && (isDigit(rest[j]) || 'a' <= rest[j] && rest[j] <= 'f') {
			j++
		}
		if j > 1 {
			rest = rest[j:]
		}
	}
	if rest != "" {
		if strings.HasPrefix(rest, "-r") {
			j := 2
			for j < len(rest) && isDigit(rest[j]) {
				j++
			}
			v.build = trimZeros(rest[2:j])
			rest = rest[j:]
		} else {
			v.invalid = true
		}
	}
	v.rest = rest
	return v, nil
}

// readAlpineSuffix reads "_name{digits}" at rest[k], trying the names in the
// order a regular expression alternation would.
func readAlpineSuffix(rest string, k int) (rank int, n string, end int, ok bool) {
	for _, name := range [...]string{"alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"} {
		if !strings.HasPrefix(rest[k+1:], name) {
			continue
		}
		start := k + 1 + len(name)
		end = start
		for end < len(rest) && isDigit(rest[end]) {
			end++
		}
		for r, s := range alpineSuffixes {
			if s == name {
				rank = r
			}
		}
		return rank, trimZeros(rest[start:end]), end, true
	}
	return 0, "", 0, false
}

func (v *alpine) compare(o ordered) int {
	w := o.(*alpine)
	if v.invalid && w.invalid {
		return strings.Compare(v.raw, w.raw)
	}
	for k := 0; k < len(v.nums) || k < len(w.nums); k++ {
		a, b := alpineNumberOrZero(v.nums, k), alpineNumberOrZero(w.nums, k)
		var c int
		if !a.first && !b.first && (a.digits[0] == '0' || b.digits[0] == '0') {
			c = strings.Compare(a.digits, b.digits)
		} else {
			c = cmpDigits(a.digits, b.digits)
		}
		if c != 0 {
			return c
		}
	}
	if c := cmpInt(int(v.letter), int(w.letter)); c != 0 {
		return c
	}
	for k := 0; k < len(v.suffixes) || k < len(w.suffixes); k++ {
		a, b := alpineSuffixOrNone(v.suffixes, k), alpineSuffixOrNone(w.suffixes, k)
		if c := cmpInt(a.rank, b.rank); c != 0 {
			return c
		}
		if c := cmpDigits(a.n, b.n); c != 0 {
			return c
		}
	}
	if c := cmpDigits(v.build, w.build); c != 0 {
		return c
	}
	switch {
	case v.rest == "" && w.rest != "":
		return +1
	case v.rest != "" && w.rest == "":
		return -1
	}
	return 0
}

// alpineNumberOrZero pads the shorter list with zeros that compare numerically.
func alpineNumberOrZero(ns []alpineNumber, k int) alpineNumber {
	if k < len(ns) {
		return ns[k]
	}
	return alpineNumber{digits: "0", first: true}
}

func alpineSuffixOrNone(ss []alpineSuffix, k int) alpineSuffix {
	if k < len(ss) {
		return ss[k]
	}
	return alpineSuffix{rank: alpineNoSuffix, n: "0"}
}

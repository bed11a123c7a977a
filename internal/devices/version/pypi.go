package version

import (
	"fmt"
	"regexp"
	"strings"
)

// pep440 is the canonical PEP 440 pattern (Appendix B of the PEP, the one
// the "packaging" library uses), matched against the lower-cased string.
// Go's regexp picks the same submatches as Python's backtracking engine.
var pep440 = regexp.MustCompile(`^v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[-_\.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_\.]?(?P<pre_n>[0-9]+)?)?` +
	`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?` +
	`(?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?$`)

var (
	pepEpoch   = pep440.SubexpIndex("epoch")
	pepRelease = pep440.SubexpIndex("release")
	pepPreL    = pep440.SubexpIndex("pre_l")
	pepPreN    = pep440.SubexpIndex("pre_n")
	pepPostN1  = pep440.SubexpIndex("post_n1")
	pepPostL   = pep440.SubexpIndex("post_l")
	pepPostN2  = pep440.SubexpIndex("post_n2")
	pepDevL    = pep440.SubexpIndex("dev_l")
	pepDevN    = pep440.SubexpIndex("dev_n")
	pepLocal   = pep440.SubexpIndex("local")
)

// pypi is a PEP 440 version, or a legacy (pre-PEP 440) one ordered the way
// setuptools' LegacyVersion did: below every PEP 440 version, which is how
// OSV's tooling and older pip order them.
type pypi struct {
	legacy  []string // set only for a legacy version
	epoch   string
	release []string // digit strings, trailing zeros removed
	pre     string   // "a", "b" or "rc"; "" for none
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   []string // nil for none
	// buf holds release when it has at most four numbers, so that a
	// version is one allocation.
	buf [4]string
}

func parsePyPI(s string) (ordered, error) {
	if v := parsePyPIRelease(s); v != nil {
		return v, nil
	}
	return parsePyPIPattern(s)
}

// parsePyPIPattern reads any PEP 440 or legacy version with the pattern.
func parsePyPIPattern(s string) (ordered, error) {
	low := strings.ToLower(s)
	m := pep440.FindStringSubmatch(low)
	if m == nil {
		// Legacy versions may be almost anything, but never hold white
		// space or non-ASCII: such a string is a description, not a version.
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f {
				return nil, fmt.Errorf("neither PEP 440 nor a legacy version (white space or non-ASCII at byte %d)", i)
			}
		}
		return &pypi{legacy: legacyParts(low)}, nil
	}
	v := &pypi{epoch: "0"}
	v.release = v.buf[:0]
	if m[pepEpoch] != "" {
		v.epoch = trimZeros(m[pepEpoch])
	}
	for r := range strings.SplitSeq(m[pepRelease], ".") {
		v.release = append(v.release, trimZeros(r))
	}
	for len(v.release) > 1 && v.release[len(v.release)-1] == "0" {
		v.release = v.release[:len(v.release)-1]
	}
	if l := m[pepPreL]; l != "" {
		switch l {
		case "alpha", "a":
			v.pre = "a"
		case "beta", "b":
			v.pre = "b"
		default: // c, rc, pre, preview
			v.pre = "rc"
		}
		v.preN = trimZeros(m[pepPreN])
	}
	if n := m[pepPostN1]; n != "" {
		v.post, v.postN = true, trimZeros(n)
	} else if m[pepPostL] != "" {
		v.post, v.postN = true, trimZeros(m[pepPostN2])
	}
	if m[pepDevL] != "" {
		v.dev, v.devN = true, trimZeros(m[pepDevN])
	}
	if l := m[pepLocal]; l != "" {
		v.local = strings.FieldsFunc(l, func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	}
	return v, nil
}

// parsePyPIRelease reads the commonest form, a bare release ("2.31.0",
// "v1.2"), without the regular expression: it returns what the pattern's
// match gives, or nil for any other form.
func parsePyPIRelease(s string) *pypi {
	t := s
	if t != "" && (t[0] == 'v' || t[0] == 'V') {
		t = t[1:]
	}
	for i := 0; i < len(t); i++ {
		switch {
		case isDigit(t[i]):
		case t[i] == '.' && i > 0 && i+1 < len(t) && t[i-1] != '.':
		default:
			return nil
		}
	}
	if t == "" {
		return nil
	}
	v := &pypi{epoch: "0"}
	v.release = v.buf[:0]
	for r := range strings.SplitSeq(t, ".") {
		v.release = append(v.release, trimZeros(r))
	}
	for len(v.release) > 1 && v.release[len(v.release)-1] == "0" {
		v.release = v.release[:len(v.release)-1]
	}
	return v
}

// legacyParts is setuptools' _legacy_cmpkey: numbers zero-padded to eight
// digits, words prefixed with "*", "-" read as "final-", and trailing
// zeros and "final-" markers dropped before a pre-release word.
func legacyParts(s string) []string {
	var parts []string
	add := func(p string) {
		switch p {
		case "pre", "preview", "rc":
			p = "c"
		case "-":
			p = "final-"
		case "dev":
			p = "@"
		}
		if isDigit(p[0]) {
			if len(p) < 8 {
				p = strings.Repeat("0", 8-len(p)) + p
			}
		} else {
			p = "*" + p
			if p < "*final" {
				for len(parts) > 0 && parts[len(parts)-1] == "*final-" {
					parts = parts[:len(parts)-1]
				}
			}
			for len(parts) > 0 && parts[len(parts)-1] == "00000000" {
				parts = parts[:len(parts)-1]
			}
		}
		parts = append(parts, p)
	}
	// The components are runs of digits, runs of letters, "." and "-";
	// anything else is skipped, and "." only separates.
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			add(s[i:j])
			i = j
		case isLower(c):
			j := i
			for j < len(s) && isLower(s[j]) {
				j++
			}
			add(s[i:j])
			i = j
		case c == '-':
			add("-")
			i++
		default:
			i++
		}
	}
	add("final")
	return parts
}

// plainKey: a PEP 440 final release (epoch 0; no pre, post or dev
// release; no local label) of at most four small numbers.
func (v *pypi) plainKey() (uint64, bool) {
	if v.legacy != nil || v.epoch != "0" || v.pre != "" || v.post || v.dev || v.local != nil {
		return 0, false
	}
	return plainKey(v.release)
}

func (v *pypi) compare(o ordered) int {
	w := o.(*pypi)
	switch {
	case v.legacy != nil && w.legacy != nil:
		for k := 0; k < len(v.legacy) && k < len(w.legacy); k++ {
			if c := strings.Compare(v.legacy[k], w.legacy[k]); c != 0 {
				return c
			}
		}
		return cmpInt(len(v.legacy), len(w.legacy))
	case v.legacy != nil:
		return -1
	case w.legacy != nil:
		return +1
	}
	if c := cmpDigits(v.epoch, w.epoch); c != 0 {
		return c
	}
	for k := 0; k < len(v.release) || k < len(w.release); k++ {
		if c := cmpDigits(at(v.release, k), at(w.release, k)); c != 0 {
			return c
		}
	}
	if c := cmpInt(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if v.pre != "" && v.pre == w.pre {
		if c := cmpDigits(v.preN, w.preN); c != 0 {
			return c
		}
	}
	// No post-release sorts first; then by number.
	switch {
	case v.post != w.post && !v.post:
		return -1
	case v.post != w.post:
		return +1
	case v.post:
		if c := cmpDigits(v.postN, w.postN); c != 0 {
			return c
		}
	}
	// No dev-release sorts last; then by number.
	switch {
	case v.dev != w.dev && !v.dev:
		return +1
	case v.dev != w.dev:
		return -1
	case v.dev:
		if c := cmpDigits(v.devN, w.devN); c != 0 {
			return c
		}
	}
	return cmpLocal(v.local, w.local)
}

// preRank places the pre-release phase: a dev release of a final release
// (1.0.dev0) before every pre-release of it, then a < b < rc, then no
// pre-release at all.
func (v *pypi) preRank() int {
	switch {
	case v.pre == "" && !v.post && v.dev:
		return 0
	case v.pre == "a":
		return 1
	case v.pre == "b":
		return 2
	case v.pre == "rc":
		return 3
	}
	return 4
}

// cmpLocal orders local version labels: none first; then segment by
// segment, numbers numerically and above words, words alphabetically;
// a longer label above its own prefix.
func cmpLocal(a, b []string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return +1
	}
	for k := 0; k < len(a) && k < len(b); k++ {
		an, bn := allDigits(a[k]), allDigits(b[k])
		var c int
		switch {
		case an && bn:
			c = cmpDigits(a[k], b[k])
		case an:
			c = +1
		case bn:
			c = -1
		default:
			c = strings.Compare(a[k], b[k])
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a), len(b))
}

func at(s []string, k int) string {
	if k < len(s) {
		return s[k]
	}
	return "0"
}

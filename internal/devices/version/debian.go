package version

import (
	"fmt"
	"strings"
)

// debian is a dpkg version, [epoch:]upstream[-revision], ordered as
// deb-version(7) and dpkg's verrevcmp do: the epoch numerically, then the
// upstream version and then the revision, each by alternating non-digit
// runs (letters before other characters, "~" before everything, even the
// end) and digit runs (numerically). A missing revision equals "0".
type debian struct {
	epoch    string
	upstream string
	revision string
}

func parseDebian(s string) (ordered, error) {
	v := &debian{epoch: "0"}
	rest := s
	if e, r, ok := strings.Cut(s, ":"); ok {
		if !allDigits(e) {
			return nil, fmt.Errorf("epoch %q is not a number", e)
		}
		v.epoch, rest = trimZeros(e), r
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.upstream, v.revision = rest[:i], rest[i+1:]
		if v.revision == "" {
			return nil, fmt.Errorf("empty revision after the last %q", '-')
		}
	} else {
		v.upstream = rest
	}
	if v.upstream == "" {
		return nil, fmt.Errorf("empty upstream version")
	}
	for i := 0; i < len(v.upstream); i++ {
		if c := v.upstream[i]; !isDebianChar(c) && c != '-' && c != ':' {
			return nil, fmt.Errorf("character %q is not allowed in an upstream version", c)
		}
	}
	for i := 0; i < len(v.revision); i++ {
		if c := v.revision[i]; !isDebianChar(c) {
			return nil, fmt.Errorf("character %q is not allowed in a revision", c)
		}
	}
	return v, nil
}

func isDebianChar(c byte) bool {
	return isDigit(c) || isLetter(c) || c == '.' || c == '+' || c == '~'
}

func (v *debian) compare(o ordered) int {
	w := o.(*debian)
	if c := cmpDigits(v.epoch, w.epoch); c != 0 {
		return c
	}
	if c := verrevcmp(v.upstream, w.upstream); c != 0 {
		return c
	}
	return verrevcmp(v.revision, w.revision)
}

// debianOrder weighs one character of a non-digit run; 0 stands for the
// end of the run (or of the string).
func debianOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isLetter(c):
		return int(c)
	case c == '~':
		return -1
	}
	return int(c) + 256
}

func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := debianOrder(a, i), debianOrder(b, j)
			if ac != bc {
				return cmpInt(ac, bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = cmpInt(int(a[i]), int(b[j]))
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return +1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
	}
	return 0
}

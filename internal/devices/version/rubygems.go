package version

import (
	"fmt"
	"strings"
)

// token is a run of digits (num) or of letters in a version string.
type token struct {
	num  bool
	text string
}

// tokens splits s into runs of digits and runs of letters; every other
// character only separates. Letters are lower-cased when fold is set.
func tokens(s string, fold bool) []token {
	var ts []token
	for i := 0; i < len(s); {
		j := i
		switch {
		case isDigit(s[i]):
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			ts = append(ts, token{num: true, text: trimZeros(s[i:j])})
		case isLetter(s[i]):
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			t := s[i:j]
			if fold {
				t = strings.ToLower(t)
			}
			ts = append(ts, token{text: t})
		default:
			j++
		}
		i = j
	}
	return ts
}

// cmpTokens orders token lists the RubyGems way: a missing token is the
// number 0, numbers compare numerically and above words (so 1.0.a < 1.0),
// words compare as strings.
func cmpTokens(a, b []token) int {
	zero := token{num: true, text: "0"}
	for k := 0; k < len(a) || k < len(b); k++ {
		x, y := zero, zero
		if k < len(a) {
			x = a[k]
		}
		if k < len(b) {
			y = b[k]
		}
		switch {
		case x.num && y.num:
			if c := cmpDigits(x.text, y.text); c != 0 {
				return c
			}
		case x.num:
			return +1
		case y.num:
			return -1
		default:
			if c := strings.Compare(x.text, y.text); c != 0 {
				return c
			}
		}
	}
	return 0
}

// rubygems is a Gem::Version: "-" means ".pre.", the segments are runs of
// digits and of letters, and trailing zeros are dropped from the release
// part and from the pre-release part (Gem::Version#canonical_segments), so
// 1.0.a2 equals 1.a.2.
type rubygems struct {
	segs []token
}

func parseRubyGems(s string) (ordered, error) {
	if !isDigit(s[0]) {
		return nil, fmt.Errorf("does not start with a number")
	}
	ts := tokens(strings.ReplaceAll(s, "-", ".pre."), false)
	split := len(ts)
	for k, t := range ts {
		if !t.num {
			split = k
			break
		}
	}
	release := dropZeros(ts[:split])
	pre := dropZeros(ts[split:])
	segs := make([]token, 0, len(release)+len(pre))
	segs = append(append(segs, release...), pre...)
	return &rubygems{segs: segs}, nil
}

func dropZeros(ts []token) []token {
	for len(ts) > 0 && ts[len(ts)-1].num && ts[len(ts)-1].text == "0" {
		ts = ts[:len(ts)-1]
	}
	return ts
}

func (v *rubygems) compare(o ordered) int {
	return cmpTokens(v.segs, o.(*rubygems).segs)
}

// generic orders versions of ecosystems without a scheme of their own:
// runs of digits and of letters (case folded), compared as RubyGems does,
// so 1.0 equals 1, 1.0rc1 sorts before 1.0 and 1.10 after 1.9. One
// exception: a single letter glued to the last number and ending the
// version is a patch letter, as in OpenSSL's 1.0.1f, and sorts after the
// number alone and before the next (1.0.1 < 1.0.1a < 1.0.1f < 1.0.2);
// NVD's CPE ranges for C software are written that way (decision 0034).
type generic struct {
	toks []token
}

func parseGeneric(s string) (ordered, error) {
	ts := tokens(s, true)
	if len(ts) == 0 {
		return nil, fmt.Errorf("has neither digits nor letters")
	}
	if n := len(s); n >= 2 && isLetter(s[n-1]) && isDigit(s[n-2]) {
		// The patch letter counts as a further number: a is 1, z is 26.
		l := s[n-1] | 0x20
		ts[len(ts)-1] = token{num: true, text: fmt.Sprint(int(l-'a') + 1)}
	}
	return &generic{toks: ts}, nil
}

func (v *generic) compare(o ordered) int {
	return cmpTokens(v.toks, o.(*generic).toks)
}

package cpe

import (
	"errors"
	"fmt"
	"strings"
)

// ParseURI reads a CPE 2.2 URI binding ("cpe:/a:apache:log4j:2.4") and
// unbinds it as NISTIR 7695 section 6.1.3 says: at most seven components
// (part, vendor, product, version, update, edition, language), a missing or
// empty one is Any and "-" is NA; letters are lower-cased; "%01" is the
// wildcard "?" and "%02" the wildcard "*" (first or last only); other
// percent-encoded characters and raw ".", "-" and "~" become quoted
// characters; an edition starting with "~" is the packed form
// "~edition~sw_edition~target_sw~target_hw~other". The four attributes a
// URI cannot carry unpacked are Any.
func ParseURI(s string) (Name, error) {
	fail := func(attr, format string, args ...any) (Name, error) {
		return Name{}, &ParseError{Input: s, Attribute: attr, Reason: fmt.Sprintf(format, args...)}
	}
	if len(s) > MaxLength {
		return fail("", "longer than %d bytes", MaxLength)
	}
	const prefix = "cpe:/"
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return fail("", "does not start with %q", prefix)
	}
	comps := strings.Split(s[len(prefix):], ":")
	if len(comps) > 7 {
		return fail("", "has %d components, a URI has at most 7", len(comps))
	}
	var n Name
	f := n.fields()
	for i, c := range comps {
		if i == 5 && strings.HasPrefix(c, "~") {
			packed := strings.Split(c, "~")
			if len(packed) != 6 {
				return fail("edition", "packed edition %q has %d fields, want 5", c, len(packed)-1)
			}
			for k, target := range []*string{&n.Edition, &n.SWEdition, &n.TargetSW, &n.TargetHW, &n.Other} {
				v, err := decodeURIValue(packed[k+1], true)
				if err != nil {
					return fail(attributeNames[[]int{5, 7, 8, 9, 10}[k]], "%v", err)
				}
				*target = v
			}
			continue
		}
		v, err := decodeURIValue(c, false)
		if err != nil {
			return fail(attributeNames[i], "%v", err)
		}
		*f[i] = v
	}
	for _, p := range f {
		if *p == "" {
			*p = Any
		}
	}
	if err := n.check(); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.Input = s
		}
		return Name{}, err
	}
	return n, nil
}

// decodeURIValue unbinds one URI component. In a packed edition "~" is the
// separator, so it cannot appear raw there.
func decodeURIValue(s string, packed bool) (string, error) {
	switch s {
	case "":
		return Any, nil
	case "-":
		return NA, nil
	}
	s = strings.ToLower(s)
	var b strings.Builder
	b.Grow(len(s) + 4)
	embedded := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isWordChar(c):
			b.WriteByte(c)
			embedded = true
			continue
		case c == '.' || c == '-' || c == '~' && !packed:
			b.WriteByte('\\')
			b.WriteByte(c)
			embedded = true
			continue
		case c != '%':
			return "", fmt.Errorf("character %q is not allowed in a CPE URI", c)
		}
		if i+3 > len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			return "", errors.New("a % is not followed by two hex digits")
		}
		form := s[i : i+3]
		switch form {
		case "%01": // the single-character wildcard
			if !(i == 0 || i == len(s)-3 || (!embedded && i >= 3 && s[i-3:i] == "%01") || (embedded && i+6 <= len(s) && s[i+3:i+6] == "%01")) {
				return "", errors.New("%01 (?) may only be in a leading or trailing run")
			}
			b.WriteByte('?')
			embedded = false
		case "%02": // the multi-character wildcard
			if i != 0 && i != len(s)-3 {
				return "", errors.New("%02 (*) may only be first or last")
			}
			b.WriteByte('*')
			embedded = true
		default:
			c := unhex(form[1])<<4 | unhex(form[2])
			if c < 0x21 || c > 0x7e || isWordChar(c) {
				return "", fmt.Errorf("%s does not encode a punctuation character", form)
			}
			b.WriteByte('\\')
			b.WriteByte(c)
			embedded = true
		}
		i += 2
	}
	return b.String(), nil
}

func isHexDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

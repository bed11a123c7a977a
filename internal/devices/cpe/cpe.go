package cpe

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error of Parse, ParseURI and
// ParseName.
var ErrInvalid = errors.New("invalid CPE name")

// MaxLength bounds the input. NVD's longest names are a few hundred bytes.
const MaxLength = 2048

// The logical values of an attribute, as Name stores them. A literal "*" or
// "-" is always quoted in a well-formed name ("\*", "\-"), so the bare
// strings cannot be mistaken for values.
const (
	Any = "*" // ANY: the attribute may take any value
	NA  = "-" // NA: the attribute is not applicable
)

// ParseError says which CPE could not be read, which attribute, and why.
type ParseError struct {
	Input     string
	Attribute string // "" when the whole name is at fault
	Reason    string
}

func (e *ParseError) Error() string {
	if e.Attribute != "" {
		return fmt.Sprintf("CPE %q: %s: %s", e.Input, e.Attribute, e.Reason)
	}
	return fmt.Sprintf("CPE %q: %s", e.Input, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Name is a well-formed CPE name (a WFN). Each attribute is Any, NA, or a
// WFN string: letters, digits and "_" as they are, every other printable
// character quoted with a backslash ("2\.4", "en\-us"), and the wildcards
// "*" and "?" unquoted only at the start or end. The zero value of an
// attribute ("") is read as Any.
type Name struct {
	Part      string // "a" application, "o" operating system, "h" hardware
	Vendor    string
	Product   string
	Version   string
	Update    string
	Edition   string
	Language  string
	SWEdition string
	TargetSW  string
	TargetHW  string
	Other     string
}

// attributeNames are the WFN attribute names in formatted-string order.
var attributeNames = [11]string{"part", "vendor", "product", "version", "update", "edition", "language", "sw_edition", "target_sw", "target_hw", "other"}

func (n *Name) fields() [11]*string {
	return [11]*string{&n.Part, &n.Vendor, &n.Product, &n.Version, &n.Update, &n.Edition, &n.Language, &n.SWEdition, &n.TargetSW, &n.TargetHW, &n.Other}
}

// Parse reads a CPE 2.3 formatted string:
// "cpe:2.3:" followed by exactly eleven colon-separated attributes, in
// which "\" quotes the next character. It unbinds each attribute as NISTIR
// 7695 section 6.2.3 says: "*" is Any, "-" is NA, and every other
// character that is not a letter, a digit or "_" is quoted in the result;
// an unquoted "*" may appear only first or last, and unquoted "?" only in a
// leading or trailing run. Part must be "a", "o" or "h" (or logical);
// language must be a language tag such as "en" or "en-us".
func Parse(s string) (Name, error) {
	fail := func(attr, format string, args ...any) (Name, error) {
		return Name{}, &ParseError{Input: s, Attribute: attr, Reason: fmt.Sprintf(format, args...)}
	}
	if len(s) > MaxLength {
		return fail("", "longer than %d bytes", MaxLength)
	}
	const prefix = "cpe:2.3:"
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return fail("", "does not start with %q", prefix)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return fail("", "byte %d is not a printable ASCII character", i)
		}
	}
	rest := s[len(prefix):]
	var parts []string
	start := 0
	for i := 0; i < len(rest) && len(parts) <= len(attributeNames); i++ {
		switch rest[i] {
		case '\\':
			i++ // the quoted character belongs to this attribute, even a colon
		case ':':
			parts = append(parts, rest[start:i])
			start = i + 1
		}
	}
	parts = append(parts, rest[min(start, len(rest)):])
	if len(parts) != len(attributeNames) {
		return fail("", "has %d attributes after %q, want %d", len(parts), prefix, len(attributeNames))
	}
	var n Name
	for i, f := range n.fields() {
		v, err := unbindFormatted(parts[i])
		if err != nil {
			return fail(attributeNames[i], "%v", err)
		}
		*f = v
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

// unbindFormatted turns one formatted-string attribute into its WFN value.
func unbindFormatted(s string) (string, error) {
	switch s {
	case "":
		return "", errors.New("empty (write * for any value or - for not applicable)")
	case "*":
		return Any, nil
	case "-":
		return NA, nil
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	embedded := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isWordChar(c):
			b.WriteByte(c)
			embedded = true
		case c == '\\':
			if i+1 == len(s) {
				return "", errors.New("ends with a lone backslash")
			}
			q := s[i+1]
			if isWordChar(q) {
				return "", fmt.Errorf("quotes %q, which needs no quoting", q)
			}
			b.WriteByte('\\')
			b.WriteByte(q)
			i++
			embedded = true
		case c == '*':
			if i != 0 && i != len(s)-1 {
				return "", errors.New("an unquoted * may only be first or last")
			}
			b.WriteByte(c)
			embedded = true
		case c == '?':
			if !(i == 0 || i == len(s)-1 || (!embedded && s[i-1] == '?') || (embedded && s[i+1] == '?')) {
				return "", errors.New("an unquoted ? may only be in a leading or trailing run")
			}
			b.WriteByte(c)
			embedded = false
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
			embedded = true
		}
	}
	return b.String(), nil
}

// check applies the rules that hold whichever binding a name came from.
func (n Name) check() error {
	switch n.Part {
	case "", Any, NA, "a", "o", "h", "A", "O", "H":
	default:
		return &ParseError{Attribute: "part", Reason: fmt.Sprintf("%q is not a, o or h", Unquote(n.Part))}
	}
	if n.Language != "" && n.Language != Any && n.Language != NA && !isLanguageTag(Unquote(n.Language)) {
		return &ParseError{Attribute: "language", Reason: fmt.Sprintf("%q is not a language tag such as en or en-us", Unquote(n.Language))}
	}
	return nil
}

// isLanguageTag accepts the RFC 5646 subset that CPE 2.3 allows: a two- or
// three-letter language, optionally a two-letter or three-digit region.
func isLanguageTag(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "-")
	if len(lang) < 2 || len(lang) > 3 || !allBytes(lang, isLetter) {
		return false
	}
	if !hasRegion {
		return true
	}
	return len(region) == 2 && allBytes(region, isLetter) || len(region) == 3 && allBytes(region, isDigit)
}

// String binds the name to a CPE 2.3 formatted string (NISTIR 7695 section
// 6.2.2): Any is "*", NA is "-", and quoted ".", "-" and "_" lose their
// backslash, except for a value that is a single hyphen, which stays "\-"
// so that it is not read back as NA.
func (n Name) String() string {
	var b strings.Builder
	b.WriteString("cpe:2.3")
	for _, f := range n.fields() {
		b.WriteByte(':')
		b.WriteString(bindFormatted(*f))
	}
	return b.String()
}

func bindFormatted(v string) string {
	switch v {
	case "", Any:
		return "*"
	case NA:
		return "-"
	case `\-`:
		return `\-`
	}
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 == len(v) {
			b.WriteByte(c)
			continue
		}
		q := v[i+1]
		if q != '.' && q != '-' && q != '_' {
			b.WriteByte('\\')
		}
		b.WriteByte(q)
		i++
	}
	return b.String()
}

// ParseName reads either binding: a CPE 2.3 formatted string ("cpe:2.3:")
// or a CPE 2.2 URI ("cpe:/"), as SBOMs may carry both.
func ParseName(s string) (Name, error) {
	if len(s) >= 5 && strings.EqualFold(s[:5], "cpe:/") {
		return ParseURI(s)
	}
	return Parse(s)
}

// Unquote returns the text of a WFN value without its quoting backslashes:
// "2\.4" becomes "2.4". Logical values are returned as they are.
func Unquote(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// isLiteral reports whether a WFN value names one value: not logical and
// without unquoted wildcards.
func isLiteral(v string) bool {
	if v == "" || v == Any || v == NA {
		return false
	}
	return !hasWildcard(v)
}

// hasWildcard reports an unquoted "*" or "?" in a WFN value.
func hasWildcard(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

func isWordChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }
func isLetter(c byte) bool   { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

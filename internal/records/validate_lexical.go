package records

import "strings"

// lexicalCheckers are hand-written matchers for the primitives that nearly
// every resource is made of. Each accepts exactly what the HL7 pattern of
// its type accepts (TestLexicalCheckersMatchPatterns and
// FuzzLexicalCheckers hold them to that), at a fraction of the cost of the
// regexp engine; types without one use their pattern.
var lexicalCheckers = map[string]func(string) bool{
	"string":      noFormFeed,
	"markdown":    noFormFeed,
	"uri":         noWhitespace,
	"url":         noWhitespace,
	"canonical":   noWhitespace,
	"code":        isCode,
	"id":          isID,
	"date":        isDate,
	"dateTime":    isDateTime,
	"instant":     isInstant,
	"time":        isTime,
	"integer":     isInteger,
	"positiveInt": isPositiveInt,
	"unsignedInt": isUnsignedInt,
}

// isSpace is Go's \s, which the patterns use: tab, newline, form feed,
// carriage return and space.
func isSpace(c byte) bool {
	return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

// noFormFeed is [ \r\n\t\S]+: \S is all but \s, so only \f is left out.
func noFormFeed(s string) bool { return s != "" && strings.IndexByte(s, '\f') < 0 }

// noWhitespace is \S*.
func noWhitespace(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return false
		}
	}
	return true
}

// isCode is [^\s]+(\s[^\s]+)*: words separated by single whitespace.
func isCode(s string) bool {
	if s == "" || isSpace(s[0]) || isSpace(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if isSpace(s[i]) && isSpace(s[i-1]) {
			return false
		}
	}
	return true
}

// isID is [A-Za-z0-9\-\.]{1,64}.
func isID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// twoDigits reads s[i:i+2] as a number from 0 to 99, or -1.
func twoDigits(s string, i int) int {
	if i+2 > len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
		return -1
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0')
}

// year is four digits other than 0000.
func year(s string) bool {
	return len(s) >= 4 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[:4] != "0000"
}

// monthDay checks -MM at s[i:] (and -DD after it when day is set).
func monthAt(s string, i int) bool {
	m := twoDigits(s, i+1)
	return len(s) >= i+3 && s[i] == '-' && m >= 1 && m <= 12
}

func dayAt(s string, i int) bool {
	d := twoDigits(s, i+1)
	return len(s) >= i+3 && s[i] == '-' && d >= 1 && d <= 31
}

// isDate is YYYY, YYYY-MM or YYYY-MM-DD.
func isDate(s string) bool {
	switch len(s) {
	case 4:
		return year(s)
	case 7:
		return year(s) && monthAt(s, 4)
	case 10:
		return year(s) && monthAt(s, 4) && dayAt(s, 7)
	}
	return false
}

// isDateTime is a date, or a full date with a time and a zone.
func isDateTime(s string) bool {
	if len(s) <= 10 {
		return isDate(s)
	}
	return isInstant(s)
}

// isInstant is YYYY-MM-DDThh:mm:ss(.f+)?(Z|(+|-)hh:mm).
func isInstant(s string) bool {
	if len(s) < 20 || !isDate(s[:10]) || s[10] != 'T' {
		return false
	}
	rest, ok := clock(s[11:])
	return ok && zone(rest)
}

// isTime is hh:mm:ss(.f+)?.
func isTime(s string) bool {
	rest, ok := clock(s)
	return ok && rest == ""
}

// clock reads hh:mm:ss with an optional fraction and returns what follows.
func clock(s string) (string, bool) {
	h, m, sec := twoDigits(s, 0), twoDigits(s, 3), twoDigits(s, 6)
	if len(s) < 8 || s[2] != ':' || s[5] != ':' || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60 {
		return "", false
	}
	s = s[8:]
	if s != "" && s[0] == '.' {
		n := 1
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if n == 1 {
			return "", false
		}
		s = s[n:]
	}
	return s, true
}

// zone is Z or an offset from -13:59 to +14:00.
func zone(s string) bool {
	if s == "Z" {
		return true
	}
	if len(s) != 6 || s[0] != '+' && s[0] != '-' || s[3] != ':' {
		return false
	}
	h, m := twoDigits(s, 1), twoDigits(s, 4)
	return h >= 0 && h <= 13 && m >= 0 && m <= 59 || h == 14 && m == 0
}

// digits reports whether s is a non-empty run of digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isUnsignedInt is [0]|([1-9][0-9]*).
func isUnsignedInt(s string) bool { return digits(s) && (s == "0" || s[0] != '0') }

// isPositiveInt is [1-9][0-9]*.
func isPositiveInt(s string) bool { return digits(s) && s[0] != '0' }

// isInteger is -?([0]|([1-9][0-9]*)).
func isInteger(s string) bool { return isUnsignedInt(strings.TrimPrefix(s, "-")) }

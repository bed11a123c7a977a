package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
)

// This file reads syslog as IHE ATNA sends it: RFC 6587 octet-counted
// frames ("MSG-LEN SP SYSLOG-MSG", as RFC 5425 requires over TLS) holding
// RFC 5424 messages.

// errFramingLost marks a frame whose length cannot be read: the stream can
// no longer be split into frames and the connection must end.
var errFramingLost = errors.New("syslog framing lost")

// frameError is a frame that could be skipped: the stream stays in step.
type frameError struct{ msg string }

func (e *frameError) Error() string { return e.msg }

// maxLenDigits bounds MSG-LEN: nine digits is more than any MaxFrame.
const maxLenDigits = 9

// ReadFrame reads one octet-counted frame. io.EOF means the peer closed
// cleanly between frames. A frame longer than max is skipped and reported
// as a *frameError (the stream stays in step); a length that is not a
// number, or a stream that ends inside a frame, wraps errFramingLost.
func ReadFrame(br *bufio.Reader, max int) ([]byte, error) {
	n := 0
	digits := 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF && digits == 0 {
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, fmt.Errorf("%w: the stream ended inside a frame length", errFramingLost)
			}
			return nil, err
		}
		if c == ' ' {
			if digits == 0 {
				return nil, fmt.Errorf("%w: a frame has an empty length", errFramingLost)
			}
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%w: a frame length holds a byte that is not a digit", errFramingLost)
		}
		if digits == 0 && c == '0' {
			return nil, fmt.Errorf("%w: a frame length starts with 0", errFramingLost)
		}
		if digits++; digits > maxLenDigits {
			return nil, fmt.Errorf("%w: a frame length has more than %d digits", errFramingLost, maxLenDigits)
		}
		n = n*10 + int(c-'0')
	}
	if n > max {
		if _, err := br.Discard(n); err != nil {
			return nil, fmt.Errorf("%w: the stream ended inside a frame", errFramingLost)
		}
		return nil, &frameError{fmt.Sprintf("a frame of %d bytes is longer than the limit of %d", n, max)}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, fmt.Errorf("%w: the stream ended inside a frame of %d bytes", errFramingLost, n)
	}
	return buf, nil
}

// SyslogHeader is the header of an RFC 5424 message. Nil values ("-") are
// empty strings and a zero Time.
type SyslogHeader struct {
	Facility, Severity int
	Time               time.Time
	Hostname, AppName  string
	ProcID, MsgID      string
	// StructuredData is kept as written (validated, not interpreted).
	StructuredData string
}

// ParseSyslog parses an RFC 5424 message and returns its header and MSG
// (without a leading UTF-8 BOM). Errors are fault.Invalid and name the
// header field.
func ParseSyslog(msg []byte) (SyslogHeader, []byte, error) {
	var h SyslogHeader
	p := &syslogParser{b: msg}
	pri, err := p.pri()
	if err != nil {
		return h, nil, err
	}
	h.Facility, h.Severity = pri/8, pri%8
	if v := p.until(' '); v != "1" {
		return h, nil, fault.InvalidField("VERSION", "is not 1")
	}
	if err := p.sp("VERSION"); err != nil {
		return h, nil, err
	}
	ts := p.until(' ')
	if ts != "-" {
		if h.Time, err = parseSyslogTime(ts); err != nil {
			return h, nil, err
		}
	}
	for _, f := range []struct {
		name string
		max  int
		dst  *string
	}{{"HOSTNAME", 255, &h.Hostname}, {"APP-NAME", 48, &h.AppName}, {"PROCID", 128, &h.ProcID}, {"MSGID", 32, &h.MsgID}} {
		if err := p.sp(f.name); err != nil {
			return h, nil, err
		}
		v := p.until(' ')
		if v == "" {
			return h, nil, fault.InvalidField(f.name, "is empty")
		}
		if len(v) > f.max {
			return h, nil, fault.InvalidField(f.name, "is longer than %d characters", f.max)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 33 || v[i] > 126 {
				return h, nil, fault.InvalidField(f.name, "holds a character outside printable US-ASCII")
			}
		}
		if v != "-" {
			*f.dst = v
		}
	}
	if err := p.sp("STRUCTURED-DATA"); err != nil {
		return h, nil, err
	}
	sd, err := p.structuredData()
	if err != nil {
		return h, nil, err
	}
	if sd != "-" {
		h.StructuredData = sd
	}
	if p.i == len(p.b) {
		return h, nil, nil
	}
	if err := p.sp("MSG"); err != nil {
		return h, nil, err
	}
	return h, bytes.TrimPrefix(p.b[p.i:], []byte("\xef\xbb\xbf")), nil
}

type syslogParser struct {
	b []byte
	i int
}

func (p *syslogParser) pri() (int, error) {
	if p.i >= len(p.b) || p.b[p.i] != '<' {
		return 0, fault.InvalidField("PRI", "does not start with <")
	}
	p.i++
	v, digits := 0, 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		if digits > 0 && v == 0 {
			return 0, fault.InvalidField("PRI", "has a leading zero")
		}
		v = v*10 + int(p.b[p.i]-'0')
		digits++
		p.i++
		if digits > 3 {
			return 0, fault.InvalidField("PRI", "has more than 3 digits")
		}
	}
	if digits == 0 || p.i >= len(p.b) || p.b[p.i] != '>' {
		return 0, fault.InvalidField("PRI", "is not <number>")
	}
	p.i++
	if v > 191 {
		return 0, fault.InvalidField("PRI", "is above 191")
	}
	return v, nil
}

func (p *syslogParser) until(c byte) string {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != c {
		p.i++
	}
	return string(p.b[start:p.i])
}

func (p *syslogParser) sp(next string) error {
	if p.i >= len(p.b) || p.b[p.i] != ' ' {
		return fault.InvalidField(next, "is missing (the header ends early)")
	}
	p.i++
	return nil
}

// structuredData reads "-" or one or more [SD-ID *(SP PARAM="VALUE")].
func (p *syslogParser) structuredData() (string, error) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
		return "-", nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return "", fault.InvalidField("STRUCTURED-DATA", "is neither - nor [")
	}
	for p.i < len(p.b) && p.b[p.i] == '[' {
		p.i++
		if err := p.sdName("SD-ID"); err != nil {
			return "", err
		}
		for p.i < len(p.b) && p.b[p.i] == ' ' {
			p.i++
			if err := p.sdName("PARAM-NAME"); err != nil {
				return "", err
			}
			if p.i+1 >= len(p.b) || p.b[p.i] != '=' || p.b[p.i+1] != '"' {
				return "", fault.InvalidField("STRUCTURED-DATA", "has a parameter without =\"value\"")
			}
			p.i += 2
			for {
				if p.i >= len(p.b) {
					return "", fault.InvalidField("STRUCTURED-DATA", "has an unterminated parameter value")
				}
				c := p.b[p.i]
				if c == '\\' && p.i+1 < len(p.b) {
					p.i += 2
					continue
				}
				p.i++
				if c == '"' {
					break
				}
			}
		}
		if p.i >= len(p.b) || p.b[p.i] != ']' {
			return "", fault.InvalidField("STRUCTURED-DATA", "has an element without ]")
		}
		p.i++
	}
	sd := p.b[start:p.i]
	if !utf8.Valid(sd) {
		return "", fault.InvalidField("STRUCTURED-DATA", "is not valid UTF-8")
	}
	return string(sd), nil
}

// sdName reads an SD-NAME: 1 to 32 printable US-ASCII characters except
// '=', SP, ']' and '"'.
func (p *syslogParser) sdName(what string) error {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' || c == ' ' {
			break
		}
		p.i++
	}
	if n := p.i - start; n == 0 || n > 32 {
		return fault.InvalidField(what, "must be 1 to 32 printable characters")
	}
	return nil
}

// parseSyslogTime reads an RFC 5424 TIMESTAMP: RFC 3339 with a zone and at
// most six fractional digits.
func parseSyslogTime(s string) (time.Time, error) {
	if !fhirLikeTime(s) {
		return time.Time{}, fault.InvalidField("TIMESTAMP", "is not an RFC 5424 timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fault.InvalidField("TIMESTAMP", "is not an RFC 5424 timestamp")
	}
	return t, nil
}

// fhirLikeTime checks the shape YYYY-MM-DDThh:mm:ss[.1-6 digits](Z|±hh:mm).
func fhirLikeTime(s string) bool {
	if len(s) < 20 {
		return false
	}
	for i, c := range []byte(s[:19]) {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	rest := s[19:]
	if rest[0] == '.' {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 1 || j > 7 {
			return false
		}
		rest = rest[j:]
	}
	if rest == "Z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':'
}

package version

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every parse error of this package.
var ErrInvalid = errors.New("invalid version")

// MaxLength bounds the input: real versions are far shorter (the longest in
// the shared OSV data is 52 bytes), and the bound keeps hostile input from
// costing more than a few microseconds.
const MaxLength = 256

// ParseError says which string could not be read as a version of which
// ecosystem, and why.
type ParseError struct {
	Ecosystem string
	Input     string
	Reason    string
}

func (e *ParseError) Error() string {
	eco := e.Ecosystem
	if eco == "" {
		eco = "(no ecosystem)"
	}
	return fmt.Sprintf("version %q is not a valid %s version: %s", e.Input, eco, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Scheme is a version ordering shared by one or more ecosystems.
type Scheme uint8

// The schemes, in the order Compare uses for versions of different schemes.
const (
	Generic Scheme = iota
	SemVer
	PyPI
	Maven
	Debian
	Alpine
	RubyGems
	NuGet
)

func (s Scheme) String() string {
	switch s {
	case SemVer:
		return "SemVer"
	case PyPI:
		return "PyPI"
	case Maven:
		return "Maven"
	case Debian:
		return "Debian"
	case Alpine:
		return "Alpine"
	case RubyGems:
		return "RubyGems"
	case NuGet:
		return "NuGet"
	default:
		return "generic"
	}
}

// schemes maps OSV ecosystem names (without a ":release" suffix) to their
// version scheme. The SemVer group follows what OSV's tooling treats as
// SemVer; anything not listed is ordered by the generic scheme.
var schemes = map[string]Scheme{
	"go":                           SemVer,
	"npm":                          SemVer,
	"crates.io":                    SemVer,
	"hex":                          SemVer,
	"swifturl":                     SemVer,
	"bitnami":                      SemVer,
	"pypi":                         PyPI,
	"maven":                        Maven,
	"debian":                       Debian,
	"ubuntu":                       Debian,
	"alpine":                       Alpine,
	"wolfi":                        Alpine,
	"chainguard":                   Alpine,
	"alpaquita":                    Alpine,
	"minimos":                      Alpine,
	"bellsoft hardened containers": Alpine,
	"rubygems":                     RubyGems,
	"nuget":                        NuGet,
}

// SchemeOf returns the scheme that orders versions of an OSV ecosystem such
// as "Go", "PyPI" or "Debian:12" (the release suffix is ignored; case is
// not significant).
func SchemeOf(ecosystem string) Scheme {
	base, _, _ := strings.Cut(ecosystem, ":")
	base = strings.TrimSpace(base)
	// Lowered in a buffer when ASCII: the lookup then allocates nothing.
	var buf [32]byte
	if len(base) > len(buf) {
		return schemes[strings.ToLower(base)]
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case c >= 0x80:
			return schemes[strings.ToLower(base)]
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return schemes[string(buf[:len(base)])]
}

// ordered is the parsed form of one scheme; compare is only ever called with
// a value of the same concrete type.
type ordered interface {
	compare(other ordered) int
}

// plainKeyer is implemented by the schemes whose plain releases (numbers
// only) Compare can order by a single integer.
type plainKeyer interface {
	plainKey() (uint64, bool)
}

// plainKey packs up to four numbers below 65,536, the missing ones zero,
// into a key that orders as the numbers do one by one; false when they do
// not fit.
func plainKey(nums []string) (uint64, bool) {
	if len(nums) > 4 {
		return 0, false
	}
	var key uint64
	for i := range 4 {
		var n uint64
		if i < len(nums) {
			d := nums[i]
			if len(d) > 5 {
				return 0, false
			}
			for j := 0; j < len(d); j++ {
				n = n*10 + uint64(d[j]-'0')
			}
			if n > 0xffff {
				return 0, false
			}
		}
		key = key<<16 | n
	}
	return key, true
}

// Version is a parsed version string. The zero Version sorts before every
// parsed one.
type Version struct {
	scheme Scheme
	raw    string
	parsed ordered
	// plain is set for a plain release that key orders: Compare of two
	// plain versions of one scheme compares their keys, which is what the
	// scheme's compare gives, in a fraction of the time.
	plain bool
	key   uint64
}

// Parse reads s as a version of the given OSV ecosystem. Surrounding white
// space is ignored. The error, if any, is a *ParseError naming the
// ecosystem and the string.
func Parse(ecosystem, s string) (Version, error) {
	fail := func(reason string) (Version, error) {
		return Version{}, &ParseError{Ecosystem: ecosystem, Input: s, Reason: reason}
	}
	if strings.TrimSpace(ecosystem) == "" {
		return fail("no ecosystem given")
	}
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return fail("empty")
	case len(t) > MaxLength:
		return fail(fmt.Sprintf("longer than %d bytes", MaxLength))
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 0x20 || c == 0x7f {
			return fail("contains a control character")
		}
	}
	scheme := SchemeOf(ecosystem)
	var (
		p   ordered
		err error
	)
	switch scheme {
	case SemVer:
		p, err = parseSemVer(t, false)
	case NuGet:
		p, err = parseSemVer(t, true)
	case PyPI:
		p, err = parsePyPI(t)
	case Maven:
		p, err = parseMaven(t)
	case Debian:
		p, err = parseDebian(t)
	case Alpine:
		p, err = parseAlpine(t)
	case RubyGems:
		p, err = parseRubyGems(t)
	default:
		p, err = parseGeneric(t)
	}
	if err != nil {
		return fail(err.Error())
	}
	v := Version{scheme: scheme, raw: t, parsed: p}
	if pk, ok := p.(plainKeyer); ok {
		v.key, v.plain = pk.plainKey()
	}
	return v, nil
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w.
// Versions of different schemes are ordered by scheme, so that Compare is a
// consistent order even when misused; callers compare within one ecosystem.
func (v Version) Compare(w Version) int {
	switch {
	case v.parsed == nil && w.parsed == nil:
		return 0
	case v.parsed == nil:
		return -1
	case w.parsed == nil:
		return +1
	case v.scheme != w.scheme:
		return cmpInt(int(v.scheme), int(w.scheme))
	case v.plain && w.plain:
		switch {
		case v.key < w.key:
			return -1
		case v.key > w.key:
			return +1
		}
		return 0
	}
	return sign(v.parsed.compare(w.parsed))
}

// String returns the version as it was given (without surrounding space).
func (v Version) String() string { return v.raw }

// Scheme returns the ordering the version was parsed with.
func (v Version) Scheme() Scheme { return v.scheme }

// IsZero reports whether v is the zero Version (never parsed).
func (v Version) IsZero() bool { return v.parsed == nil }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return +1
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return +1
	}
	return 0
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLower(c byte) bool  { return 'a' <= c && c <= 'z' }
func isLetter(c byte) bool { return isLower(c) || 'A' <= c && c <= 'Z' }

func allDigits(s string) bool {
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

// trimZeros drops leading zeros of a digit string; "" and "000" become "0".
func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if s == "" {
		return "0"
	}
	return s
}

// cmpDigits compares two digit strings by numeric value, with no limit on
// their length (the vectors hold 30-digit components).
func cmpDigits(a, b string) int {
	a, b = trimZeros(a), trimZeros(b)
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(a, b)
}

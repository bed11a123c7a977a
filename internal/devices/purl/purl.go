package purl

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error of Parse.
var ErrInvalid = errors.New("invalid package URL")

// ErrNoEcosystem is returned by Ecosystem for a purl type that OSV has no
// ecosystem for.
var ErrNoEcosystem = errors.New("no OSV ecosystem for this package URL type")

// MaxLength bounds the input; real purls are a few hundred bytes at most.
const MaxLength = 4096

// ParseError says which purl could not be read and why.
type ParseError struct {
	Input  string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("package URL %q: %s", e.Input, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Qualifier is one key=value pair of a purl.
type Qualifier struct {
	Key   string
	Value string
}

// PURL is a parsed package URL. All fields are percent-decoded; Type is
// lower-case, and Namespace and Name are normalised as the purl type
// requires (see Parse).
type PURL struct {
	Type       string
	Namespace  string // segments joined by "/"; "" when absent
	Name       string
	Version    string // "" when absent
	Qualifiers []Qualifier
	Subpath    string // segments joined by "/"; "" when absent

	// Raw is the string Parse was given.
	Raw string
}

// Parse reads a package URL. It follows the purl specification's parsing
// rules (split "#subpath", then "?qualifiers", then the "pkg:" scheme, the
// type, "@version", the name and the namespace; any number of "/" after
// "pkg:" is accepted) and then normalises by type:
//
//   - pypi: the name is lower-cased and runs of "-", "_" and "." become "-"
//     (PEP 503);
//   - github, bitbucket, composer, deb, apk, alpm, hex: namespace and name
//     are lower-cased;
//   - golang, npm, maven, cargo, gem, nuget and others keep their case
//     (Go module paths and npm's legacy names are case-sensitive).
//
// Qualifier keys are lower-cased and sorted; a qualifier with an empty
// value is dropped, as the specification says.
func Parse(s string) (PURL, error) {
	fail := func(format string, args ...any) (PURL, error) {
		return PURL{}, &ParseError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	if len(s) > MaxLength {
		return fail("longer than %d bytes", MaxLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return fail("contains white space or a control character at byte %d", i)
		}
	}
	p := PURL{Raw: s}
	rest := s
	if i := strings.LastIndexByte(rest, '#'); i >= 0 {
		sub, err := decodeSegments(rest[i+1:], true)
		if err != nil {
			return fail("subpath: %v", err)
		}
		p.Subpath, rest = sub, rest[:i]
	}
	if i := strings.LastIndexByte(rest, '?'); i >= 0 {
		qs, err := parseQualifiers(rest[i+1:])
		if err != nil {
			return fail("qualifiers: %v", err)
		}
		p.Qualifiers, rest = qs, rest[:i]
	}
	scheme, rest, ok := strings.Cut(rest, ":")
	if !ok || !strings.EqualFold(scheme, "pkg") {
		return fail("does not start with %q", "pkg:")
	}
	rest = strings.Trim(rest, "/")
	typ, rest, ok := strings.Cut(rest, "/")
	if typ == "" {
		return fail("no type")
	}
	if !ok || rest == "" {
		return fail("no name")
	}
	if err := checkType(typ); err != nil {
		return fail("%v", err)
	}
	p.Type = strings.ToLower(typ)
	// The version follows the last "@"; an "@" followed by a "/" is an
	// unencoded npm scope (pkg:npm/@scope/name), which many tools write.
	if i := strings.LastIndexByte(rest, '@'); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		if rest[i+1:] == "" {
			return fail("empty version after %q", "@")
		}
		v, err := decode(rest[i+1:])
		if err != nil {
			return fail("version: %v", err)
		}
		p.Version, rest = v, rest[:i]
	}
	rest = strings.TrimRight(rest, "/")
	nsPart, namePart := "", rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		nsPart, namePart = rest[:i], rest[i+1:]
	}
	name, err := decode(namePart)
	if err != nil {
		return fail("name: %v", err)
	}
	if name == "" {
		return fail("empty name")
	}
	if strings.Contains(name, "/") {
		return fail("name %q holds a %q", name, "/")
	}
	ns, err := decodeSegments(nsPart, false)
	if err != nil {
		return fail("namespace: %v", err)
	}
	p.Namespace, p.Name = ns, name
	if err := p.normalize(); err != nil {
		return fail("%v", err)
	}
	return p, nil
}

// checkType applies the specification's rule for types: ASCII letters,
// digits, ".", "+" and "-", not starting with a digit.
func checkType(t string) error {
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := isAlnum(c) || c == '.' || c == '+' || c == '-'
		if !ok || (i == 0 && isDigit(c)) {
			return fmt.Errorf("type %q: only letters, digits, %q, %q and %q, not starting with a digit", t, '.', '+', '-')
		}
	}
	return nil
}

func (p *PURL) normalize() error {
	switch p.Type {
	case "pypi":
		p.Name = NormalizePyPIName(p.Name)
	case "github", "bitbucket", "composer", "deb", "apk", "alpm", "hex":
		p.Namespace = strings.ToLower(p.Namespace)
		p.Name = strings.ToLower(p.Name)
	}
	switch p.Type {
	case "maven":
		if p.Namespace == "" {
			return fmt.Errorf("a maven purl needs a namespace (the groupId)")
		}
	case "composer":
		if p.Namespace == "" {
			return fmt.Errorf("a composer purl needs a namespace (the vendor)")
		}
	}
	return nil
}

// NormalizePyPIName is PEP 503's normalisation: lower case, and every run
// of "-", "_" and "." replaced by one "-". OSV names PyPI packages this way.
func NormalizePyPIName(name string) string {
	normal := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' || c == '_' || c == '.' || c == '-' && i > 0 && name[i-1] == '-' {
			normal = false
			break
		}
	}
	if normal {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	inRun := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			if !inRun {
				b.WriteByte('-')
			}
			inRun = true
			continue
		}
		inRun = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func parseQualifiers(s string) ([]Qualifier, error) {
	var qs []Qualifier
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q has no %q", pair, "=")
		}
		k = strings.ToLower(k)
		if err := checkKey(k); err != nil {
			return nil, err
		}
		val, err := decode(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		if val == "" {
			continue
		}
		if slices.ContainsFunc(qs, func(q Qualifier) bool { return q.Key == k }) {
			return nil, fmt.Errorf("key %q appears twice", k)
		}
		qs = append(qs, Qualifier{Key: k, Value: val})
	}
	slices.SortFunc(qs, func(a, b Qualifier) int { return strings.Compare(a.Key, b.Key) })
	return qs, nil
}

// checkKey applies the specification's rule for qualifier keys: ASCII
// letters, digits, ".", "-" and "_", not starting with a digit.
func checkKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty key")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		ok := isAlnum(c) || c == '.' || c == '-' || c == '_'
		if !ok || (i == 0 && isDigit(c)) {
			return fmt.Errorf("key %q: only letters, digits, %q, %q and %q, not starting with a digit", k, '.', '-', '_')
		}
	}
	return nil
}

// decodeSegments splits a namespace or subpath at "/", drops empty
// segments (and, in a subpath, "." and ".."), and decodes each one.
func decodeSegments(s string, subpath bool) (string, error) {
	var segs []string
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" || subpath && (seg == "." || seg == "..") {
			continue
		}
		d, err := decode(seg)
		if err != nil {
			return "", err
		}
		if strings.Contains(d, "/") {
			return "", fmt.Errorf("segment %q holds an encoded %q", seg, "/")
		}
		if d == "" || subpath && (d == "." || d == "..") {
			continue
		}
		segs = append(segs, d)
	}
	return strings.Join(segs, "/"), nil
}

// decode undoes percent-encoding; "+" stays a plus sign.
func decode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("bad percent-encoding at %q", s[i:min(i+3, len(s))])
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

// String returns the canonical form: lower-case type, normalised names,
// qualifiers sorted by key, and every character other than letters,
// digits and "-._~" percent-encoded (qualifier values also keep "/" and
// ":", which cannot be mistaken there).
func (p PURL) String() string {
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(p.Type)
	b.WriteByte('/')
	if p.Namespace != "" {
		for seg := range strings.SplitSeq(p.Namespace, "/") {
			b.WriteString(encode(seg, ""))
			b.WriteByte('/')
		}
	}
	b.WriteString(encode(p.Name, ""))
	if p.Version != "" {
		b.WriteByte('@')
		b.WriteString(encode(p.Version, ""))
	}
	for i, q := range p.Qualifiers {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(q.Key)
		b.WriteByte('=')
		b.WriteString(encode(q.Value, "/:"))
	}
	if p.Subpath != "" {
		b.WriteByte('#')
		for i, seg := range strings.Split(p.Subpath, "/") {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(encode(seg, ""))
		}
	}
	return b.String()
}

func encode(s, keep string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !plain(s[i], keep) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c, keep) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func plain(c byte, keep string) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || strings.IndexByte(keep, c) >= 0
}

// Qualifier returns the value of a qualifier and whether it is present.
func (p PURL) Qualifier(key string) (string, bool) {
	for _, q := range p.Qualifiers {
		if q.Key == key {
			return q.Value, true
		}
	}
	return "", false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

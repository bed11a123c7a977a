package records

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validator holds the state of one call to Validate.
type validator struct {
	defs   *fhirDefinitions
	issues []Issue
	full   bool      // maxIssues reached: stop looking
	path   []pathSeg // where the walk is, for expressions
}

// pathSeg is one step of an expression: an element name, or an index
// when name is empty.
type pathSeg struct {
	name  string
	index int
}

func (v *validator) push(name string) { v.path = append(v.path, pathSeg{name: name}) }
func (v *validator) pushIndex(i int)  { v.path = append(v.path, pathSeg{index: i}) }
func (v *validator) pop()             { v.path = v.path[:len(v.path)-1] }

// expression renders the path in FHIRPath style: Patient.name[0].given[1].
func (v *validator) expression() string {
	var b strings.Builder
	for i, s := range v.path {
		switch {
		case s.name == "":
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case i == 0:
			b.WriteString(s.name)
		default:
			b.WriteByte('.')
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// report records an issue at the current path.
func (v *validator) report(code, diagnostics string) {
	v.reportAt(v.expression(), code, diagnostics)
}

func (v *validator) reportAt(expression, code, diagnostics string) {
	if v.full {
		return
	}
	if len(v.issues) == maxIssues-1 {
		v.full = true
		v.issues = append(v.issues, Issue{Severity: "error", Code: codeTooCostly,
			Diagnostics: "too many problems: checking stopped after " + strconv.Itoa(maxIssues-1)})
		return
	}
	v.issues = append(v.issues, Issue{Severity: "error", Code: code, Expression: expression, Diagnostics: diagnostics})
}

// run decodes raw and checks it, returning the object and its type.
func (v *validator) run(raw []byte) (map[string]any, string) {
	if len(raw) > MaxResourceBytes {
		v.reportAt("", codeTooLong, "the resource is larger than "+strconv.Itoa(MaxResourceBytes>>20)+" MiB")
		return nil, ""
	}
	if !utf8.Valid(raw) {
		// encoding/json would silently replace the bad bytes.
		v.reportAt("", codeStructure, "the resource is not valid UTF-8")
		return nil, ""
	}
	keys := scanKeys(raw)
	if keys.tooDeep {
		v.reportAt("", codeTooLong, "the JSON nests deeper than "+strconv.Itoa(maxDepth)+" levels")
		return nil, ""
	}
	obj, problem := decodeObject(raw)
	if problem != "" {
		v.reportAt("", codeStructure, problem)
		return nil, ""
	}
	rt, ok := v.resourceType(obj)
	root := "Resource"
	if ok {
		root = rt
	}
	for _, dup := range keys.dups {
		v.reportAt(root+dup, codeStructure, "the property appears more than once in this object")
	}
	if !ok {
		return nil, ""
	}
	v.push(rt)
	v.object(obj, v.defs.types[rt])
	v.pop()
	return obj, rt
}

// decodeObject decodes one JSON object, numbers as json.Number so that
// decimals keep their exact digits, and nothing after it.
func decodeObject(raw []byte) (map[string]any, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, "malformed JSON at byte " + strconv.FormatInt(dec.InputOffset(), 10) + ": " + strings.TrimPrefix(err.Error(), "json: ")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "unexpected data after the resource"
	}
	obj, isObject := top.(map[string]any)
	if !isObject {
		return nil, "the resource must be a JSON object, got " + kindOf(top)
	}
	return obj, ""
}

// resourceType checks the resourceType of a top-level resource.
func (v *validator) resourceType(obj map[string]any) (string, bool) {
	val, present := obj["resourceType"]
	if !present {
		v.reportAt("resourceType", codeRequired, "resourceType is missing")
		return "", false
	}
	rt, isString := val.(string)
	if !isString {
		v.reportAt("resourceType", codeStructure, "expected a string, got "+kindOf(val))
		return "", false
	}
	if td := v.defs.types[rt]; td == nil || !td.resource {
		v.reportAt("resourceType", codeNotSupported, "the resource type is not one of "+strings.Join(SupportedTypes, ", "))
		return "", false
	}
	return rt, true
}

// relativeExpression renders a decoder path after the (not yet known)
// resource type. Names that are not element names are not repeated, as
// they may be anything.
func relativeExpression(path []pathSeg) string {
	var b strings.Builder
	for _, s := range path {
		switch {
		case s.name == "":
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case isElementName(s.name):
			b.WriteString("." + s.name)
		default:
			b.WriteString(".?")
		}
	}
	return b.String()
}

// isElementName reports whether s looks like a FHIR element or type name
// (possibly a `_name` companion), which is safe to repeat in a message.
func isElementName(s string) bool {
	s = strings.TrimPrefix(s, "_")
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
			return false
		}
	}
	return true
}

func kindOf(val any) string {
	switch val.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unknown value"
}

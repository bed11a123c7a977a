// Command gendefs turns the official HL7 FHIR R4 JSON schema into the
// compact definitions (internal/records/fhirdefs.json) that the records
// validator embeds: for each resource type Trustward stores and every
// datatype or backbone element they reach, the elements in FHIR order with
// their type, cardinality, required codes, choice group and whether a
// primitive extension (`_name`) may accompany them; the required elements;
// and the pattern of every primitive type.
//
// Run it from the repository root with
//
//	go run ./internal/records/gendefs
//
// or through `go generate ./internal/records`. The output is deterministic,
// so a test can check that the committed file is current.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// resourceTypes are the roots of the definitions, as in records.SupportedTypes.
var resourceTypes = []string{"Patient", "Practitioner", "PractitionerRole", "Organization", "Encounter",
	"CareTeam", "Condition", "AllergyIntolerance", "MedicationRequest", "Observation"}

// requiredBeyondSchema lists elements of minimum cardinality 1 in the R4
// StructureDefinitions that the JSON schema cannot mark as required: a
// required primitive may carry only an extension in its `_name` companion
// (for example a data-absent-reason), and a required choice element
// (name[x]) is spread over several properties. The validator accepts either
// the value or the companion for a primitive, and any one member for a
// choice. Each entry is checked against the schema, so a renamed element
// fails the generator instead of silently vanishing.
var requiredBeyondSchema = map[string][]string{
	"Annotation":                     {"text"},
	"Contributor":                    {"type", "name"},
	"DataRequirement":                {"type"},
	"DataRequirement_Sort":           {"path", "direction"},
	"Encounter":                      {"status"},
	"Encounter_StatusHistory":        {"status"},
	"Expression":                     {"language"},
	"Extension":                      {"url"},
	"MedicationRequest":              {"status", "intent", "medication[x]"},
	"MedicationRequest_Substitution": {"allowed[x]"},
	"Narrative":                      {"status"},
	"Observation":                    {"status"},
	"ParameterDefinition":            {"use", "type"},
	"Patient_Link":                   {"type"},
	"PractitionerRole_NotAvailable":  {"description"},
	"RelatedArtifact":                {"type"},
	"SampledData":                    {"period", "dimensions"},
	"Signature":                      {"when"},
	"TriggerDefinition":              {"type"},
	"UsageContext":                   {"value[x]"},
}

func main() {
	schemaPath := flag.String("schema", "../shared/data/fhir/fhir.schema.json", "the HL7 FHIR R4 JSON schema (fhir.schema.json)")
	outPath := flag.String("out", "internal/records/fhirdefs.json", "where to write the definitions")
	flag.Parse()
	if err := run(*schemaPath, *outPath); err != nil {
		fmt.Fprintln(os.Stderr, "gendefs:", err)
		os.Exit(1)
	}
}

func run(schemaPath, outPath string) error {
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	out, err := Generate(schema)
	if err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	return os.WriteFile(outPath, out, 0o644)
}

// Output is the shape of fhirdefs.json; internal/records reads the same
// field names.
type Output struct {
	Source     string                `json:"source"`
	Primitives map[string]*Primitive `json:"primitives"`
	Types      map[string]*Type      `json:"types"`
}

// Primitive is a FHIR primitive datatype: its JSON kind (string, number,
// boolean) and the regular expression its lexical form must match in full.
type Primitive struct {
	JSON    string `json:"json"`
	Pattern string `json:"pattern,omitempty"`
}

// Type is a resource, complex datatype or backbone element.
type Type struct {
	Resource bool       `json:"resource,omitempty"`
	Required []string   `json:"required,omitempty"`
	Elements []*Element `json:"elements"`
}

// Element is one property of a type. Type is a primitive name, a complex
// type name, or "Resource" for contained resources.
type Element struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Array bool     `json:"array,omitempty"`
	Enum  []string `json:"enum,omitempty"`
	// Choice names the choice element (value for value[x]) this property
	// is one type of; at most one member of a group may be present.
	Choice string `json:"choice,omitempty"`
	// NoExt is set on primitive elements for which the schema has no `_name`
	// companion (element ids, xhtml, a few canonicals).
	NoExt bool `json:"noext,omitempty"`
}

type schemaProp struct {
	Ref         string      `json:"$ref"`
	Type        string      `json:"type"`
	Pattern     string      `json:"pattern"`
	Enum        []string    `json:"enum"`
	Const       string      `json:"const"`
	Items       *schemaProp `json:"items"`
	Description string      `json:"description"`
}

type namedProp struct {
	name string
	prop schemaProp
}

type schemaDef struct {
	Type       string          `json:"type"`
	Pattern    string          `json:"pattern"`
	Properties json.RawMessage `json:"properties"`
	Required   []string        `json:"required"`
	props      []namedProp     // in schema (FHIR element) order
}

// Generate returns the definitions for schema, the text of fhir.schema.json.
func Generate(schema []byte) ([]byte, error) {
	var doc struct {
		Definitions map[string]*schemaDef `json:"definitions"`
	}
	if err := json.Unmarshal(schema, &doc); err != nil {
		return nil, err
	}
	defs := doc.Definitions
	for name, d := range defs {
		if len(d.Properties) == 0 {
			continue
		}
		props, err := orderedProps(d.Properties)
		if err != nil {
			return nil, fmt.Errorf("definition %s: %w", name, err)
		}
		d.props = props
	}
	g := &generator{defs: defs, out: &Output{
		Source:     "HL7 FHIR R4 (4.0.1) fhir.schema.json, generated by internal/records/gendefs",
		Primitives: map[string]*Primitive{},
		Types:      map[string]*Type{},
	}}
	// Element is the type of every `_name` companion of a primitive.
	queue := append(slices.Clone(resourceTypes), "Element")
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := g.out.Types[name]; done {
			continue
		}
		reached, err := g.complexType(name)
		if err != nil {
			return nil, fmt.Errorf("definition %s: %w", name, err)
		}
		queue = append(queue, reached...)
	}
	for name := range requiredBeyondSchema {
		if _, ok := g.out.Types[name]; !ok {
			return nil, fmt.Errorf("requiredBeyondSchema names %s, which no resource reaches", name)
		}
	}
	if err := g.primitives(); err != nil {
		return nil, err
	}
	return write(g.out)
}

// orderedProps decodes a properties object keeping its key order, which in
// the HL7 schema is the order of the elements in the specification.
func orderedProps(raw json.RawMessage) ([]namedProp, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("properties is not an object")
	}
	var out []namedProp
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var p schemaProp
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("property %v: %w", t, err)
		}
		out = append(out, namedProp{t.(string), p})
	}
	return out, nil
}

type generator struct {
	defs map[string]*schemaDef
	out  *Output
	// inline holds the patterns given inline on choice properties, per
	// primitive, for primitives whose definition has none (base64Binary).
	inline map[string]string
}

func (g *generator) isComplex(name string) bool {
	d, ok := g.defs[name]
	return ok && d.props != nil
}

func (g *generator) isPrimitive(name string) bool {
	d, ok := g.defs[name]
	return ok && d.props == nil && name != "ResourceList" && name[0] >= 'a' && name[0] <= 'z'
}

// complexType adds the definition of name and returns the complex types it
// refers to.
func (g *generator) complexType(name string) ([]string, error) {
	d := g.defs[name]
	if d == nil || d.props == nil {
		return nil, errors.New("not a complex type of the schema")
	}
	t := &Type{}
	byName := map[string]schemaProp{}
	for _, p := range d.props {
		byName[p.name] = p.prop
	}
	var reached []string
	for _, np := range d.props {
		name, p := np.name, np.prop
		if strings.HasPrefix(name, "_") {
			// A companion holds the id and extensions of a primitive: an
			// Element, or an array of them beside an array of values.
			base, ok := byName[name[1:]]
			q := p
			if p.Type == "array" && p.Items != nil {
				q = *p.Items
			}
			if !ok || (p.Type == "array") != (base.Type == "array") || q.Ref != "#/definitions/Element" {
				return nil, fmt.Errorf("%s is not an Element companion of an element %s", name, name[1:])
			}
			continue
		}
		if name == "resourceType" {
			if p.Const == "" {
				return nil, errors.New("resourceType is not a constant")
			}
			t.Resource = true
			continue
		}
		el := &Element{Name: name}
		q := p
		if p.Type == "array" {
			if p.Items == nil {
				return nil, fmt.Errorf("%s: array without items", name)
			}
			el.Array = true
			q = *p.Items
		}
		ref := strings.TrimPrefix(q.Ref, "#/definitions/")
		switch {
		case q.Ref != "" && ref == "ResourceList":
			el.Type = "Resource"
		case q.Ref != "" && g.isComplex(ref):
			el.Type = ref
			reached = append(reached, ref)
		case q.Ref != "" && g.isPrimitive(ref):
			el.Type = ref
		case q.Ref != "":
			return nil, fmt.Errorf("%s: unknown reference %s", name, q.Ref)
		case q.Enum != nil:
			// Codes bound to a required value set are inlined as an enum.
			el.Type, el.Enum = "code", q.Enum
		case q.Pattern != "" || q.Type == "boolean" || q.Type == "number" || q.Type == "string":
			// Primitive choice members are inlined; the suffix names the type.
			prim, err := g.inlinePrimitive(name, q)
			if err != nil {
				return nil, err
			}
			el.Type = prim
		default:
			return nil, fmt.Errorf("%s: unsupported property shape", name)
		}
		_, hasExt := byName["_"+name]
		primitive := g.isPrimitive(el.Type)
		switch {
		case primitive && !hasExt:
			el.NoExt = true
		case !primitive && hasExt:
			return nil, fmt.Errorf("%s is not primitive but has a _%s companion", name, name)
		}
		t.Elements = append(t.Elements, el)
	}
	if err := markChoices(t, byName); err != nil {
		return nil, err
	}
	for _, r := range d.Required {
		if r != "resourceType" {
			t.Required = append(t.Required, r)
		}
	}
	for _, r := range requiredBeyondSchema[name] {
		if !hasElementOrChoice(t, r) {
			return nil, fmt.Errorf("requiredBeyondSchema: no element %s", r)
		}
		t.Required = append(t.Required, r)
	}
	g.out.Types[name] = t
	return reached, nil
}

func (g *generator) inlinePrimitive(name string, q schemaProp) (string, error) {
	for i := 1; i < len(name); i++ {
		if name[i] < 'A' || name[i] > 'Z' {
			continue
		}
		prim := strings.ToLower(name[i:i+1]) + name[i+1:]
		if !g.isPrimitive(prim) {
			continue
		}
		def := g.defs[prim]
		switch {
		case def.Pattern == q.Pattern:
		case def.Pattern == "" && q.Pattern != "":
			if g.inline == nil {
				g.inline = map[string]string{}
			}
			if old, ok := g.inline[prim]; ok && old != q.Pattern {
				return "", fmt.Errorf("%s: two inline patterns for %s", name, prim)
			}
			g.inline[prim] = q.Pattern
		default:
			return "", fmt.Errorf("%s: inline pattern differs from the %s definition", name, prim)
		}
		return prim, nil
	}
	return "", fmt.Errorf("%s: inline primitive whose type cannot be told from its name", name)
}

// markChoices finds the choice elements (value[x]). The schema spreads
// them over one property per type (valueQuantity, valueString ...) with the
// same description. A group is the longest set of single-valued
// properties sharing a prefix, each ending with the name of a FHIR type,
// sharing one description, where the prefix is not itself an element; the
// largest grouping wins, so valueDateTime is in value[x] rather than a
// one-member "valueDate" group.
func markChoices(t *Type, byName map[string]schemaProp) error {
	candidates := map[string][]string{} // prefix -> members
	prefixesOf := map[string][]string{}
	for _, el := range t.Elements {
		if el.Array {
			continue
		}
		for i := 1; i < len(el.Name); i++ {
			c := el.Name[i]
			if c < 'A' || c > 'Z' {
				continue
			}
			prefix, suffix := el.Name[:i], el.Name[i:]
			if _, isElement := byName[prefix]; isElement {
				continue
			}
			if suffix != el.Type && suffix != strings.ToUpper(el.Type[:1])+el.Type[1:] {
				continue
			}
			candidates[prefix] = append(candidates[prefix], el.Name)
			prefixesOf[el.Name] = append(prefixesOf[el.Name], prefix)
		}
	}
	for _, el := range t.Elements {
		best := ""
		for _, p := range prefixesOf[el.Name] {
			if len(candidates[p]) > len(candidates[best]) || best == "" {
				best = p
			}
		}
		if best == "" || len(candidates[best]) < 2 {
			continue
		}
		for _, m := range candidates[best] {
			if byName[m].Description != byName[el.Name].Description {
				return fmt.Errorf("choice %s[x]: members %s and %s differ in description", best, m, el.Name)
			}
		}
		el.Choice = best
	}
	return nil
}

func hasElementOrChoice(t *Type, name string) bool {
	choice, isChoice := strings.CutSuffix(name, "[x]")
	for _, el := range t.Elements {
		if isChoice && el.Choice == choice || !isChoice && el.Name == name {
			return true
		}
	}
	return false
}

func (g *generator) primitives() error {
	used := map[string]bool{}
	for _, t := range g.out.Types {
		for _, el := range t.Elements {
			if g.isPrimitive(el.Type) {
				used[el.Type] = true
			}
		}
	}
	for name := range used {
		d := g.defs[name]
		p := &Primitive{JSON: d.Type, Pattern: d.Pattern}
		if p.Pattern == "" {
			p.Pattern = g.inline[name]
		}
		if name == "xhtml" && p.JSON == "" {
			// The schema leaves xhtml untyped; FHIR JSON carries it as a string.
			p.JSON = "string"
		}
		switch p.JSON {
		case "string", "number", "boolean":
		default:
			return fmt.Errorf("primitive %s: unsupported JSON type %q", name, p.JSON)
		}
		g.out.Primitives[name] = p
	}
	return nil
}

// write lays the definitions out one element per line: small, and readable
// in a diff when the schema or the generator changes.
func write(o *Output) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	put := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		return nil
	}
	b.WriteString("{\n\"source\": ")
	if err := put(o.Source); err != nil {
		return nil, err
	}
	b.WriteString(",\n\"primitives\": {")
	for i, name := range sortedKeys(o.Primitives) {
		b.WriteString(sep(i) + "\n ")
		if err := put(name); err != nil {
			return nil, err
		}
		b.WriteString(": ")
		if err := put(o.Primitives[name]); err != nil {
			return nil, err
		}
	}
	b.WriteString("\n},\n\"types\": {")
	for i, name := range sortedKeys(o.Types) {
		t := o.Types[name]
		b.WriteString(sep(i) + "\n ")
		if err := put(name); err != nil {
			return nil, err
		}
		b.WriteString(": {")
		if t.Resource {
			b.WriteString("\"resource\": true, ")
		}
		if len(t.Required) > 0 {
			b.WriteString("\"required\": ")
			if err := put(t.Required); err != nil {
				return nil, err
			}
			b.WriteString(", ")
		}
		b.WriteString("\"elements\": [")
		for j, el := range t.Elements {
			b.WriteString(sep(j) + "\n  ")
			if err := put(el); err != nil {
				return nil, err
			}
		}
		b.WriteString("\n ]}")
	}
	b.WriteString("\n}\n}\n")
	// The output must read back as the same definitions.
	var check Output
	if err := json.Unmarshal(b.Bytes(), &check); err != nil {
		return nil, fmt.Errorf("output is not valid JSON: %w", err)
	}
	return b.Bytes(), nil
}

func sep(i int) string {
	if i == 0 {
		return ""
	}
	return ","
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

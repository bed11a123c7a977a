package records

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// fhirdefsJSON is generated from the HL7 FHIR R4 JSON schema by
// ./gendefs; see the go:generate line in validate.go.
//
//go:embed fhirdefs.json
var fhirdefsJSON []byte

// definitions parses the embedded definitions once. The result is never
// modified after, so sharing it between goroutines is safe.
var definitions = sync.OnceValues(func() (*fhirDefinitions, error) {
	return parseDefinitions(fhirdefsJSON)
})

type fhirDefinitions struct {
	types map[string]*typeDef
	// element is the type of the `_name` companion of a primitive.
	element *typeDef
}

type jsonKind uint8

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBoolean
)

func (k jsonKind) String() string {
	switch k {
	case jsonNumber:
		return "number"
	case jsonBoolean:
		return "boolean"
	}
	return "string"
}

type primitiveDef struct {
	name string
	json jsonKind
	// re matches the whole lexical form. The HL7 patterns carry ^ and $ but
	// some rely on alternation binding tighter than it does
	// ("^[0]|([1-9][0-9]*)$" for unsignedInt), so each is wrapped in
	// ^(?: ... )$ to get the full-match meaning FHIR intends.
	re *regexp.Regexp
	// lexical, when set, is a hand-written equivalent of re.
	lexical func(string) bool
}

// matches reports whether lit is a lexical form of the primitive.
func (p *primitiveDef) matches(lit string) bool {
	if p.lexical != nil {
		return p.lexical(lit)
	}
	return p.re == nil || p.re.MatchString(lit)
}

type typeDef struct {
	name      string
	resource  bool
	extension bool // the Extension datatype, which has the ext-1 invariant
	elements  []elementDef
	index     map[string]int
	required  []requirement
}

type requirement struct {
	name    string // element name, or choice name with [x]
	members []int  // the element, or every member of the choice
}

type elementDef struct {
	name     string
	extName  string // "_"+name when a primitive extension may accompany it
	typeName string
	array    bool
	prim     *primitiveDef // for primitives
	complex  *typeDef      // for datatypes and backbone elements
	resource bool          // contained resources
	enum     []string
	choice   string // the choice element (value for value[x]) this is one type of
}

type defsElement struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Array  bool     `json:"array"`
	Enum   []string `json:"enum"`
	Choice string   `json:"choice"`
	NoExt  bool     `json:"noext"`
}

// The shape of fhirdefs.json, as written by gendefs.
type defsFile struct {
	Primitives map[string]struct {
		JSON    string `json:"json"`
		Pattern string `json:"pattern"`
	} `json:"primitives"`
	Types map[string]struct {
		Resource bool          `json:"resource"`
		Required []string      `json:"required"`
		Elements []defsElement `json:"elements"`
	} `json:"types"`
}

func parseDefinitions(data []byte) (*fhirDefinitions, error) {
	var f defsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	prims := make(map[string]*primitiveDef, len(f.Primitives))
	for name, p := range f.Primitives {
		pd := &primitiveDef{name: name}
		switch p.JSON {
		case "string":
			pd.json = jsonString
		case "number":
			pd.json = jsonNumber
		case "boolean":
			pd.json = jsonBoolean
		default:
			return nil, fmt.Errorf("primitive %s: JSON type %q", name, p.JSON)
		}
		if p.Pattern != "" {
			re, err := regexp.Compile("^(?:" + p.Pattern + ")$")
			if err != nil {
				return nil, fmt.Errorf("primitive %s: %w", name, err)
			}
			pd.re = re
			pd.lexical = lexicalCheckers[name]
		}
		prims[name] = pd
	}
	defs := &fhirDefinitions{types: make(map[string]*typeDef, len(f.Types))}
	for name, t := range f.Types {
		defs.types[name] = &typeDef{name: name, resource: t.Resource, extension: name == "Extension"}
	}
	for name, t := range f.Types {
		td := defs.types[name]
		td.elements = make([]elementDef, len(t.Elements))
		td.index = make(map[string]int, len(t.Elements))
		choices := map[string]bool{}
		for i, e := range t.Elements {
			el := elementDef{name: e.Name, typeName: e.Type, array: e.Array, enum: e.Enum, choice: e.Choice}
			switch {
			case e.Type == "Resource":
				el.resource = true
			case prims[e.Type] != nil:
				el.prim = prims[e.Type]
				if !e.NoExt {
					el.extName = "_" + e.Name
				}
			case defs.types[e.Type] != nil:
				el.complex = defs.types[e.Type]
			default:
				return nil, fmt.Errorf("%s.%s: unknown type %s", name, e.Name, e.Type)
			}
			if _, dup := td.index[e.Name]; dup || e.Name == "" || strings.HasPrefix(e.Name, "_") {
				return nil, fmt.Errorf("%s: bad or repeated element name %q", name, e.Name)
			}
			// The walk spots two members of one choice by their being next
			// to each other in element order.
			if e.Choice != "" && i > 0 && t.Elements[i-1].Choice != e.Choice && choices[e.Choice] {
				return nil, fmt.Errorf("%s: members of %s[x] are not contiguous", name, e.Choice)
			}
			choices[e.Choice] = true
			td.elements[i] = el
			td.index[e.Name] = i
		}
		for _, r := range t.Required {
			req := requirement{name: r}
			if choice, ok := strings.CutSuffix(r, "[x]"); ok {
				for i, el := range td.elements {
					if el.choice == choice {
						req.members = append(req.members, i)
					}
				}
			} else if i, ok := td.index[r]; ok {
				req.members = []int{i}
			}
			if len(req.members) == 0 {
				return nil, fmt.Errorf("%s: required %s is not an element", name, r)
			}
			td.required = append(td.required, req)
		}
	}
	for _, t := range SupportedTypes {
		if td := defs.types[t]; td == nil || !td.resource {
			return nil, fmt.Errorf("no definition of the resource %s", t)
		}
	}
	if defs.element = defs.types["Element"]; defs.element == nil {
		return nil, fmt.Errorf("no definition of Element")
	}
	return defs, nil
}

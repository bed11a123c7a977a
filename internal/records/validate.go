package records

//go:generate go run ./gendefs -schema ../../../shared/data/fhir/fhir.schema.json -out fhirdefs.json

import (
	"fmt"
	"strings"

	"github.com/trustward/trustward/internal/fault"
)

// Issue is one problem found in a resource, in the shape of a FHIR
// OperationOutcome.issue.
type Issue struct {
	Severity    string `json:"severity"`              // error, warning
	Code        string `json:"code"`                  // structure, required, value, invariant, not-supported, too-long, too-costly
	Expression  string `json:"expression,omitempty"`  // FHIRPath-like location, e.g. Patient.name[0].given[1]
	Diagnostics string `json:"diagnostics,omitempty"` // what is wrong, for a person
}

// ValidationError lists every problem found in a resource.
type ValidationError struct{ Issues []Issue }

func (e *ValidationError) Error() string {
	var parts []string
	for i, is := range e.Issues {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Issues)-5))
			break
		}
		parts = append(parts, strings.TrimPrefix(is.Expression+": ", ": ")+is.Diagnostics)
	}
	return strings.Join(parts, "; ")
}

// Parsed is a validated resource.
type Parsed struct {
	Type   string
	ID     string
	Object map[string]any
}

// SupportedTypes are the resource types the store holds.
var SupportedTypes = []string{"Patient", "Practitioner", "PractitionerRole", "Organization", "Encounter",
	"CareTeam", "Condition", "AllergyIntolerance", "MedicationRequest", "Observation"}

// Limits that keep hostile input from exhausting memory or the stack.
const (
	// MaxResourceBytes bounds the JSON text of one resource.
	MaxResourceBytes = 1 << 20
	// maxDepth bounds the nesting of JSON objects and arrays; real
	// resources of the supported types stay under 12.
	maxDepth = 32
	// maxIssues bounds the issues reported for one resource; the last one
	// says that checking stopped.
	maxIssues = 100
)

// Issue-type codes (http://hl7.org/fhir/issue-type) used by the validator.
const (
	codeStructure    = "structure"
	codeRequired     = "required"
	codeValue        = "value"
	codeInvariant    = "invariant"
	codeNotSupported = "not-supported"
	codeTooLong      = "too-long"
	codeTooCostly    = "too-costly"
)

// Validate parses a FHIR R4 JSON resource of a supported type and checks it
// against the definitions generated from the HL7 JSON schema (fhirdefs.json):
// element names, JSON shapes, cardinality, primitive formats, required
// codes, required elements and choice elements; plus what FHIR JSON forbids
// beyond the schema (empty values, duplicate keys, misaligned primitive
// extensions). Numbers are kept as json.Number so that decimals keep their
// precision. It reports every problem it finds, up to 100.
//
// The error is a fault of kind Invalid wrapping a *ValidationError. Its
// diagnostics never repeat the values of the resource, which may be
// patient data.
func Validate(raw []byte) (Parsed, error) {
	defs, err := definitions()
	if err != nil {
		return Parsed{}, fmt.Errorf("records: FHIR definitions: %w", err)
	}
	v := &validator{defs: defs}
	obj, rt := v.run(raw)
	if len(v.issues) > 0 {
		return Parsed{}, invalid(v.issues...)
	}
	id, _ := obj["id"].(string)
	return Parsed{Type: rt, ID: id, Object: obj}, nil
}

func invalid(issues ...Issue) error {
	ve := &ValidationError{Issues: issues}
	return &fault.Error{Kind: fault.Invalid, Msg: "the resource is not valid FHIR R4: " + ve.Error(), Err: ve}
}

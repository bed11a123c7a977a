package records

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/trustward/trustward/internal/fault"
)

// Issue is one problem found in a resource, in the shape of a FHIR
// OperationOutcome.issue.
type Issue struct {
	Severity    string `json:"severity"`              // error, warning
	Code        string `json:"code"`                  // structure, required, value, invalid, not-supported, too-long
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

// Validate parses a FHIR R4 JSON resource of a supported type and checks it.
// The error is a fault of kind Invalid wrapping a *ValidationError.
// PLACEHOLDER: only checks JSON shape and resourceType; to be replaced by
// the full validator.
func Validate(raw []byte) (Parsed, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Parsed{}, invalid(Issue{Severity: "error", Code: "structure", Diagnostics: "not a JSON object: " + err.Error()})
	}
	rt, _ := obj["resourceType"].(string)
	ok := false
	for _, t := range SupportedTypes {
		ok = ok || t == rt
	}
	if !ok {
		return Parsed{}, invalid(Issue{Severity: "error", Code: "not-supported", Expression: "resourceType", Diagnostics: fmt.Sprintf("%q is not a supported resource type", rt)})
	}
	id, _ := obj["id"].(string)
	return Parsed{Type: rt, ID: id, Object: obj}, nil
}

func invalid(issues ...Issue) error {
	ve := &ValidationError{Issues: issues}
	return &fault.Error{Kind: fault.Invalid, Msg: "the resource is not valid FHIR R4: " + ve.Error(), Err: ve}
}

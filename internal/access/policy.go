package access

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
)

//go:embed roles.json
var rolesJSON []byte

// Rules are the role permissions, loaded from roles.json.
type Rules struct {
	Version           string              `json:"version"`
	Source            string              `json:"source"`
	Roles             map[string]RoleRule `json:"roles"`
	BreakGlassReasons []Reason            `json:"breakGlassReasons"`
	// EncounterLookbackDays: an encounter that ended longer ago no longer
	// counts as a care relationship.
	EncounterLookbackDays int `json:"encounterLookbackDays"`
}

// RoleRule is what one role may do.
type RoleRule struct {
	Read     []string `json:"read"`
	Write    []string `json:"write"`
	Purposes []string `json:"purposes"`
	// Relationship is "required" (care relationship or break-the-glass),
	// "self" (own record only) or "none".
	Relationship string `json:"relationship"`
	BreakGlass   bool   `json:"breakGlass"`
}

// Reason is a break-the-glass reason code.
type Reason struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// DefaultRules parses the embedded rules.
func DefaultRules() (Rules, error) { return ParseRules(rolesJSON) }

// ParseRules reads and checks a rules document.
func ParseRules(b []byte) (Rules, error) {
	var r Rules
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("access rules: %w", err)
	}
	for name, rr := range r.Roles {
		switch rr.Relationship {
		case "required", "self", "none":
		default:
			return r, fmt.Errorf("access rules: role %s: relationship %q is not required, self or none", name, rr.Relationship)
		}
		if len(rr.Purposes) == 0 {
			return r, fmt.Errorf("access rules: role %s has no purposes of use", name)
		}
	}
	if r.EncounterLookbackDays <= 0 {
		return r, fmt.Errorf("access rules: encounterLookbackDays must be positive")
	}
	return r, nil
}

func (rr RoleRule) mayRead(typ string) bool {
	return slices.Contains(rr.Read, "*") || slices.Contains(rr.Read, typ)
}

func (rr RoleRule) mayWrite(typ string) bool {
	return slices.Contains(rr.Write, "*") || slices.Contains(rr.Write, typ)
}

// ReasonLabel returns the label of a break-the-glass reason code.
func (r Rules) ReasonLabel(code string) (string, bool) {
	for _, x := range r.BreakGlassReasons {
		if x.Code == code {
			return x.Label, true
		}
	}
	return "", false
}

package access

import (
	"encoding/json"
	"strings"
)

// Summarise extracts the search-result fields of a FHIR Patient.
func Summarise(patientJSON []byte) PatientSummary {
	var p struct {
		ID   string `json:"id"`
		Name []struct {
			Use    string   `json:"use"`
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		BirthDate  string `json:"birthDate"`
		Gender     string `json:"gender"`
		Identifier []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	_ = json.Unmarshal(patientJSON, &p)
	s := PatientSummary{ID: p.ID, BirthDate: p.BirthDate, Gender: p.Gender}
	for _, n := range p.Name {
		if n.Text != "" {
			s.Name = n.Text
		} else {
			s.Name = strings.TrimSpace(strings.Join(n.Given, " ") + " " + n.Family)
		}
		if n.Use == "official" || n.Use == "" {
			break
		}
	}
	if s.Name == "" {
		s.Name = "(no name on record)"
	}
	for _, id := range p.Identifier {
		if id.System == "urn:trustward:mrn" {
			s.MRN = id.Value
		}
	}
	return s
}

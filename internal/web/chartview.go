package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/access"
)

// chartView is a patient's chart as the console and the API show it.
type chartView struct {
	Patient      access.PatientSummary `json:"patient"`
	Basis        string                `json:"basis"`
	BasisText    string                `json:"basisText"`
	Purpose      string                `json:"purpose"`
	BreakGlass   *breakGlassView       `json:"breakGlass,omitempty"`
	Allergies    []allergyView         `json:"allergies"`
	Medications  []medicationView      `json:"medications"`
	Problems     []problemView         `json:"problems"`
	Observations []observationView     `json:"observations"`
	CareTeam     []string              `json:"careTeam"`
	Encounters   []encounterView       `json:"encounters"`
	EventID      string                `json:"auditEventId"`
}

type breakGlassView struct {
	Label   string    `json:"reason"`
	Expires time.Time `json:"expires"`
}

type allergyView struct {
	Name        string `json:"name"`
	Criticality string `json:"criticality,omitempty"`
	Status      string `json:"status,omitempty"`
}

type medicationView struct {
	Name  string `json:"name"`
	Since string `json:"since,omitempty"`
}

type problemView struct {
	Name  string `json:"name"`
	Since string `json:"since,omitempty"`
}

type observationView struct {
	When  string `json:"when"`
	Name  string `json:"name"`
	Value string `json:"value"`
	at    time.Time
}

type encounterView struct {
	Start      string `json:"start"`
	Class      string `json:"class"`
	Department string `json:"department"`
	Status     string `json:"status"`
}

// fhir decoding shapes, only what the chart shows.
type codeable struct {
	Text   string `json:"text"`
	Coding []struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"coding"`
}

func (c codeable) label() string {
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return "(not coded)"
}

func (c codeable) code() string {
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return ""
}

type ref struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

type quantity struct {
	Value *json.Number `json:"value"`
	Unit  string       `json:"unit"`
	Code  string       `json:"code"`
}

func (q quantity) String() string {
	if q.Value == nil {
		return ""
	}
	u := q.Unit
	if u == "" {
		u = q.Code
	}
	return strings.TrimSpace(q.Value.String() + " " + u)
}

var basisText = map[string]string{
	access.BasisCareTeam:   "You are on this patient's care team.",
	access.BasisEncounter:  "You took part in one of this patient's encounters.",
	access.BasisDepartment: "This patient has an open encounter in your department.",
	access.BasisBreakGlass: "Emergency access (break-the-glass).",
	access.BasisSelf:       "This is your own record.",
	access.BasisRole:       "Your role allows this view.",
}

// buildChart turns the chart's FHIR resources into the view.
func (s *Server) buildChart(ctx context.Context, ch access.Chart) *chartView {
	v := &chartView{Patient: access.Summarise(ch.Patient.JSON), Basis: ch.Decision.Basis, BasisText: basisText[ch.Decision.Basis], Purpose: ch.Decision.Purpose, EventID: ch.EventID,
		Allergies: []allergyView{}, Medications: []medicationView{}, Problems: []problemView{}, Observations: []observationView{}, CareTeam: []string{}, Encounters: []encounterView{}}
	if g := ch.Decision.Grant; g != nil {
		label, _ := s.Access.Rules().ReasonLabel(g.ReasonCode)
		v.BreakGlass = &breakGlassView{Label: label, Expires: g.Expires}
	}
	nameOf := func(typ, id string) string { return s.Records.DirectoryName(ctx, typ, id) }
	for _, r := range ch.Resources {
		switch r.Type {
		case "AllergyIntolerance":
			var a struct {
				Code           codeable `json:"code"`
				Criticality    string   `json:"criticality"`
				ClinicalStatus codeable `json:"clinicalStatus"`
			}
			if json.Unmarshal(r.JSON, &a) == nil && a.ClinicalStatus.code() != "resolved" && a.ClinicalStatus.code() != "inactive" {
				v.Allergies = append(v.Allergies, allergyView{Name: a.Code.label(), Criticality: a.Criticality, Status: a.ClinicalStatus.code()})
			}
		case "MedicationRequest":
			var m struct {
				Status     string   `json:"status"`
				Medication codeable `json:"medicationCodeableConcept"`
				AuthoredOn string   `json:"authoredOn"`
			}
			if json.Unmarshal(r.JSON, &m) == nil && m.Status == "active" {
				v.Medications = append(v.Medications, medicationView{Name: m.Medication.label(), Since: dateOf(m.AuthoredOn)})
			}
		case "Condition":
			var c struct {
				Code           codeable `json:"code"`
				ClinicalStatus codeable `json:"clinicalStatus"`
				Onset          string   `json:"onsetDateTime"`
			}
			if json.Unmarshal(r.JSON, &c) == nil {
				switch c.ClinicalStatus.code() {
				case "active", "recurrence", "relapse", "":
					v.Problems = append(v.Problems, problemView{Name: c.Code.label(), Since: dateOf(c.Onset)})
				}
			}
		case "Observation":
			var o struct {
				Code      codeable `json:"code"`
				Effective string   `json:"effectiveDateTime"`
				Quantity  quantity `json:"valueQuantity"`
				String    string   `json:"valueString"`
				Component []struct {
					Code     codeable `json:"code"`
					Quantity quantity `json:"valueQuantity"`
				} `json:"component"`
			}
			if json.Unmarshal(r.JSON, &o) == nil {
				val := o.Quantity.String()
				if val == "" {
					val = o.String
				}
				if val == "" && len(o.Component) > 0 {
					var parts []string
					for _, c := range o.Component {
						parts = append(parts, c.Code.label()+" "+c.Quantity.String())
					}
					val = strings.Join(parts, "; ")
				}
				at, _ := time.Parse(time.RFC3339, o.Effective)
				v.Observations = append(v.Observations, observationView{When: fmtWhen(o.Effective), Name: o.Code.label(), Value: val, at: at})
			}
		case "CareTeam":
			var c struct {
				Status      string `json:"status"`
				Participant []struct {
					Member ref        `json:"member"`
					Role   []codeable `json:"role"`
				} `json:"participant"`
			}
			if json.Unmarshal(r.JSON, &c) == nil && (c.Status == "active" || c.Status == "") {
				for _, p := range c.Participant {
					name := p.Member.Display
					if typ, id, ok := strings.Cut(p.Member.Reference, "/"); ok && name == "" {
						name = nameOf(typ, id)
					}
					if len(p.Role) > 0 {
						name += " (" + p.Role[0].label() + ")"
					}
					v.CareTeam = append(v.CareTeam, name)
				}
			}
		case "Encounter":
			var e struct {
				Status string `json:"status"`
				Class  struct {
					Code    string `json:"code"`
					Display string `json:"display"`
				} `json:"class"`
				Period struct {
					Start string `json:"start"`
				} `json:"period"`
				ServiceProvider ref `json:"serviceProvider"`
			}
			if json.Unmarshal(r.JSON, &e) == nil {
				dept := e.ServiceProvider.Display
				if typ, id, ok := strings.Cut(e.ServiceProvider.Reference, "/"); ok && dept == "" {
					dept = nameOf(typ, id)
				}
				cls := e.Class.Display
				if cls == "" {
					cls = map[string]string{"AMB": "Outpatient", "IMP": "Inpatient", "EMER": "Emergency"}[e.Class.Code]
				}
				v.Encounters = append(v.Encounters, encounterView{Start: fmtWhen(e.Period.Start), Class: cls, Department: dept, Status: e.Status})
			}
		}
	}
	sort.SliceStable(v.Observations, func(i, j int) bool { return v.Observations[i].at.After(v.Observations[j].at) })
	if len(v.Observations) > 12 {
		v.Observations = v.Observations[:12]
	}
	sort.SliceStable(v.Encounters, func(i, j int) bool { return v.Encounters[i].Start > v.Encounters[j].Start })
	return v
}

func dateOf(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

func fmtWhen(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func (v *chartView) String() string { return fmt.Sprintf("chart of %s", v.Patient.ID) }

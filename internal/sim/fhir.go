package sim

// The FHIR R4 data types and resources the generator writes, limited to the
// elements it fills. Every optional element is omitted when empty, because
// FHIR forbids empty strings, arrays and objects.

const (
	systemSNOMED         = "http://snomed.info/sct"
	systemLOINC          = "http://loinc.org"
	systemRxNorm         = "http://www.nlm.nih.gov/research/umls/rxnorm"
	systemUCUM           = "http://unitsofmeasure.org"
	systemActCode        = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemConfidentialty = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	systemConditionClin  = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemConditionVer   = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	systemConditionCat   = "http://terminology.hl7.org/CodeSystem/condition-category"
	systemAllergyClin    = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	systemAllergyVer     = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	systemObsCategory    = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemOrgType        = "http://terminology.hl7.org/CodeSystem/organization-type"
	systemIdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemDegree         = "http://terminology.hl7.org/CodeSystem/v2-0360"
	systemRelationship   = "http://terminology.hl7.org/CodeSystem/v2-0131"
	systemMarital        = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	systemParticipation  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemPractRole      = "http://terminology.hl7.org/CodeSystem/practitioner-role"

	// SystemMRN names the hospital's medical record numbers.
	SystemMRN = "urn:trustward:mrn"
	// SystemEmployee names employee numbers, on a Practitioner and on the
	// Patient resource of a staff member who is also a patient.
	SystemEmployee = "urn:trustward:employee"
	// SystemRole names the Trustward role coded on each PractitionerRole;
	// its codes are the role names of the identity package.
	SystemRole = "urn:trustward:role"
)

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference"`
}

type identifier struct {
	Use    string   `json:"use,omitempty"`
	Type   *concept `json:"type,omitempty"`
	System string   `json:"system,omitempty"`
	Value  string   `json:"value,omitempty"`
}

type humanName struct {
	Use    string   `json:"use,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
}

type contactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	Use    string `json:"use,omitempty"`
}

type address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code,omitempty"`
}

type meta struct {
	Security []coding `json:"security,omitempty"`
}

type organization struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Identifier   []identifier   `json:"identifier,omitempty"`
	Active       bool           `json:"active"`
	Type         []concept      `json:"type,omitempty"`
	Name         string         `json:"name"`
	Alias        []string       `json:"alias,omitempty"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
	Address      []address      `json:"address,omitempty"`
	PartOf       *reference     `json:"partOf,omitempty"`
}

type qualification struct {
	Code concept `json:"code"`
}

type practitioner struct {
	ResourceType  string          `json:"resourceType"`
	ID            string          `json:"id"`
	Identifier    []identifier    `json:"identifier,omitempty"`
	Active        bool            `json:"active"`
	Name          []humanName     `json:"name,omitempty"`
	Telecom       []contactPoint  `json:"telecom,omitempty"`
	Address       []address       `json:"address,omitempty"`
	Gender        string          `json:"gender,omitempty"`
	BirthDate     string          `json:"birthDate,omitempty"`
	Qualification []qualification `json:"qualification,omitempty"`
}

type practitionerRole struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Active       bool           `json:"active"`
	Period       *period        `json:"period,omitempty"`
	Practitioner reference      `json:"practitioner"`
	Organization reference      `json:"organization"`
	Code         []concept      `json:"code,omitempty"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
}

type patientContact struct {
	Relationship []concept      `json:"relationship,omitempty"`
	Name         *humanName     `json:"name,omitempty"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
}

type patientResource struct {
	ResourceType  string           `json:"resourceType"`
	ID            string           `json:"id"`
	Meta          *meta            `json:"meta,omitempty"`
	Identifier    []identifier     `json:"identifier,omitempty"`
	Active        bool             `json:"active"`
	Name          []humanName      `json:"name,omitempty"`
	Telecom       []contactPoint   `json:"telecom,omitempty"`
	Gender        string           `json:"gender,omitempty"`
	BirthDate     string           `json:"birthDate,omitempty"`
	Address       []address        `json:"address,omitempty"`
	MaritalStatus *concept         `json:"maritalStatus,omitempty"`
	Contact       []patientContact `json:"contact,omitempty"`
}

type encounterParticipant struct {
	Type       []concept `json:"type,omitempty"`
	Individual reference `json:"individual"`
}

type encounter struct {
	ResourceType    string                 `json:"resourceType"`
	ID              string                 `json:"id"`
	Status          string                 `json:"status"`
	Class           coding                 `json:"class"`
	Subject         reference              `json:"subject"`
	Participant     []encounterParticipant `json:"participant,omitempty"`
	Period          period                 `json:"period"`
	ServiceProvider reference              `json:"serviceProvider"`
}

type careTeamParticipant struct {
	Role   []concept `json:"role,omitempty"`
	Member reference `json:"member"`
	Period *period   `json:"period,omitempty"`
}

type careTeam struct {
	ResourceType         string                `json:"resourceType"`
	ID                   string                `json:"id"`
	Status               string                `json:"status"`
	Category             []concept             `json:"category,omitempty"`
	Subject              reference             `json:"subject"`
	Encounter            *reference            `json:"encounter,omitempty"`
	Period               *period               `json:"period,omitempty"`
	Participant          []careTeamParticipant `json:"participant,omitempty"`
	ManagingOrganization []reference           `json:"managingOrganization,omitempty"`
}

type condition struct {
	ResourceType       string     `json:"resourceType"`
	ID                 string     `json:"id"`
	ClinicalStatus     concept    `json:"clinicalStatus"`
	VerificationStatus concept    `json:"verificationStatus"`
	Category           []concept  `json:"category,omitempty"`
	Code               concept    `json:"code"`
	Subject            reference  `json:"subject"`
	Encounter          *reference `json:"encounter,omitempty"`
	OnsetDateTime      string     `json:"onsetDateTime,omitempty"`
	AbatementDateTime  string     `json:"abatementDateTime,omitempty"`
	RecordedDate       string     `json:"recordedDate,omitempty"`
	Recorder           *reference `json:"recorder,omitempty"`
}

type allergyReaction struct {
	Manifestation []concept `json:"manifestation"`
	Severity      string    `json:"severity,omitempty"`
}

type allergyIntolerance struct {
	ResourceType       string            `json:"resourceType"`
	ID                 string            `json:"id"`
	ClinicalStatus     concept           `json:"clinicalStatus"`
	VerificationStatus concept           `json:"verificationStatus"`
	Type               string            `json:"type,omitempty"`
	Category           []string          `json:"category,omitempty"`
	Criticality        string            `json:"criticality,omitempty"`
	Code               concept           `json:"code"`
	Patient            reference         `json:"patient"`
	Encounter          *reference        `json:"encounter,omitempty"`
	RecordedDate       string            `json:"recordedDate,omitempty"`
	Recorder           *reference        `json:"recorder,omitempty"`
	Reaction           []allergyReaction `json:"reaction,omitempty"`
}

type dosage struct {
	Text string `json:"text"`
}

type medicationRequest struct {
	ResourceType              string      `json:"resourceType"`
	ID                        string      `json:"id"`
	Status                    string      `json:"status"`
	Intent                    string      `json:"intent"`
	MedicationCodeableConcept concept     `json:"medicationCodeableConcept"`
	Subject                   reference   `json:"subject"`
	Encounter                 *reference  `json:"encounter,omitempty"`
	AuthoredOn                string      `json:"authoredOn"`
	Requester                 reference   `json:"requester"`
	ReasonReference           []reference `json:"reasonReference,omitempty"`
	DosageInstruction         []dosage    `json:"dosageInstruction,omitempty"`
}

type observationComponent struct {
	Code          concept   `json:"code"`
	ValueQuantity *quantity `json:"valueQuantity,omitempty"`
}

type observation struct {
	ResourceType      string                 `json:"resourceType"`
	ID                string                 `json:"id"`
	Status            string                 `json:"status"`
	Category          []concept              `json:"category,omitempty"`
	Code              concept                `json:"code"`
	Subject           reference              `json:"subject"`
	Encounter         *reference             `json:"encounter,omitempty"`
	EffectiveDateTime string                 `json:"effectiveDateTime"`
	Performer         []reference            `json:"performer,omitempty"`
	ValueQuantity     *quantity              `json:"valueQuantity,omitempty"`
	Component         []observationComponent `json:"component,omitempty"`
}

func ref(typ, id string) reference { return reference{Reference: typ + "/" + id} }

func refPtr(typ, id string) *reference {
	if id == "" {
		return nil
	}
	r := ref(typ, id)
	return &r
}

func code(system, c, display string) concept {
	return concept{Coding: []coding{{System: system, Code: c, Display: display}}, Text: display}
}

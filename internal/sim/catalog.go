package sim

import (
	"embed"
	"fmt"
	"strconv"
	"strings"
)

// The name and street lists are data, kept apart from the code that draws
// from them; they are parsed on every Generate so that the package holds no
// mutable state.
//
//go:embed data/*.txt
var dataFiles embed.FS

// weighted is a list of values drawn with probability proportional to
// their weight.
type weighted struct {
	values []string
	cum    []float64 // cumulative weights
}

func (w *weighted) add(v string, weight float64) {
	total := weight
	if n := len(w.cum); n > 0 {
		total += w.cum[n-1]
	}
	w.values = append(w.values, v)
	w.cum = append(w.cum, total)
}

// loadList reads a data file of "value [weight]" lines; '#' starts a
// comment line. The weight is the last field when it is a number, so values
// may hold spaces.
func loadList(name string) (*weighted, error) {
	raw, err := dataFiles.ReadFile("data/" + name)
	if err != nil {
		return nil, fmt.Errorf("sim: read %s: %w", name, err)
	}
	w := &weighted{}
	for n, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		value, weight := line, 1.0
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				if f <= 0 {
					return nil, fmt.Errorf("sim: %s line %d: weight must be positive", name, n+1)
				}
				value, weight = strings.TrimSpace(line[:i]), f
			}
		}
		w.add(value, weight)
	}
	if len(w.values) == 0 {
		return nil, fmt.Errorf("sim: %s is empty", name)
	}
	return w, nil
}

// department is one Organization under the hospital.
type department struct {
	id, name string
	clinical bool
	// relative number of physicians and nurses placed here
	clinicianWeight, nurseWeight float64
	// staff placed here, in staff order
	clinicians, nurses, others []*staffMember
}

func departments() []*department {
	return []*department{
		{id: "org-general-medicine", name: "General Medicine", clinical: true, clinicianWeight: 18, nurseWeight: 20},
		{id: "org-emergency", name: "Emergency", clinical: true, clinicianWeight: 12, nurseWeight: 14},
		{id: "org-surgery", name: "Surgery", clinical: true, clinicianWeight: 10, nurseWeight: 10},
		{id: "org-cardiology", name: "Cardiology", clinical: true, clinicianWeight: 8, nurseWeight: 7},
		{id: "org-intensive-care", name: "Intensive Care", clinical: true, clinicianWeight: 7, nurseWeight: 14},
		{id: "org-pediatrics", name: "Pediatrics", clinical: true, clinicianWeight: 7, nurseWeight: 8},
		{id: "org-obstetrics", name: "Obstetrics", clinical: true, clinicianWeight: 6, nurseWeight: 8},
		{id: "org-orthopedics", name: "Orthopedics", clinical: true, clinicianWeight: 6, nurseWeight: 5},
		{id: "org-oncology", name: "Oncology", clinical: true, clinicianWeight: 6, nurseWeight: 6},
		{id: "org-neurology", name: "Neurology", clinical: true, clinicianWeight: 5, nurseWeight: 4},
		{id: "org-radiology", name: "Radiology", clinical: true, clinicianWeight: 5, nurseWeight: 2},
		{id: "org-psychiatry", name: "Psychiatry", clinical: true, clinicianWeight: 5, nurseWeight: 4},
		{id: "org-billing", name: "Billing"},
		{id: "org-him", name: "Health Information Management"},
		{id: "org-registration", name: "Front Desk and Registration"},
		{id: "org-privacy", name: "Privacy Office"},
		{id: "org-it-security", name: "IT Security"},
	}
}

// Roles, as named by the identity package.
const (
	roleClinician = "clinician"
	roleNurse     = "nurse"
	roleFrontDesk = "front_desk"
	roleBilling   = "billing"
	rolePrivacy   = "privacy_officer"
	roleSecurity  = "security_engineer"
	roleAdmin     = "admin"
)

// roleInfo describes a staff role: its label, the username of its demo
// account, the standard practitioner-role code when one fits, and the
// department that employs it (empty for physicians and nurses, who are
// spread over the clinical departments).
type roleInfo struct {
	role, label, demoUsername string
	standard                  coding
	departments               []string
}

func roleInfos() []roleInfo {
	return []roleInfo{
		{roleClinician, "Physician", "clinician", coding{systemPractRole, "doctor", "Doctor"}, nil},
		{roleNurse, "Nurse", "nurse", coding{systemPractRole, "nurse", "Nurse"}, nil},
		{roleFrontDesk, "Front desk", "frontdesk", coding{}, []string{"org-registration"}},
		{roleBilling, "Billing", "billing", coding{}, []string{"org-billing", "org-billing", "org-him"}},
		{rolePrivacy, "Privacy officer", "privacy", coding{}, []string{"org-privacy"}},
		{roleSecurity, "Security engineer", "security", coding{systemPractRole, "ict", "ICT professional"}, []string{"org-it-security"}},
		{roleAdmin, "Administrator", "admin", coding{systemPractRole, "ict", "ICT professional"}, []string{"org-it-security"}},
	}
}

// conditionDef is a diagnosis the generator may give a patient.
type conditionDef struct {
	code, display string
	chronic       bool
	minAge        int
	maxAge        int     // 0: no upper bound
	sex           string  // "female" when only women get it
	weight        float64 // relative frequency
	meds          []string
	diabetic      bool
}

func conditionCatalog() []conditionDef {
	return []conditionDef{
		{code: "38341003", display: "Hypertensive disorder", chronic: true, minAge: 25, weight: 30, meds: []string{"314076", "197361", "310798"}},
		{code: "44054006", display: "Diabetes mellitus type 2", chronic: true, minAge: 25, weight: 14, meds: []string{"860975"}, diabetic: true},
		{code: "15777000", display: "Prediabetes", chronic: true, minAge: 25, weight: 10, diabetic: true},
		{code: "55822004", display: "Hyperlipidemia", chronic: true, minAge: 30, weight: 18, meds: []string{"259255", "312961"}},
		{code: "195967001", display: "Asthma", chronic: true, minAge: 2, weight: 10, meds: []string{"745679", "895994"}},
		{code: "13645005", display: "Chronic obstructive lung disease", chronic: true, minAge: 45, weight: 5, meds: []string{"745679"}},
		{code: "433144002", display: "Chronic kidney disease stage 3", chronic: true, minAge: 50, weight: 4},
		{code: "49436004", display: "Atrial fibrillation", chronic: true, minAge: 55, weight: 4, meds: []string{"855332", "866924"}},
		{code: "53741008", display: "Coronary arteriosclerosis", chronic: true, minAge: 45, weight: 5, meds: []string{"309362", "866924"}},
		{code: "84114007", display: "Heart failure", chronic: true, minAge: 55, weight: 3, meds: []string{"866924"}},
		{code: "239873007", display: "Osteoarthritis of knee", chronic: true, minAge: 45, weight: 8, meds: []string{"310965", "313782"}},
		{code: "35489007", display: "Depressive disorder", chronic: true, minAge: 14, weight: 9, meds: []string{"312938"}},
		{code: "197480006", display: "Anxiety disorder", chronic: true, minAge: 12, weight: 9, meds: []string{"312938"}},
		{code: "40930008", display: "Hypothyroidism", chronic: true, minAge: 20, weight: 6, meds: []string{"966222"}},
		{code: "37796009", display: "Migraine", chronic: true, minAge: 12, weight: 6, meds: []string{"310965"}},
		{code: "235595009", display: "Gastroesophageal reflux disease", chronic: true, minAge: 18, weight: 8},
		{code: "414916001", display: "Obesity", chronic: true, minAge: 6, weight: 10},
		{code: "84757009", display: "Epilepsy", chronic: true, minAge: 1, weight: 1.5},
		{code: "254837009", display: "Malignant neoplasm of breast", chronic: true, minAge: 35, sex: "female", weight: 2},
		{code: "279039007", display: "Low back pain", minAge: 18, weight: 8, meds: []string{"310965", "313782"}},
		{code: "10509002", display: "Acute bronchitis", weight: 8, meds: []string{"313782"}},
		{code: "444814009", display: "Viral sinusitis", weight: 10, meds: []string{"562251"}},
		{code: "195662009", display: "Acute viral pharyngitis", weight: 8, meds: []string{"834061"}},
		{code: "65363002", display: "Otitis media", maxAge: 12, weight: 10, meds: []string{"308182"}},
		{code: "68566005", display: "Urinary tract infectious disease", minAge: 5, weight: 6},
		{code: "233604007", display: "Pneumonia", weight: 3, meds: []string{"308182"}},
		{code: "44465007", display: "Sprain of ankle", minAge: 6, weight: 6, meds: []string{"310965"}},
		{code: "65966004", display: "Fracture of forearm", minAge: 3, weight: 3, meds: []string{"313782", "1049221"}},
		{code: "110030002", display: "Concussion injury of brain", minAge: 5, weight: 2, meds: []string{"313782"}},
		{code: "74400008", display: "Appendicitis", minAge: 5, maxAge: 60, weight: 1.5},
		{code: "72892002", display: "Normal pregnancy", minAge: 18, maxAge: 44, sex: "female", weight: 4},
	}
}

// medicationDef is an RxNorm-coded product with a plain dosage.
type medicationDef struct {
	code, display, dosage string
	penicillin            bool
}

func medicationCatalog() map[string]medicationDef {
	ms := []medicationDef{
		{"314076", "lisinopril 10 MG Oral Tablet", "Take 1 tablet by mouth once daily", false},
		{"197361", "amlodipine 5 MG Oral Tablet", "Take 1 tablet by mouth once daily", false},
		{"310798", "hydrochlorothiazide 25 MG Oral Tablet", "Take 1 tablet by mouth every morning", false},
		{"860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", "Take 1 tablet by mouth with the evening meal", false},
		{"259255", "atorvastatin 80 MG Oral Tablet", "Take 1 tablet by mouth at bedtime", false},
		{"312961", "simvastatin 20 MG Oral Tablet", "Take 1 tablet by mouth at bedtime", false},
		{"745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "Inhale 2 puffs every 4 to 6 hours as needed for wheezing", false},
		{"895994", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", "Inhale 2 puffs twice daily", false},
		{"855332", "warfarin sodium 5 MG Oral Tablet", "Take as directed by the anticoagulation clinic", false},
		{"866924", "metoprolol tartrate 25 MG Oral Tablet", "Take 1 tablet by mouth twice daily", false},
		{"309362", "clopidogrel 75 MG Oral Tablet", "Take 1 tablet by mouth once daily", false},
		{"310965", "ibuprofen 200 MG Oral Tablet", "Take 1 to 2 tablets by mouth every 6 hours as needed for pain", false},
		{"313782", "acetaminophen 325 MG Oral Tablet", "Take 2 tablets by mouth every 6 hours as needed for pain or fever", false},
		{"312938", "sertraline 100 MG Oral Tablet", "Take 1 tablet by mouth once daily", false},
		{"966222", "levothyroxine sodium 0.075 MG Oral Tablet", "Take 1 tablet by mouth every morning before breakfast", false},
		{"562251", "amoxicillin 250 MG / clavulanate 125 MG Oral Tablet", "Take 1 tablet by mouth every 8 hours for 7 days", true},
		{"834061", "penicillin V potassium 250 MG Oral Tablet", "Take 1 tablet by mouth every 6 hours for 10 days", true},
		{"308182", "amoxicillin 250 MG Oral Capsule", "Take 1 capsule by mouth every 8 hours for 10 days", true},
		{"1049221", "acetaminophen 325 MG / oxycodone hydrochloride 5 MG Oral Tablet", "Take 1 tablet by mouth every 6 hours as needed for severe pain, for up to 3 days", false},
	}
	out := make(map[string]medicationDef, len(ms))
	for _, m := range ms {
		out[m.code] = m
	}
	return out
}

// allergyDef is an allergy the generator may record.
type allergyDef struct {
	code, display, category string
	weight                  float64
	penicillin              bool
}

func allergyCatalog() []allergyDef {
	return []allergyDef{
		{"91936005", "Allergy to penicillin", "medication", 20, true},
		{"91935009", "Allergy to peanuts", "food", 10, false},
		{"300916003", "Latex allergy", "environment", 6, false},
		{"91934008", "Allergy to nut", "food", 5, false},
		{"300913006", "Shellfish allergy", "food", 7, false},
		{"91930004", "Allergy to eggs", "food", 4, false},
		{"425525006", "Allergy to dairy product", "food", 4, false},
		{"418689008", "Allergy to grass pollen", "environment", 10, false},
		{"419263009", "Allergy to tree pollen", "environment", 7, false},
		{"232350006", "House dust mite allergy", "environment", 8, false},
		{"232347008", "Dander (animal) allergy", "environment", 6, false},
		{"424213003", "Allergy to bee venom", "environment", 3, false},
		{"293586001", "Allergy to aspirin", "medication", 3, false},
	}
}

// reactionDef is an allergic reaction, with whether it is life-threatening.
type reactionDef struct {
	code, display string
	severe        bool
}

func reactionCatalog() []reactionDef {
	return []reactionDef{
		{"247472004", "Hives", false},
		{"271807003", "Skin rash", false},
		{"418290006", "Itching", false},
		{"49727002", "Cough", false},
		{"267036007", "Dyspnea", true},
		{"39579001", "Anaphylaxis", true},
	}
}

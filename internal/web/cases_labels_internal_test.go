package web

import (
	"testing"

	"github.com/trustward/trustward/internal/monitor/explain"
)

// Every explanation kind the engine gives has words for the office and,
// when it explains an access, for the patient.
func TestEveryExplanationKindHasWords(t *testing.T) {
	explaining := []string{explain.KindEncounter, explain.KindCareTeam, explain.KindAssignment, explain.KindOrdered,
		explain.KindCharted, explain.KindAppointment, explain.KindConsult, explain.KindDepartmentOrder,
		explain.KindDepartment, explain.KindCoverage, explain.KindUnassigned, explain.KindWorkQueue}
	for _, k := range explaining {
		if explanationLabel(k) == k {
			t.Errorf("no office label for %q", k)
		}
		if patientExplanation(k) == "" {
			t.Errorf("no patient wording for %q", k)
		}
	}
	if explanationLabel(explain.Unexplained) == explain.Unexplained || patientExplanation(explain.Unexplained) != "" {
		t.Error("unexplained must have an office label and no patient wording")
	}
}

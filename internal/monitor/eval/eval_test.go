package eval

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/monitor/detect"
	"github.com/trustward/trustward/internal/sim"
)

// TestRunOnATuningSeed runs the whole benchmark on one tuning seed and
// checks the figures the issue sets as targets, so that a change that
// breaks explanation or detection fails here before it reaches the
// held-out report.
func TestRunOnATuningSeed(t *testing.T) {
	rep, err := Run(context.Background(), Options{Seeds: TuningSeeds[:1], Patients: 2000, Staff: 200, Days: 28, Config: detect.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	if rep.ExplainedShare() < 0.94 || rep.ExplanationPrecision() < 0.99 {
		t.Errorf("explained %.4f at precision %.4f", rep.ExplainedShare(), rep.ExplanationPrecision())
	}
	if rep.Recall < 0.9 || rep.Precision < 0.7 {
		t.Errorf("case recall %.3f, precision %.3f", rep.Recall, rep.Precision)
	}
	if rep.AUPRC <= 0 || rep.AUPRC > 1 {
		t.Errorf("AUPRC %v", rep.AUPRC)
	}
	total := 0
	for _, s := range rep.Scenarios {
		if s.Cases == 0 {
			t.Errorf("scenario %s has no cases", s.Name)
		}
		total += s.Cases
	}
	if total != rep.TruthCases {
		t.Errorf("scenario cases add up to %d, truth has %d", total, rep.TruthCases)
	}
	for _, h := range rep.HardNegatives {
		if h.Cases == 0 {
			t.Errorf("hard negative %s has no events", h.Name)
		}
	}
	if !strings.Contains(b.String(), sim.ScenarioEvasion) || !strings.Contains(b.String(), "AUPRC") {
		t.Errorf("report lacks its tables:\n%s", b.String())
	}
}

func TestQuantileAndEvasionLoss(t *testing.T) {
	ds := []time.Duration{5, 1, 3, 2, 4}
	if q := quantile(ds, 0.5); q != 3 {
		t.Errorf("median %v", q)
	}
	if q := quantile(nil, 0.9); q != 0 {
		t.Errorf("empty quantile %v", q)
	}
	r := Report{Scenarios: []Scenario{{Name: "self", Cases: 4, Detected: 4}, {Name: sim.ScenarioEvasion, Cases: 4, Detected: 3, Recall: 0.75}}}
	if l := r.EvasionLoss(); l != 25 {
		t.Errorf("evasion loss %v, want 25 points", l)
	}
}

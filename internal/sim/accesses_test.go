package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
)

type accessRun struct {
	sum     AccessSummary
	ctxByTy map[string]int
	events  []audit.Event
	truth   []Truth
	digest  [32]byte
}

func runAccesses(t *testing.T, o AccessOptions) accessRun {
	t.Helper()
	run := accessRun{ctxByTy: map[string]int{}}
	h := sha256.New()
	sum, err := GenerateAccesses(context.Background(), o, AccessSink{
		Context: func(r Resource) error {
			run.ctxByTy[r.Type]++
			h.Write(r.JSON)
			if !json.Valid(r.JSON) {
				t.Fatalf("%s/%s is not JSON", r.Type, r.ID)
			}
			return nil
		},
		Event: func(e audit.Event) error {
			b, err := e.ToFHIR()
			if err != nil {
				t.Fatalf("event %s: %v", e.ID, err)
			}
			h.Write(b)
			run.events = append(run.events, e)
			return nil
		},
		Truth: func(tr Truth) error { run.truth = append(run.truth, tr); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	run.sum = sum
	copy(run.digest[:], h.Sum(nil))
	return run
}

func TestGenerateAccesses(t *testing.T) {
	o := AccessOptions{Seed: 3, Patients: 800, Staff: 120, Days: 21}
	run := runAccesses(t, o)
	s := run.sum
	t.Logf("summary: %+v", s)
	t.Logf("context: %v", run.ctxByTy)
	if s.Events != len(run.events) || len(run.truth) != len(run.events) {
		t.Fatalf("events %d, sent %d, truth %d", s.Events, len(run.events), len(run.truth))
	}
	for _, typ := range []string{"Organization", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson",
		"Encounter", "CareTeam", "Appointment", "ServiceRequest", "MedicationRequest"} {
		if run.ctxByTy[typ] == 0 {
			t.Errorf("no %s in the context", typ)
		}
	}
	// Every event survives the FHIR mapping a hospital's feed goes through.
	for _, e := range run.events[:2000] {
		b, err := e.ToFHIR()
		if err != nil {
			t.Fatal(err)
		}
		back, err := audit.EventFromFHIR(b)
		if err != nil {
			t.Fatalf("event %s does not read back: %v", e.ID, err)
		}
		if back.ID != e.ID || back.PatientID != e.PatientID || back.Actor.UserID != e.Actor.UserID {
			t.Fatalf("event %s changed in FHIR: %+v", e.ID, back)
		}
	}
	// The proportions.
	unrec := float64(s.Unrecorded) / float64(s.Legitimate)
	if unrec < 0.05 || unrec > 0.15 {
		t.Errorf("unrecorded legitimate share %.3f, want 5-15%%", unrec)
	}
	viol := float64(s.Violate) / float64(s.Events)
	if viol < 0.0005 || viol > 0.005 {
		t.Errorf("violation share %.4f, want 0.05-0.5%%", viol)
	}
	for _, sc := range append(ViolationScenarios, HardSameSurname, HardHousehold, HardBreakGlass) {
		if s.ByScenario[sc] == 0 {
			t.Errorf("scenario %s has no events", sc)
		}
	}
	// Time order, and no violations in the warm-up.
	for i, e := range run.events {
		if i > 0 && e.Time.Before(run.events[i-1].Time) {
			t.Fatalf("event %s out of order", e.ID)
		}
		if tr := run.truth[i]; tr.Label == LabelViolation && (e.Time.Before(s.Warmup) || tr.Case == "") {
			t.Fatalf("violation %s at %s (warm-up until %s), case %q", e.ID, e.Time, s.Warmup, tr.Case)
		}
	}
	// Same options, same bytes; another seed, another hospital.
	if again := runAccesses(t, o); !bytes.Equal(again.digest[:], run.digest[:]) {
		t.Error("the same options produced different output")
	}
	o.Seed = 4
	if other := runAccesses(t, o); bytes.Equal(other.digest[:], run.digest[:]) {
		t.Error("another seed produced the same output")
	}
}

func TestGenerateAccessesRejectsBadOptions(t *testing.T) {
	sink := AccessSink{Context: func(Resource) error { return nil }, Event: func(audit.Event) error { return nil }, Truth: func(Truth) error { return nil }}
	for _, o := range []AccessOptions{{Days: 2}, {Patients: 10}, {Staff: 5}, {Days: 1000}} {
		if _, err := GenerateAccesses(context.Background(), o, sink); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := GenerateAccesses(context.Background(), AccessOptions{}, AccessSink{}); err == nil {
		t.Error("nil sink accepted")
	}
}

// The base history's encounters that were under way when the simulated
// period starts end within their usual length: nothing from before the
// period is still in progress at its end, yet some of them ran into it.
func TestBaseEncountersCloseDuringThePeriod(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	o := AccessOptions{Seed: 5, Patients: 600, Staff: 80, Days: 14, Now: now}
	periodStart := now.AddDate(0, 0, -o.Days)
	var openFromBefore, ranInto int
	_, err := GenerateAccesses(context.Background(), o, AccessSink{
		Context: func(r Resource) error {
			if r.Type != "Encounter" {
				return nil
			}
			var e encounter
			if err := json.Unmarshal(r.JSON, &e); err != nil {
				return err
			}
			s, err := time.Parse(time.RFC3339, e.Period.Start)
			if err != nil || !s.Before(periodStart) {
				return err
			}
			if e.Status == "in-progress" || e.Period.End == "" {
				openFromBefore++
				return nil
			}
			f, err := time.Parse(time.RFC3339, e.Period.End)
			if err != nil {
				return err
			}
			if f.After(periodStart) {
				ranInto++
			}
			return nil
		},
		Event: func(audit.Event) error { return nil },
		Truth: func(Truth) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if openFromBefore != 0 {
		t.Errorf("%d encounters from before the period are still in progress at its end", openFromBefore)
	}
	if ranInto == 0 {
		t.Error("no encounter from before the period ran into it: the history's open encounters were dropped, not closed")
	}
}

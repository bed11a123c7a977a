// Package eval owns the honest benchmark of privacy monitoring: it
// generates hospitals with the access simulator, runs them through the
// explanation engine and the detectors exactly as a hospital's data would
// run, and only then reads the simulator's ground truth to score them:
// explained share and explanation precision, case recall and precision,
// AUPRC, cases per million accesses and time to detect, per scenario and
// overall.
//
// It must never hand ground truth to the detectors: the truth is collected
// apart and read after the detector has finished.
package eval

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/monitor/detect"
	"github.com/trustward/trustward/internal/monitor/explain"
	"github.com/trustward/trustward/internal/sim"
)

// TuningSeeds are the seeds the thresholds and windows were chosen on;
// HeldOutSeeds are reported and were not looked at while tuning. Seeds
// 101-105 were the first held-out set; after their figures came in, tuning
// went on with seeds 4-10 and 201-210 became the held-out set (decision
// 0028). Round 3 (assignment lists, decision 0043) ran 201-210 a second
// time, so round 4 (decision 0044) took fresh held-out seeds, 301-310,
// and ran them once; a further round needs fresh ones again.
var (
	TuningSeeds  = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	HeldOutSeeds = []int64{301, 302, 303, 304, 305, 306, 307, 308, 309, 310}
)

// Options say which hospitals to evaluate on.
type Options struct {
	Seeds                 []int64
	Patients, Staff, Days int
	Config                detect.Config
}

// Scenario is the result for one violation scenario or hard negative.
type Scenario struct {
	Name     string
	Cases    int // truth cases (violations) or events (hard negatives)
	Detected int // cases found, or hard-negative events alerted on
	Recall   float64
	TTD      []time.Duration
}

// MedianTTD is the median time to detect of the detected cases.
func (s Scenario) MedianTTD() time.Duration { return quantile(s.TTD, 0.5) }

// Report is the outcome over all seeds.
type Report struct {
	Seeds                           []int64
	Events, PatientAccesses         int
	Legitimate, LegitExplained      int
	Unrecorded, UnrecordedExplained int
	Explained, ExplainedLegit       int
	ByKind                          map[string]int
	TruthCases, Detected            int
	Reported, TruePositive          int
	Recall, Precision, AUPRC        float64
	CasesPerMillion                 float64
	TTD                             []time.Duration
	Scenarios                       []Scenario
	HardNegatives                   []Scenario
	HardNegativeCases               int // reported cases with hard-negative events and no violation
	ExplainedAway                   int
	BreakGlassReviews               int
	DetectTime                      time.Duration
}

// ExplainedShare is the share of legitimate patient accesses explained.
func (r Report) ExplainedShare() float64 { return ratio(r.LegitExplained, r.Legitimate) }

// ExplanationPrecision is the share of explained accesses that were
// legitimate.
func (r Report) ExplanationPrecision() float64 { return ratio(r.ExplainedLegit, r.Explained) }

// EventsPerSecond is the detectors' throughput (explanation included).
func (r Report) EventsPerSecond() float64 {
	if r.DetectTime <= 0 {
		return 0
	}
	return float64(r.Events) / r.DetectTime.Seconds()
}

// EvasionLoss is how many points of recall the evasion scenario loses
// against the other scenarios together.
func (r Report) EvasionLoss() float64 {
	var ev Scenario
	cases, det := 0, 0
	for _, s := range r.Scenarios {
		if s.Name == sim.ScenarioEvasion {
			ev = s
			continue
		}
		cases += s.Cases
		det += s.Detected
	}
	return 100 * (ratio(det, cases) - ev.Recall)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type truthCase struct {
	key, scenario, user string
	first               time.Time
	events              map[string]bool
}

// Run evaluates every seed and adds up the results.
func Run(ctx context.Context, o Options) (Report, error) {
	rep := Report{Seeds: o.Seeds, ByKind: map[string]int{}}
	scen := map[string]*Scenario{}
	hard := map[string]*Scenario{}
	for _, name := range sim.ViolationScenarios {
		scen[name] = &Scenario{Name: name}
	}
	for _, name := range []string{sim.HardSameSurname, sim.HardHousehold, sim.HardBreakGlass} {
		hard[name] = &Scenario{Name: name}
	}
	type ranked struct {
		score   float64
		matches int
		tp      bool
	}
	var all []ranked
	for _, seed := range o.Seeds {
		cx := explain.NewContext()
		var events []audit.Event
		var truth []sim.Truth
		var addErr error
		_, err := sim.GenerateAccesses(ctx, sim.AccessOptions{Seed: seed, Patients: o.Patients, Staff: o.Staff, Days: o.Days}, sim.AccessSink{
			Context: func(r sim.Resource) error {
				if err := cx.Add(r.JSON); err != nil && addErr == nil {
					addErr = fmt.Errorf("%s/%s: %w", r.Type, r.ID, err)
				}
				return nil
			},
			Event: func(e audit.Event) error { events = append(events, e); return nil },
			Truth: func(t sim.Truth) error { truth = append(truth, t); return nil },
		})
		if err != nil {
			return rep, err
		}
		if addErr != nil {
			return rep, addErr
		}
		cx.Finish()

		// The detectors see events and context only.
		d := detect.New(cx, o.Config)
		kinds := make([]string, len(events))
		alerted := map[string]time.Time{}
		start := time.Now()
		for i := range events {
			ex, alerts := d.ProcessEvent(&events[i])
			kinds[i] = ex.Kind
			for _, a := range alerts {
				alerted[a.EventID] = a.Time
			}
		}
		rep.DetectTime += time.Since(start)
		rep.ExplainedAway += d.ExplainedAway
		rep.BreakGlassReviews += len(d.ReviewQueue())

		// Only now: the truth.
		cases := map[string]*truthCase{}
		label := map[string]string{}
		for i, t := range truth {
			ev := &events[i]
			label[t.Event] = t.Label
			rep.Events++
			if ev.PatientID == "" {
				if t.Label == sim.LabelViolation {
					addTruthCase(cases, t, ev)
				}
				continue
			}
			rep.PatientAccesses++
			explained := kinds[i] != explain.Unexplained
			if explained {
				rep.Explained++
				rep.ByKind[kinds[i]]++
			}
			switch t.Label {
			case sim.LabelLegitimate, sim.LabelHardNegative:
				rep.Legitimate++
				if explained {
					rep.LegitExplained++
					rep.ExplainedLegit++
				}
				if t.Label == sim.LabelLegitimate && !t.Recorded {
					rep.Unrecorded++
					if explained {
						rep.UnrecordedExplained++
					}
				}
				if t.Label == sim.LabelHardNegative {
					h := hard[t.Scenario]
					h.Cases++
					if _, ok := alerted[t.Event]; ok {
						h.Detected++
					}
				}
			case sim.LabelViolation:
				addTruthCase(cases, t, ev)
			}
		}
		rep.TruthCases += len(cases)
		matched := map[string]bool{}
		for _, c := range d.AllCases() {
			r := ranked{score: c.Score}
			hasHard := false
			for _, id := range c.Events {
				switch label[id] {
				case sim.LabelViolation:
					r.tp = true
				case sim.LabelHardNegative:
					hasHard = true
				}
			}
			reported := c.Score >= o.Config.CaseAt
			for _, tc := range cases {
				if tc.user != c.User || matched[tc.key] {
					continue
				}
				var first time.Time
				for _, id := range c.Events {
					if tc.events[id] {
						if at := alerted[id]; first.IsZero() || at.Before(first) {
							first = at
						}
					}
				}
				if first.IsZero() {
					continue
				}
				r.matches++
				if reported {
					matched[tc.key] = true
					s := scen[tc.scenario]
					s.Detected++
					ttd := first.Sub(tc.first)
					s.TTD = append(s.TTD, ttd)
					rep.TTD = append(rep.TTD, ttd)
					rep.Detected++
				}
			}
			all = append(all, r)
			if reported {
				rep.Reported++
				if r.tp {
					rep.TruePositive++
				} else if hasHard {
					rep.HardNegativeCases++
				}
			}
		}
		for _, tc := range cases {
			scen[tc.scenario].Cases++
		}
	}
	rep.Recall = ratio(rep.Detected, rep.TruthCases)
	rep.Precision = ratio(rep.TruePositive, rep.Reported)
	rep.CasesPerMillion = 1e6 * float64(rep.Reported) / float64(max(1, rep.Events))
	// AUPRC: average precision over all cases ranked by score, recall
	// counted against every truth case (missed ones never reach 1).
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	tp := 0
	for k, r := range all {
		if r.tp {
			tp++
		}
		if r.matches > 0 && rep.TruthCases > 0 {
			rep.AUPRC += float64(tp) / float64(k+1) * float64(r.matches) / float64(rep.TruthCases)
		}
	}
	for _, name := range sim.ViolationScenarios {
		s := scen[name]
		s.Recall = ratio(s.Detected, s.Cases)
		rep.Scenarios = append(rep.Scenarios, *s)
	}
	for _, name := range []string{sim.HardSameSurname, sim.HardHousehold, sim.HardBreakGlass} {
		rep.HardNegatives = append(rep.HardNegatives, *hard[name])
	}
	return rep, nil
}

func addTruthCase(cases map[string]*truthCase, t sim.Truth, ev *audit.Event) {
	tc := cases[t.Case]
	if tc == nil {
		tc = &truthCase{key: t.Case, scenario: t.Scenario, user: t.User, first: ev.Time, events: map[string]bool{}}
		cases[t.Case] = tc
	}
	tc.events[t.Event] = true
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1)+0.5)]
}

// Write prints the report as plain text.
func (r Report) Write(w io.Writer) error {
	var b strings.Builder
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	fmt.Fprintf(&b, "seeds %s: %d events, %d patient accesses\n", strings.Join(seeds, ","), r.Events, r.PatientAccesses)
	fmt.Fprintf(&b, "explained: %.2f%% of legitimate accesses (%d/%d); precision %.2f%% (%d/%d); unrecorded legitimate explained %.1f%% (%d/%d)\n",
		100*r.ExplainedShare(), r.LegitExplained, r.Legitimate, 100*r.ExplanationPrecision(), r.ExplainedLegit, r.Explained,
		100*ratio(r.UnrecordedExplained, r.Unrecorded), r.UnrecordedExplained, r.Unrecorded)
	kinds := make([]string, 0, len(r.ByKind))
	for k := range r.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-27s %d\n", k, r.ByKind[k])
	}
	fmt.Fprintf(&b, "cases: recall %.3f (%d/%d), precision %.3f (%d/%d), AUPRC %.3f, %.0f cases per million accesses, median time to detect %s (p90 %s)\n",
		r.Recall, r.Detected, r.TruthCases, r.Precision, r.TruePositive, r.Reported, r.AUPRC, r.CasesPerMillion,
		quantile(r.TTD, 0.5).Round(time.Second), quantile(r.TTD, 0.9).Round(time.Second))
	fmt.Fprintf(&b, "evasion loses %.1f points of recall against the other scenarios\n", r.EvasionLoss())
	fmt.Fprintf(&b, "%-24s %6s %8s %7s %12s\n", "scenario", "cases", "detected", "recall", "median TTD")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "%-24s %6d %8d %7.3f %12s\n", s.Name, s.Cases, s.Detected, s.Recall, s.MedianTTD().Round(time.Second))
	}
	fmt.Fprintf(&b, "%-24s %6s %8s\n", "hard negative", "events", "alerted")
	for _, s := range r.HardNegatives {
		fmt.Fprintf(&b, "%-24s %6d %8d\n", s.Name, s.Cases, s.Detected)
	}
	fmt.Fprintf(&b, "reported cases holding only hard-negative alerts: %d; relationship flags explained away: %d; break-glass reviews queued: %d\n",
		r.HardNegativeCases, r.ExplainedAway, r.BreakGlassReviews)
	fmt.Fprintf(&b, "detector throughput: %.0f events/s\n", r.EventsPerSecond())
	_, err := io.WriteString(w, b.String())
	return err
}

package app_test

import (
	"context"
	"testing"
	"time"
)

// The demo fleet comes with SBOMs and advisories: the vulnerability queue
// has work on the first start, known-exploited findings among it, and the
// components no advisory can be matched to are listed as such.
func TestDemoQueueIsPopulated(t *testing.T) {
	a := loadDemo(t, "sqlite")
	ctx := context.Background()
	q, err := a.Findings.Queue(ctx, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	kev := 0
	for _, f := range q {
		if f.Input.KEV {
			kev++
		}
	}
	if len(q) < 50 || kev == 0 {
		t.Fatalf("demo queue: %d findings, %d known exploited", len(q), kev)
	}
	if q[0].Risk.Score < q[len(q)-1].Risk.Score {
		t.Fatal("the queue is not ranked by clinical risk")
	}
	comps, err := a.Assessor.Components(ctx, q[0].DeviceID)
	if err != nil || len(comps) == 0 {
		t.Fatalf("components of %s: %d %v", q[0].DeviceID, len(comps), err)
	}
	start := time.Now()
	ev, err := a.Assessor.Reevaluate(ctx, "", "test")
	if err != nil || ev.Unmatched == 0 || ev.Devices < 50 {
		t.Fatalf("re-evaluation: %+v %v", ev, err)
	}
	t.Logf("demo queue: %d findings (%d KEV), re-evaluation of %d devices (%d components) in %s", len(q), kev, ev.Devices, ev.Components, time.Since(start))
}

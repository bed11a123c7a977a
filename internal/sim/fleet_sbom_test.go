package sim

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/sbom"
)

// The demo fleet's SBOMs are valid CycloneDX, and against the embedded
// advisories they give work to do: known-exploited findings, and
// components that cannot be matched (shown as such, not dropped).
func TestFleetSBOMsHitDemoAdvisories(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, DemoAdvisories()); err != nil {
		t.Fatal(err)
	}
	adv, err := devices.LoadAdvisories(ctx, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st := adv.Stats(); st.Problems != 0 || st.KEV == 0 {
		t.Fatalf("demo advisories: %+v", st)
	}
	fleet := Fleet(1)
	list := FleetSBOMs(fleet)
	if len(list) < len(fleet)/2 {
		t.Fatalf("%d SBOMs for %d devices", len(list), len(fleet))
	}
	kev, findings, unmatched := 0, 0, 0
	seen := map[string]bool{}
	for _, s := range list {
		key := string(s.Raw)
		if seen[key] {
			continue
		}
		seen[key] = true
		doc, err := sbom.Parse(ctx, bytes.NewReader(s.Raw))
		if err != nil {
			t.Fatalf("%s: %v", s.DeviceID, err)
		}
		if len(doc.Problems) != 0 {
			t.Fatalf("%s: %v", s.DeviceID, doc.Problems)
		}
		var comps []osv.Component
		for _, c := range doc.Components {
			if c.PurlValid {
				comps = append(comps, osv.Component{PURL: c.Purl})
			} else {
				unmatched++
			}
		}
		for _, f := range adv.Index.Scan(comps) {
			switch {
			case f.Status == osv.StatusAffected:
				findings++
				if f.KEV != nil {
					kev++
				}
			default:
				unmatched++
			}
		}
	}
	if findings < 20 || kev < 3 || unmatched < 5 {
		t.Fatalf("demo SBOMs give %d findings, %d KEV, %d unmatched components", findings, kev, unmatched)
	}
}

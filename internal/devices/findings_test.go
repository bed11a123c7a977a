package devices_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
)

func TestFindingsLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := now
		fs := devices.NewFindings(d, func() time.Time { return clock })
		pump := dev("clinical-vlan", "therapy-delivery", "life-critical", "2023-12-31")
		pump.ID, pump.Owner = "pump-001", "Biomed"
		archive := dev("isolated", "phi-store", "high", "")
		archive.ID = "pacs-1"
		exploited := devices.Match{Component: "pkg:generic/openssl@1.0.2", Advisory: "CVE-2016-2107", Ecosystem: "generic", Package: "openssl", Version: "1.0.2",
			FixedVersions: []string{"1.0.2h"}, Input: devices.RiskInput{CVSS: 5.9, HasCVSS: true, KEV: true}, Status: devices.StatusAffected}
		severe := devices.Match{Component: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", Advisory: "GHSA-jfh8-c2jp-5v3q", Aliases: []string{"CVE-2021-44228"},
			Ecosystem: "Maven", Package: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Input: devices.RiskInput{CVSS: 10, HasCVSS: true, EPSS: 0.0001}, Status: devices.StatusOpen}
		if err := fs.Reconcile(ctx, pump, []devices.Match{exploited}, "scan"); err != nil {
			t.Fatal(err)
		}
		if err := fs.Reconcile(ctx, archive, []devices.Match{severe}, "scan"); err != nil {
			t.Fatal(err)
		}
		q, err := fs.Queue(ctx, 10)
		if err != nil || len(q) != 2 {
			t.Fatalf("queue: %d %v", len(q), err)
		}
		// Clinical risk, not CVSS, orders the queue.
		if q[0].DeviceID != "pump-001" || q[0].Risk.Score <= q[1].Risk.Score || q[0].Risk.PlainCVSS >= q[1].Risk.PlainCVSS {
			t.Fatalf("queue order: %+v", q)
		}
		if !q[0].PatchAvailable() || q[0].Due.Sub(now) != 30*24*time.Hour || len(q[0].Risk.Reasons) < 4 || q[1].Aliases[0] != "CVE-2021-44228" {
			t.Fatalf("finding: %+v", q[0])
		}
		// VEX says the archive is not affected: suppressed, kept, explained.
		severe.Status, severe.VEXJustification = devices.StatusNotAffected, "vulnerable_code_not_in_execute_path"
		clock = clock.Add(time.Hour)
		if err := fs.Reconcile(ctx, archive, []devices.Match{severe}, "vex"); err != nil {
			t.Fatal(err)
		}
		if q, _ = fs.Queue(ctx, 10); len(q) != 1 {
			t.Fatalf("queue after VEX: %d", len(q))
		}
		all, _ := fs.ForDevice(ctx, "pacs-1")
		if len(all) != 1 || all[0].Status != devices.StatusNotAffected || all[0].VEXJustification == "" {
			t.Fatalf("suppressed finding: %+v", all)
		}
		// A compensating control takes the pump's finding out of the queue
		// until it expires.
		if err := fs.SetControl(ctx, "pump-001", exploited.Component, exploited.Advisory, "x", clock.AddDate(0, 0, 30), "sam"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("short control: %v", err)
		}
		if err := fs.SetControl(ctx, "pump-001", exploited.Component, exploited.Advisory, "Pump VLAN ACL allows only the pump server", clock.AddDate(0, 0, 30), "sam"); err != nil {
			t.Fatal(err)
		}
		if q, _ = fs.Queue(ctx, 10); len(q) != 0 {
			t.Fatalf("queue with the control in force: %d", len(q))
		}
		// A re-scan keeps it mitigated while the control holds.
		clock = clock.Add(24 * time.Hour)
		if err := fs.Reconcile(ctx, pump, []devices.Match{exploited}, "scan"); err != nil {
			t.Fatal(err)
		}
		if q, _ = fs.Queue(ctx, 10); len(q) != 0 {
			t.Fatalf("re-scan undid the control: %d", len(q))
		}
		clock = clock.AddDate(0, 0, 31)
		if q, _ = fs.Queue(ctx, 10); len(q) != 1 || q[0].Status != devices.StatusMitigated {
			t.Fatalf("expired control: %+v", q)
		}
		// The component is gone from the device: resolved.
		if err := fs.Reconcile(ctx, pump, nil, "scan"); err != nil {
			t.Fatal(err)
		}
		if q, _ = fs.Queue(ctx, 10); len(q) != 0 {
			t.Fatalf("resolved finding still queued: %+v", q)
		}
		h, _ := fs.History(ctx, "pump-001", exploited.Advisory)
		joined := strings.Join(h, "\n")
		for _, want := range []string{"found: affected", "compensating control until", "resolved"} {
			if !strings.Contains(joined, want) {
				t.Errorf("history lacks %q:\n%s", want, joined)
			}
		}
		if err := fs.Reconcile(ctx, pump, []devices.Match{{Component: "c", Advisory: "a", Status: "maybe"}}, "scan"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("bad status: %v", err)
		}
	})
}

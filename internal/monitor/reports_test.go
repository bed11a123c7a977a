package monitor_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/monitor"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestReports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := func() time.Time { return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC) }
		kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
		if err != nil {
			t.Fatal(err)
		}
		sl := seal.NewSealer(d, kek, clock)
		rec := audit.NewRecorder(d, sl, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
		defer rec.Close()
		ev := &audit.Event{Actor: audit.Actor{UserID: "u-1", Role: "clinician"}, PatientID: "pat-1", Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Source: "test"}
		if err := rec.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
		rs := monitor.NewReports(d, sl, clock)
		if _, err := rs.File(ctx, "pat-2", ev.ID, "u-p2", "not mine"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("report on another patient's event: %v", err)
		}
		rep, err := rs.File(ctx, "pat-1", ev.ID, "u-p1", "I never met this doctor")
		if err != nil {
			t.Fatal(err)
		}
		var note []byte
		if err := d.QueryRow(ctx, `SELECT note FROM access_reports WHERE id = $1`, rep.ID).Scan(&note); err != nil || bytes.Contains(note, []byte("doctor")) {
			t.Fatalf("the note is not sealed: %v", err)
		}
		if err := rs.Decide(ctx, rep.ID, "maybe", "Looked into it carefully"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("bad status: %v", err)
		}
		if err := rs.Decide(ctx, rep.ID, monitor.ReportAppropriate, "short"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("short outcome: %v", err)
		}
		if open, _ := rs.Open(ctx); len(open) != 1 || open[0].Note != "I never met this doctor" {
			t.Fatalf("open reports: %+v", open)
		}
		if err := rs.Decide(ctx, rep.ID, monitor.ReportAppropriate, "The doctor covered your ward that night."); err != nil {
			t.Fatal(err)
		}
		mine, _ := rs.ForPatient(ctx, "pat-1")
		if len(mine) != 1 || mine[0].Status != monitor.ReportAppropriate || mine[0].Outcome == "" {
			t.Fatalf("patient's reports: %+v", mine)
		}
		if open, _ := rs.Open(ctx); len(open) != 0 {
			t.Fatalf("a decided report is still open")
		}
	})
}

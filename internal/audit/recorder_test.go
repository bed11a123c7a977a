package audit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func fixedClock() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }

func newRecorder(t *testing.T, d *db.DB) (*audit.Recorder, *audit.Store) {
	t.Helper()
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(d, kek, fixedClock)
	r := audit.NewRecorder(d, s, fixedClock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(r.Close)
	return r, audit.NewStore(d, s)
}

func read(patient, actor string, i int) *audit.Event {
	return &audit.Event{
		Time:      fixedClock().Add(time.Duration(i) * time.Millisecond),
		Actor:     audit.Actor{UserID: actor, Name: "Dr " + actor, Role: "clinician"},
		PatientID: patient, ResourceType: "Patient", ResourceID: patient,
		Action: audit.ActionRead, Subtype: "chart", Purpose: "TREAT", Basis: "care-team",
		Outcome: audit.OutcomeSuccess, Source: "test",
	}
}

func TestConcurrentRecordsAllDurable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		rec, store := newRecorder(t, d)
		const workers, each = 32, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if err := rec.Record(ctx, read(fmt.Sprintf("p%d", w%4), fmt.Sprintf("u%d", w), i)); err != nil {
						errs <- err
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n, err := store.Count(ctx)
		if err != nil || n != workers*each {
			t.Fatalf("count = %d, %v; want %d", n, err, workers*each)
		}
		evs, err := store.Events(ctx, audit.Query{PatientID: "p1", Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != workers/4*each {
			t.Fatalf("patient p1 has %d events, want %d", len(evs), workers/4*each)
		}
		for _, e := range evs {
			if e.Event.PatientID != "p1" || e.Event.Purpose != "TREAT" || e.LedgerIndex != -1 {
				t.Fatalf("event read back wrong: %+v", e)
			}
		}
		mine, _ := store.Events(ctx, audit.Query{ActorID: "u3", Limit: 5})
		if len(mine) != 5 || mine[0].Event.Time.Before(mine[4].Event.Time) {
			t.Fatalf("actor query: %d events, newest first expected", len(mine))
		}
	})
}

func TestRecordFailsClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		rec, _ := newRecorder(t, d)
		if err := rec.Record(ctx, read("p", "u", 0)); err != nil {
			t.Fatal(err)
		}
		// The event store becomes unwritable: Record must fail, not pretend.
		if _, err := d.Exec(ctx, `ALTER TABLE audit_events RENAME TO audit_events_gone`); err != nil {
			t.Fatal(err)
		}
		err := rec.Record(ctx, read("p", "u", 1))
		if !fault.Is(err, fault.Unavailable) {
			t.Fatalf("Record with a broken store = %v, want Unavailable", err)
		}
		if _, err := d.Exec(ctx, `ALTER TABLE audit_events_gone RENAME TO audit_events`); err != nil {
			t.Fatal(err)
		}
		if err := rec.Record(ctx, read("p", "u", 2)); err != nil {
			t.Fatalf("after repair: %v", err)
		}
		rec.Close()
		if err := rec.Record(ctx, read("p", "u", 3)); !fault.Is(err, fault.Unavailable) {
			t.Fatalf("Record after Close = %v", err)
		}
	})
}

func TestOneBadEventDoesNotFailItsBatch(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	rec, store := newRecorder(t, d)
	first := read("p", "u", 0)
	first.ID = "fixed-id"
	if err := rec.Record(ctx, first); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 50)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev := read("p", "u", i+1)
			if i == 25 {
				ev.ID = "fixed-id" // duplicate: must fail alone
			}
			results[i] = rec.Record(ctx, ev)
		}(i)
	}
	wg.Wait()
	for i, err := range results {
		if (i == 25) != (err != nil) {
			t.Fatalf("event %d: err = %v", i, err)
		}
	}
	if n, _ := store.Count(ctx); n != 50 {
		t.Fatalf("count = %d, want 50", n)
	}
}

func TestRejectsInvalidEvent(t *testing.T) {
	d := dbtest.SQLite(t)
	rec, store := newRecorder(t, d)
	ev := read("p", "u", 0)
	ev.Action = "X"
	if err := rec.Record(context.Background(), ev); !fault.Is(err, fault.Invalid) {
		t.Fatalf("invalid action: %v", err)
	}
	if n, _ := store.Count(context.Background()); n != 0 {
		t.Fatal("an invalid event was written")
	}
}

func TestStoreNewSkipsStoredIDs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		rec, store := newRecorder(t, d)
		prep := func(ids ...string) []audit.Prepared {
			var ps []audit.Prepared
			for i, id := range ids {
				ev := read("p1", "u1", i)
				ev.ID = id
				p, err := rec.Prepare(ctx, *ev)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			return ps
		}
		// More than one PostgreSQL chunk, with a repeat inside the batch.
		var ids []string
		for i := 0; i < 300; i++ {
			ids = append(ids, fmt.Sprintf("ev-%03d", i))
		}
		n, err := rec.StoreNew(ctx, prep(append(ids, "ev-007")...))
		if err != nil || n != 300 {
			t.Fatalf("first StoreNew = %d, %v; want 300", n, err)
		}
		n, err = rec.StoreNew(ctx, prep("ev-000", "ev-299", "ev-new"))
		if err != nil || n != 1 {
			t.Fatalf("second StoreNew = %d, %v; want 1", n, err)
		}
		if c, err := store.Count(ctx); err != nil || c != 301 {
			t.Fatalf("count = %d, %v; want 301", c, err)
		}
		// Record (the fail-closed path) still refuses a repeated id.
		ev := read("p1", "u1", 0)
		ev.ID = "ev-000"
		if err := rec.Record(ctx, ev); err == nil {
			t.Fatal("Record of a stored id succeeded")
		}
	})
}

package audit_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/seal"
)

// sealOnly hides every method of a Sealer but Seal and Open.
type sealOnly struct{ audit.Sealer }

func TestEnsureKeysMakesEachPatientsKeyOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
		kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
		if err != nil {
			t.Fatal(err)
		}
		s := seal.NewSealer(d, kek, clock)
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		rec := audit.NewRecorder(d, s, clock, quiet)
		t.Cleanup(rec.Close)
		keys := func() int {
			t.Helper()
			n, err := s.StoredKeyCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Two patients (one named twice) and the directory.
		if err := rec.EnsureKeys(ctx, []string{"p1", "p2", "p1", ""}); err != nil {
			t.Fatal(err)
		}
		if n := keys(); n != 3 {
			t.Fatalf("%d keys, want 3", n)
		}
		for _, p := range []string{"p1", "p2", ""} {
			ev := audit.Event{Time: clock(), Actor: audit.Actor{UserID: "u", Role: "r"}, PatientID: p, Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Source: "s"}
			prep, err := rec.Prepare(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rec.StoreNew(ctx, []audit.Prepared{prep}); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.EnsureKeys(ctx, []string{"p2", "p3"}); err != nil {
			t.Fatal(err)
		}
		if n := keys(); n != 4 {
			t.Fatalf("%d keys after sealing and p3, want 4", n)
		}
		// Events sealed under keys made by EnsureKeys open.
		got, err := audit.NewStore(d, s).Events(ctx, audit.Query{PatientID: "p1"})
		if err != nil || len(got) != 1 {
			t.Fatalf("events of p1: %v, %v", got, err)
		}

		// A Sealer that cannot make keys together leaves them to Prepare.
		rec2 := audit.NewRecorder(d, sealOnly{s}, clock, quiet)
		t.Cleanup(rec2.Close)
		if err := rec2.EnsureKeys(ctx, []string{"p9"}); err != nil {
			t.Fatal(err)
		}
		if n := keys(); n != 4 {
			t.Fatalf("%d keys, want 4: EnsureKeys without the means made one", n)
		}
	})
}

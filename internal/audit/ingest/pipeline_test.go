package ingest_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/seal"
)

// failingStore stores through a Recorder until its failAt-th batch, which
// fails without writing anything; it records the batches it was given.
type failingStore struct {
	rec    *audit.Recorder
	failAt int

	mu      sync.Mutex
	batches int
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) Prepare(ctx context.Context, ev audit.Event) (audit.Prepared, error) {
	return s.rec.Prepare(ctx, ev)
}

func (s *failingStore) StoreNew(ctx context.Context, ps []audit.Prepared) (int, error) {
	s.mu.Lock()
	s.batches++
	n := s.batches
	s.mu.Unlock()
	if n == s.failAt {
		return 0, errDiskFull
	}
	return s.rec.StoreNew(ctx, ps)
}

func newRecorder(t *testing.T, d *db.DB) (*audit.Recorder, *audit.Store) {
	t.Helper()
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(d, kek, clock)
	rec := audit.NewRecorder(d, s, clock, quietLog())
	t.Cleanup(rec.Close)
	return rec, audit.NewStore(d, s)
}

// A failed batch stops the run: the error is returned, the batches stored
// before it stay, and nothing is stored after it, although the next batch
// was being filled while the failing one was written.
func TestStoreFailureStopsTheRun(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rec, st := newRecorder(t, d)
		fs := &failingStore{rec: rec, failAt: 3}
		in := ingest.New(fs, ingest.NewCounters(clock), clock, quietLog())
		in.BatchSize = 100
		var lines []string
		for i := range 2000 {
			lines = append(lines, fhirLine(t, access(i)))
		}
		var progressed []int
		rep, err := in.IngestNDJSON(context.Background(), "ehr", strings.NewReader(strings.Join(lines, "\n")), func(r ingest.Report) {
			progressed = append(progressed, r.Accepted)
		})
		if !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "store events: ") {
			t.Fatalf("err = %v, want the store's error", err)
		}
		if rep.Accepted != 200 {
			t.Errorf("accepted %d, want the 200 of the two batches stored", rep.Accepted)
		}
		if n := count(t, st); n != 200 {
			t.Errorf("stored %d events, want 200", n)
		}
		if fs.batches != 3 {
			t.Errorf("StoreNew called %d times, want 3: nothing after the failure", fs.batches)
		}
		if len(progressed) != 2 || progressed[0] != 100 || progressed[1] != 200 {
			t.Errorf("progress = %v, want [100 200]", progressed)
		}
	})
}

// An event id seen twice is stored once, whether the repeat falls in the
// same batch or in a later one, and the progress reports only grow.
func TestRepeatsAcrossBatchesStoredOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rec, st := newRecorder(t, d)
		in := ingest.New(rec, ingest.NewCounters(clock), clock, quietLog())
		in.BatchSize = 50
		var lines []string
		for i := range 600 {
			// Every tenth line repeats an event from 7 or 170 lines earlier.
			switch {
			case i%10 == 9 && i%20 == 9:
				lines = append(lines, lines[i-7])
			case i%10 == 9 && i > 170:
				lines = append(lines, lines[i-170])
			default:
				lines = append(lines, fhirLine(t, access(i)))
			}
		}
		unique := map[string]bool{}
		for _, l := range lines {
			unique[l] = true
		}
		last := ingest.Report{}
		progress := func(r ingest.Report) {
			if r.Accepted < last.Accepted || r.Read < last.Read || r.Duplicates < last.Duplicates {
				t.Errorf("progress went back: %+v after %+v", r, last)
			}
			last = r
		}
		rep, err := in.IngestNDJSON(context.Background(), "ehr", strings.NewReader(strings.Join(lines, "\n")), progress)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Read != 600 || rep.Accepted != len(unique) || rep.Duplicates != 600-len(unique) {
			t.Fatalf("read %d accepted %d duplicates %d, want 600 %d %d", rep.Read, rep.Accepted, rep.Duplicates, len(unique), 600-len(unique))
		}
		if n := count(t, st); n != int64(len(unique)) {
			t.Fatalf("stored %d events, want %d", n, len(unique))
		}
	})
}

// keyCountingStore is a Recorder that counts the patients it is asked to
// make keys for.
type keyCountingStore struct {
	*audit.Recorder
	mu       sync.Mutex
	patients int
}

func (s *keyCountingStore) EnsureKeys(ctx context.Context, patientIDs []string) error {
	s.mu.Lock()
	s.patients += len(patientIDs)
	s.mu.Unlock()
	return s.Recorder.EnsureKeys(ctx, patientIDs)
}

// The data keys of a feed's patients are made per chunk, before sealing,
// for every event that passed its checks.
func TestKeysMadePerChunk(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
		if err != nil {
			t.Fatal(err)
		}
		s := seal.NewSealer(d, kek, clock)
		rec := audit.NewRecorder(d, s, clock, quietLog())
		t.Cleanup(rec.Close)
		ks := &keyCountingStore{Recorder: rec}
		in := ingest.New(ks, ingest.NewCounters(clock), clock, quietLog())
		var lines []string
		for i := range 600 {
			lines = append(lines, fhirLine(t, access(i)))
		}
		lines = append(lines, `{"resourceType":"Patient"}`)
		rep, err := in.IngestNDJSON(context.Background(), "ehr", strings.NewReader(strings.Join(lines, "\n")), nil)
		if err != nil || rep.Accepted != 600 || rep.Rejected != 1 {
			t.Fatalf("accepted %d rejected %d: %v", rep.Accepted, rep.Rejected, err)
		}
		if ks.patients != 600 {
			t.Errorf("keys asked for %d events, want the 600 good ones", ks.patients)
		}
		if n, err := s.StoredKeyCount(context.Background()); err != nil || n != 11 {
			t.Errorf("%d keys (%v), want one per patient (11)", n, err)
		}
	})
}

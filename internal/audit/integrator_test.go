package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/seal"
)

const testOrigin = "trustward.example/test/access-log"

func ledgerClock() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }

// ledgerRig is a store, a recorder and a real Tessera log in a temporary
// folder.
type ledgerRig struct {
	d      *db.DB
	sealer *seal.Sealer
	rec    *Recorder
	actors *seal.Pseudonymizer
	dir    string
	log    *ledger.POSIXLog
	quiet  *slog.Logger
}

func newLedgerRig(t *testing.T, d *db.DB) *ledgerRig {
	t.Helper()
	ctx := context.Background()
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), ledgerClock())
	if err != nil {
		t.Fatal(err)
	}
	r := &ledgerRig{d: d, sealer: seal.NewSealer(d, kek, ledgerClock), dir: filepath.Join(t.TempDir(), "ledger"),
		quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.rec = NewRecorder(d, r.sealer, ledgerClock, r.quiet)
	t.Cleanup(r.rec.Close)
	if r.actors, err = r.sealer.Pseudonymizer(ctx, ActorPseudonymPurpose); err != nil {
		t.Fatal(err)
	}
	r.openLog(t)
	return r
}

func (r *ledgerRig) openLog(t *testing.T) {
	t.Helper()
	l, err := ledger.Open(context.Background(), ledger.Options{Dir: r.dir, Origin: testOrigin, CheckpointInterval: ledger.MinCheckpointInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r.log = l
}

func (r *ledgerRig) integrator(opts IntegratorOptions, hook func(string) error) *Integrator {
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	in := newIntegrator(r.d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, opts)
	in.hook = hook
	go in.run()
	return in
}

func accessEvent(i int) *Event {
	ev := &Event{
		Time:      ledgerClock().Add(time.Duration(i) * time.Millisecond),
		Actor:     Actor{UserID: fmt.Sprintf("u%d", i%7), Name: "Dr Who", Role: "clinician"},
		PatientID: fmt.Sprintf("p%d", i%10), ResourceType: "Patient", ResourceID: fmt.Sprintf("p%d", i%10),
		Action: ActionRead, Subtype: "chart", Purpose: []string{"TREAT", "ETREAT", "HOPERAT", "free text"}[i%4],
		Outcome: []string{OutcomeSuccess, OutcomeDenied}[i%2], Basis: "care-team", Source: "test",
	}
	if i%25 == 0 { // a sign-in: no patient
		ev.PatientID, ev.ResourceType, ev.ResourceID, ev.Action, ev.Subtype, ev.Purpose = "", "", "", ActionExecute, "login", ""
	}
	return ev
}

func (r *ledgerRig) record(t *testing.T, from, n int) {
	t.Helper()
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < from+n; i += workers {
				if err := r.rec.Record(context.Background(), accessEvent(i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func waitLedgered(t *testing.T, in *Integrator) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		lag, err := in.Lag(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if lag.Events == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d events unledgered", lag.Events)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leafByHand encodes a leaf from docs/ledger.md's table, independently of
// Leaf.Marshal.
func leafByHand(t *testing.T, canonical, salt []byte, patient, actor [32]byte) []byte {
	t.Helper()
	ev, err := ParseCanonical(canonical)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{1, 0}
	if ev.PatientID != "" {
		b[1] = 1
	} else {
		patient = [32]byte{}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Time.UnixMicro()))
	b = append(b, patient[:]...)
	b = append(b, actor[:]...)
	outcome, _ := strconv.Atoi(ev.Outcome)
	purpose := ev.Purpose
	if purpose == "free text" {
		purpose = "OTHER"
	}
	b = append(b, ev.Action[0], byte(outcome), byte(len(purpose)))
	b = append(b, purpose...)
	commit := sha256.Sum256(append(append([]byte{}, salt...), canonical...))
	return append(b, commit[:]...)
}

type ledgeredEvent struct {
	seq, index int64
	id         string
	patient    string
	actor      string
}

func ledgered(t *testing.T, d *db.DB) []ledgeredEvent {
	t.Helper()
	rows, err := d.Query(context.Background(), `SELECT seq, COALESCE(ledger_index, -1), id, COALESCE(patient_id, ''), actor_id FROM audit_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []ledgeredEvent
	for rows.Next() {
		var e ledgeredEvent
		if err := rows.Scan(&e.seq, &e.index, &e.id, &e.patient, &e.actor); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// checkExactlyOnce checks that the n events have the indices 0..n-1, that
// the log holds exactly n leaves, and that each event's leaf recomputes
// from the event, its salt and its pseudonyms.
func checkExactlyOnce(t *testing.T, r *ledgerRig, in *Integrator, n int) {
	t.Helper()
	ctx := context.Background()
	evs := ledgered(t, r.d)
	if len(evs) != n {
		t.Fatalf("%d events in the store, want %d", len(evs), n)
	}
	size, err := r.log.Size(ctx)
	if err != nil || size != uint64(n) {
		t.Fatalf("log size %d (%v), want %d: a leaf is missing or doubled", size, err, n)
	}
	leaves, err := r.log.Leaves(ctx, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, n)
	patients := map[string][32]byte{}
	actors := map[string][32]byte{}
	for _, e := range evs {
		if e.index < 0 || e.index >= int64(n) || seen[e.index] {
			t.Fatalf("event seq %d has index %d (seen before: %v)", e.seq, e.index, e.index >= 0 && e.index < int64(n) && seen[e.index])
		}
		seen[e.index] = true
		o, err := in.Opening(ctx, e.id)
		if err != nil {
			t.Fatal(err)
		}
		if o.LedgerIndex != e.index || !bytes.Equal(o.Leaf, leaves[e.index]) {
			t.Fatalf("event seq %d: the log holds %x at %d, the event opens to %x", e.seq, leaves[e.index], e.index, o.Leaf)
		}
		if want := leafByHand(t, o.Canonical, o.Salt, o.Patient, o.Actor); !bytes.Equal(want, leaves[e.index]) {
			t.Fatalf("event seq %d: leaf %x does not recompute by hand (%x)", e.seq, leaves[e.index], want)
		}
		if e.patient != "" {
			if p, ok := patients[e.patient]; ok && p != o.Patient {
				t.Fatalf("patient %s has two pseudonyms", e.patient)
			}
			patients[e.patient] = o.Patient
		}
		if a, ok := actors[e.actor]; ok && a != o.Actor {
			t.Fatalf("actor %s has two pseudonyms", e.actor)
		}
		actors[e.actor] = o.Actor
	}
	distinct := map[[32]byte]bool{}
	for _, p := range patients {
		distinct[p] = true
	}
	if len(distinct) != len(patients) {
		t.Fatal("two patients share a pseudonym")
	}
	var pending int
	if err := r.d.QueryRow(ctx, `SELECT COUNT(*) FROM ledger_pending`).Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("%d intents left (%v)", pending, err)
	}
}

func TestIntegratorLedgersEveryEventOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newLedgerRig(t, d)
		in := r.integrator(IntegratorOptions{BatchSize: 256}, nil)
		defer in.Close()
		// Record while the integrator runs: rounds meet events committed
		// in between.
		r.record(t, 0, 1000)
		waitLedgered(t, in)
		checkExactlyOnce(t, r, in, 1000)

		// The log's checkpoint proves each event's leaf.
		_, cp, err := r.log.AwaitCheckpoint(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ledgered(t, d)[:20] {
			o, err := in.Opening(ctx, e.id)
			if err != nil {
				t.Fatal(err)
			}
			proof, err := r.log.InclusionProof(ctx, uint64(o.LedgerIndex), cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.VerifyInclusion(cp, uint64(o.LedgerIndex), o.Leaf, proof); err != nil {
				t.Fatal(err)
			}
		}
		lag, err := in.Lag(ctx)
		if err != nil || lag != (Lag{}) {
			t.Fatalf("Lag = %+v, %v; want none", lag, err)
		}
	})
}

var errCrash = errors.New("simulated crash")

// TestIntegratorCrashRecovery stops a round dead after each stage, as a
// crash would, restarts log and integrator on the same folder and store,
// and checks that no event has two leaves and none has none.
func TestIntegratorCrashRecovery(t *testing.T) {
	for _, stage := range []string{"intent", "append"} {
		t.Run(stage, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				r := newLedgerRig(t, d)
				r.record(t, 0, 300)
				crashed := make(chan struct{})
				var once sync.Once
				in := r.integrator(IntegratorOptions{RetryDelay: time.Hour}, func(s string) error {
					if s != stage {
						return nil
					}
					once.Do(func() { close(crashed) })
					return errCrash
				})
				select {
				case <-crashed:
				case <-time.After(10 * time.Second):
					t.Fatal("no round reached the crash")
				}
				in.Close() // waiting out the retry delay: nothing else runs

				size, _ := r.log.Size(ctx)
				wantSize := map[string]uint64{"intent": 0, "append": 300}[stage]
				if size != wantSize {
					t.Fatalf("after the crash the log has %d leaves, want %d", size, wantSize)
				}
				var pending, unledgered int
				d.QueryRow(ctx, `SELECT COUNT(*) FROM ledger_pending`).Scan(&pending)
				d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE ledger_index IS NULL`).Scan(&unledgered)
				if pending != 300 || unledgered != 300 {
					t.Fatalf("after the crash: %d intents, %d unledgered events; want 300 and 300", pending, unledgered)
				}

				// Restart: a new log on the same folder, events recorded
				// meanwhile, a new integrator.
				if err := r.log.Close(); err != nil {
					t.Fatal(err)
				}
				r.openLog(t)
				r.record(t, 300, 50)
				in2 := r.integrator(IntegratorOptions{}, nil)
				defer in2.Close()
				waitLedgered(t, in2)
				checkExactlyOnce(t, r, in2, 350)
			})
		})
	}
}

// TestIntegratorRecoversInProcess: a round that fails after appending is
// settled by the integrator itself on its next round.
func TestIntegratorRecoversInProcess(t *testing.T) {
	d := dbtest.SQLite(t)
	r := newLedgerRig(t, d)
	r.record(t, 0, 100)
	failures := 0
	var mu sync.Mutex
	in := r.integrator(IntegratorOptions{BatchSize: 30, RetryDelay: time.Millisecond}, func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		if s == "append" && failures < 3 {
			failures++
			return errCrash
		}
		return nil
	})
	defer in.Close()
	waitLedgered(t, in)
	checkExactlyOnce(t, r, in, 100)
	mu.Lock()
	defer mu.Unlock()
	if failures != 3 {
		t.Fatalf("%d rounds failed, want 3", failures)
	}
}

func TestIntegratorLedgersErasedPatientsEvents(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)
	r := newLedgerRig(t, d)
	ev := accessEvent(1)
	if err := r.rec.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := r.sealer.Shred(ctx, seal.PatientSubject(ev.PatientID)); err != nil {
		t.Fatal(err)
	}
	in := r.integrator(IntegratorOptions{}, nil)
	defer in.Close()
	waitLedgered(t, in)
	leaves, err := r.log.Leaves(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLeaf(leaves[0])
	if err != nil {
		t.Fatal(err)
	}
	if !l.Erased || l.Patient != ([32]byte{}) || !l.Time.Equal(ev.Time) || l.Action != ev.Action || l.Purpose != LeafPurpose(ev.Purpose) ||
		l.Commitment != sha256.Sum256([]byte("trustward/ledger/erased/v1|"+ev.ID)) {
		t.Fatalf("leaf of an erased patient's event: %+v", l)
	}
	if _, err := in.Opening(ctx, ev.ID); err == nil {
		t.Fatal("an erased event still opens")
	}
}

func TestLagCountsAndAges(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)
	r := newLedgerRig(t, d)
	r.record(t, 0, 5)
	now := ledgerClock().Add(90 * time.Second)
	in := newIntegrator(d, r.log, r.sealer, r.actors, func() time.Time { return now }, r.quiet, IntegratorOptions{})
	lag, err := in.Lag(ctx)
	if err != nil || lag.Events != 5 || lag.Oldest != 90*time.Second {
		t.Fatalf("Lag = %+v, %v; want 5 events, 90s", lag, err)
	}
	if n, err := in.round(ctx); err != nil || n != 5 {
		t.Fatalf("round = %d, %v", n, err)
	}
	if lag, err := in.Lag(ctx); err != nil || lag != (Lag{}) {
		t.Fatalf("Lag after a round = %+v, %v", lag, err)
	}
}

// BenchmarkIntegrator ledgers events already committed (SQLite in a
// temporary folder, Tessera's POSIX log beside it) and reports events
// ledgered per second: the rate at which the ledger catches up.
func BenchmarkIntegrator(b *testing.B) {
	ctx := context.Background()
	d := dbtest.SQLite(b)
	kek, err := seal.CreateFileKEK(filepath.Join(b.TempDir(), "kek.json"), ledgerClock())
	if err != nil {
		b.Fatal(err)
	}
	sealer := seal.NewSealer(d, kek, ledgerClock)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := NewRecorder(d, sealer, ledgerClock, quiet)
	defer rec.Close()
	actors, err := sealer.Pseudonymizer(ctx, ActorPseudonymPurpose)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(ctx, ledger.Options{Dir: filepath.Join(b.TempDir(), "ledger"), Origin: testOrigin})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	in := newIntegrator(d, l, sealer, actors, ledgerClock, quiet, IntegratorOptions{})
	const perLoop = 4096
	n := 0
	for b.Loop() {
		b.StopTimer()
		evs := make([]Event, perLoop)
		for i := range evs {
			evs[i] = *accessEvent(n + i)
		}
		if err := rec.RecordBatch(ctx, evs); err != nil {
			b.Fatal(err)
		}
		n += perLoop
		b.StartTimer()
		for done := 0; done < perLoop; {
			k, err := in.round(ctx)
			if err != nil {
				b.Fatal(err)
			}
			done += k
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

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
	"github.com/trustward/trustward/internal/fault"
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
		in := r.integrator(IntegratorOptions{BatchSize: 256, Recorder: r.rec}, nil)
		defer in.Close()
		// Record while the integrator runs: rounds meet events committed
		// in between, some stored with their leaf, some (the first about
		// each patient) without.
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

// storedLeaf returns an event's stored leaf and sealed salt.
func storedLeaf(t *testing.T, d *db.DB, id string) (leaf, salt []byte) {
	t.Helper()
	if err := d.QueryRow(context.Background(), `SELECT ledger_leaf, ledger_salt FROM audit_events WHERE id = $1`, id).Scan(&leaf, &salt); err != nil {
		t.Fatal(err)
	}
	return leaf, salt
}

// TestRecorderStoresLeaf: with an integrator attached, the Recorder stores
// each event with its leaf and sealed salt, and that leaf, byte for byte,
// is what reaches the log and what the event's opening recomputes. An
// event about a patient without a ledger secret is stored without a leaf
// and gets one in the round.
func TestRecorderStoresLeaf(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newLedgerRig(t, d)
		in := newIntegrator(d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{Recorder: r.rec})
		first, second, signIn := accessEvent(1), accessEvent(11), accessEvent(25)
		if first.PatientID != second.PatientID || signIn.PatientID != "" {
			t.Fatal("the test needs two events about one patient and a sign-in")
		}
		for _, ev := range []*Event{first, signIn} {
			if err := r.rec.Record(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		if leaf, salt := storedLeaf(t, d, first.ID); leaf != nil || salt != nil {
			t.Fatal("an event about a patient without a ledger secret was stored with a leaf")
		}
		if leaf, salt := storedLeaf(t, d, signIn.ID); leaf == nil || salt == nil {
			t.Fatal("a sign-in was stored without its leaf")
		}
		if n, err := in.round(ctx); err != nil || n != 2 {
			t.Fatalf("round = %d, %v", n, err)
		}
		// Once the integrator has reconciled, the Recorder sequences:
		// the event gets the next index in its own commit, and opens only
		// once its leaf is in the log.
		if err := in.reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.rec.Record(ctx, second); err != nil {
			t.Fatal(err)
		}
		leaf, salt := storedLeaf(t, d, second.ID)
		if leaf == nil || salt == nil {
			t.Fatal("an event about a patient with a ledger secret was stored without its leaf")
		}
		var index int64
		if err := d.QueryRow(ctx, `SELECT ledger_index FROM audit_events WHERE id = $1`, second.ID).Scan(&index); err != nil || index != 2 {
			t.Fatalf("the event was stored with index %d (%v), want 2", index, err)
		}
		if _, err := in.Opening(ctx, second.ID); !fault.Is(err, fault.Unavailable) {
			t.Fatalf("Opening before the append: %v", err)
		}
		if n, err := in.round(ctx); err != nil || n != 1 {
			t.Fatalf("round = %d, %v", n, err)
		}
		logged, err := r.log.Leaves(ctx, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range []*Event{first, signIn, second} {
			stored, _ := storedLeaf(t, d, ev.ID)
			o, err := in.Opening(ctx, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if o.LedgerIndex != int64(i) || !bytes.Equal(logged[i], stored) || !bytes.Equal(o.Leaf, stored) {
				t.Fatalf("event %d: index %d, log %x, stored %x, opening %x", i, o.LedgerIndex, logged[i], stored, o.Leaf)
			}
			if want := leafByHand(t, o.Canonical, o.Salt, o.Patient, o.Actor); !bytes.Equal(want, stored) {
				t.Fatalf("event %d: stored leaf %x does not recompute by hand (%x)", i, stored, want)
			}
		}
		checkExactlyOnce(t, r, in, 3)
	})
}

var errCrash = errors.New("simulated crash")

// TestIntegratorCrashRecovery stops a round dead after each stage, as a
// crash would, restarts log and integrator on the same folder and store,
// and checks that no event has two leaves and none has none: with leaves
// stored by the Recorder, and with leaves the round builds and stores.
func TestIntegratorCrashRecovery(t *testing.T) {
	for _, attached := range []bool{true, false} {
		for _, stage := range []string{"leaves", "append"} {
			t.Run(fmt.Sprintf("%s/attached=%v", stage, attached), func(t *testing.T) {
				dbtest.Each(t, func(t *testing.T, d *db.DB) {
					testCrashRecovery(t, d, stage, attached)
				})
			})
		}
	}
}

func testCrashRecovery(t *testing.T, d *db.DB, stage string, attached bool) {
	ctx := context.Background()
	r := newLedgerRig(t, d)
	var rec *Recorder
	if attached {
		rec = r.rec
		// Secrets for every patient first, so that the Recorder stores
		// every event's leaf.
		warm := newIntegrator(d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{})
		var patients []string
		for i := range 10 { // accessEvent's patients
			patients = append(patients, fmt.Sprintf("p%d", i))
		}
		if err := warm.ensureSecrets(ctx, patients); err != nil {
			t.Fatal(err)
		}
		newIntegrator(d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{Recorder: rec})
	}
	r.record(t, 0, 300)
	var withLeaf int
	d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE ledger_leaf IS NOT NULL`).Scan(&withLeaf)
	if want := map[bool]int{true: 300, false: 0}[attached]; withLeaf != want {
		t.Fatalf("%d events recorded with a leaf, want %d", withLeaf, want)
	}
	crashed := make(chan struct{})
	var once sync.Once
	in := r.integrator(IntegratorOptions{RetryDelay: time.Hour, Recorder: rec}, func(s string) error {
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
	wantSize := map[string]uint64{"leaves": 0, "append": 300}[stage]
	if size != wantSize {
		t.Fatalf("after the crash the log has %d leaves, want %d", size, wantSize)
	}
	// The round had sequenced every event and stored every leaf before
	// it appended.
	var settled int
	d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE ledger_index >= 0 AND ledger_index < 300 AND ledger_leaf IS NOT NULL`).Scan(&settled)
	if settled != 300 {
		t.Fatalf("after the crash: %d events sequenced with a stored leaf; want 300", settled)
	}

	// Restart: a new log on the same folder, events recorded meanwhile, a
	// new integrator.
	if err := r.log.Close(); err != nil {
		t.Fatal(err)
	}
	r.openLog(t)
	in2 := r.integrator(IntegratorOptions{Recorder: rec}, nil)
	defer in2.Close()
	r.record(t, 300, 50)
	waitLedgered(t, in2)
	checkExactlyOnce(t, r, in2, 350)
}

// TestIntegratorFoldsIntentsOfEarlierVersions: intents left in
// ledger_pending by a version that wrote them (before migration 0009),
// some of whose leaves reached the log, are settled exactly once.
func TestIntegratorFoldsIntentsOfEarlierVersions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newLedgerRig(t, d)
		r.record(t, 0, 200) // no integrator attached: no leaves stored
		old := newIntegrator(d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{})
		rows, err := d.Query(ctx, `SELECT seq, id, occurred_at, actor_id, COALESCE(patient_id, ''), action, outcome, purpose, body FROM audit_events ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		var batch []unledgered
		for rows.Next() {
			var seq int64
			var u unledgered
			if err := rows.Scan(&seq, &u.id, &u.occurredAt, &u.actorID, &u.patientID, &u.action, &u.outcome, &u.purpose, &u.body); err != nil {
				t.Fatal(err)
			}
			seqs, batch = append(seqs, seq), append(batch, u)
		}
		rows.Close()
		// What the earlier version's round wrote before appending: the
		// leaves with the indices they should get, and new sealed salts.
		var patients []string
		for _, u := range batch {
			patients = append(patients, u.patientID)
		}
		if err := old.ensureSecrets(ctx, patients); err != nil {
			t.Fatal(err)
		}
		leaves := make([][]byte, len(batch))
		intents := make([]stored, len(batch))
		for i, u := range batch {
			if intents[i], err = old.buildLeaf(ctx, u); err != nil {
				t.Fatal(err)
			}
			leaves[i] = intents[i].leaf
		}
		err = d.InTx(ctx, func(tx *db.Tx) error {
			for i, s := range intents {
				if _, err := tx.Exec(ctx, `INSERT INTO ledger_pending (leaf_index, seq, leaf, salt, created_at) VALUES ($1, $2, $3, $4, $5)`,
					int64(i), seqs[i], s.leaf, s.salt, int64(1)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// It crashed half-way through appending.
		if _, err := r.log.AppendBatch(ctx, leaves[:120]); err != nil {
			t.Fatal(err)
		}
		r.record(t, 200, 30)
		in := r.integrator(IntegratorOptions{Recorder: r.rec}, nil)
		defer in.Close()
		waitLedgered(t, in)
		checkExactlyOnce(t, r, in, 230)
		logged, err := r.log.Leaves(ctx, 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		// The intents' leaves are the ones in the log, in their order.
		for i, leaf := range leaves {
			if !bytes.Equal(logged[i], leaf) {
				t.Fatalf("leaf %d is not the intent's", i)
			}
		}
	})
}

// shiftingLog appends, the first time, only the leaves after the first
// skip of a batch and fails: what Tessera does when one flush of a batch
// fails and the next succeeds (the later leaves take the lower indices).
type shiftingLog struct {
	Ledger
	mu      sync.Mutex
	skip    int
	shifted bool
}

func (l *shiftingLog) AppendBatch(ctx context.Context, leaves [][]byte) ([]uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shifted || len(leaves) <= l.skip {
		return l.Ledger.AppendBatch(ctx, leaves)
	}
	l.shifted = true
	if _, err := l.Ledger.AppendBatch(ctx, leaves[l.skip:]); err != nil {
		return nil, err
	}
	return nil, errors.New("simulated failed flush")
}

// TestIntegratorRenumbersAfterAShiftedAppend: when an append puts leaves
// at other indices than their events were given, reconcile renumbers the
// events to where their leaves are, and the rest are appended once.
func TestIntegratorRenumbersAfterAShiftedAppend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r := newLedgerRig(t, d)
		r.record(t, 0, 200)
		shifty := &shiftingLog{Ledger: r.log, skip: 40}
		in := newIntegrator(d, shifty, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{BatchSize: 100, PollInterval: 10 * time.Millisecond, RetryDelay: time.Millisecond, Recorder: r.rec})
		go in.run()
		defer in.Close()
		r.record(t, 200, 100) // while it runs: sequenced by the Recorder
		waitLedgered(t, in)
		if !shifty.shifted {
			t.Fatal("no append was shifted")
		}
		checkExactlyOnce(t, r, in, 300)
	})
}

// TestReconcileRefusesAForeignLog: a log whose leaves belong to no event
// of the store is not appended to, and the Recorder does not sequence.
func TestReconcileRefusesAForeignLog(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)
	r := newLedgerRig(t, d)
	foreign := make([]byte, 120)
	foreign[0] = 7
	if _, err := r.log.AppendBatch(ctx, [][]byte{foreign}); err != nil {
		t.Fatal(err)
	}
	in := newIntegrator(d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{Recorder: r.rec})
	if err := in.reconcile(ctx); err == nil {
		t.Fatal("reconcile accepted a log that is not the store's")
	}
	if in.ready.Load() {
		t.Fatal("the Recorder may sequence against a foreign log")
	}
	if err := r.rec.Record(ctx, accessEvent(3)); err != nil {
		t.Fatal(err)
	}
	var sequenced int
	d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE ledger_index IS NOT NULL`).Scan(&sequenced)
	if sequenced != 0 {
		t.Fatalf("%d events sequenced against a foreign log", sequenced)
	}
}

// TestAssignRefusesASecondLeaf: an event that already has a leaf index
// fails the round's write, whole, rather than getting a second one.
func TestAssignRefusesASecondLeaf(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newLedgerRig(t, d)
		r.record(t, 0, 100)
		evs := ledgered(t, d)
		if _, err := d.Exec(ctx, `UPDATE audit_events SET ledger_index = 1000 WHERE seq = $1`, evs[60].seq); err != nil {
			t.Fatal(err)
		}
		done := make([]assignment, len(evs))
		for i, e := range evs {
			done[i] = assignment{seq: e.seq, index: int64(i)}
		}
		err := d.InTx(ctx, func(tx *db.Tx) error { return assign(ctx, tx, done) })
		if err == nil {
			t.Fatal("an event got a second leaf index")
		}
		var n int
		d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE ledger_index IS NOT NULL`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d events have an index after the failed write, want 1", n)
		}
	})
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

// TestIntegratorLedgersErasedPatientsEvents: an event whose patient is
// shredded before the event is ledgered gets an erased leaf, whether it was
// stored with its leaf (which the round then replaces) or without.
func TestIntegratorLedgersErasedPatientsEvents(t *testing.T) {
	for _, attached := range []bool{true, false} {
		t.Run(fmt.Sprintf("attached=%v", attached), func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.SQLite(t)
			r := newLedgerRig(t, d)
			ev, other := accessEvent(1), accessEvent(2)
			if attached {
				in := newIntegrator(d, r.log, r.sealer, r.actors, ledgerClock, r.quiet, IntegratorOptions{Recorder: r.rec})
				if err := in.ensureSecrets(ctx, []string{ev.PatientID, other.PatientID}); err != nil {
					t.Fatal(err)
				}
			}
			for _, e := range []*Event{ev, other} {
				if err := r.rec.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if leaf, _ := storedLeaf(t, d, ev.ID); (leaf != nil) != attached {
				t.Fatalf("stored leaf %x", leaf)
			}
			if err := r.sealer.Shred(ctx, seal.PatientSubject(ev.PatientID)); err != nil {
				t.Fatal(err)
			}
			in := r.integrator(IntegratorOptions{}, nil)
			defer in.Close()
			waitLedgered(t, in)
			leaves, err := r.log.Leaves(ctx, 0, 2)
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
			if stored, _ := storedLeaf(t, d, ev.ID); !bytes.Equal(stored, leaves[0]) {
				t.Fatal("the erased leaf is not the one stored with the event")
			}
			if _, err := in.Opening(ctx, ev.ID); err == nil {
				t.Fatal("an erased event still opens")
			}
			// Another patient's event in the same round is untouched.
			o, err := in.Opening(ctx, other.ID)
			if err != nil || !bytes.Equal(o.Leaf, leaves[1]) {
				t.Fatalf("the other patient's event: %v", err)
			}
		})
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

// TestTakeFromQueue: rounds take committed batches from memory only when
// memory holds every event from the log's size on, with its leaf.
func TestTakeFromQueue(t *testing.T) {
	rows := func(n int, leaf bool) []row {
		out := make([]row, n)
		for i := range out {
			out[i].ev.ID = fmt.Sprint(i)
			if leaf {
				out[i].leaf, out[i].salt = []byte{byte(i)}, []byte{1}
			}
		}
		return out
	}
	in := &Integrator{opts: IntegratorOptions{BatchSize: 5}}
	in.sequenced(10, rows(3, true))
	in.sequenced(13, rows(4, true))
	if _, ok := in.take(9); ok {
		t.Fatal("took events from 9, which memory does not hold")
	}
	got, ok := in.take(11) // 10 is in the log already
	if !ok || len(got) != 5 || got[0].index != 11 || got[4].index != 15 || got[2].id != "0" || got[0].leaf[0] != 1 {
		t.Fatalf("take(11) = %+v, %v", got, ok)
	}
	if got, ok := in.take(16); !ok || len(got) != 1 || got[0].index != 16 {
		t.Fatalf("take(16) = %+v, %v", got, ok)
	}
	if in.queued != 1 {
		t.Fatalf("%d queued, want 1", in.queued)
	}
	in.sequenced(20, rows(2, true)) // 17 to 19 were sequenced elsewhere
	if _, ok := in.take(17); ok {
		t.Fatal("took events across a gap")
	}
	in.clearQueue()
	in.sequenced(30, rows(2, false))
	if _, ok := in.take(30); ok {
		t.Fatal("took events without their leaves")
	}
}

// TestBulkStoreIsSequencedOnce: with the integrator ready, bulk ingestion
// (StoreNew) gives its events leaf indices in its own transactions, like
// the Recorder: ids already stored and ids repeated in a batch are
// dropped before the indices are given, so the log holds each event once
// and the indices stay contiguous while the Recorder commits in between.
func TestBulkStoreIsSequencedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newLedgerRig(t, d)
		in := r.integrator(IntegratorOptions{BatchSize: 256, Recorder: r.rec}, nil)
		defer in.Close()
		r.record(t, 0, 100) // the first events about each patient; the integrator becomes ready
		waitLedgered(t, in)
		if !in.ready.Load() {
			t.Fatal("integrator not ready after its first round")
		}
		prep := func(from, n int) []Prepared {
			var ps []Prepared
			for i := from; i < from+n; i++ {
				ev := *accessEvent(i)
				ev.ID = fmt.Sprintf("ehr-%d", i)
				p, err := r.rec.Prepare(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			return ps
		}
		done := make(chan struct{})
		go func() { defer close(done); r.record(t, 100, 400) }()
		// 2,500 events in chunks larger than one transaction, one id
		// repeated inside the batch.
		batch := prep(1000, 2500)
		batch = append(batch, batch[7])
		n, err := r.rec.StoreNew(ctx, batch)
		if err != nil || n != 2500 {
			t.Fatalf("StoreNew = %d, %v; want 2500", n, err)
		}
		// Stored with their indices, not left for the integrator's rounds.
		var unsequenced int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE id LIKE 'ehr-%' AND ledger_index IS NULL`).Scan(&unsequenced); err != nil || unsequenced != 0 {
			t.Fatalf("%d bulk events stored without an index (%v)", unsequenced, err)
		}
		// The same feed again, overlapping: only the 500 new ones count.
		if n, err := r.rec.StoreNew(ctx, prep(3000, 1000)); err != nil || n != 500 {
			t.Fatalf("StoreNew again = %d, %v; want 500", n, err)
		}
		<-done
		waitLedgered(t, in)
		checkExactlyOnce(t, r, in, 100+400+3000)
	})
}

package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/seal"
)

// Ledger is what the integrator needs of the transparency log
// (ledger.POSIXLog provides it).
type Ledger interface {
	// AppendBatch appends leaves in order and returns their indices; it
	// returns only when every leaf handed over has its fate settled.
	AppendBatch(ctx context.Context, leaves [][]byte) ([]uint64, error)
	// Size is the number of leaves in the log.
	Size(ctx context.Context) (uint64, error)
	// Leaves returns the leaves with indices in [start, end).
	Leaves(ctx context.Context, start, end uint64) ([][]byte, error)
}

// Tokenizer computes keyed pseudonyms: seal.Pseudonymizer under
// ActorPseudonymPurpose.
type Tokenizer interface {
	Token(s string) []byte
}

// ActorPseudonymPurpose names the directory HMAC key of actor pseudonyms
// (seal.Sealer.Pseudonymizer).
const ActorPseudonymPurpose = "ledger-actor"

// IntegratorOptions tune the integrator; zero values take the defaults.
type IntegratorOptions struct {
	// BatchSize is the most events ledgered per round (default 1,024, at
	// most maxBatch).
	BatchSize int
	// PollInterval is how often the store is checked for new events when
	// the integrator has caught up (default 100 ms).
	PollInterval time.Duration
	// RetryDelay is the pause after a failed round (default 1 s).
	RetryDelay time.Duration
	// Recorder, when set, builds each event's leaf as it records it (in
	// the caller's goroutine) and, once the integrator has started,
	// sequences the event in its own commit: the leaf, its sealed salt and
	// its leaf index are stored with the event, and the committed leaves
	// are handed to the integrator in memory. A round then only appends
	// them. Events stored otherwise (bulk ingestion, no integrator
	// attached, an earlier version) are sequenced and built by rounds.
	Recorder *Recorder
}

// maxBatch bounds BatchSize: reconcile compares the last 2·maxBatch leaves
// of the log with the store.
const maxBatch = 8192

// Integrator puts a commitment leaf of every committed event into the
// transparency log. The store sequences: an event's ledger_index is its
// leaf's position in the log, given in the event's own commit (by the
// Recorder) or by a round (events stored without one), always the next
// free index, so that indices are dense. The integrator appends the stored
// leaves in index order; the leaf at log index i is the stored leaf of the
// event with ledger_index i, and the log's size says which events are in
// it. An event's leaf is stored before it can be appended, so a crash
// between the two loses nothing, and a restart appends from the log's size
// on: each leaf reaches the log once. Reconcile (at start, after a failed
// round) checks the end of the log against the store and renumbers events
// whose leaves landed elsewhere (an append that failed half-way), and
// settles leaves appended by versions before migration 0009.
// See docs/ledger.md.
//
// One integrator may run per log and store.
type Integrator struct {
	db     *db.DB
	log    Ledger
	sealer Sealer
	actors Tokenizer
	clock  func() time.Time
	logger *slog.Logger
	opts   IntegratorOptions

	// hook, when set (by tests), runs after each stage of a round
	// ("leaves": every leaf of the round is stored; "append"); an error
	// ends the round there, as a crash would.
	hook func(stage string) error

	// alloc is held by whoever gives out leaf indices (the Recorder's
	// writer for its commits, rounds for events stored without one,
	// reconcile), from reading the next free index to the commit, so that
	// indices are dense and given once.
	alloc sync.Mutex
	// ready is set once the first reconcile is done: from then on the
	// attached Recorder sequences its events.
	ready atomic.Bool

	// queueMu guards queue: batches the Recorder sequenced and committed
	// (in index order), waiting to be appended, so that rounds need not
	// read back what the process already holds; queued counts their
	// events.
	queueMu sync.Mutex
	queue   []committed
	queued  int

	// mu guards the caches of pseudonyms, which the Recorder's callers
	// read concurrently.
	mu         sync.RWMutex
	patients   map[string][32]byte
	noSecret   map[string]bool
	actorCache map[string][32]byte

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// maxQueue bounds the events held in memory for the next rounds; beyond
// it, rounds read them from the store.
const maxQueue = 1 << 16

// NewIntegrator starts an integrator; Close stops it.
func NewIntegrator(d *db.DB, log Ledger, sealer Sealer, actors Tokenizer, clock func() time.Time, logger *slog.Logger, opts IntegratorOptions) *Integrator {
	in := newIntegrator(d, log, sealer, actors, clock, logger, opts)
	go in.run()
	return in
}

func newIntegrator(d *db.DB, log Ledger, sealer Sealer, actors Tokenizer, clock func() time.Time, logger *slog.Logger, opts IntegratorOptions) *Integrator {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}
	opts.BatchSize = min(opts.BatchSize, maxBatch)
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	in := &Integrator{db: d, log: log, sealer: sealer, actors: actors, clock: clock, logger: logger, opts: opts,
		patients: map[string][32]byte{}, noSecret: map[string]bool{}, actorCache: map[string][32]byte{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts.Recorder != nil {
		opts.Recorder.ledger.Store(in)
	}
	return in
}

// Notify asks for a round now rather than at the next poll.
func (in *Integrator) Notify() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// Close stops the integrator after the round in progress; an attached
// Recorder stops building leaves and sequencing.
func (in *Integrator) Close() {
	in.once.Do(func() {
		if r := in.opts.Recorder; r != nil {
			r.ledger.CompareAndSwap(in, nil)
		}
		close(in.stop)
		<-in.stopped
	})
}

func (in *Integrator) run() {
	defer close(in.stopped)
	reconciled := false
	for {
		// A round is never cancelled half-way by Close; it is bounded by
		// its own timeout, and a crash half-way is what reconcile is for.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		n, err := 0, error(nil)
		if !reconciled {
			err = in.reconcile(ctx)
			reconciled = err == nil
		}
		if err == nil {
			n, err = in.round(ctx)
		}
		cancel()
		wait := in.opts.PollInterval
		switch {
		case err != nil:
			in.logger.Error("ledger integration failed; retrying", "err", err)
			reconciled = false
			wait = in.opts.RetryDelay
		case n == in.opts.BatchSize:
			wait = 0
		}
		if wait == 0 {
			select {
			case <-in.stop:
				return
			default:
				continue
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-in.stop:
			t.Stop()
			return
		case <-in.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (in *Integrator) runHook(stage string) error {
	if in.hook == nil {
		return nil
	}
	return in.hook(stage)
}

func saltRecord(eventID string) string { return "AuditEvent/" + eventID + "/ledger-salt" }

// leafAtRecord builds the leaf of an event the Recorder is about to store
// and the event's salt, sealed under the event's subject; canonical is the
// event's canonical encoding. It returns no leaf when the event's patient
// has no ledger secret yet: creating one is a write of its own, which the
// Recorder's callers should not wait for, so the event is stored without a
// leaf and a round builds it (creating the secrets of a round's new
// patients in one transaction).
func (in *Integrator) leafAtRecord(ctx context.Context, ev *Event, canonical []byte) (leaf, sealedSalt []byte, err error) {
	var patient [32]byte
	if ev.PatientID != "" {
		var ok bool
		if patient, ok, err = in.knownPatientPseudonym(ctx, ev.PatientID); err != nil || !ok {
			return nil, nil, err
		}
	}
	actor, err := in.actorPseudonym(ev.Actor.UserID)
	if err != nil {
		return nil, nil, err
	}
	var salt [leafSaltSize]byte
	rand.Read(salt[:])
	if sealedSalt, err = in.sealer.Seal(ctx, Subject(ev.PatientID), saltRecord(ev.ID), salt[:]); err != nil {
		return nil, nil, fmt.Errorf("seal the ledger salt: %w", err)
	}
	l := Leaf{Time: ev.Time, Actor: actor, Action: ev.Action, Outcome: ev.Outcome,
		Purpose: LeafPurpose(ev.Purpose), Commitment: LeafCommitment(salt[:], canonical)}
	if ev.PatientID != "" {
		l.HasPatient, l.Patient = true, patient
	}
	if leaf, err = l.Marshal(); err != nil {
		return nil, nil, err
	}
	return leaf, sealedSalt, nil
}

// unledgered is a sequenced event waiting for its leaf to be appended.
type unledgered struct {
	index      int64
	id         string
	occurredAt int64
	actorID    string
	patientID  string
	action     string
	outcome    string
	purpose    string
	leaf       []byte // stored leaf; nil when the event has none yet
	sealedSalt []byte
	body       []byte // read only for events without a stored leaf
}

// committed is a batch the Recorder committed with the indices first,
// first+1, ...
type committed struct {
	first int64
	rows  []row
}

// sequenced hands a batch the Recorder has just committed to the next
// rounds. The caller holds alloc, so batches arrive in index order.
func (in *Integrator) sequenced(first int64, rows []row) {
	in.queueMu.Lock()
	defer in.queueMu.Unlock()
	if in.queued+len(rows) > maxQueue {
		return // the rounds read them from the store
	}
	in.queue = append(in.queue, committed{first, rows})
	in.queued += len(rows)
}

// take returns the queued events from index next on, up to a round's
// worth, when the queue holds them all with their leaves; false sends the
// round to the store.
func (in *Integrator) take(next int64) ([]unledgered, bool) {
	in.queueMu.Lock()
	defer in.queueMu.Unlock()
	// Drop what the log already holds.
	for len(in.queue) > 0 {
		b := &in.queue[0]
		if end := b.first + int64(len(b.rows)); end <= next {
			in.queued -= len(b.rows)
			in.queue[0] = committed{}
			in.queue = in.queue[1:]
			continue
		}
		if skip := next - b.first; skip > 0 {
			b.rows, b.first = b.rows[skip:], next
			in.queued -= int(skip)
		}
		break
	}
	out := make([]unledgered, 0, min(in.queued, in.opts.BatchSize))
	i, at := 0, next
	for i < len(in.queue) && len(out) < in.opts.BatchSize {
		b := in.queue[i]
		if b.first != at {
			return nil, false // a gap: the store has the events
		}
		for j := range b.rows[:min(len(b.rows), in.opts.BatchSize-len(out))] {
			rw := &b.rows[j]
			if rw.leaf == nil {
				return nil, false // a leaf to build, from the store
			}
			e := &rw.ev
			out = append(out, unledgered{index: at, id: e.ID, occurredAt: e.Time.UnixMicro(),
				actorID: e.Actor.UserID, patientID: e.PatientID, action: e.Action, outcome: e.Outcome, purpose: e.Purpose,
				leaf: rw.leaf, sealedSalt: rw.salt})
			at++
		}
		i++
	}
	if len(out) == 0 {
		return nil, false
	}
	return out, true
}

func (in *Integrator) clearQueue() {
	in.queueMu.Lock()
	in.queue, in.queued = nil, 0
	in.queueMu.Unlock()
}

// selectSequenced reads the events from an index on, in index order; the
// body only of those without a stored leaf.
const selectSequenced = `SELECT ledger_index, id, occurred_at, actor_id, patient_id, action, outcome, purpose, ledger_leaf, ledger_salt,
CASE WHEN ledger_leaf IS NULL THEN body END
FROM audit_events WHERE ledger_index >= $1 ORDER BY ledger_index LIMIT $2`

func (in *Integrator) fetch(ctx context.Context, next int64) ([]unledgered, error) {
	rows, err := in.db.Query(ctx, selectSequenced, next, in.opts.BatchSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]unledgered, 0, in.opts.BatchSize)
	for rows.Next() {
		var u unledgered
		var patient sql.NullString
		if err := rows.Scan(&u.index, &u.id, &u.occurredAt, &u.actorID, &patient, &u.action, &u.outcome, &u.purpose, &u.leaf, &u.sealedSalt, &u.body); err != nil {
			return nil, db.Translate(err)
		}
		if u.index != next+int64(len(out)) {
			// Indices are dense: a hole is a store out of step with us.
			return nil, fault.New(fault.Internal, "no event has leaf index %d, the next has %d", next+int64(len(out)), u.index)
		}
		u.patientID = patient.String
		out = append(out, u)
	}
	return out, db.Translate(rows.Err())
}

// stored is a leaf a round stores with its event before appending it.
type stored struct {
	index int64
	leaf  []byte
	salt  []byte // sealed salt, when the event had none
}

// buildLeaf builds the leaf of an event stored without one, creating its
// salt on first sight; the patient's ledger secret exists (ensureSecrets).
func (in *Integrator) buildLeaf(ctx context.Context, u unledgered) (stored, error) {
	p := stored{index: u.index}
	subject := Subject(u.patientID)
	canonical, err := in.sealer.Open(ctx, subject, "AuditEvent/"+u.id, u.body)
	if errors.Is(err, seal.ErrShredded) {
		return in.erased(u)
	}
	if err != nil {
		return p, fmt.Errorf("open event %s: %w", u.id, err)
	}
	var salt []byte
	if u.sealedSalt != nil {
		if salt, err = in.sealer.Open(ctx, subject, saltRecord(u.id), u.sealedSalt); err != nil {
			return p, fmt.Errorf("open the ledger salt of event %s: %w", u.id, err)
		}
	} else {
		salt = make([]byte, leafSaltSize)
		rand.Read(salt)
		if p.salt, err = in.sealer.Seal(ctx, subject, saltRecord(u.id), salt); err != nil {
			return p, fmt.Errorf("seal the ledger salt of event %s: %w", u.id, err)
		}
	}
	actor, err := in.actorPseudonym(u.actorID)
	if err != nil {
		return p, err
	}
	var patient [32]byte
	if u.patientID != "" {
		if patient, err = in.patientPseudonym(ctx, u.patientID); err != nil {
			if errors.Is(err, seal.ErrShredded) {
				return in.erased(u) // shredded since the body was opened
			}
			return p, err
		}
	}
	// The leaf's clear fields come from the columns the Recorder wrote from
	// the same event in the same statement as the body, rather than from
	// parsing the body again; Opening recomputes leaves from the body with
	// NewLeaf, and the tests require both to agree.
	l := Leaf{Time: time.UnixMicro(u.occurredAt).UTC(), Actor: actor, Action: u.action, Outcome: u.outcome,
		Purpose: LeafPurpose(u.purpose), Commitment: LeafCommitment(salt, canonical)}
	if u.patientID != "" {
		l.HasPatient, l.Patient = true, patient
	}
	if p.leaf, err = l.Marshal(); err != nil {
		return p, fmt.Errorf("leaf of event %s: %w", u.id, err)
	}
	return p, nil
}

// erased is the leaf of an event whose patient's key was destroyed before
// the event was ledgered: no patient pseudonym, no commitment to the event.
func (in *Integrator) erased(u unledgered) (stored, error) {
	actor, err := in.actorPseudonym(u.actorID)
	if err != nil {
		return stored{}, err
	}
	leaf, err := erasedLeaf(u.id, time.UnixMicro(u.occurredAt), actor, u.action, u.outcome, u.purpose).Marshal()
	if err != nil {
		return stored{}, fmt.Errorf("leaf of event %s: %w", u.id, err)
	}
	return stored{index: u.index, leaf: leaf}, nil
}

// actorPseudonym is the actor's keyed pseudonym (HMAC-SHA256 under the
// directory key of ActorPseudonymPurpose).
func (in *Integrator) actorPseudonym(actorID string) ([32]byte, error) {
	in.mu.RLock()
	p, ok := in.actorCache[actorID]
	in.mu.RUnlock()
	if ok {
		return p, nil
	}
	t := in.actors.Token(actorID)
	if len(t) != 32 {
		return [32]byte{}, fault.New(fault.Internal, "actor pseudonyms must have 32 bytes, not %d", len(t))
	}
	p = [32]byte(t)
	in.mu.Lock()
	if len(in.actorCache) >= 100_000 {
		clear(in.actorCache)
	}
	in.actorCache[actorID] = p
	in.mu.Unlock()
	return p, nil
}

func patientSecretRecord(patientID string) string { return "LedgerPatient/" + patientID }

// knownPatientPseudonym returns the patient's pseudonym when the patient
// has a ledger secret; ok is false otherwise. Patients found without one
// are remembered until ensureSecrets makes theirs, so that the Recorder's
// callers do not ask the store again for every event.
func (in *Integrator) knownPatientPseudonym(ctx context.Context, patientID string) (p [32]byte, ok bool, err error) {
	in.mu.RLock()
	p, ok = in.patients[patientID]
	absent := in.noSecret[patientID]
	in.mu.RUnlock()
	if ok || absent {
		return p, ok, nil
	}
	p, err = in.loadPatientPseudonym(ctx, patientID)
	if fault.Is(err, fault.NotFound) {
		in.mu.Lock()
		if len(in.noSecret) >= 100_000 {
			clear(in.noSecret)
		}
		in.noSecret[patientID] = true
		in.mu.Unlock()
		return p, false, nil
	}
	return p, err == nil, err
}

// patientPseudonym returns the pseudonym of a patient who has a ledger
// secret.
func (in *Integrator) patientPseudonym(ctx context.Context, patientID string) ([32]byte, error) {
	in.mu.RLock()
	p, ok := in.patients[patientID]
	in.mu.RUnlock()
	if ok {
		return p, nil
	}
	return in.loadPatientPseudonym(ctx, patientID)
}

// loadPatientPseudonym reads and opens the patient's ledger secret (NotFound
// when there is none) and caches the pseudonym.
func (in *Integrator) loadPatientPseudonym(ctx context.Context, patientID string) ([32]byte, error) {
	var p [32]byte
	var sealed []byte
	err := db.ScanRow(in.db.QueryRow(ctx, `SELECT secret FROM ledger_patients WHERE patient_id = $1`, patientID), "ledger secret", &sealed)
	if err != nil {
		return p, err
	}
	secret, err := in.sealer.Open(ctx, Subject(patientID), patientSecretRecord(patientID), sealed)
	if err != nil {
		return p, fmt.Errorf("open a patient's ledger secret: %w", err)
	}
	p = PatientPseudonym(secret, patientID)
	in.mu.Lock()
	if len(in.patients) >= 100_000 {
		clear(in.patients)
	}
	in.patients[patientID] = p
	delete(in.noSecret, patientID)
	in.mu.Unlock()
	return p, nil
}

// ensureSecrets makes the ledger secrets (sealed under each patient's data
// key) of the patients who have none, in one transaction: committed before
// any leaf uses them; a concurrent creator's secret wins (ON CONFLICT) and
// is what loadPatientPseudonym reads back.
func (in *Integrator) ensureSecrets(ctx context.Context, patientIDs []string) error {
	type made struct {
		patient string
		sealed  []byte
	}
	var missing []made
	seen := map[string]bool{}
	for _, id := range patientIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if _, err := in.patientPseudonym(ctx, id); err == nil {
			continue
		} else if !fault.Is(err, fault.NotFound) {
			if errors.Is(err, seal.ErrShredded) {
				continue // the patient's events are erased
			}
			return err
		}
		secret := make([]byte, 32)
		rand.Read(secret)
		s, err := in.sealer.Seal(ctx, Subject(id), patientSecretRecord(id), secret)
		if errors.Is(err, seal.ErrShredded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("seal a patient's ledger secret: %w", err)
		}
		missing = append(missing, made{id, s})
	}
	if len(missing) == 0 {
		return nil
	}
	now := in.clock().UnixMicro()
	err := in.db.InTx(ctx, func(tx *db.Tx) error {
		for _, m := range missing {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_patients (patient_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (patient_id) DO NOTHING`,
				m.patient, m.sealed, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store patients' ledger secrets: %w", err)
	}
	for _, m := range missing {
		if _, err := in.loadPatientPseudonym(ctx, m.patient); err != nil {
			return err
		}
	}
	return nil
}

// round sequences events stored without an index, then appends the next
// batch of sequenced events, and returns how many it appended.
func (in *Integrator) round(ctx context.Context) (int, error) {
	if err := in.sequence(ctx); err != nil {
		return 0, err
	}
	size, err := in.log.Size(ctx)
	if err != nil {
		return 0, err
	}
	next := int64(size)
	batch, ok := in.take(next)
	if !ok {
		if batch, err = in.fetch(ctx, next); err != nil {
			return 0, err
		}
	}
	if len(batch) == 0 {
		return 0, nil
	}
	start := time.Now()
	leaves, settle, err := in.leaves(ctx, batch)
	if err != nil {
		return 0, err
	}
	// Every leaf is stored with its event before it is appended: a leaf
	// in the log is always its event's stored leaf.
	if len(settle) > 0 {
		if err := in.db.InTx(ctx, func(tx *db.Tx) error { return storeLeaves(ctx, tx, settle) }); err != nil {
			return 0, fmt.Errorf("store ledger leaves: %w", err)
		}
	}
	leavesDone := time.Now()
	if err := in.runHook("leaves"); err != nil {
		return 0, err
	}
	idx, err := in.log.AppendBatch(ctx, leaves)
	if err != nil {
		return 0, fmt.Errorf("append to the ledger: %w", err)
	}
	for i, x := range idx {
		if x != uint64(next)+uint64(i) {
			// Reconcile renumbers the events after what the log holds.
			return 0, fault.New(fault.Internal, "the ledger put the leaf of index %d at %d", next+int64(i), x)
		}
	}
	if err := in.runHook("append"); err != nil {
		return 0, err
	}
	in.logger.Debug("ledger round", "events", len(batch), "first", next, "built", len(settle), "fromMemory", ok,
		"leaves", leavesDone.Sub(start), "append", time.Since(leavesDone))
	return len(batch), nil
}

// leaves returns the leaves of a round's events, in order, and those that
// must be stored before they are appended: leaves built now for events
// stored without one, and erased leaves that replace the stored leaves of
// events whose patient was shredded since they were recorded.
func (in *Integrator) leaves(ctx context.Context, batch []unledgered) ([][]byte, []stored, error) {
	var build []string
	for _, u := range batch {
		if u.leaf == nil && u.patientID != "" {
			build = append(build, u.patientID)
		}
	}
	if err := in.ensureSecrets(ctx, build); err != nil {
		return nil, nil, err
	}
	leaves := make([][]byte, len(batch))
	var settle []stored
	// live caches, per patient of the round, whether the patient's data
	// key still exists: opening one of the patient's salts tells.
	live := map[string]bool{}
	for i, u := range batch {
		erasedAlready := len(u.leaf) > 1 && u.leaf[1]&leafFlagErased != 0
		if u.leaf == nil || (u.sealedSalt == nil && !erasedAlready) {
			if u.leaf != nil {
				// A stored leaf without its salt cannot be opened:
				// build it again, from the body.
				if err := in.readBody(ctx, &u); err != nil {
					return nil, nil, err
				}
			}
			s, err := in.buildLeaf(ctx, u)
			if err != nil {
				return nil, nil, err
			}
			leaves[i] = s.leaf
			settle = append(settle, s)
			continue
		}
		if u.patientID != "" && !erasedAlready {
			alive, checked := live[u.patientID]
			if !checked {
				_, err := in.sealer.Open(ctx, Subject(u.patientID), saltRecord(u.id), u.sealedSalt)
				if err != nil && !errors.Is(err, seal.ErrShredded) {
					return nil, nil, fmt.Errorf("open the ledger salt of event %s: %w", u.id, err)
				}
				alive = err == nil
				live[u.patientID] = alive
			}
			if !alive {
				s, err := in.erased(u)
				if err != nil {
					return nil, nil, err
				}
				leaves[i] = s.leaf
				settle = append(settle, s)
				continue
			}
		}
		leaves[i] = u.leaf
	}
	return leaves, settle, nil
}

func (in *Integrator) readBody(ctx context.Context, u *unledgered) error {
	return db.ScanRow(in.db.QueryRow(ctx, `SELECT body FROM audit_events WHERE ledger_index = $1`, u.index), "event", &u.body)
}

// storeLeaves stores leaves built by a round (and the new sealed salts)
// with their events.
func storeLeaves(ctx context.Context, tx *db.Tx, settle []stored) error {
	st, err := tx.Prepare(ctx, `UPDATE audit_events SET ledger_leaf = $1, ledger_salt = COALESCE(ledger_salt, $2) WHERE ledger_index = $3`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, s := range settle {
		res, err := st.ExecContext(ctx, s.leaf, s.salt, s.index)
		if err := oneRow(res, err, "ledger leaf of index %d", s.index); err != nil {
			return err
		}
	}
	return nil
}

// nextIndex is the next free leaf index; the caller holds alloc.
func nextIndex(ctx context.Context, tx *db.Tx) (int64, error) {
	var top sql.NullInt64
	if err := tx.QueryRow(ctx, `SELECT MAX(ledger_index) FROM audit_events WHERE ledger_index IS NOT NULL`).Scan(&top); err != nil {
		return 0, db.Translate(err)
	}
	if !top.Valid {
		return 0, nil
	}
	return top.Int64 + 1, nil
}

// sequence gives leaf indices, in seq order, to events stored without one
// (bulk ingestion, events recorded while no integrator was ready, earlier
// versions): a round's worth per call.
func (in *Integrator) sequence(ctx context.Context) error {
	var probe int64
	err := in.db.QueryRow(ctx, `SELECT seq FROM audit_events WHERE ledger_index IS NULL ORDER BY seq LIMIT 1`).Scan(&probe)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return db.Translate(err)
	}
	in.alloc.Lock()
	defer in.alloc.Unlock()
	return in.db.InTx(ctx, func(tx *db.Tx) error {
		rows, err := tx.Query(ctx, `SELECT seq FROM audit_events WHERE ledger_index IS NULL ORDER BY seq LIMIT $1`, in.opts.BatchSize)
		if err != nil {
			return err
		}
		var seqs []int64
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return db.Translate(err)
			}
			seqs = append(seqs, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return db.Translate(err)
		}
		next, err := nextIndex(ctx, tx)
		if err != nil {
			return err
		}
		done := make([]assignment, len(seqs))
		for i, s := range seqs {
			done[i] = assignment{seq: s, index: next + int64(i)}
		}
		return assign(ctx, tx, done)
	})
}

// assignment gives an event its leaf index.
type assignment struct{ seq, index int64 }

// rangeMin is the shortest run of consecutive events written with one
// range statement in PostgreSQL; shorter runs go in multi-row statements.
const rangeMin = 32

// chunk bounds multi-row statements in PostgreSQL.
const chunk = 256

// assign writes the leaf indices of events that have none. Events stored
// together have consecutive seqs and get consecutive indices, so each run
// of them is one range statement (ledger_index = seq + the run's offset)
// whose row count is checked: an event that already has an index fails
// the transaction, loudly. SQLite rolls the transaction back itself on a
// constraint failure, which spares it a statement journal.
func assign(ctx context.Context, tx *db.Tx, done []assignment) error {
	var rest []assignment
	var byRange *sql.Stmt
	for i := 0; i < len(done); {
		j := i + 1
		for j < len(done) && done[j].seq == done[j-1].seq+1 && done[j].index == done[j-1].index+1 {
			j++
		}
		run := done[i:j]
		i = j
		if tx.Dialect() == db.Postgres && len(run) < rangeMin {
			rest = append(rest, run...)
			continue
		}
		if byRange == nil {
			q := `UPDATE audit_events SET ledger_index = seq + $1 WHERE seq >= $2 AND seq <= $3 AND ledger_index IS NULL`
			if tx.Dialect() == db.SQLite {
				q = strings.Replace(q, "UPDATE", "UPDATE OR ROLLBACK", 1)
			}
			st, err := tx.Prepare(ctx, q)
			if err != nil {
				return err
			}
			defer st.Close()
			byRange = st
		}
		first, last := run[0], run[len(run)-1]
		res, err := byRange.ExecContext(ctx, first.index-first.seq, first.seq, last.seq)
		if err := rowsAffected(res, err, len(run), fmt.Sprintf("ledger indices of events seq %d to %d", first.seq, last.seq)); err != nil {
			return err
		}
	}
	for start := 0; start < len(rest); start += chunk {
		part := rest[start:min(start+chunk, len(rest))]
		vals := make([]string, len(part))
		args := make([]any, 0, 2*len(part))
		for i, a := range part {
			vals[i] = fmt.Sprintf("($%d::bigint, $%d::bigint)", 2*i+1, 2*i+2)
			args = append(args, a.seq, a.index)
		}
		res, err := tx.Exec(ctx, `UPDATE audit_events SET ledger_index = v.idx
FROM (VALUES `+strings.Join(vals, ",")+`) AS v(seq, idx)
WHERE audit_events.seq = v.seq AND audit_events.ledger_index IS NULL`, args...)
		if err := rowsAffected(res, err, len(part), "ledger indices"); err != nil {
			return err
		}
	}
	return nil
}

func oneRow(res sql.Result, err error, format string, args ...any) error {
	return rowsAffected(res, err, 1, fmt.Sprintf(format, args...))
}

func rowsAffected(res sql.Result, err error, want int, what string) error {
	if err != nil {
		return db.Translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return db.Translate(err)
	}
	if n != int64(want) {
		return fault.New(fault.Conflict, "%s: %d rows changed, want %d: already set (a second leaf?)", what, n, want)
	}
	return nil
}

// reconcile makes the store agree with the log before anything more is
// appended, and lets the attached Recorder sequence from then on. It must
// run when no append of ours is in flight (at start, or after a failed
// round: AppendBatch returns only once every leaf's fate is settled).
//
// Normally the log holds exactly the stored leaves of the events with
// indices below its size, and there is nothing to do. Two things can break
// that, both settled by renumbering the events from the first index where
// log and store disagree, by the leaf bytes (leaves are unique: random
// salts, erased leaves commit to the event id):
//
//   - an append that failed half-way and let later leaves of its round in
//     at lower indices than their events were given (Tessera sequences what
//     it is handed, a failed flush leaves no hole): the last 2·maxBatch
//     leaves of the log are compared with the store;
//   - a version before migration 0009 appended leaves before it wrote their
//     indices: leaves past the highest index in the store are given to
//     the events (without an index) that store them.
func (in *Integrator) reconcile(ctx context.Context) error {
	if err := in.foldIntents(ctx); err != nil {
		return err
	}
	in.alloc.Lock()
	defer in.alloc.Unlock()
	size, err := in.log.Size(ctx)
	if err != nil {
		return err
	}
	from, err := in.firstDisagreement(ctx, size)
	if err != nil {
		return err
	}
	if from < size {
		if err := in.renumber(ctx, from, size); err != nil {
			return err
		}
		// New indices must start past the log's end, or new events
		// would be given places that leaves of no event hold.
		var top sql.NullInt64
		if err := in.db.QueryRow(ctx, `SELECT MAX(ledger_index) FROM audit_events WHERE ledger_index IS NOT NULL`).Scan(&top); err != nil {
			return db.Translate(err)
		}
		if !top.Valid || uint64(top.Int64)+1 < size {
			return fault.New(fault.Internal, "the log's last leaves (up to %d) belong to no event of the store: is this log ours?", size)
		}
	}
	in.ready.Store(true)
	return nil
}

// firstDisagreement returns the lowest index in the last 2·maxBatch of the
// log whose leaf is not the stored leaf of the event with that index, or
// size when they all agree and no leaf lies past the store's highest index.
func (in *Integrator) firstDisagreement(ctx context.Context, size uint64) (uint64, error) {
	var top sql.NullInt64
	if err := in.db.QueryRow(ctx, `SELECT MAX(ledger_index) FROM audit_events WHERE ledger_index IS NOT NULL`).Scan(&top); err != nil {
		return 0, db.Translate(err)
	}
	end := size
	if !top.Valid {
		end = 0
	} else if uint64(top.Int64)+1 < size {
		end = uint64(top.Int64) + 1
	}
	from := end - min(end, 2*maxBatch)
	if from == end {
		return end, nil
	}
	logged, err := in.log.Leaves(ctx, from, end)
	if err != nil {
		return 0, err
	}
	rows, err := in.db.Query(ctx, `SELECT ledger_index, ledger_leaf FROM audit_events WHERE ledger_index >= $1 AND ledger_index < $2 ORDER BY ledger_index`, int64(from), int64(end))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	storedAt := map[int64][]byte{}
	for rows.Next() {
		var i int64
		var leaf []byte
		if err := rows.Scan(&i, &leaf); err != nil {
			return 0, db.Translate(err)
		}
		storedAt[i] = leaf
	}
	if err := rows.Err(); err != nil {
		return 0, db.Translate(err)
	}
	for i, leaf := range logged {
		s, ok := storedAt[int64(from)+int64(i)]
		// Events ledgered before migration 0009 store no leaf.
		if ok && s != nil && !bytes.Equal(s, leaf) {
			return from + uint64(i), nil
		}
	}
	return end, nil
}

// renumber gives each leaf of the log in [from, size) to the event that
// stores it (an event with an index from from on, or without an index),
// and the events from from on whose leaves are not in the log the indices
// from size on, in their order. The caller holds alloc.
func (in *Integrator) renumber(ctx context.Context, from, size uint64) error {
	if size-from > maxReconcileScan {
		return fault.New(fault.Internal, "the log has %d leaves past the store's (from %d): is this log ours?", size-from, from)
	}
	logged, err := in.log.Leaves(ctx, from, size)
	if err != nil {
		return err
	}
	type event struct {
		seq   int64
		index int64 // -1: none
		leaf  []byte
	}
	var after []event // events with an index from from on, in index order
	rows, err := in.db.Query(ctx, `SELECT seq, ledger_index, ledger_leaf FROM audit_events WHERE ledger_index >= $1 ORDER BY ledger_index`, int64(from))
	if err != nil {
		return err
	}
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.seq, &e.index, &e.leaf); err != nil {
			rows.Close()
			return db.Translate(err)
		}
		after = append(after, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return db.Translate(err)
	}
	byLeaf := make(map[string]int, len(after))
	for i, e := range after {
		if e.leaf != nil {
			byLeaf[string(e.leaf)] = i
		}
	}
	newIndex := map[int64]int64{} // seq -> index
	placed := make([]bool, len(after))
	unknown := 0
	for i, leaf := range logged {
		at := int64(from) + int64(i)
		if j, ok := byLeaf[string(leaf)]; ok {
			if placed[j] {
				return fault.New(fault.Internal, "the leaf of event seq %d is in the log twice", after[j].seq)
			}
			placed[j] = true
			newIndex[after[j].seq] = at
			continue
		}
		seq, ok, err := in.unsequencedWithLeaf(ctx, leaf)
		if err != nil {
			return err
		}
		if !ok {
			unknown++
			continue
		}
		if _, dup := newIndex[seq]; dup {
			return fault.New(fault.Internal, "the leaf of event seq %d is in the log twice", seq)
		}
		newIndex[seq] = at
	}
	next := int64(size)
	for j, e := range after {
		if !placed[j] {
			newIndex[e.seq] = next
			next++
		}
	}
	moved := 0
	for _, e := range after {
		if newIndex[e.seq] != e.index {
			moved++
		}
	}
	err = in.db.InTx(ctx, func(tx *db.Tx) error {
		// Out of the way first, so that no two events share an index
		// half-way (the unique index is checked row by row).
		if _, err := tx.Exec(ctx, `UPDATE audit_events SET ledger_index = -1 - ledger_index WHERE ledger_index >= $1`, int64(from)); err != nil {
			return err
		}
		st, err := tx.Prepare(ctx, `UPDATE audit_events SET ledger_index = $1 WHERE seq = $2`)
		if err != nil {
			return err
		}
		defer st.Close()
		for seq, idx := range newIndex {
			res, err := st.ExecContext(ctx, idx, seq)
			if err := oneRow(res, err, "ledger index of event seq %d", seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("renumber ledger indices: %w", err)
	}
	in.clearQueue()
	if unknown > 0 {
		in.logger.Error("ALERT: ledger leaves that match no event of the store", "from", from, "count", unknown)
	}
	in.logger.Info("ledger intents reconciled", "found", len(newIndex)-(int(next)-int(size)), "renumbered", moved, "unknown", unknown)
	return nil
}

// unsequencedWithLeaf finds the event without an index that stores leaf,
// by the leaf's time (the event's occurred_at, indexed).
func (in *Integrator) unsequencedWithLeaf(ctx context.Context, leaf []byte) (int64, bool, error) {
	l, err := ParseLeaf(leaf)
	if err != nil {
		return 0, false, nil
	}
	rows, err := in.db.Query(ctx, `SELECT seq, ledger_leaf FROM audit_events WHERE occurred_at = $1 AND ledger_index IS NULL AND ledger_leaf IS NOT NULL`, l.Time.UnixMicro())
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var stored []byte
		if err := rows.Scan(&seq, &stored); err != nil {
			return 0, false, db.Translate(err)
		}
		if bytes.Equal(stored, leaf) {
			return seq, true, nil
		}
	}
	return 0, false, db.Translate(rows.Err())
}

// maxReconcileScan bounds how much of the log reconcile reads.
const maxReconcileScan = 1 << 20

// foldIntents turns the intents left in ledger_pending by a version that
// wrote them (before migration 0009) into stored leaves of events without
// an index: reconcile then finds those in the log like any other stored
// leaf, and a round appends the others.
func (in *Integrator) foldIntents(ctx context.Context) error {
	var n int
	if err := in.db.QueryRow(ctx, `SELECT COUNT(*) FROM ledger_pending`).Scan(&n); err != nil {
		return db.Translate(err)
	}
	if n == 0 {
		return nil
	}
	rows, err := in.db.Query(ctx, `SELECT seq, leaf, salt FROM ledger_pending ORDER BY leaf_index`)
	if err != nil {
		return err
	}
	type intent struct {
		seq        int64
		leaf, salt []byte
	}
	var intents []intent
	for rows.Next() {
		var it intent
		if err := rows.Scan(&it.seq, &it.leaf, &it.salt); err != nil {
			rows.Close()
			return db.Translate(err)
		}
		intents = append(intents, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return db.Translate(err)
	}
	err = in.db.InTx(ctx, func(tx *db.Tx) error {
		for _, it := range intents {
			// An event already ledgered keeps its leaf; the intent is void.
			if _, err := tx.Exec(ctx, `UPDATE audit_events SET ledger_leaf = $1, ledger_salt = COALESCE(ledger_salt, $2) WHERE seq = $3 AND ledger_index IS NULL`, it.leaf, it.salt, it.seq); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM ledger_pending`)
		return err
	})
	if err != nil {
		return fmt.Errorf("fold ledger intents: %w", err)
	}
	in.logger.Info("ledger intents of an earlier version folded into stored leaves", "intents", len(intents))
	return nil
}

// Lag is how far the ledger is behind the event store.
type Lag struct {
	// Events is the number of committed events whose leaf is not in the
	// log yet.
	Events int64
	// Oldest is the age of the oldest of them (zero when there is none).
	Oldest time.Duration
}

// Lag reports the events not yet ledgered: those without an index and
// those whose index is past the log's size. Every query reads an index
// and a row or two, so that watching the lag costs little however large
// the backlog.
func (in *Integrator) Lag(ctx context.Context) (Lag, error) {
	var l Lag
	// Events move from unsequenced to sequenced to in the log: counting
	// them in that order (one statement for the store's two counts, then
	// the log) may count an event twice but never misses one.
	var unsequenced int64
	var top sql.NullInt64
	err := in.db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM audit_events WHERE ledger_index IS NULL),
(SELECT MAX(ledger_index) FROM audit_events WHERE ledger_index IS NOT NULL)`).Scan(&unsequenced, &top)
	if err != nil {
		return l, db.Translate(err)
	}
	size, err := in.log.Size(ctx)
	if err != nil {
		return l, err
	}
	l.Events = unsequenced
	if top.Valid && top.Int64+1 > int64(size) {
		l.Events += top.Int64 + 1 - int64(size)
	}
	if l.Events == 0 {
		return l, nil
	}
	// The oldest is the first unsequenced event (lowest seq) or the first
	// sequenced one not in the log.
	var oldest sql.NullInt64
	err = in.db.QueryRow(ctx, `SELECT MIN(t) FROM (
SELECT (SELECT recorded_at FROM audit_events WHERE ledger_index IS NULL ORDER BY seq LIMIT 1) AS t
UNION ALL SELECT recorded_at FROM audit_events WHERE ledger_index = $1) AS o`, int64(size)).Scan(&oldest)
	if err != nil {
		return l, db.Translate(err)
	}
	if oldest.Valid {
		l.Oldest = max(in.clock().Sub(time.UnixMicro(oldest.Int64)), 0)
	}
	return l, nil
}

// LeafOpening is what opens an event's leaf: with it (and a proof of the
// leaf's inclusion) a patient checks that their event is in the log.
type LeafOpening struct {
	Seq int64
	// LedgerIndex is the leaf's index.
	LedgerIndex int64
	// Canonical is the event's canonical encoding.
	Canonical []byte
	// Salt is the 32 bytes prefixed to Canonical in the commitment.
	Salt    []byte
	Patient [32]byte
	Actor   [32]byte
	// Leaf is the leaf as appended.
	Leaf []byte
	// PatientID is the event's patient ("" for none); not part of the
	// opening, for the caller's access check.
	PatientID string
}

// Opening returns the opening of an event's leaf. It fails with
// Unavailable before the event's leaf is in the log and once its patient
// is erased; PatientID is set whenever the event exists.
func (in *Integrator) Opening(ctx context.Context, eventID string) (LeafOpening, error) {
	var o LeafOpening
	var patient sql.NullString
	var actorID string
	var body, sealedSalt []byte
	var li sql.NullInt64
	err := db.ScanRow(in.db.QueryRow(ctx, `SELECT seq, actor_id, patient_id, body, ledger_salt, ledger_index FROM audit_events WHERE id = $1`, eventID),
		"event", &o.Seq, &actorID, &patient, &body, &sealedSalt, &li)
	if err != nil {
		return o, err
	}
	o.PatientID = patient.String
	notYet := fault.New(fault.Unavailable, "the event is not in the log yet; try again in a moment")
	if !li.Valid || sealedSalt == nil {
		return o, notYet
	}
	// An index is given before the leaf is appended.
	if size, err := in.log.Size(ctx); err != nil {
		return o, err
	} else if uint64(li.Int64) >= size {
		return o, notYet
	}
	subject := Subject(patient.String)
	if o.Canonical, err = in.sealer.Open(ctx, subject, "AuditEvent/"+eventID, body); err != nil {
		return o, err
	}
	if o.Salt, err = in.sealer.Open(ctx, subject, saltRecord(eventID), sealedSalt); err != nil {
		return o, err
	}
	if patient.Valid {
		if o.Patient, err = in.patientPseudonym(ctx, patient.String); err != nil {
			return o, err
		}
	}
	if o.Actor, err = in.actorPseudonym(actorID); err != nil {
		return o, err
	}
	l, err := NewLeaf(o.Canonical, o.Salt, o.Patient, o.Actor)
	if err != nil {
		return o, err
	}
	if o.Leaf, err = l.Marshal(); err != nil {
		return o, err
	}
	o.LedgerIndex = li.Int64
	return o, nil
}

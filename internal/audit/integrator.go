package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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
	// BatchSize is the most events ledgered per round (default 1,024).
	BatchSize int
	// PollInterval is how often the store is checked for new events when
	// the integrator has caught up (default 100 ms).
	PollInterval time.Duration
	// RetryDelay is the pause after a failed round (default 1 s).
	RetryDelay time.Duration
}

// Integrator puts a commitment leaf of every committed event into the
// transparency log and writes the leaf's index back to the event. It runs
// in the background, after the event's commit: the fail-closed path of
// Record never waits for it.
//
// Every event gets exactly one leaf, across crashes: before appending, a
// round writes its intent (the leaf bytes, the index each should get and
// the new sealed salts) to ledger_pending; after appending, it writes the
// indices and salts to the events and clears the intent. On start and
// after any failure, reconcile reads the log itself and settles each
// intent: a leaf found in the log gives its index and salt to the event, a
// leaf not found is dropped and its event appended again later with a new
// salt. See docs/ledger.md.
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
	// ("intent", "append"); an error ends the round there, as a crash
	// would.
	hook func(stage string) error

	mu       sync.Mutex
	patients map[string][32]byte

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

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
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	return &Integrator{db: d, log: log, sealer: sealer, actors: actors, clock: clock, logger: logger, opts: opts,
		patients: map[string][32]byte{},
		wake:     make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
}

// Notify asks for a round now rather than at the next poll.
func (in *Integrator) Notify() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// Close stops the integrator after the round in progress.
func (in *Integrator) Close() {
	in.once.Do(func() {
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

// unledgered is an event waiting for its leaf.
type unledgered struct {
	seq        int64
	id         string
	occurredAt int64
	actorID    string
	patientID  string
	action     string
	outcome    string
	purpose    string
	body       []byte
	sealedSalt []byte
}

const selectUnledgered = `SELECT seq, id, occurred_at, actor_id, patient_id, action, outcome, purpose, body, ledger_salt
FROM audit_events WHERE ledger_index IS NULL ORDER BY seq LIMIT $1`

func (in *Integrator) fetch(ctx context.Context) ([]unledgered, error) {
	rows, err := in.db.Query(ctx, selectUnledgered, in.opts.BatchSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []unledgered
	for rows.Next() {
		var u unledgered
		var patient sql.NullString
		if err := rows.Scan(&u.seq, &u.id, &u.occurredAt, &u.actorID, &patient, &u.action, &u.outcome, &u.purpose, &u.body, &u.sealedSalt); err != nil {
			return nil, db.Translate(err)
		}
		u.patientID = patient.String
		out = append(out, u)
	}
	return out, db.Translate(rows.Err())
}

func saltRecord(eventID string) string { return "AuditEvent/" + eventID + "/ledger-salt" }

// prepared is an event's leaf, ready to append.
type prepared struct {
	seq     int64
	leaf    []byte
	newSalt []byte // sealed salt to store, when the event had none
}

// prepare builds the leaf of an event, creating its salt on first sight.
func (in *Integrator) prepare(ctx context.Context, u unledgered) (prepared, error) {
	p := prepared{seq: u.seq}
	subject := Subject(u.patientID)
	actor, err := in.actorPseudonym(u.actorID)
	if err != nil {
		return p, err
	}
	erased := func() (prepared, error) {
		l := erasedLeaf(u.id, time.UnixMicro(u.occurredAt), actor, u.action, u.outcome, u.purpose)
		leaf, err := l.Marshal()
		return prepared{seq: u.seq, leaf: leaf}, err
	}
	canonical, err := in.sealer.Open(ctx, subject, "AuditEvent/"+u.id, u.body)
	if errors.Is(err, seal.ErrShredded) {
		return erased()
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
		if p.newSalt, err = in.sealer.Seal(ctx, subject, saltRecord(u.id), salt); err != nil {
			return p, fmt.Errorf("seal the ledger salt of event %s: %w", u.id, err)
		}
	}
	var patient [32]byte
	if u.patientID != "" {
		if patient, err = in.patientPseudonym(ctx, u.patientID); err != nil {
			if errors.Is(err, seal.ErrShredded) {
				return erased() // shredded since the body was opened
			}
			return p, err
		}
	}
	// The leaf's clear fields come from the columns the Recorder wrote from
	// the same event in the same statement as the body, rather than from
	// parsing the body again (a strict parse was half of a round's CPU);
	// Opening recomputes leaves from the body with NewLeaf, and the tests
	// require both to agree.
	l := Leaf{Time: time.UnixMicro(u.occurredAt).UTC(), Actor: actor, Action: u.action, Outcome: u.outcome,
		Purpose: LeafPurpose(u.purpose), Commitment: LeafCommitment(salt, canonical)}
	if u.patientID != "" {
		l.HasPatient, l.Patient = true, patient
	}
	p.leaf, err = l.Marshal()
	if err != nil {
		return p, fmt.Errorf("leaf of event %s: %w", u.id, err)
	}
	return p, nil
}

// actorPseudonym is the actor's keyed pseudonym (HMAC-SHA256 under the
// directory key of ActorPseudonymPurpose).
func (in *Integrator) actorPseudonym(actorID string) ([32]byte, error) {
	t := in.actors.Token(actorID)
	if len(t) != 32 {
		return [32]byte{}, fault.New(fault.Internal, "actor pseudonyms must have 32 bytes, not %d", len(t))
	}
	return [32]byte(t), nil
}

func patientSecretRecord(patientID string) string { return "LedgerPatient/" + patientID }

// patientPseudonym returns the patient's pseudonym, creating the patient's
// ledger secret (sealed under the patient's data key) on first use.
func (in *Integrator) patientPseudonym(ctx context.Context, patientID string) ([32]byte, error) {
	in.mu.Lock()
	p, ok := in.patients[patientID]
	in.mu.Unlock()
	if ok {
		return p, nil
	}
	subject := Subject(patientID)
	record := patientSecretRecord(patientID)
	var sealed []byte
	err := db.ScanRow(in.db.QueryRow(ctx, `SELECT secret FROM ledger_patients WHERE patient_id = $1`, patientID), "ledger secret", &sealed)
	if fault.Is(err, fault.NotFound) {
		secret := make([]byte, 32)
		rand.Read(secret)
		s, serr := in.sealer.Seal(ctx, subject, record, secret)
		if serr != nil {
			return p, fmt.Errorf("seal a patient's ledger secret: %w", serr)
		}
		// Committed on its own, before any leaf uses it; a concurrent
		// creator's secret wins and is read back.
		if _, err := in.db.Exec(ctx, `INSERT INTO ledger_patients (patient_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (patient_id) DO NOTHING`,
			patientID, s, in.clock().UnixMicro()); err != nil {
			return p, fmt.Errorf("store a patient's ledger secret: %w", err)
		}
		err = db.ScanRow(in.db.QueryRow(ctx, `SELECT secret FROM ledger_patients WHERE patient_id = $1`, patientID), "ledger secret", &sealed)
	}
	if err != nil {
		return p, err
	}
	secret, err := in.sealer.Open(ctx, subject, record, sealed)
	if err != nil {
		return p, fmt.Errorf("open a patient's ledger secret: %w", err)
	}
	p = PatientPseudonym(secret, patientID)
	in.mu.Lock()
	if len(in.patients) >= 100_000 {
		clear(in.patients)
	}
	in.patients[patientID] = p
	in.mu.Unlock()
	return p, nil
}

// round ledgers one batch of events and returns how many.
func (in *Integrator) round(ctx context.Context) (int, error) {
	batch, err := in.fetch(ctx)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	leaves := make([]prepared, len(batch))
	for i, u := range batch {
		if leaves[i], err = in.prepare(ctx, u); err != nil {
			return 0, err
		}
	}
	next, err := in.log.Size(ctx)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	// Intent first: salts and the leaves with the indices they should get.
	now := in.clock().UnixMicro()
	err = in.db.InTx(ctx, func(tx *db.Tx) error { return writeIntent(ctx, tx, leaves, next, now) })
	if err != nil {
		return 0, fmt.Errorf("record the ledger intent: %w", err)
	}
	intentDone := time.Now()
	if err := in.runHook("intent"); err != nil {
		return 0, err
	}
	raw := make([][]byte, len(leaves))
	for i, p := range leaves {
		raw[i] = p.leaf
	}
	idx, err := in.log.AppendBatch(ctx, raw)
	if err != nil {
		return 0, fmt.Errorf("append to the ledger: %w", err)
	}
	appendDone := time.Now()
	if err := in.runHook("append"); err != nil {
		return 0, err
	}
	done := make([]assignment, len(leaves))
	for i, p := range leaves {
		done[i] = assignment{seq: p.seq, index: int64(idx[i]), salt: p.newSalt}
	}
	err = in.db.InTx(ctx, func(tx *db.Tx) error {
		if err := assign(ctx, tx, done); err != nil {
			return err
		}
		// A round's intents have the contiguous indices next, next+1, ...
		_, err := tx.Exec(ctx, `DELETE FROM ledger_pending WHERE leaf_index >= $1 AND leaf_index < $2`, int64(next), int64(next)+int64(len(leaves)))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("write ledger indices: %w", err)
	}
	in.logger.Debug("ledger round", "events", len(batch), "first", idx[0],
		"intent", intentDone.Sub(start), "append", appendDone.Sub(intentDone), "assign", time.Since(appendDone))
	return len(batch), nil
}

// assignment gives an event its leaf index and, when the event had none,
// its sealed salt.
type assignment struct {
	seq, index int64
	salt       []byte
}

// chunk bounds multi-row statements in PostgreSQL.
const chunk = 256

// writeIntent records a round's intent: each leaf with the index it should
// get and, for an event seen for the first time, its new sealed salt. The
// salt reaches audit_events with the index (assign), so a round writes two
// rows per event in all.
func writeIntent(ctx context.Context, tx *db.Tx, leaves []prepared, next uint64, now int64) error {
	if tx.Dialect() == db.SQLite {
		pend, err := tx.Prepare(ctx, `INSERT INTO ledger_pending (leaf_index, seq, leaf, salt, created_at) VALUES ($1, $2, $3, $4, $5)`)
		if err != nil {
			return err
		}
		defer pend.Close()
		for i, p := range leaves {
			if _, err := pend.ExecContext(ctx, int64(next)+int64(i), p.seq, p.leaf, p.newSalt, now); err != nil {
				return db.Translate(err)
			}
		}
		return nil
	}
	for start := 0; start < len(leaves); start += chunk {
		part := leaves[start:min(start+chunk, len(leaves))]
		vals := make([]string, 0, len(part))
		args := make([]any, 0, 5*len(part))
		for i, p := range part {
			n := len(args)
			vals = append(vals, fmt.Sprintf("($%d, $%d, $%d, $%d::bytea, $%d)", n+1, n+2, n+3, n+4, n+5))
			args = append(args, int64(next)+int64(start+i), p.seq, p.leaf, p.newSalt, now)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_pending (leaf_index, seq, leaf, salt, created_at) VALUES `+strings.Join(vals, ","), args...); err != nil {
			return err
		}
	}
	return nil
}

// assign writes ledger indices, and the salts of events that had none;
// the caller clears the intents in the same transaction. An event that
// already has an index would be getting a second leaf: that fails the
// transaction, loudly.
func assign(ctx context.Context, tx *db.Tx, done []assignment) error {
	if tx.Dialect() == db.SQLite {
		set, err := tx.Prepare(ctx, `UPDATE audit_events SET ledger_index = $1, ledger_salt = COALESCE(ledger_salt, $2) WHERE seq = $3 AND ledger_index IS NULL`)
		if err != nil {
			return err
		}
		defer set.Close()
		for _, a := range done {
			res, err := set.ExecContext(ctx, a.index, a.salt, a.seq)
			if err := oneRow(res, err, "ledger index of event seq %d", a.seq); err != nil {
				return err
			}
		}
		return nil
	}
	for start := 0; start < len(done); start += chunk {
		part := done[start:min(start+chunk, len(done))]
		vals := make([]string, len(part))
		args := make([]any, 0, 3*len(part))
		for i, a := range part {
			vals[i] = fmt.Sprintf("($%d::bigint, $%d::bigint, $%d::bytea)", 3*i+1, 3*i+2, 3*i+3)
			args = append(args, a.seq, a.index, a.salt)
		}
		res, err := tx.Exec(ctx, `UPDATE audit_events SET ledger_index = v.idx, ledger_salt = COALESCE(audit_events.ledger_salt, v.salt)
FROM (VALUES `+strings.Join(vals, ",")+`) AS v(seq, idx, salt)
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

// maxReconcileScan bounds how much of the log reconcile reads: intents
// cover one round, so anything far larger means a log that is not ours.
const maxReconcileScan = 1 << 20

// reconcile settles the intents left by a round that did not finish: it
// reads the log from the lowest intended index to its end and gives each
// event whose leaf it finds that leaf's index; intents whose leaf is not in
// the log are dropped, so their events are appended again. It must run
// when no append of ours is in flight (at start, or after a failed round:
// AppendBatch returns only once every leaf's fate is settled).
func (in *Integrator) reconcile(ctx context.Context) error {
	type intent struct {
		index int64
		seq   int64
		leaf  []byte
		salt  []byte
	}
	rows, err := in.db.Query(ctx, `SELECT leaf_index, seq, leaf, salt FROM ledger_pending ORDER BY leaf_index`)
	if err != nil {
		return err
	}
	var intents []intent
	for rows.Next() {
		var it intent
		if err := rows.Scan(&it.index, &it.seq, &it.leaf, &it.salt); err != nil {
			rows.Close()
			return db.Translate(err)
		}
		intents = append(intents, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return db.Translate(err)
	}
	if len(intents) == 0 {
		return nil
	}
	size, err := in.log.Size(ctx)
	if err != nil {
		return err
	}
	bySeq := make(map[string]int64, len(intents)) // leaf -> seq
	for _, it := range intents {
		if _, dup := bySeq[string(it.leaf)]; dup {
			return fault.New(fault.Internal, "two ledger intents hold the same leaf")
		}
		bySeq[string(it.leaf)] = it.seq
	}
	found := map[int64]int64{} // seq -> index
	if from := uint64(max(intents[0].index, 0)); from < size {
		if size-from > maxReconcileScan {
			return fault.New(fault.Internal, "ledger intents start at %d but the log has %d leaves: is this log ours?", from, size)
		}
		leaves, err := in.log.Leaves(ctx, from, size)
		if err != nil {
			return err
		}
		for i, leaf := range leaves {
			seq, ok := bySeq[string(leaf)]
			if !ok {
				continue
			}
			if prev, dup := found[seq]; dup {
				return fault.New(fault.Internal, "the leaf of event seq %d is in the log twice (%d and %d)", seq, prev, int64(from)+int64(i))
			}
			found[seq] = int64(from) + int64(i)
		}
	}
	var done []assignment
	var dropped []int64
	for _, it := range intents {
		if idx, ok := found[it.seq]; ok {
			done = append(done, assignment{seq: it.seq, index: idx, salt: it.salt})
		} else {
			dropped = append(dropped, it.seq)
		}
	}
	err = in.db.InTx(ctx, func(tx *db.Tx) error {
		if len(done) > 0 {
			if err := assign(ctx, tx, done); err != nil {
				return err
			}
		}
		// Every intent was read above and no round is in flight: all are
		// settled now. A dropped intent's salt was never stored, so its
		// event gets a new salt, and a new leaf, next round; the old leaf
		// is in the log nowhere.
		_, err := tx.Exec(ctx, `DELETE FROM ledger_pending WHERE leaf_index <= $1`, intents[len(intents)-1].index)
		return err
	})
	if err != nil {
		return fmt.Errorf("reconcile ledger intents: %w", err)
	}
	in.logger.Info("ledger intents reconciled", "found", len(done), "dropped", len(dropped))
	return nil
}

// Lag is how far the ledger is behind the event store.
type Lag struct {
	// Events is the number of committed events without a leaf.
	Events int64
	// Oldest is the age of the oldest of them (zero when there is none).
	Oldest time.Duration
}

// Lag reports the events not yet ledgered.
func (in *Integrator) Lag(ctx context.Context) (Lag, error) {
	var l Lag
	var oldest sql.NullInt64
	err := in.db.QueryRow(ctx, `SELECT COUNT(*), MIN(recorded_at) FROM audit_events WHERE ledger_index IS NULL`).Scan(&l.Events, &oldest)
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
	// LedgerIndex is the leaf's index, or -1 while not yet ledgered.
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
// Unavailable before the event is ledgered (its salt is written with its
// leaf index) and once its patient is erased; PatientID is set whenever
// the event exists.
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
	if sealedSalt == nil {
		return o, fault.New(fault.Unavailable, "the event is not in the log yet; try again in a moment")
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
	o.LedgerIndex = -1
	if li.Valid {
		o.LedgerIndex = li.Int64
	}
	return o, nil
}

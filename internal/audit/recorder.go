package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Sealer encrypts event bodies under a subject's data key.
type Sealer interface {
	Seal(ctx context.Context, subject, record string, plain []byte) ([]byte, error)
	Open(ctx context.Context, subject, record string, sealed []byte) ([]byte, error)
}

// Subject returns the data-key subject an event is sealed under: the
// patient's key, so that crypto-shredding a patient also erases the details
// of accesses to them, or the directory key for events about no patient.
func Subject(patientID string) string {
	if patientID == "" {
		return "directory"
	}
	return "patient/" + patientID
}

// ErrClosed reports a Record after Close.
var ErrClosed = errors.New("the audit recorder is closed")

// Recorder writes access events durably. Concurrent Record calls are
// gathered by one writer goroutine into a single transaction (group
// commit): one fsync makes a whole batch durable. Once an Integrator is
// attached (IntegratorOptions.Recorder), each event is stored with its
// ledger leaf and sealed salt, built in the caller's goroutine.
type Recorder struct {
	db     *db.DB
	sealer Sealer
	clock  func() time.Time
	log    *slog.Logger
	// ledger builds leaves at record time; nil until an Integrator is
	// attached, and events are then stored without a leaf.
	ledger atomic.Pointer[Integrator]

	reqs     chan *pending
	maxBatch int
	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once
	mu       sync.RWMutex
	closed   bool
}

type pending struct {
	row  row
	done chan error
}

// row is an event ready to insert.
type row struct {
	ev   Event
	body []byte
	// leaf and salt (sealed) are the event's ledger leaf and the salt of
	// its commitment; nil when the event is stored without a leaf.
	leaf, salt []byte
}

// NewRecorder starts a recorder; Close stops it.
func NewRecorder(d *db.DB, sealer Sealer, clock func() time.Time, log *slog.Logger) *Recorder {
	r := &Recorder{db: d, sealer: sealer, clock: clock, log: log,
		reqs: make(chan *pending, 8192), maxBatch: 4096,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go r.writer()
	return r
}

// NewEventID returns a time-ordered event id: 48 bits of Unix milliseconds
// then 80 random bits, in hex (the layout of UUIDv7). Ids made close in time
// sort together, so the unique index on ids grows at its end instead of
// dirtying a random page per event.
func NewEventID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// prepare fills defaults, validates, encodes and seals an event, and
// builds its ledger leaf. It runs in the caller's goroutine so that this
// work is spread over every core, away from the one writer.
func (r *Recorder) prepare(ctx context.Context, ev *Event) (row, error) {
	ev.V = CanonicalVersion
	if ev.ID == "" {
		ev.ID = NewEventID()
	}
	if ev.Time.IsZero() {
		ev.Time = r.clock()
	}
	ev.UserAgent = trimUA(ev.UserAgent)
	ev.normalise()
	canon, err := ev.Canonical()
	if err != nil {
		return row{}, err
	}
	body, err := r.sealer.Seal(ctx, Subject(ev.PatientID), "AuditEvent/"+ev.ID, canon)
	if err != nil {
		return row{}, fmt.Errorf("seal event: %w", err)
	}
	rw := row{ev: *ev, body: body}
	if in := r.ledger.Load(); in != nil {
		// A leaf that cannot be built now is built by the integrator
		// later: the event itself must not wait or fail for it.
		if rw.leaf, rw.salt, err = in.leafAtRecord(ctx, ev, canon); err != nil {
			r.log.Warn("ledger leaf left to the integrator", "event", ev.ID, "err", err)
			rw.leaf, rw.salt = nil, nil
		}
	}
	return rw, nil
}

// Record makes ev durable and returns nil only once it is committed. A
// caller about to release patient data must refuse to when Record fails.
// The event's ID and Time are filled in when empty.
func (r *Recorder) Record(ctx context.Context, ev *Event) error {
	rw, err := r.prepare(ctx, ev)
	if err != nil {
		return err
	}
	p := &pending{row: rw, done: make(chan error, 1)}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return fault.Wrap(fault.Unavailable, ErrClosed, "the access could not be recorded")
	}
	select {
	case r.reqs <- p:
	case <-ctx.Done():
		r.mu.RUnlock()
		return fault.Wrap(fault.Unavailable, ctx.Err(), "the access could not be recorded in time")
	}
	r.mu.RUnlock()
	select {
	case err := <-p.done:
		if err != nil {
			return fault.Wrap(fault.Unavailable, err, "the access could not be recorded")
		}
		return nil
	case <-ctx.Done():
		// The event may still be committed; the caller must treat the
		// access as not recorded and withhold the data.
		return fault.Wrap(fault.Unavailable, ctx.Err(), "the access could not be recorded in time")
	}
}

// RecordBatch makes many events durable in one transaction (bulk
// ingestion); it bypasses the group-commit queue.
func (r *Recorder) RecordBatch(ctx context.Context, evs []Event) error {
	rows := make([]row, 0, len(evs))
	for i := range evs {
		rw, err := r.prepare(ctx, &evs[i])
		if err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		rows = append(rows, rw)
	}
	return r.db.InTx(ctx, func(tx *db.Tx) error { return r.insert(ctx, tx, rows) })
}

// Prepared is an event validated, canonically encoded and sealed, ready
// for StoreNew. Preparing is the costly part of storing an event, so bulk
// ingestion prepares on every core and stores from one goroutine.
type Prepared struct{ row row }

// ID is the prepared event's id.
func (p Prepared) ID() string { return p.row.ev.ID }

// Prepare validates, encodes and seals an event for StoreNew; its ID and
// Time are filled in when empty.
func (r *Recorder) Prepare(ctx context.Context, ev Event) (Prepared, error) {
	rw, err := r.prepare(ctx, &ev)
	return Prepared{rw}, err
}

// StoreNew writes prepared events in one transaction and skips every event
// whose id is already stored (or repeated in ps), so that ingesting the
// same feed twice stores each event once. It returns how many it stored.
func (r *Recorder) StoreNew(ctx context.Context, ps []Prepared) (int, error) {
	rows := make([]row, len(ps))
	for i, p := range ps {
		rows[i] = p.row
	}
	if in := r.ledger.Load(); in != nil && in.ready.Load() {
		return r.storeSequenced(ctx, in, rows)
	}
	var stored int
	err := r.db.InTx(ctx, func(tx *db.Tx) error {
		n, err := r.insertRows(ctx, tx, rows, -1, true)
		stored = n
		return err
	})
	if err != nil {
		return 0, err
	}
	return stored, nil
}

// sequencedChunk is the most events StoreNew sequences in one
// transaction: the Recorder's commits wait for the allocation lock
// meanwhile, so a clinician's access waits for at most one chunk.
const sequencedChunk = 1024

// storeSequenced is StoreNew with an integrator ready: like the Recorder's
// group commits, each transaction gives its new events the next leaf
// indices and hands the committed leaves to the integrator in memory, so
// that bulk events are not written twice (stored, then sequenced). Ids
// already stored or repeated are dropped first, inside the transaction,
// so that the indices stay contiguous.
func (r *Recorder) storeSequenced(ctx context.Context, in *Integrator, rows []row) (int, error) {
	stored := 0
	for start := 0; start < len(rows); start += sequencedChunk {
		part := rows[start:min(start+sequencedChunk, len(rows))]
		in.alloc.Lock()
		var fresh []row
		var first int64
		err := r.db.InTx(ctx, func(tx *db.Tx) (err error) {
			if fresh, err = dropStored(ctx, tx, part); err != nil {
				return err
			}
			if len(fresh) == 0 {
				return nil
			}
			if first, err = nextIndex(ctx, tx); err != nil {
				return err
			}
			_, err = r.insertRows(ctx, tx, fresh, first, false)
			return err
		})
		if err == nil && len(fresh) > 0 {
			in.sequenced(first, fresh)
		}
		in.alloc.Unlock()
		if err != nil {
			return stored, err
		}
		stored += len(fresh)
	}
	return stored, nil
}

// dropStored returns rows without the events whose id is already stored
// or appears earlier in rows.
func dropStored(ctx context.Context, tx *db.Tx, rows []row) ([]row, error) {
	const perQuery = 500
	known := make(map[string]bool, len(rows))
	args := make([]any, 0, perQuery)
	var q strings.Builder
	for start := 0; start < len(rows); start += perQuery {
		part := rows[start:min(start+perQuery, len(rows))]
		args = args[:0]
		q.Reset()
		q.WriteString(`SELECT id FROM audit_events WHERE id IN (`)
		for i, rw := range part {
			if i > 0 {
				q.WriteByte(',')
			}
			args = append(args, rw.ev.ID)
			fmt.Fprintf(&q, "$%d", i+1)
		}
		q.WriteByte(')')
		res, err := tx.Query(ctx, q.String(), args...)
		if err != nil {
			return nil, err
		}
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				res.Close()
				return nil, db.Translate(err)
			}
			known[id] = true
		}
		res.Close()
		if err := res.Err(); err != nil {
			return nil, db.Translate(err)
		}
	}
	fresh := make([]row, 0, len(rows))
	for _, rw := range rows {
		if !known[rw.ev.ID] {
			known[rw.ev.ID] = true
			fresh = append(fresh, rw)
		}
	}
	return fresh, nil
}

// Close stops accepting events, writes those queued and waits.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
		<-r.stopped
	})
}

// The writer lingers for at most lingerFor, and only after a batch of at
// least lingerAbove events: a lone event on a quiet server is committed
// at once.
const (
	lingerAbove = 16
	lingerFor   = time.Millisecond
)

func (r *Recorder) writer() {
	defer close(r.stopped)
	batch := make([]*pending, 0, r.maxBatch)
	last := 0
	for {
		var first *pending
		select {
		case first = <-r.reqs:
		case <-r.stop:
			// Drain what was queued before Close.
			for {
				select {
				case p := <-r.reqs:
					r.commit([]*pending{p})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < r.maxBatch {
			select {
			case p := <-r.reqs:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		// Right after a large commit its callers come back together,
		// but one by one: committing the first alone costs a whole
		// commit (a WAL write and an fsync) for one event, and a third
		// of the commits under load were such singletons. Wait a
		// moment for half as many as the last batch had.
		if want := last / 2; last >= lingerAbove && len(batch) < want {
			linger := time.NewTimer(lingerFor)
		wait:
			for len(batch) < want {
				select {
				case p := <-r.reqs:
					batch = append(batch, p)
				case <-linger.C:
					break wait
				}
			}
			linger.Stop()
		}
		last = len(batch)
		r.commit(batch)
	}
}

// commit writes a batch in one transaction; if the batch fails, each event
// is retried alone so that one bad event cannot fail the others.
func (r *Recorder) commit(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows := make([]row, len(batch))
	for i, p := range batch {
		rows[i] = p.row
	}
	// With a ready integrator attached, the batch is sequenced in its
	// own commit: the next free leaf indices, given under the
	// integrator's allocation lock, and the committed leaves handed over
	// in memory.
	var err error
	if in := r.ledger.Load(); in != nil && in.ready.Load() {
		in.alloc.Lock()
		var first int64
		err = r.db.InTx(ctx, func(tx *db.Tx) (err error) {
			if first, err = nextIndex(ctx, tx); err != nil {
				return err
			}
			_, err = r.insertRows(ctx, tx, rows, first, false)
			return err
		})
		if err == nil {
			in.sequenced(first, rows)
		}
		in.alloc.Unlock()
	} else {
		err = r.db.InTx(ctx, func(tx *db.Tx) error { return r.insert(ctx, tx, rows) })
	}
	if err == nil || len(batch) == 1 {
		if err != nil {
			r.log.Error("audit write failed", "event", batch[0].row.ev.ID, "err", err)
		}
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	for _, p := range batch {
		r.commit([]*pending{p})
	}
}

const insertCols = 16

const insertPrefixCols = `INTO audit_events (id, recorded_at, occurred_at, actor_id, patient_id, action, outcome, purpose, resource_type, resource_id, break_glass, source, body, ledger_salt, ledger_leaf, ledger_index) `

const insertPrefix = insertPrefixCols + `VALUES `

// insertChunk is the most rows per INSERT statement. Each transaction
// prepares the statement for full chunks once and the last, shorter one
// too; SQLite's preparing grows with the rows of a statement, and with 16
// rows it stays a small part of a group commit while most of the
// per-statement cost of the driver is saved.
const insertChunk = 16

// appendRowArgs appends a row's parameters; index < 0 stores no leaf index.
func appendRowArgs(args []any, rw row, now, index int64) []any {
	e := rw.ev
	bg := 0
	if e.BreakGlass != nil {
		bg = 1
	}
	var patient any
	if e.PatientID != "" {
		patient = e.PatientID
	}
	var idx any
	if index >= 0 {
		idx = index
	}
	return append(args, e.ID, now, e.Time.UnixMicro(), e.Actor.UserID, patient, e.Action, e.Outcome, e.Purpose, e.ResourceType, e.ResourceID, bg, e.Source, rw.body, rw.salt, rw.leaf, idx)
}

// insertStatement is a multi-row INSERT of n rows. SQLite gets anonymous
// "?" parameters: it looks up the name of each numbered one ("?N", what
// $N becomes) in a list as long as the statement, which made binding a
// 64-row statement cost more than executing it.
func insertStatement(d db.Dialect, n int, suffix string) string {
	var q strings.Builder
	q.Grow(len(insertPrefix) + n*80 + len(suffix) + 20)
	// A multi-row INSERT that may abort half-way makes SQLite copy every
	// page it touches to a statement journal first (a temporary file),
	// which cost as much as the inserts. A failed statement fails its
	// whole transaction anyway (a group commit is then retried event by
	// event), so SQLite may roll back the transaction instead, which needs
	// no statement journal. An id already stored, with skipDuplicates, is
	// still skipped (the upsert clause takes precedence for its
	// constraint).
	if d == db.SQLite {
		q.WriteString("INSERT OR ROLLBACK ")
	} else {
		q.WriteString("INSERT ")
	}
	q.WriteString(insertPrefix)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		for c := range insertCols {
			if c > 0 {
				q.WriteByte(',')
			}
			if d == db.SQLite {
				q.WriteByte('?')
			} else {
				fmt.Fprintf(&q, "$%d", i*insertCols+c+1)
			}
		}
		q.WriteByte(')')
	}
	q.WriteString(suffix)
	return q.String()
}

// insert writes rows in one transaction.
func (r *Recorder) insert(ctx context.Context, tx *db.Tx, rows []row) error {
	_, err := r.insertRows(ctx, tx, rows, -1, false)
	return err
}

// onConflictSkip makes an insert skip ids already stored; both engines
// accept this form (SQLite since 3.24).
const onConflictSkip = ` ON CONFLICT (id) DO NOTHING`

// insertRows inserts rows with multi-row INSERT statements (in SQLite they
// save the per-statement cost of the driver, in PostgreSQL round trips)
// and returns how many were stored; with skipDuplicates an id already
// stored is skipped instead of failing the transaction with a conflict.
func (r *Recorder) insertRows(ctx context.Context, tx *db.Tx, rows []row, firstIndex int64, skipDuplicates bool) (int, error) {
	now := r.clock().UnixMicro()
	suffix := ""
	if skipDuplicates {
		suffix = onConflictSkip
	}
	if tx.Dialect() == db.Postgres {
		return insertArrays(ctx, tx, rows, now, firstIndex, suffix)
	}
	stored := 0
	// Full chunks share one prepared statement.
	var full *sql.Stmt
	args := make([]any, 0, insertChunk*insertCols)
	for start := 0; start < len(rows); start += insertChunk {
		part := rows[start:min(start+insertChunk, len(rows))]
		args = args[:0]
		for i, rw := range part {
			index := int64(-1)
			if firstIndex >= 0 {
				index = firstIndex + int64(start+i)
			}
			args = appendRowArgs(args, rw, now, index)
		}
		var res sql.Result
		var err error
		if len(part) == insertChunk {
			if full == nil {
				if full, err = tx.Prepare(ctx, insertStatement(tx.Dialect(), insertChunk, suffix)); err != nil {
					return 0, err
				}
				defer full.Close()
			}
			res, err = full.ExecContext(ctx, args...)
			err = db.Translate(err)
		} else {
			res, err = tx.Exec(ctx, insertStatement(tx.Dialect(), len(part), suffix), args...)
		}
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err == nil {
			stored += int(n)
		}
	}
	return stored, nil
}

// pgInsertArrays inserts every row of a batch in one PostgreSQL
// statement: each column is sent as one array and unnested on the server,
// in the order given (ledger indices follow it). One statement per batch
// instead of one per 16 rows saved most of the round trips and the
// per-statement work of both the driver and the server.
const pgInsertArrays = `INSERT ` + insertPrefixCols + `SELECT id, rat, oat, actor, patient, act, outc, purp, rtype, rid, bg, src, body, salt, leaf, idx FROM unnest(
$1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
$11::integer[], $12::text[], $13::bytea[], $14::bytea[], $15::bytea[], $16::bigint[])
WITH ORDINALITY AS v(id, rat, oat, actor, patient, act, outc, purp, rtype, rid, bg, src, body, salt, leaf, idx, ord) ORDER BY ord`

func insertArrays(ctx context.Context, tx *db.Tx, rows []row, now, firstIndex int64, suffix string) (int, error) {
	n := len(rows)
	var (
		ids, actors, actions, outcomes, purposes, rtypes, rids, sources = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		patients                                                        = make([]*string, n)
		recorded, occurred                                              = make([]int64, n), make([]int64, n)
		indices                                                         = make([]*int64, n)
		bgs                                                             = make([]int32, n)
		bodies, salts, leaves                                           = make([][]byte, n), make([][]byte, n), make([][]byte, n)
	)
	for i, rw := range rows {
		e := &rows[i].ev
		ids[i], actors[i], actions[i], outcomes[i], purposes[i] = e.ID, e.Actor.UserID, e.Action, e.Outcome, e.Purpose
		rtypes[i], rids[i], sources[i] = e.ResourceType, e.ResourceID, e.Source
		if e.PatientID != "" {
			patients[i] = &e.PatientID
		}
		recorded[i], occurred[i] = now, e.Time.UnixMicro()
		if firstIndex >= 0 {
			idx := firstIndex + int64(i)
			indices[i] = &idx
		}
		if e.BreakGlass != nil {
			bgs[i] = 1
		}
		bodies[i], salts[i], leaves[i] = rw.body, rw.salt, rw.leaf
	}
	res, err := tx.Exec(ctx, pgInsertArrays+suffix, ids, recorded, occurred, actors, patients, actions, outcomes, purposes, rtypes, rids, bgs, sources, bodies, salts, leaves, indices)
	if err != nil {
		return 0, err
	}
	stored, err := res.RowsAffected()
	return int(stored), err
}

// Stored is an event read back from the store.
type Stored struct {
	Seq   int64
	Event Event
	// LedgerIndex is the event's leaf index in the transparency log, or -1
	// while it is not yet sequenced.
	LedgerIndex int64
}

// Query selects events. At least one of PatientID and ActorID, or a time
// range, should be set; Limit defaults to 100 and is capped at 10,000.
type Query struct {
	PatientID string
	ActorID   string
	Since     time.Time
	Until     time.Time
	// BeforeSeq pages backwards: only events with a smaller seq.
	BeforeSeq int64
	Limit     int
}

// Store reads recorded events.
type Store struct {
	db     *db.DB
	sealer Sealer
}

// NewStore returns a reader of the audit store.
func NewStore(d *db.DB, sealer Sealer) *Store { return &Store{db: d, sealer: sealer} }

// Events returns the events that match q, newest first, decrypted.
func (s *Store) Events(ctx context.Context, q Query) ([]Stored, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.PatientID != "" {
		add("patient_id = $%d", q.PatientID)
	}
	if q.ActorID != "" {
		add("actor_id = $%d", q.ActorID)
	}
	if !q.Since.IsZero() {
		add("occurred_at >= $%d", q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		add("occurred_at < $%d", q.Until.UnixMicro())
	}
	if q.BeforeSeq > 0 {
		add("seq < $%d", q.BeforeSeq)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10_000)
	sqlq := `SELECT seq, id, patient_id, body, ledger_index FROM audit_events`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += fmt.Sprintf(` ORDER BY occurred_at DESC, seq DESC LIMIT %d`, limit)
	rows, err := s.db.Query(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var st Stored
		var id string
		var patient sql.NullString
		var body []byte
		var li sql.NullInt64
		if err := rows.Scan(&st.Seq, &id, &patient, &body, &li); err != nil {
			return nil, db.Translate(err)
		}
		plain, err := s.sealer.Open(ctx, Subject(patient.String), "AuditEvent/"+id, body)
		if err != nil {
			return nil, fmt.Errorf("open event %s: %w", id, err)
		}
		if st.Event, err = ParseCanonical(plain); err != nil {
			return nil, fmt.Errorf("decode event %s: %w", id, err)
		}
		st.LedgerIndex = -1
		if li.Valid {
			st.LedgerIndex = li.Int64
		}
		out = append(out, st)
	}
	return out, db.Translate(rows.Err())
}

// Count returns the number of recorded events.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events`).Scan(&n)
	return n, db.Translate(err)
}

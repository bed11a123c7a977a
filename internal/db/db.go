// Package db owns the connection to Trustward's SQL store: SQLite (the
// embedded default, pure Go, WAL) or PostgreSQL (pgx), the numbered
// migrations embedded in the binary, transactions, the rebinding of $N
// placeholders for SQLite, and the translation of driver errors into fault
// kinds at the store boundary.
//
// It must never log query arguments: they may hold sealed patient data.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/trustward/trustward/internal/fault"
)

// Dialect is the SQL engine behind a DB.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// DB is the store. Writes go through one pool and reads through another: for
// SQLite the write pool has a single connection (SQLite has one writer) and
// the read pool several, so that readers never wait on the writer's lock.
type DB struct {
	Dialect Dialect
	w       *sql.DB
	r       *sql.DB

	// stmts caches prepared read statements by query text: preparing is a
	// large share of a small query's cost in SQLite.
	stmtMu sync.RWMutex
	stmts  map[string]*sql.Stmt

	// stopCheckpoints ends SQLite's checkpointer; checkpointsDone closes
	// when it has.
	stopCheckpoints, checkpointsDone chan struct{}
	closeOnce                        sync.Once
}

// checkpointEvery is how often SQLite's WAL is copied back into the
// database file by a reader connection (see checkpointer).
const checkpointEvery = 50 * time.Millisecond

// maxStmts bounds the statement cache; queries beyond it run unprepared.
const maxStmts = 256

// Open opens the store named by spec: "sqlite" (a database file in dataDir)
// or a postgres:// URL. It does not migrate; call Migrate.
func Open(ctx context.Context, spec, dataDir string) (*DB, error) {
	if spec == "sqlite" || spec == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "cannot create data folder %s", dataDir)
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, "trustward.db"))
	}
	return OpenPostgres(ctx, spec)
}

// OpenSQLite opens (creating if needed) a SQLite database file.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "page_size(8192)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "cache_size(-65536)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot open SQLite database %s", path)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fault.Wrap(fault.Unavailable, err, "cannot open SQLite database %s", path)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	d := &DB{Dialect: SQLite, w: w, r: r, stmts: map[string]*sql.Stmt{}}
	// Switching a new file to WAL takes an exclusive lock, and SQLite answers
	// SQLITE_BUSY at once there instead of calling the busy handler, so
	// several processes opening one new database at the same moment retry
	// here for as long as the busy timeout would have waited.
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		err = w.PingContext(ctx)
		if err == nil {
			break
		}
		if !isBusy(err) || time.Now().After(deadline) {
			d.Close()
			return nil, Translate(fmt.Errorf("open %s: %w", path, err))
		}
		select {
		case <-ctx.Done():
			d.Close()
			return nil, Translate(fmt.Errorf("open %s: %w", path, ctx.Err()))
		case <-time.After(wait):
		}
	}
	d.stopCheckpoints, d.checkpointsDone = make(chan struct{}), make(chan struct{})
	go d.checkpointer()
	return d, nil
}

// checkpointer copies the WAL back into the database file in the
// background (PASSIVE: it never blocks the writer or readers). The write
// connection's automatic checkpoint is off (wal_autocheckpoint(0)): it ran
// inside a commit every 1,000 pages, and that commit then also waited for
// the copy and a sync of the database file; with audit events written as
// fast as they came, the slowest tenth of the commits took over a third of
// all commit time. Durability does not change: each commit still syncs the
// WAL. A fully copied WAL starts over at the next write.
func (d *DB) checkpointer() {
	defer close(d.checkpointsDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stopCheckpoints:
			return
		case <-t.C:
			var busy, frames, copied int
			_ = d.r.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
		}
	}
}

// OpenPostgres connects to PostgreSQL.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot open PostgreSQL")
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := p.PingContext(pctx); err != nil {
		p.Close()
		return nil, fault.Wrap(fault.Unavailable, err, "cannot reach PostgreSQL")
	}
	return &DB{Dialect: Postgres, w: p, r: p, stmts: map[string]*sql.Stmt{}}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	if d.stopCheckpoints != nil {
		d.closeOnce.Do(func() { close(d.stopCheckpoints) })
		<-d.checkpointsDone
	}
	d.stmtMu.Lock()
	for _, st := range d.stmts {
		st.Close()
	}
	d.stmts = map[string]*sql.Stmt{}
	d.stmtMu.Unlock()
	err := d.w.Close()
	if d.r != d.w {
		if e := d.r.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Rebind rewrites $N placeholders as ?N for SQLite, which otherwise binds
// $N names by order of appearance rather than by number.
func (d *DB) Rebind(q string) string {
	if d.Dialect != SQLite {
		return q
	}
	return rebind(q)
}

func rebind(q string) string {
	if !strings.Contains(q, "$") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '$' && !inStr && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			b.WriteByte('?')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Querier is what both DB and Tx offer.
type Querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// Exec runs a statement on the write pool.
func (d *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := d.w.ExecContext(ctx, d.Rebind(q), args...)
	return res, Translate(err)
}

// stmt returns a cached prepared statement for a read query, or nil when
// the cache is full or preparing fails (the caller then runs it directly).
func (d *DB) stmt(ctx context.Context, q string) *sql.Stmt {
	d.stmtMu.RLock()
	st, ok := d.stmts[q]
	d.stmtMu.RUnlock()
	if ok {
		return st
	}
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if st, ok := d.stmts[q]; ok {
		return st
	}
	if len(d.stmts) >= maxStmts {
		return nil
	}
	st, err := d.r.PrepareContext(context.WithoutCancel(ctx), d.Rebind(q))
	if err != nil {
		return nil
	}
	d.stmts[q] = st
	return st
}

// Query runs a query on the read pool.
func (d *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := d.stmt(ctx, q); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		return rows, Translate(err)
	}
	rows, err := d.r.QueryContext(ctx, d.Rebind(q), args...)
	return rows, Translate(err)
}

// QueryRow runs a single-row query on the read pool. Pass its Scan error
// through Translate (or use ScanRow).
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := d.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.r.QueryRowContext(ctx, d.Rebind(q), args...)
}

// Tx is a transaction on the write pool.
type Tx struct {
	tx *sql.Tx
	d  *DB
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, t.d.Rebind(q), args...)
	return res, Translate(err)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, t.d.Rebind(q), args...)
	return rows, Translate(err)
}

// QueryRow runs a single-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.Rebind(q), args...)
}

// Prepare prepares a statement in the transaction.
func (t *Tx) Prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	st, err := t.tx.PrepareContext(ctx, t.d.Rebind(q))
	return st, Translate(err)
}

// Dialect returns the engine of the transaction.
func (t *Tx) Dialect() Dialect { return t.d.Dialect }

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise, so that nothing is ever half-written.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return Translate(err)
	}
	committed := false
	defer func() {
		// Also on panic: an open transaction would hold SQLite's only
		// write connection (or PostgreSQL row locks) for ever.
		if !committed {
			_ = stx.Rollback()
		}
	}()
	if err := fn(&Tx{tx: stx, d: d}); err != nil {
		return err
	}
	committed = true
	return Translate(stx.Commit())
}

// ScanRow scans a QueryRow result, turning sql.ErrNoRows into a NotFound
// fault that names what was looked for.
func ScanRow(row *sql.Row, what string, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return fault.New(fault.NotFound, "%s not found", what)
	}
	return Translate(err)
}

// Translate maps driver errors onto fault kinds: unique violations become
// Conflict, a busy or locked database and lost connections Unavailable.
// Errors that already carry a kind pass through.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fault.Wrap(fault.Unavailable, err, "the database did not answer in time")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
				return fault.Wrap(fault.Conflict, err, "already exists")
			}
			return fault.Wrap(fault.Invalid, err, "violates a constraint of the store")
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fault.Wrap(fault.Unavailable, err, "the database is locked; try again")
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
			return fault.Wrap(fault.Unavailable, err, "the database cannot be written")
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fault.Wrap(fault.Conflict, err, "already exists")
		case strings.HasPrefix(pe.Code, "23"):
			return fault.Wrap(fault.Invalid, err, "violates a constraint of the store")
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57"), pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
			return fault.Wrap(fault.Unavailable, err, "the database is unavailable; try again")
		}
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) {
		return fault.Wrap(fault.Unavailable, err, "the database connection was lost")
	}
	return err
}

// Micros converts a time to the int64 microseconds stored in every table;
// the zero time becomes NULL.
func Micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// FromMicros converts stored microseconds back to a UTC time.
func FromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

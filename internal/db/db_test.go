package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const insertStaff = `INSERT INTO staff_units (role_id, practitioner_id, department_id, code) VALUES ($1, $2, $3, $4)`

func countStaff(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), `SELECT COUNT(*) FROM staff_units`).Scan(&n); err != nil {
		t.Fatalf("count staff_units: %v", err)
	}
	return n
}

// Placeholders are bound by number on both engines, and a '$1' inside a
// string literal stays text.
func TestPlaceholdersBindByNumber(t *testing.T) {
	tests := []struct {
		name  string
		query string
		args  []any
		want  string
	}{
		{"reversed", `SELECT CAST($2 AS TEXT) || CAST($1 AS TEXT)`, []any{"a", "b"}, "ba"},
		{"repeated", `SELECT CAST($1 AS TEXT) || CAST($1 AS TEXT)`, []any{"a"}, "aa"},
		{"literal left alone", `SELECT '$1' || CAST($1 AS TEXT) || '$2'`, []any{"a"}, "$1a$2"},
		{"escaped quote", `SELECT 'it''s $1 ' || CAST($1 AS TEXT)`, []any{"a"}, "it's $1 a"},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got string
				if err := d.QueryRow(ctx, tt.query, tt.args...).Scan(&got); err != nil {
					t.Fatalf("DB.QueryRow: %v", err)
				}
				if got != tt.want {
					t.Errorf("DB.QueryRow = %q, want %q", got, tt.want)
				}
				err := d.InTx(ctx, func(tx *db.Tx) error {
					return tx.QueryRow(ctx, tt.query, tt.args...).Scan(&got)
				})
				if err != nil {
					t.Fatalf("Tx.QueryRow: %v", err)
				}
				if got != tt.want {
					t.Errorf("Tx.QueryRow = %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func TestInTx(t *testing.T) {
	errStop := errors.New("stop")
	tests := []struct {
		name      string
		fn        func(ctx context.Context, tx *db.Tx) error
		wantErr   func(error) bool
		wantStaff int
	}{
		{
			name: "commits when fn returns nil",
			fn: func(ctx context.Context, tx *db.Tx) error {
				if _, err := tx.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, insertStaff, "r2", "p2", "d1", "nurse")
				return err
			},
			wantErr:   func(err error) bool { return err == nil },
			wantStaff: 2,
		},
		{
			name: "rolls back when fn returns an error after writing",
			fn: func(ctx context.Context, tx *db.Tx) error {
				if _, err := tx.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor"); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, insertStaff, "r2", "p2", "d1", "nurse"); err != nil {
					return err
				}
				return errStop
			},
			wantErr:   func(err error) bool { return errors.Is(err, errStop) },
			wantStaff: 0,
		},
		{
			name: "rolls back when a statement fails half-way",
			fn: func(ctx context.Context, tx *db.Tx) error {
				if _, err := tx.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, insertStaff, "r1", "p2", "d1", "nurse")
				return err
			},
			wantErr:   func(err error) bool { return fault.Is(err, fault.Conflict) },
			wantStaff: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				err := d.InTx(ctx, func(tx *db.Tx) error { return tt.fn(ctx, tx) })
				if !tt.wantErr(err) {
					t.Fatalf("InTx returned %v (kind %v)", err, fault.KindOf(err))
				}
				if n := countStaff(t, d); n != tt.wantStaff {
					t.Errorf("staff_units holds %d rows after InTx, want %d", n, tt.wantStaff)
				}
				// The write connection must be free again.
				if _, err := d.Exec(ctx, insertStaff, "r9", "p9", "d9", "clerk"); err != nil {
					t.Errorf("write after InTx: %v", err)
				}
			})
		})
	}
}

// A panic in fn must not leave the transaction open: on SQLite it would hold
// the only write connection, and on PostgreSQL its row locks, for ever.
func TestInTxRollsBackOnPanic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		func() {
			defer func() {
				if recover() == nil {
					t.Error("InTx swallowed the panic of fn")
				}
			}()
			_ = d.InTx(ctx, func(tx *db.Tx) error {
				if _, err := tx.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor"); err != nil {
					return err
				}
				panic("fn panicked")
			})
		}()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := d.Exec(wctx, insertStaff, "r1", "p2", "d2", "nurse"); err != nil {
			t.Fatalf("write after a panic in InTx: %v (the transaction was left open)", err)
		}
		if n := countStaff(t, d); n != 1 {
			t.Errorf("staff_units holds %d rows, want 1", n)
		}
	})
}

func TestTranslateConstraintViolations(t *testing.T) {
	const insertUser = `INSERT INTO users (id, username, display_name, role, created_at) VALUES ($1, $2, $3, $4, $5)`
	tests := []struct {
		name     string
		query    string
		args     []any
		wantKind fault.Kind
		wantMsg  string
	}{
		{"duplicate primary key", insertUser, []any{"u1", "other", "Other", "clerk", 1}, fault.Conflict, "already exists"},
		{"duplicate unique column", insertUser, []any{"u2", "alice", "Alice again", "clerk", 1}, fault.Conflict, "already exists"},
		{"missing NOT NULL column", insertUser, []any{"u3", "bob", nil, "clerk", 1}, fault.Invalid, "violates a constraint"},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, insertUser, "u1", "alice", "Alice", "clerk", 1); err != nil {
			t.Fatalf("first insert: %v", err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := d.Exec(ctx, tt.query, tt.args...)
				if got := fault.KindOf(err); got != tt.wantKind {
					t.Fatalf("error %v has kind %v, want %v", err, got, tt.wantKind)
				}
				if msg := fault.Message(err); !strings.Contains(msg, tt.wantMsg) {
					t.Errorf("client message %q does not contain %q", msg, tt.wantMsg)
				}
			})
		}
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil || n != 1 {
			t.Errorf("users holds %d rows (err %v), want 1: a failed insert wrote", n, err)
		}
	})
}

func TestScanRow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor"); err != nil {
			t.Fatal(err)
		}
		const q = `SELECT department_id FROM staff_units WHERE role_id = $1`
		var dept string
		if err := db.ScanRow(d.QueryRow(ctx, q, "r1"), "staff role", &dept); err != nil || dept != "d1" {
			t.Errorf("ScanRow of a present row = %q, %v; want d1, nil", dept, err)
		}
		err := db.ScanRow(d.QueryRow(ctx, q, "nobody"), "staff role", &dept)
		if !fault.Is(err, fault.NotFound) {
			t.Fatalf("ScanRow of a missing row = %v (kind %v), want NotFound", err, fault.KindOf(err))
		}
		if msg := fault.Message(err); msg != "staff role not found" {
			t.Errorf("client message %q, want %q", msg, "staff role not found")
		}
	})
}

// A write that finds the SQLite database locked by another process becomes
// Unavailable with a message a client can act on, and does not hang.
func TestLockedSQLiteIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trustward.db")
	d, err := db.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := db.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	// OpenSQLite waits 10 s for a lock and takes no option to change that.
	// The write pool has a single connection that stays open, so a PRAGMA
	// run through Exec applies to every later write of d.
	const busyTimeout = 200 * time.Millisecond
	if _, err := d.Exec(ctx, `PRAGMA busy_timeout = 200`); err != nil {
		t.Fatal(err)
	}

	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		// InTx begins IMMEDIATE: it takes the write lock at once.
		held <- other.InTx(ctx, func(tx *db.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	select {
	case <-holding:
	case err := <-held:
		t.Fatalf("second connection could not take the write lock: %v", err)
	}

	writes := []struct {
		name  string
		write func() error
	}{
		{"Exec", func() error {
			_, err := d.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor")
			return err
		}},
		{"InTx", func() error {
			return d.InTx(ctx, func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor")
				return err
			})
		}},
	}
	for _, w := range writes {
		start := time.Now()
		err := w.write()
		elapsed := time.Since(start)
		if !fault.Is(err, fault.Unavailable) {
			t.Errorf("%s on a locked database = %v (kind %v), want Unavailable", w.name, err, fault.KindOf(err))
		}
		if msg := fault.Message(err); !strings.Contains(msg, "locked") {
			t.Errorf("%s: client message %q does not say the database is locked", w.name, msg)
		}
		if elapsed < busyTimeout/2 || elapsed > 5*time.Second {
			t.Errorf("%s gave up after %v, want about the busy timeout of %v", w.name, elapsed, busyTimeout)
		}
	}

	close(release)
	if err := <-held; err != nil {
		t.Fatalf("holding transaction: %v", err)
	}
	if _, err := d.Exec(ctx, insertStaff, "r1", "p1", "d1", "doctor"); err != nil {
		t.Errorf("write once the lock is released: %v", err)
	}
}

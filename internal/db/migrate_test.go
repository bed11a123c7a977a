package db_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
)

func versions(t *testing.T, d db.Dialect) []int {
	t.Helper()
	ms, err := db.Migrations(d)
	if err != nil {
		t.Fatalf("Migrations(%v): %v", d, err)
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.Version)
	}
	return vs
}

// One schema, two dialects: both engines get the same numbered migrations,
// in order, with every placeholder substituted.
func TestMigrationsMatchAcrossDialects(t *testing.T) {
	sq, err := db.Migrations(db.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := db.Migrations(db.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(sq) == 0 {
		t.Fatal("no migrations embedded")
	}
	if len(sq) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL migrations", len(sq), len(pg))
	}
	for i := range sq {
		if sq[i].Version != pg[i].Version || sq[i].Name != pg[i].Name {
			t.Errorf("migration %d: SQLite %04d_%s, PostgreSQL %04d_%s", i, sq[i].Version, sq[i].Name, pg[i].Version, pg[i].Name)
		}
		if i > 0 && sq[i].Version <= sq[i-1].Version {
			t.Errorf("migration %04d comes after %04d", sq[i].Version, sq[i-1].Version)
		}
		for _, m := range []db.Migration{sq[i], pg[i]} {
			if strings.Contains(m.SQL, "{{") {
				t.Errorf("migration %04d_%s keeps an unsubstituted placeholder", m.Version, m.Name)
			}
		}
	}
}

// Migrate applies every migration to an empty database, records them, and
// applies none the second time.
func TestMigrateFreshThenAgain(t *testing.T) {
	engines := []struct {
		name string
		open func(t *testing.T) *db.DB
	}{
		{"sqlite", func(t *testing.T) *db.DB {
			d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "trustward.db"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"postgres", func(t *testing.T) *db.DB {
			d, err := db.OpenPostgres(context.Background(), dbtest.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			d := e.open(t)
			defer d.Close()
			want := versions(t, d.Dialect)

			applied, err := d.Migrate(ctx)
			if err != nil {
				t.Fatalf("first Migrate: %v", err)
			}
			if !slices.Equal(applied, want) {
				t.Errorf("first Migrate applied %v, want %v", applied, want)
			}
			applied, err = d.Migrate(ctx)
			if err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if len(applied) != 0 {
				t.Errorf("second Migrate applied %v, want none", applied)
			}

			rows, err := d.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var recorded []int
			for rows.Next() {
				var v int
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				recorded = append(recorded, v)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(recorded, want) {
				t.Errorf("schema_migrations records %v, want %v", recorded, want)
			}
		})
	}
}

// The two dialects of the schema have the same tables and columns, so that a
// store's queries mean the same on both.
func TestSchemaMatchesAcrossEngines(t *testing.T) {
	columns := map[string][]string{}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`
		if d.Dialect == db.SQLite {
			q = `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
			     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
		}
		rows, err := d.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var cols []string
		for rows.Next() {
			var table, column string
			if err := rows.Scan(&table, &column); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, table+"."+column)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(cols)
		if len(cols) == 0 {
			t.Fatal("no columns found")
		}
		columns[d.Dialect.String()] = cols
	})
	sq, pg := columns["sqlite"], columns["postgres"]
	if sq == nil || pg == nil {
		return // one engine skipped or failed; it has said why
	}
	for _, c := range sq {
		if !slices.Contains(pg, c) {
			t.Errorf("column %s exists in SQLite only", c)
		}
	}
	for _, c := range pg {
		if !slices.Contains(sq, c) {
			t.Errorf("column %s exists in PostgreSQL only", c)
		}
	}
}

// Several instances starting at once on an empty database must each end with
// the full schema and no error: Migrate serialises them.
func TestConcurrentMigrate(t *testing.T) {
	const instances = 4
	engines := []struct {
		name string
		dsn  func(t testing.TB) string
		open func(ctx context.Context, dsn string) (*db.DB, error)
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "trustward.db") }, db.OpenSQLite},
		{"postgres", dbtest.PostgresURL, db.OpenPostgres},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := e.dsn(t)
			var wg sync.WaitGroup
			errs := make([]error, instances)
			for i := range instances {
				wg.Go(func() {
					d, err := e.open(ctx, dsn)
					if err != nil {
						errs[i] = err
						return
					}
					defer d.Close()
					_, errs[i] = d.Migrate(ctx)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
				}
			}
			d, err := e.open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var n int
			if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := len(versions(t, d.Dialect)); n != want {
				t.Errorf("schema_migrations holds %d rows, want %d", n, want)
			}
		})
	}
}

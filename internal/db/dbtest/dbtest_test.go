package dbtest_test

import (
	"context"
	"testing"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestRequire(t *testing.T) {
	tests := []struct {
		env, what string
		want      bool
	}{
		{"", "postgres", false},
		{"postgres", "postgres", true},
		{"postgres,chromium,oathtool", "chromium", true},
		{" postgres , Chromium ", "chromium", true},
		{"postgresql", "postgres", false},
		{"chromium", "postgres", false},
	}
	for _, tt := range tests {
		t.Run(tt.env+"/"+tt.what, func(t *testing.T) {
			t.Setenv(dbtest.EnvRequire, tt.env)
			if got := dbtest.Require(t, tt.what); got != tt.want {
				t.Errorf("Require(%q) with %s=%q = %v, want %v", tt.what, dbtest.EnvRequire, tt.env, got, tt.want)
			}
		})
	}
}

// Each test's database is its own: what one writes, another never sees.
func TestDatabasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	for name, open := range map[string]func(testing.TB) *db.DB{"sqlite": dbtest.SQLite, "postgres": dbtest.Postgres} {
		t.Run(name, func(t *testing.T) {
			a, b := open(t), open(t)
			if _, err := a.Exec(ctx, `INSERT INTO staff_units (role_id, practitioner_id, department_id, code) VALUES ('r1', 'p1', 'd1', 'doctor')`); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := b.QueryRow(ctx, `SELECT COUNT(*) FROM staff_units`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("a second database sees %d rows written in the first", n)
			}
		})
	}
}

// PostgresURL gives an empty database, for tests of migration itself.
func TestPostgresURLIsUnmigrated(t *testing.T) {
	ctx := context.Background()
	d, err := db.OpenPostgres(ctx, dbtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("fresh database holds %d tables, want none", n)
	}
}

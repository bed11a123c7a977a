package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$`)

// Migrations returns the migrations for a dialect in order. A file
// NNNN_name.sql serves both engines after the substitution of {{BYTES}} and
// {{SERIAL_PK}}; NNNN_name.sqlite.sql and NNNN_name.postgres.sql serve one.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name[.dialect].sql", e.Name())
		}
		if m[3] != "" && m[3] != d.String() {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if prev, ok := byVersion[v]; ok && prev.Name != m[2] {
			return nil, fmt.Errorf("migration %04d: two names, %s and %s", v, prev.Name, m[2])
		}
		byVersion[v] = Migration{Version: v, Name: m[2], SQL: byVersion[v].SQL + substitute(string(b), d)}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func substitute(s string, d Dialect) string {
	if d == Postgres {
		return strings.NewReplacer("{{BYTES}}", "BYTEA", "{{SERIAL_PK}}", "BIGSERIAL PRIMARY KEY").Replace(s)
	}
	return strings.NewReplacer("{{BYTES}}", "BLOB", "{{SERIAL_PK}}", "INTEGER PRIMARY KEY AUTOINCREMENT").Replace(s)
}

// Migrate applies every migration not yet applied, each in its own
// transaction, and returns the versions it applied.
func (d *DB) Migrate(ctx context.Context) ([]int, error) {
	ms, err := Migrations(d.Dialect)
	if err != nil {
		return nil, err
	}
	err = d.InTx(ctx, func(tx *Tx) error {
		if d.Dialect == Postgres {
			// Serialise concurrent migrators (several serve instances
			// starting together) before the first statement.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7071)`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []int
	for _, m := range ms {
		err := d.InTx(ctx, func(tx *Tx) error {
			if d.Dialect == Postgres {
				// Serialise concurrent migrators (several serve instances).
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7071)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return Translate(err)
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.Version, m.Name, time.Now().UnixMicro()); err != nil {
				return err
			}
			applied = append(applied, m.Version)
			return nil
		})
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// splitStatements splits a migration on semicolons at line ends; our
// migrations hold no procedural bodies.
func splitStatements(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		var lines []string
		for _, l := range strings.Split(part, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		if stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

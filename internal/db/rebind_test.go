package db

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no placeholders", `SELECT 1`, `SELECT 1`},
		{"numbered", `SELECT a FROM t WHERE b = $1 AND c = $2`, `SELECT a FROM t WHERE b = ?1 AND c = ?2`},
		{"out of order and repeated", `VALUES ($2, $1, $2)`, `VALUES (?2, ?1, ?2)`},
		{"two digits", `SELECT $10, $11`, `SELECT ?10, ?11`},
		{"inside a string literal", `SELECT '$1', $1`, `SELECT '$1', ?1`},
		{"after an escaped quote", `SELECT 'it''s $1', $1`, `SELECT 'it''s $1', ?1`},
		{"dollar without digit", `SELECT '$', $ , $a, $1`, `SELECT '$', $ , $a, ?1`},
		{"dollar at the end", `SELECT $1 || $`, `SELECT ?1 || $`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rebind(tt.in); got != tt.want {
				t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRebindOnlyForSQLite(t *testing.T) {
	q := `SELECT $1`
	if got := (&DB{Dialect: Postgres}).Rebind(q); got != q {
		t.Errorf("Postgres Rebind(%q) = %q, want it unchanged", q, got)
	}
	if got := (&DB{Dialect: SQLite}).Rebind(q); got != `SELECT ?1` {
		t.Errorf("SQLite Rebind(%q) = %q, want SELECT ?1", q, got)
	}
}

package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/trustward/trustward/internal/db"
)

// EnvServer names an existing PostgreSQL server to use instead of starting
// one; EnvRequire lists what must not be skipped.
const (
	EnvServer  = "TRUSTWARD_TEST_PG"
	EnvRequire = "TRUSTWARD_TEST_REQUIRE"
)

// cluster is the PostgreSQL server of this test process, reached through an
// admin connection that creates and drops the tests' databases.
type cluster struct {
	base  *url.URL
	admin *sql.DB
	own   *Server // nil when the server is the caller's (EnvServer)
}

// shared is the one server of the test process. It is process-wide state on
// purpose: starting a server per test would cost seconds each.
var shared struct {
	once sync.Once
	c    *cluster
	err  error
}

func connect() (*cluster, error) {
	shared.once.Do(func() { shared.c, shared.err = openCluster() })
	return shared.c, shared.err
}

func openCluster() (*cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &cluster{}
	raw := os.Getenv(EnvServer)
	if raw == "" {
		s, err := StartServer(ctx)
		if err != nil {
			return nil, err
		}
		c.own, raw = s, s.URL()
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		c.close()
		return nil, fmt.Errorf("%s must be a postgres:// URL of a server where we may CREATE DATABASE", EnvServer)
	}
	c.base = u
	c.admin, err = sql.Open("pgx", raw)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("PostgreSQL at %s: %w", u.Redacted(), err)
	}
	c.admin.SetMaxOpenConns(4)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.admin.PingContext(pctx); err != nil {
		c.close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %w", u.Redacted(), err)
	}
	return c, nil
}

func (c *cluster) close() error {
	if c.admin != nil {
		c.admin.Close()
	}
	if c.own != nil {
		return c.own.Stop()
	}
	return nil
}

// Main runs the tests of a package and then stops the PostgreSQL server that
// they may have started. Call it from TestMain:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// Without it the server still stops when the test process exits, only
// without waiting for it.
func Main(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		if err := shared.c.close(); err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// Require reports whether TRUSTWARD_TEST_REQUIRE (a comma-separated list
// such as "postgres,chromium,oathtool") names what: a test that cannot get
// it must then fail rather than skip.
func Require(t testing.TB, what string) bool {
	t.Helper()
	for _, w := range strings.Split(os.Getenv(EnvRequire), ",") {
		if strings.EqualFold(strings.TrimSpace(w), what) {
			return true
		}
	}
	return false
}

// Missing ends a test that cannot get what (the reason says why): it skips,
// or fails when TRUSTWARD_TEST_REQUIRE names what.
func Missing(t testing.TB, what string, reason error) {
	t.Helper()
	if Require(t, what) {
		t.Fatalf("%s is required by %s=%s but unavailable: %v", what, EnvRequire, os.Getenv(EnvRequire), reason)
	}
	t.Skipf("%s unavailable, skipping (set %s=%s to fail instead): %v", what, EnvRequire, what, reason)
}

// SQLite returns a fresh migrated SQLite database in t.TempDir(), closed when
// the test ends.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "trustward.db"))
	if err != nil {
		t.Fatalf("open SQLite: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate SQLite: %v", err)
	}
	return d
}

// Postgres returns a fresh, migrated, empty database of its own on a real
// PostgreSQL server, closed and dropped when the test ends.
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenPostgres(ctx, PostgresURL(t))
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate PostgreSQL: %v", err)
	}
	return d
}

// PostgresURL returns the URL of a fresh empty (unmigrated) database of its
// own, dropped when the test ends: for tests of migration itself or of the
// binary.
func PostgresURL(t testing.TB) string {
	t.Helper()
	c, err := connect()
	if err != nil {
		Missing(t, "postgres", err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "tw_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s on %s: %v", name, c.base.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends connections a test left open; an error only leaves
		// an empty database behind on a throwaway server.
		_, _ = c.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u := *c.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// Each runs fn as the subtests "sqlite" and "postgres", each with its own
// fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

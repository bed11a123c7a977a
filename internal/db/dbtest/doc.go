// Package dbtest is the test harness of the db package: a fresh migrated
// SQLite database per test, and a fresh database per test on a real
// PostgreSQL server shared by the whole test process, so that every store is
// tested on both engines without mocks.
//
// The server is the one named by TRUSTWARD_TEST_PG (a postgres:// URL of a
// server where we may CREATE DATABASE), or else a throwaway PostgreSQL 15
// that the harness starts on first use: initdb into a temporary folder, trust
// authentication, loopback only, fsync off. A test that needs PostgreSQL
// skips when none can be found or started, unless TRUSTWARD_TEST_REQUIRE
// names "postgres", in which case it fails; other harnesses (chromium,
// oathtool) follow the same rule through Require and Missing.
//
// It is for tests only: it must never be imported by the program itself, and
// the throwaway server's settings (trust, fsync off) must never be copied to
// a real deployment.
package dbtest

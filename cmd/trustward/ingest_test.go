package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db/dbtest"
)

func TestIngestCommand(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			base := []string{"--data", dir, "--log-level", "error"}
			if engine == "postgres" {
				base = append(base, "--db", dbtest.PostgresURL(t))
			}
			var lines []string
			for i := 0; i < 50; i++ {
				ev := audit.Event{V: 1, ID: fmt.Sprintf("cli-%d", i), Time: time.Date(2026, 3, 2, 9, 0, i, 0, time.UTC),
					Actor: audit.Actor{UserID: "u1", Role: "nurse"}, PatientID: "p1", Action: "R", Outcome: "0", Source: "ehr"}
				b, err := ev.ToFHIR()
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, string(b))
			}
			lines[1] = `{"resourceType":"AuditEvent"`
			file := filepath.Join(dir, "events.ndjson")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"ingest", "--source", "ehr-bulk"}, append(base, file)...), env(nil), &out, io.Discard)
			if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 50 inputs were rejected") {
				t.Fatalf("ingest with a bad line: %v", err)
			}
			for _, want := range []string{"events.ndjson: line 2: invalid-json: ", "50 read, 49 stored, 0 duplicates (already stored), 1 rejected"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			// Again, from standard input is not possible in a test; the
			// same file again stores nothing new.
			out.Reset()
			run(context.Background(), append([]string{"ingest"}, append(base, file)...), env(nil), &out, io.Discard)
			if !strings.Contains(out.String(), "50 read, 0 stored, 49 duplicates (already stored), 1 rejected") {
				t.Fatalf("second ingest:\n%s", out.String())
			}
			// A CSV export through its mapping.
			out.Reset()
			err = run(context.Background(), append([]string{"ingest", "--mapping", "../../internal/audit/ingest/testdata/ehr_mapping.json"},
				append(base, "../../internal/audit/ingest/testdata/ehr_access.csv")...), env(nil), &out, io.Discard)
			if err == nil || !strings.Contains(out.String(), "ehr_access.csv: line 5: missing-column: the row has 7 fields") ||
				!strings.Contains(out.String(), "9 read, 4 stored, 1 duplicates (already stored), 4 rejected") {
				t.Fatalf("csv ingest: %v\n%s", err, out.String())
			}
			// Usage errors.
			if err := run(context.Background(), append([]string{"ingest"}, base...), env(nil), io.Discard, io.Discard); exitCode(err) != 2 {
				t.Fatalf("ingest without a file: %v", err)
			}
		})
	}
}

func TestIngestContextCommand(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data", dir, "--log-level", "error"}
	file := filepath.Join(dir, "context.ndjson")
	body := `{"resourceType":"Organization","id":"dept-1","name":"Cardiology"}
{"resourceType":"Practitioner","id":"pr-1","name":[{"family":"Okafor","given":["Ada"]}]}
{"resourceType":"Observation","id":"o-1"}
`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"ingest", "--context", file}, base...), env(nil), &out, io.Discard)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "1 context resources were rejected") {
		t.Fatalf("context with a bad resource: %v", err)
	}
	for _, want := range []string{"context.ndjson: line 3: ", "2 context resources stored, 1 rejected"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	err = run(context.Background(), append([]string{"ingest", "--context", file, "--source", "x"}, base...), env(nil), io.Discard, io.Discard)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("--context with --source: %v", err)
	}
}

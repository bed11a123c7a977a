package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/seal"
)

// ingestEvents is the size of one NDJSON file in BenchmarkIngestNDJSON.
const ingestEvents = 50_000

// ndjsonFeed builds AuditEvent NDJSON as an EHR would send it: 2,000
// patients, 300 users, one event a second.
func ndjsonFeed(b *testing.B, run, n int) []byte {
	var buf bytes.Buffer
	buf.Grow(n * 2048) // a line is under 2 kB
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ev := audit.Event{V: 1, ID: fmt.Sprintf("bench-%d-%07d", run, i), Time: t0.Add(time.Duration(i) * time.Second),
			Actor:     audit.Actor{UserID: fmt.Sprintf("u%03d", i%300), Name: "Dr Example", Role: "physician", Organization: "cardiology"},
			PatientID: fmt.Sprintf("mrn-%05d", i%2000), ResourceType: "Patient", ResourceID: fmt.Sprintf("mrn-%05d", i%2000),
			Action: audit.ActionRead, Subtype: "read", Purpose: "TREAT", Outcome: audit.OutcomeSuccess, Source: "ehr", NetworkAddress: "10.0.4.17"}
		j, err := ev.ToFHIR()
		if err != nil {
			b.Fatal(err)
		}
		buf.Write(j)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkIngestNDJSON measures AuditEvent NDJSON ingestion end to end:
// parse and map each line, seal the event under its patient's key, and
// store it idempotently (one transaction per 4,096 events, durable).
// Each iteration ingests a new file of 50,000 events.
func BenchmarkIngestNDJSON(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			d := openEngine(b, engine)
			clock := func() time.Time { return time.Now().UTC() }
			kek, err := seal.CreateFileKEK(filepath.Join(b.TempDir(), "kek.json"), clock())
			if err != nil {
				b.Fatal(err)
			}
			sl := seal.NewSealer(d, kek, clock)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			rec := audit.NewRecorder(d, sl, clock, log)
			defer rec.Close()
			in := ingest.New(rec, ingest.NewCounters(clock), clock, log)
			feeds := make([][]byte, b.N)
			for i := range feeds {
				feeds[i] = ndjsonFeed(b, i, ingestEvents)
			}
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				rep, err := in.IngestNDJSON(ctx, "bench", bytes.NewReader(feeds[i]), nil)
				if err != nil || rep.Accepted != ingestEvents {
					b.Fatalf("accepted %d of %d: %v", rep.Accepted, ingestEvents, err)
				}
			}
			b.ReportMetric(float64(b.N*ingestEvents)/time.Since(start).Seconds(), "events/s")
		})
	}
}

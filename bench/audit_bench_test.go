// Package bench holds benchmarks across parts; bench/REPORT.md records the
// figures with the commands that produced them.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// openEngine returns a durable store: for SQLite a file in a temp dir with
// synchronous=FULL (the production setting).
func openEngine(b *testing.B, engine string) *db.DB {
	if engine == "postgres" {
		return dbtest.Postgres(b)
	}
	d, err := db.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

// BenchmarkAuditRecord measures durable events per second with group commit:
// 256 concurrent callers each wait for their own event to be committed.
func BenchmarkAuditRecord(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			d := openEngine(b, engine)
			clock := func() time.Time { return time.Now().UTC() }
			kek, err := seal.CreateFileKEK(filepath.Join(b.TempDir(), "kek.json"), clock())
			if err != nil {
				b.Fatal(err)
			}
			sl := seal.NewSealer(d, kek, clock)
			rec := audit.NewRecorder(d, sl, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
			defer rec.Close()
			ctx := context.Background()
			patients := make([]string, 200)
			for i := range patients {
				patients[i] = fmt.Sprintf("pat-%05d", i)
			}
			subjects := make([]string, len(patients))
			for i, p := range patients {
				subjects[i] = seal.PatientSubject(p)
			}
			if err := sl.EnsureKeys(ctx, subjects); err != nil {
				b.Fatal(err)
			}
			const callers = 256
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var next int64
			var mu sync.Mutex
			for c := 0; c < callers; c++ {
				wg.Add(1)
				go func(c int) {
					defer wg.Done()
					for {
						mu.Lock()
						i := next
						next++
						mu.Unlock()
						if i >= int64(b.N) {
							return
						}
						ev := &audit.Event{Actor: audit.Actor{UserID: fmt.Sprintf("u-%d", c), Role: "clinician", Name: "Dr Bench"},
							PatientID: patients[i%int64(len(patients))], ResourceType: "Patient", ResourceID: "x",
							Action: audit.ActionRead, Subtype: "chart", Purpose: "TREAT", Basis: "care-team", Outcome: audit.OutcomeSuccess,
							Source: "bench", NetworkAddress: "127.0.0.1", UserAgent: "bench"}
						if err := rec.Record(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				}(c)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

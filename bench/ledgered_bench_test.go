package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/seal"
)

// ledgerRig is the production pipeline of an access event: the group-commit
// Recorder (durable in SQL), the integrator and the Tessera log with signed
// checkpoints at the default interval.
type ledgerRig struct {
	d        *db.DB
	rec      *audit.Recorder
	log      *ledger.POSIXLog
	in       *audit.Integrator
	patients []string
}

func newLedgerRig(b *testing.B, engine string) *ledgerRig {
	ctx := context.Background()
	d := openEngine(b, engine)
	clock := func() time.Time { return time.Now().UTC() }
	kek, err := seal.CreateFileKEK(filepath.Join(b.TempDir(), "kek.json"), clock())
	if err != nil {
		b.Fatal(err)
	}
	sl := seal.NewSealer(d, kek, clock)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &ledgerRig{d: d, rec: audit.NewRecorder(d, sl, clock, quiet)}
	b.Cleanup(r.rec.Close)
	r.patients = make([]string, 200)
	subjects := make([]string, len(r.patients))
	for i := range r.patients {
		r.patients[i] = fmt.Sprintf("pat-%05d", i)
		subjects[i] = seal.PatientSubject(r.patients[i])
	}
	if err := sl.EnsureKeys(ctx, subjects); err != nil {
		b.Fatal(err)
	}
	actors, err := sl.Pseudonymizer(ctx, audit.ActorPseudonymPurpose)
	if err != nil {
		b.Fatal(err)
	}
	if r.log, err = ledger.Open(ctx, ledger.Options{Dir: filepath.Join(b.TempDir(), "ledger"),
		Origin: ledger.OriginFor("bench"), Logger: quiet, BatchMaxSize: uint(envInt("LEDGER_BENCH_BATCH", 0))}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.log.Close() })
	r.in = audit.NewIntegrator(d, r.log, sl, actors, clock, quiet, audit.IntegratorOptions{BatchSize: envInt("LEDGER_BENCH_BATCH", 0), Recorder: r.rec})
	b.Cleanup(r.in.Close)
	return r
}

func (r *ledgerRig) event(i int64) *audit.Event {
	return &audit.Event{Actor: audit.Actor{UserID: fmt.Sprintf("u-%d", i%300), Role: "clinician", Name: "Dr Bench"},
		PatientID: r.patients[i%int64(len(r.patients))], ResourceType: "Patient", ResourceID: "x",
		Action: audit.ActionRead, Subtype: "chart", Purpose: "TREAT", Basis: "care-team", Outcome: audit.OutcomeSuccess,
		Source: "bench", NetworkAddress: "127.0.0.1", UserAgent: "bench"}
}

// checkpointSize is the size of the log's current signed checkpoint.
func (r *ledgerRig) checkpointSize(b *testing.B) uint64 {
	text, err := r.log.Checkpoint(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cp, err := ledger.VerifyCheckpoint(text, r.log.VerifierKey())
	if err != nil {
		b.Fatal(err)
	}
	return cp.Size
}

// BenchmarkLedgerEndToEnd measures events ledgered per second end to end:
// 256 concurrent callers record events durably (the read path's
// fail-closed write), while the integrator sequences them into the log;
// the clock stops when every event has its leaf index and a signed
// checkpoint covers them all.
func BenchmarkLedgerEndToEnd(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			r := newLedgerRig(b, engine)
			ctx := context.Background()
			const callers = 256
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var next int64
			for range callers {
				wg.Go(func() {
					for {
						mu.Lock()
						i := next
						next++
						mu.Unlock()
						if i >= int64(b.N) {
							return
						}
						if err := r.rec.Record(ctx, r.event(i)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			recorded := time.Since(start)
			r.awaitLedgered(b, uint64(b.N))
			elapsed := time.Since(start)
			b.StopTimer()
			if got := r.checkpointSize(b); got != uint64(b.N) {
				b.Fatalf("checkpoint covers %d leaves, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ledgered/s")
			b.ReportMetric(float64(b.N)/recorded.Seconds(), "recorded/s")
		})
	}
}

// awaitLedgered waits until n events are in the log, none is left
// unledgered in the store, and a signed checkpoint covers all n.
func (r *ledgerRig) awaitLedgered(b *testing.B, n uint64) {
	ctx := context.Background()
	for {
		// The log's size is cheap to read; the store is asked only once
		// every leaf is in the log.
		if size, err := r.log.Size(ctx); err != nil {
			b.Fatal(err)
		} else if size >= n {
			lag, err := r.in.Lag(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if lag.Events == 0 {
				break
			}
		}
		r.in.Notify()
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := r.log.AwaitCheckpoint(ctx, n); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLedgerBulkEndToEnd is the same pipeline fed the way most events
// reach Trustward: AuditEvent NDJSON from the EHR through the ingester
// (parse, seal, store idempotently 4,096 per transaction), then sequenced
// by the integrator. Each iteration ingests one file of 50,000 events; the
// clock stops when a signed checkpoint covers every event of every file.
func BenchmarkLedgerBulkEndToEnd(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			r := newLedgerRig(b, engine)
			ctx := context.Background()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			clock := func() time.Time { return time.Now().UTC() }
			in := ingest.New(r.rec, ingest.NewCounters(clock), clock, quiet)
			feeds := make([][]byte, b.N)
			for i := range feeds {
				feeds[i] = ndjsonFeed(b, i, ingestEvents)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				rep, err := in.IngestNDJSON(ctx, "bench", bytes.NewReader(feeds[i]), nil)
				if err != nil || rep.Accepted != ingestEvents {
					b.Fatalf("accepted %d of %d: %v", rep.Accepted, ingestEvents, err)
				}
			}
			stored := time.Since(start)
			total := uint64(b.N * ingestEvents)
			r.awaitLedgered(b, total)
			elapsed := time.Since(start)
			b.StopTimer()
			if got := r.checkpointSize(b); got != total {
				b.Fatalf("checkpoint covers %d leaves, want %d", got, total)
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "ledgered/s")
			b.ReportMetric(float64(total)/stored.Seconds(), "stored/s")
		})
	}
}

// BenchmarkAccessToCheckpoint measures, at an offered rate of
// LEDGER_BENCH_RATE events/s (default 2,000, about the read path's
// saturation), the time from an access being recorded (Record returned) to
// a signed checkpoint covering its leaf with the leaf's index written back
// (what a patient's proof bundle needs). A watcher looks every 5 ms, so
// figures are high by up to 5 ms. b.N is the number of events offered.
func BenchmarkAccessToCheckpoint(b *testing.B) {
	rate := envInt("LEDGER_BENCH_RATE", 2000)
	r := newLedgerRig(b, "sqlite")
	ctx := context.Background()
	ids := make([]string, b.N)
	recorded := make([]time.Time, b.N)
	var mu sync.Mutex
	covered := make([]time.Duration, 0, b.N)
	byID := make(map[string]int, b.N)
	b.ResetTimer()
	done := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		var lo uint64
		seen := map[string]bool{}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-done:
				if lo >= uint64(b.N) {
					return
				}
				<-tick.C
			}
			cp := r.checkpointSize(b)
			if cp <= lo {
				continue
			}
			rows, err := r.d.Query(ctx, `SELECT id FROM audit_events WHERE ledger_index >= $1 AND ledger_index < $2`, int64(lo), int64(cp))
			if err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			n := 0
			mu.Lock()
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					b.Error(err)
				}
				n++
				if seen[id] {
					continue
				}
				// An event whose Record call has not yet returned to its
				// caller is counted at a later tick.
				if i, ok := byID[id]; ok {
					seen[id] = true
					covered = append(covered, now.Sub(recorded[i]))
				}
			}
			mu.Unlock()
			rows.Close()
			if uint64(n) == cp-lo && len(seen) == n {
				lo = cp
				clear(seen)
			}
		}
	}()
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for i := range b.N {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ev := r.event(int64(i))
			if err := r.rec.Record(ctx, ev); err != nil {
				b.Error(err)
				return
			}
			t := time.Now()
			mu.Lock()
			ids[i], recorded[i], byID[ev.ID] = ev.ID, t, i
			mu.Unlock()
		})
	}
	wg.Wait()
	close(done)
	<-watcherDone
	b.StopTimer()
	if len(covered) != b.N {
		b.Fatalf("%d of %d events seen covered by a checkpoint", len(covered), b.N)
	}
	slices.Sort(covered)
	q := func(p float64) float64 { return float64(covered[int(p*float64(len(covered)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

package bench

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/ledger"
)

// BenchmarkInclusionProof10M builds a real Tessera POSIX log of
// LEDGER_BENCH_LEAVES leaves (default 10 million; 8-byte leaves, appended
// in batches of 4,096, which takes minutes) and measures inclusion-proof
// generation for random leaves against the full tree: the target
// is p99 under 5 ms. b.N proofs are generated; the build is not timed.
// Run: go test -run XXX -bench BenchmarkInclusionProof10M -benchtime 2000x -timeout 60m ./bench/
func BenchmarkInclusionProof10M(b *testing.B) {
	n := uint64(envInt("LEDGER_BENCH_LEAVES", 10_000_000))
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "ledger")
	l, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: ledger.OriginFor("bench"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	batch := make([][]byte, 4096)
	for done := uint64(0); done < n; {
		k := min(uint64(len(batch)), n-done)
		for i := range k {
			leaf := make([]byte, 8)
			binary.BigEndian.PutUint64(leaf, done+i)
			batch[i] = leaf
		}
		if _, err := l.AppendBatch(ctx, batch[:k]); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	if _, _, err := l.AwaitCheckpoint(ctx, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a log of %d leaves in %v (%.0f leaves/s)", n, time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
	lat := make([]time.Duration, 0, b.N)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		i := rng.Uint64N(n)
		t := time.Now()
		if _, err := l.InclusionProof(ctx, i, n); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

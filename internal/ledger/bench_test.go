package ledger_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
)

// BenchmarkLedgerAppend appends 120-byte leaves (the size of an audit
// commitment) in batches of 1,024, as the audit integrator does, to the
// POSIX log on the test machine's disk, and reports leaves per second.
// Every batch is durable (files written O_SYNC) before the next starts.
func BenchmarkLedgerAppend(b *testing.B) {
	ctx := context.Background()
	l := openLog(b, filepath.Join(b.TempDir(), "ledger"))
	const batch = 1024
	leaves := make([][]byte, batch)
	for i := range leaves {
		leaves[i] = make([]byte, 120)
	}
	n := 0
	b.ResetTimer()
	for b.Loop() {
		for i := range leaves {
			binary.BigEndian.PutUint64(leaves[i], uint64(n))
			n++
		}
		if _, err := l.AppendBatch(ctx, leaves); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "leaves/s")
}

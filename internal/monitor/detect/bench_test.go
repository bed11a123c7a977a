package detect

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/monitor/explain"
	"github.com/trustward/trustward/internal/sim"
)

// simulated is one simulated month of the default hospital (2,000
// patients, 200 staff), generated once per test binary.
var simulated = sync.OnceValues(func() (*explain.Context, []audit.Event) {
	cx := explain.NewContext()
	var events []audit.Event
	_, err := sim.GenerateAccesses(context.Background(), sim.AccessOptions{Seed: 1}, sim.AccessSink{
		Context: func(r sim.Resource) error { return cx.Add(r.JSON) },
		Event:   func(e audit.Event) error { events = append(events, e); return nil },
		Truth:   func(sim.Truth) error { return nil }, // the detectors never see it
	})
	if err != nil {
		panic(err)
	}
	cx.Finish()
	return cx, events
})

// BenchmarkBatch is batch scoring: explanation and every detector over a
// simulated month, reported as events per second.
func BenchmarkBatch(b *testing.B) {
	cx, events := simulated()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		d := New(cx, DefaultConfig())
		for i := range events {
			d.ProcessEvent(&events[i])
		}
		n += len(events)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkStreamLag offers events at 5,000 a second, as a hospital's
// feed would, and measures the lag from an event's arrival to the return
// of ProcessEvent (its alerts in hand). It reports the p50 and p99 lag.
func BenchmarkStreamLag(b *testing.B) {
	cx, events := simulated()
	const rate = 5000
	const n = 10000 // two seconds of feed
	var lags []time.Duration
	for b.Loop() {
		d := New(cx, DefaultConfig())
		// Warm the baselines with the first part of the month, then
		// stream the next n events in real time.
		warm := len(events) - n
		for i := range warm {
			d.ProcessEvent(&events[i])
		}
		type arrival struct {
			ev *audit.Event
			at time.Time
		}
		ch := make(chan arrival, n)
		go func() {
			start := time.Now()
			for i := range n {
				due := start.Add(time.Duration(i) * time.Second / rate)
				if w := time.Until(due); w > 0 {
					time.Sleep(w)
				}
				ch <- arrival{&events[warm+i], time.Now()}
			}
			close(ch)
		}()
		for a := range ch {
			d.ProcessEvent(a.ev)
			lags = append(lags, time.Since(a.at))
		}
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkMemory10M replays the simulated month, shifted in time and
// with fresh event ids, until ten million events have been scored, and
// reports the heap the detector holds afterwards. Run it alone with
// -benchtime=1x: it takes about half a minute.
func BenchmarkMemory10M(b *testing.B) {
	cx, events := simulated()
	span := events[len(events)-1].Time.Sub(events[0].Time).Truncate(24*time.Hour) + 24*time.Hour
	const total = 10_000_000
	for b.Loop() {
		d := New(cx, DefaultConfig())
		start := time.Now()
		var e audit.Event
		for n := 0; n < total; {
			round := n / len(events)
			for i := range events {
				if n == total {
					break
				}
				e = events[i]
				e.ID = fmt.Sprintf("r%d-%s", round, e.ID)
				e.Time = e.Time.Add(time.Duration(round) * span)
				d.ProcessEvent(&e)
				n++
			}
		}
		elapsed := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(len(d.AllCases())), "cases")
		runtime.KeepAlive(d)
	}
}

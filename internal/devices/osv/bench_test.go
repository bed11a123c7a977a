package osv

import (
	"cmp"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const benchOSV = "../../../../shared/data/osv"

func skipWithoutData(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(benchOSV); err != nil {
		b.Skipf("no OSV data at %s (the shared data folder is absent)", benchOSV)
	}
}

// BenchmarkIndexLoad loads the three shared exports (Go, crates.io, PyPI:
// 8,158 advisories, 12.8 MB of JSON in 6.5 MB of zips) and reports the
// time per load, the heap the index keeps, and the process's peak RSS.
func BenchmarkIndexLoad(b *testing.B) {
	skipWithoutData(b)
	ctx := context.Background()
	var ix *Index
	for b.Loop() {
		var err error
		if ix, err = LoadDir(ctx, benchOSV); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/load")
	// The index's size: the live heap with it, less the live heap without.
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(ix)
	ix = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	b.ReportMetric(float64(with.HeapAlloc-min(without.HeapAlloc, with.HeapAlloc))/(1<<20), "index-heap-MB")
	if kb := peakRSSKiB(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
	}
}

// peakRSSKiB reads VmHWM, the process's peak resident set, on Linux.
func peakRSSKiB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

// benchComponents draws n components from the index's real package names,
// with versions taken from their advisories (event versions and versions
// lists, so most land on range boundaries) and a share of versions no
// advisory names; about one in forty asks for an ecosystem that is not
// loaded.
func benchComponents(ix *Index, n int) []Component {
	keys := make([]packageKey, 0, len(ix.packages))
	for k := range ix.packages {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b packageKey) int {
		return cmp.Or(strings.Compare(a.ecosystem, b.ecosystem), strings.Compare(a.name, b.name))
	})
	r := rand.New(rand.NewPCG(1, 2))
	cs := make([]Component, 0, n)
	for len(cs) < n {
		k := keys[r.IntN(len(keys))]
		var versions []string
		for _, e := range ix.packages[k].entries {
			versions = append(versions, e.versions...)
			for _, rg := range e.ranges {
				for _, ev := range rg.events {
					if !ev.origin {
						versions = append(versions, ev.v.String())
					}
				}
			}
		}
		v := "1.0.0"
		if len(versions) > 0 && r.IntN(8) > 0 {
			v = versions[r.IntN(len(versions))]
		}
		eco := k.ecosystem
		if r.IntN(40) == 0 {
			eco = "npm"
		}
		cs = append(cs, Component{Ecosystem: eco, Name: k.name, Version: v})
	}
	return cs
}

// BenchmarkMatch scans 16,000 components against a warm index, on all
// CPUs, and reports components per second.
func BenchmarkMatch(b *testing.B) {
	skipWithoutData(b)
	ix, err := LoadDir(context.Background(), benchOSV)
	if err != nil {
		b.Fatal(err)
	}
	cs := benchComponents(ix, 16000)
	var findings int
	for b.Loop() {
		findings = len(ix.Scan(cs))
	}
	b.ReportMetric(float64(len(cs))*float64(b.N)/b.Elapsed().Seconds(), "components/s")
	b.ReportMetric(float64(findings), "findings/scan")
}

// BenchmarkMatchOneCPU is BenchmarkMatch on one goroutine (Match in a
// loop), the figure per core.
func BenchmarkMatchOneCPU(b *testing.B) {
	skipWithoutData(b)
	ix, err := LoadDir(context.Background(), benchOSV)
	if err != nil {
		b.Fatal(err)
	}
	cs := benchComponents(ix, 16000)
	for b.Loop() {
		for _, c := range cs {
			_ = ix.Match(c.Ecosystem, c.Name, c.Version)
		}
	}
	b.ReportMetric(float64(len(cs))*float64(b.N)/b.Elapsed().Seconds(), "components/s")
}

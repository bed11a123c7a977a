package osv

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// maxRecordSize bounds one advisory; the largest in OSV's exports are a few
// hundred kilobytes (long versions lists).
const maxRecordSize = 16 << 20

// Problem is an advisory, or a part of one, that the index could not use.
type Problem struct {
	Source string // file, or zip and member: "PyPI/all.zip:PYSEC-2014-82.json"
	ID     string // the advisory's id, when it could be read
	Err    error
}

func (p Problem) Error() string {
	if p.ID != "" {
		return fmt.Sprintf("%s (%s): %v", p.Source, p.ID, p.Err)
	}
	return fmt.Sprintf("%s: %v", p.Source, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

// job is one advisory file to read.
type job struct {
	source string
	read   func() ([]byte, error)
}

type result struct {
	c   *compiled
	err error
}

// LoadDir reads every OSV advisory under dir: each *.zip (OSV's export
// layout is <Ecosystem>/all.zip) and each *.json file, decoding them on all
// CPUs. Advisories that cannot be used are skipped and reported by
// Index.Problems; an unreadable folder or archive is an error, because a
// partly loaded database would pass for a clean scan.
func LoadDir(ctx context.Context, dir string) (*Index, error) {
	var jobs []job
	var archives []*zip.ReadCloser
	defer func() {
		for _, a := range archives {
			a.Close()
		}
	}()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		switch strings.ToLower(filepath.Ext(path)) {
		case ".zip":
			zr, err := zip.OpenReader(path)
			if err != nil {
				return fmt.Errorf("open OSV archive %s: %w", path, err)
			}
			archives = append(archives, zr)
			for _, f := range zr.File {
				if f.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(f.Name), ".json") {
					continue
				}
				jobs = append(jobs, job{source: rel + ":" + f.Name, read: func() ([]byte, error) { return readMember(f) }})
			}
		case ".json":
			jobs = append(jobs, job{source: rel, read: func() ([]byte, error) { return readFile(path) }})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load OSV advisories from %s: %w", dir, err)
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("load OSV advisories from %s: no *.zip or *.json files", dir)
	}
	results, err := compileAll(ctx, jobs)
	if err != nil {
		return nil, err
	}
	return build(jobs, results), nil
}

// compileAll decodes the jobs on GOMAXPROCS goroutines; results keep the
// jobs' order, so that the index does not depend on scheduling.
func compileAll(ctx context.Context, jobs []job) ([]result, error) {
	results := make([]result, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				data, err := jobs[i].read()
				if err != nil {
					results[i].err = err
					continue
				}
				results[i].c, results[i].err = compile(data, jobs[i].source)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load OSV advisories: %w", err)
	}
	return results, nil
}

func readMember(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxRecordSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errMalformed, maxRecordSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readLimited(rc, int(f.UncompressedSize64))
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, 0)
}

func readLimited(r io.Reader, sizeHint int) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(min(sizeHint, maxRecordSize) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(r, maxRecordSize+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxRecordSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errMalformed, maxRecordSize)
	}
	return b.Bytes(), nil
}

// build merges compiled advisories into an index, in job order.
func build(jobs []job, results []result) *Index {
	ix := &Index{
		packages:   map[packageKey]*packageAdvisories{},
		ecosystems: map[string]string{},
		counts:     map[string]int{},
	}
	seen := map[string]string{} // advisory id -> source
	byPackage := map[packageKey][]*entry{}
	for i, r := range results {
		if r.err != nil {
			ix.problems = append(ix.problems, Problem{Source: jobs[i].source, Err: r.err})
			continue
		}
		a := r.c.advisory
		for _, err := range r.c.problems {
			ix.problems = append(ix.problems, Problem{Source: a.Source, ID: a.ID, Err: err})
		}
		if first, dup := seen[a.ID]; dup {
			ix.problems = append(ix.problems, Problem{Source: a.Source, ID: a.ID, Err: fmt.Errorf("%w: duplicate of %s; skipped", errMalformed, first)})
			continue
		}
		seen[a.ID] = a.Source
		if !a.Withdrawn.IsZero() {
			ix.withdrawn++
			continue
		}
		if len(r.c.entries) == 0 {
			continue
		}
		ix.advisories++
		a.seq = len(ix.indexed)
		ix.indexed = append(ix.indexed, a)
		counted := map[string]bool{}
		for _, e := range r.c.entries {
			key := packageKey{ecosystem: e.base, name: e.name}
			byPackage[key] = append(byPackage[key], e)
			ix.ecosystems[strings.ToLower(e.base)] = e.base
			if !counted[e.base] {
				ix.counts[e.base]++
				counted[e.base] = true
			}
		}
	}
	// Components mostly spell the ecosystem as the advisories do: look that
	// up without lowering it.
	for spelled := range ix.counts {
		ix.ecosystems[spelled] = ix.ecosystems[strings.ToLower(spelled)]
	}
	// Each package's entries in advisory ID order (stably, so that an
	// advisory's entries keep their order): match then meets an advisory's
	// entries one after another and its findings come out sorted.
	for key, entries := range byPackage {
		slices.SortStableFunc(entries, func(a, b *entry) int { return strings.Compare(a.advisory.ID, b.advisory.ID) })
		pa := &packageAdvisories{entries: make([]entry, len(entries))}
		for i, e := range entries {
			pa.entries[i] = *e
		}
		pa.indexListed()
		ix.packages[key] = pa
	}
	return ix
}

// indexListed gathers the versions the entries list, so that a version is
// looked up once per package rather than once per entry, and marks each
// entry's in its listedBits. Each entry's list is sorted and without
// repeats, so the union is a merge and the marking a walk.
func (pa *packageAdvisories) indexListed() {
	for i := range pa.entries {
		pa.listed = mergeSorted(pa.listed, pa.entries[i].versions)
	}
	pa.listed = slices.Clip(pa.listed)
	for i := range pa.entries {
		e := &pa.entries[i]
		if len(e.versions) == 0 {
			continue
		}
		e.listedBits = make([]uint64, (len(pa.listed)+63)/64)
		j := 0
		for _, v := range e.versions {
			for pa.listed[j] != v {
				j++
			}
			e.listedBits[j/64] |= 1 << (j % 64)
		}
	}
}

// mergeSorted returns the sorted union of two sorted lists without
// repeats; a itself when b is empty.
func mergeSorted(a, b []string) []string {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return slices.Clone(b)
	}
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

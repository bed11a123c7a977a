package ingest

import (
	"sort"
	"sync"
	"time"
)

// Counters keep, per source, how many events were accepted, how many were
// duplicates of events already stored, and how many were rejected and why.
// They live in the process that ingests (serve for the API and ATNA, the
// ingest command for files) and are safe for concurrent use.
type Counters struct {
	clock func() time.Time
	mu    sync.Mutex
	by    map[string]*sourceCount
}

type sourceCount struct {
	accepted, duplicates int64
	rejected             map[Reason]int64
	last                 time.Time
}

// NewCounters returns empty counters; clock stamps the last activity.
func NewCounters(clock func() time.Time) *Counters {
	return &Counters{clock: clock, by: map[string]*sourceCount{}}
}

func (c *Counters) source(name string) *sourceCount {
	sc := c.by[name]
	if sc == nil {
		sc = &sourceCount{rejected: map[Reason]int64{}}
		c.by[name] = sc
	}
	sc.last = c.clock()
	return sc
}

// Add counts accepted and duplicate events of a source.
func (c *Counters) Add(source string, accepted, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.source(source)
	sc.accepted += int64(accepted)
	sc.duplicates += int64(duplicates)
}

// Reject counts n rejected inputs of a source for a reason.
func (c *Counters) Reject(source string, reason Reason, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.source(source).rejected[reason] += int64(n)
}

// SourceCount is one source's counters at a moment.
type SourceCount struct {
	Source     string
	Accepted   int64
	Duplicates int64
	Rejected   int64
	// ByReason lists rejections by reason, most frequent first.
	ByReason []ReasonCount
	Last     time.Time
}

// ReasonCount is how often inputs were rejected for one reason.
type ReasonCount struct {
	Reason Reason
	Count  int64
}

// Snapshot returns every source's counters, sorted by source name.
func (c *Counters) Snapshot() []SourceCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]SourceCount, 0, len(c.by))
	for name, sc := range c.by {
		s := SourceCount{Source: name, Accepted: sc.accepted, Duplicates: sc.duplicates, Last: sc.last}
		for r, n := range sc.rejected {
			s.Rejected += n
			s.ByReason = append(s.ByReason, ReasonCount{r, n})
		}
		sort.Slice(s.ByReason, func(i, j int) bool {
			if s.ByReason[i].Count != s.ByReason[j].Count {
				return s.ByReason[i].Count > s.ByReason[j].Count
			}
			return s.ByReason[i].Reason < s.ByReason[j].Reason
		})
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

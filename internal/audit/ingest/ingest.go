package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

// Reason names why an input was rejected; counters are kept by reason.
type Reason string

// The reasons an input is rejected.
const (
	ReasonInvalidJSON  Reason = "invalid-json"
	ReasonWrongType    Reason = "wrong-resource-type"
	ReasonNoAgent      Reason = "missing-agent"
	ReasonNoPatient    Reason = "missing-patient"
	ReasonInvalidDate  Reason = "invalid-date"
	ReasonInvalidEvent Reason = "invalid-event"
	ReasonTooLarge     Reason = "too-large"
	ReasonMissingCol   Reason = "missing-column"
	ReasonBadFrame     Reason = "bad-frame"
	ReasonBadHeader    Reason = "bad-syslog-header"
	ReasonInvalidXML   Reason = "invalid-xml"
	ReasonTLSRefused   Reason = "tls-refused"
	ReasonStoreFailed  Reason = "store-failed"
)

// Problem is one rejected input: where it was and why. Detail names a JSON
// path, a column or a frame property, never a value from the input.
type Problem struct {
	// Line is the 1-based NDJSON line, CSV row (the header is row 1),
	// Bundle entry or syslog frame.
	Line   int    `json:"line"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Reason, p.Detail) }

// MaxProblems bounds the problems a Report lists; all are counted.
const MaxProblems = 1000

// Report is the outcome of one ingestion.
type Report struct {
	Source string `json:"source"`
	// Read counts the inputs seen (lines, rows, entries), blank lines aside.
	Read       int `json:"read"`
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	// Problems lists the first MaxProblems rejections in input order.
	Problems []Problem     `json:"problems,omitempty"`
	Elapsed  time.Duration `json:"-"`
}

// Rate is the events read per second.
func (r Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Read) / r.Elapsed.Seconds()
}

// Store is where ingested events go: audit.Recorder's bulk path.
type Store interface {
	Prepare(ctx context.Context, ev audit.Event) (audit.Prepared, error)
	StoreNew(ctx context.Context, ps []audit.Prepared) (int, error)
}

// Ingester turns inputs into stored events and keeps the counters.
type Ingester struct {
	store    Store
	counters *Counters
	clock    func() time.Time
	log      *slog.Logger
	// BatchSize is the number of events per transaction.
	BatchSize int
	// Workers parse and seal in parallel; 0 means GOMAXPROCS.
	Workers int
}

// New returns an Ingester writing to store and counting in counters.
func New(store Store, counters *Counters, clock func() time.Time, log *slog.Logger) *Ingester {
	return &Ingester{store: store, counters: counters, clock: clock, log: log, BatchSize: 4096}
}

// Counters returns the ingester's counters.
func (in *Ingester) Counters() *Counters { return in.counters }

// Progress is called after every stored batch with the report so far.
type Progress func(Report)

// unit is one input: raw bytes to decode, or an event already mapped, or
// the problem that stopped it.
type unit struct {
	pos  int
	data []byte
	ev   *audit.Event
	prob *Problem
}

// decoder maps one raw input onto an event.
type decoder func(data []byte) (audit.Event, error)

type chunkResult struct {
	prepared []audit.Prepared
	problems []Problem
	read     int
}

const chunkSize = 256

// run is the pipeline every format shares: produce sends units in chunks,
// workers decode, check and seal them, and one writer stores batches. A
// store failure stops the run and is returned with the report so far.
func (in *Ingester) run(ctx context.Context, source string, decode decoder, produce func(emit func(unit) error) error, progress Progress) (Report, error) {
	start := in.clock()
	rep := Report{Source: source}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	chunks := make(chan []unit, 4)
	results := make(chan chunkResult, 4)
	var prodErr error
	go func() {
		defer close(chunks)
		buf := make([]unit, 0, chunkSize)
		prodErr = produce(func(u unit) error {
			buf = append(buf, u)
			if len(buf) == chunkSize {
				select {
				case chunks <- buf:
				case <-ctx.Done():
					return ctx.Err()
				}
				buf = make([]unit, 0, chunkSize)
			}
			return nil
		})
		if len(buf) > 0 {
			select {
			case chunks <- buf:
			case <-ctx.Done():
			}
		}
	}()
	workers := in.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				res := in.work(ctx, c, decode)
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// One goroutine stores full batches while this one fills the next, so
	// that decoding and sealing go on during each transaction. mu guards
	// rep, which both update.
	var mu sync.Mutex
	var storeErr error
	batches := make(chan []audit.Prepared, 1)
	spare := make(chan []audit.Prepared, 2)
	stored := make(chan struct{})
	go func() {
		defer close(stored)
		for batch := range batches {
			if storeErr != nil {
				continue
			}
			n, err := in.store.StoreNew(ctx, batch)
			if err != nil {
				storeErr = err
				cancel()
				continue
			}
			in.counters.Add(source, n, len(batch)-n)
			mu.Lock()
			rep.Accepted += n
			rep.Duplicates += len(batch) - n
			var snapshot Report
			if progress != nil {
				rep.Elapsed = in.clock().Sub(start)
				snapshot = rep
				snapshot.Problems = slices.Clone(rep.Problems)
			}
			mu.Unlock()
			if progress != nil {
				progress(snapshot)
			}
			clear(batch) // let the sealed bodies go before the batch is reused
			select {
			case spare <- batch[:0]:
			default:
			}
		}
	}()

	batch := make([]audit.Prepared, 0, in.BatchSize)
	seen := make(map[string]struct{}, in.BatchSize)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		select {
		case batches <- batch:
		case <-ctx.Done():
			return
		}
		select {
		case batch = <-spare:
		default:
			batch = make([]audit.Prepared, 0, in.BatchSize)
		}
		clear(seen)
	}
	for res := range results {
		if ctx.Err() != nil {
			continue
		}
		mu.Lock()
		rep.Read += res.read
		for _, p := range res.problems {
			rep.Rejected++
			if len(rep.Problems) < MaxProblems {
				rep.Problems = append(rep.Problems, p)
			}
		}
		mu.Unlock()
		for _, p := range res.problems {
			in.counters.Reject(source, p.Reason, 1)
		}
		for _, p := range res.prepared {
			if _, dup := seen[p.ID()]; dup {
				mu.Lock()
				rep.Duplicates++
				mu.Unlock()
				in.counters.Add(source, 0, 1)
				continue
			}
			seen[p.ID()] = struct{}{}
			batch = append(batch, p)
			if len(batch) >= in.BatchSize {
				flush()
			}
		}
	}
	flush()
	close(batches)
	<-stored
	sortProblems(rep.Problems)
	rep.Elapsed = in.clock().Sub(start)
	if storeErr != nil {
		return rep, fmt.Errorf("store events: %w", storeErr)
	}
	if prodErr != nil && !errors.Is(prodErr, context.Canceled) {
		return rep, prodErr
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if rep.Rejected > 0 {
		in.log.Warn("ingestion rejected inputs", "source", source, "read", rep.Read, "rejected", rep.Rejected)
	}
	return rep, nil
}

// keyMaker is a Store that creates the data keys of many patients at once
// (audit.Recorder).
type keyMaker interface {
	EnsureKeys(ctx context.Context, patientIDs []string) error
}

// work decodes, checks and seals one chunk. The data keys of the chunk's
// new patients are made together first, so that a feed of many patients
// does not commit one key at a time.
func (in *Ingester) work(ctx context.Context, c []unit, decode decoder) chunkResult {
	res := chunkResult{read: len(c)}
	type checked struct {
		pos int
		ev  audit.Event
	}
	evs := make([]checked, 0, len(c))
	for _, u := range c {
		if u.prob != nil {
			res.problems = append(res.problems, *u.prob)
			continue
		}
		var ev audit.Event
		if u.ev != nil {
			ev = *u.ev
		} else {
			var err error
			if ev, err = decode(u.data); err != nil {
				res.problems = append(res.problems, problemOf(u.pos, err))
				continue
			}
		}
		if err := checkIngested(ev); err != nil {
			res.problems = append(res.problems, problemOf(u.pos, err))
			continue
		}
		evs = append(evs, checked{u.pos, ev})
	}
	if km, ok := in.store.(keyMaker); ok && len(evs) > 0 {
		patients := make([]string, len(evs))
		for i := range evs {
			patients[i] = evs[i].ev.PatientID
		}
		if err := km.EnsureKeys(ctx, patients); err != nil && ctx.Err() == nil {
			// Prepare then makes each key on its own and reports what
			// fails; the error may name a patient, so it is not logged.
			in.log.Warn("ingest: the data keys of a chunk could not be made together")
		}
	}
	for _, c := range evs {
		p, err := in.store.Prepare(ctx, c.ev)
		if err != nil {
			res.problems = append(res.problems, problemOf(c.pos, err))
			continue
		}
		res.prepared = append(res.prepared, p)
	}
	return res
}

// errNoPatient marks an access event that names no patient.
var errNoPatient = fault.InvalidField("entity", "names no patient (an entity with role 1 Patient and a Patient reference)")

// checkIngested applies what ingestion asks beyond a valid event: an access
// must name its patient, since privacy monitoring can do nothing with an
// access to nobody. Sign-in and sign-out events are the exception: they
// name no patient, and the credential detectors read them.
func checkIngested(ev audit.Event) error {
	if ev.PatientID != "" {
		return nil
	}
	switch ev.Subtype {
	case "login", "logout":
		return nil
	}
	return errNoPatient
}

// problemOf classifies an error into a reason and a detail that names a
// place, not a value.
func problemOf(pos int, err error) Problem {
	if errors.Is(err, errNoPatient) {
		return Problem{pos, ReasonNoPatient, fault.Message(err)}
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		return Problem{pos, ReasonInvalidEvent, "the event could not be read"}
	}
	msg := fault.Message(err)
	switch {
	case fe.Kind == fault.TooLarge:
		return Problem{pos, ReasonTooLarge, msg}
	case strings.Contains(fe.Msg, "not valid JSON") || strings.Contains(fe.Msg, "twice") ||
		strings.Contains(fe.Msg, "trailing data") || strings.Contains(fe.Msg, "nested deeper") ||
		strings.Contains(fe.Msg, "UTF-8") || (fe.Field == "AuditEvent" && strings.Contains(fe.Msg, "not a JSON object")):
		return Problem{pos, ReasonInvalidJSON, msg}
	case fe.Field == "AuditEvent.resourceType":
		return Problem{pos, ReasonWrongType, msg}
	case strings.HasPrefix(fe.Field, "AuditEvent.agent"):
		return Problem{pos, ReasonNoAgent, msg}
	case fe.Field == "AuditEvent.recorded" || fe.Field == "time":
		return Problem{pos, ReasonInvalidDate, msg}
	}
	return Problem{pos, ReasonInvalidEvent, msg}
}

// sortProblems puts problems in input order: workers finish chunks out of
// order.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/monitor/detect"
	"github.com/trustward/trustward/internal/monitor/eval"
	"github.com/trustward/trustward/internal/monitor/explain"
	"github.com/trustward/trustward/internal/sim"
)

const simUsage = `Usage:
  trustward sim accesses --out DIR [--seed N] [--patients N] [--staff N] [--days N]
      simulate a hospital's accesses with ground truth: DIR/context.ndjson
      (FHIR R4 context), DIR/events.ndjson (FHIR R4 AuditEvents) and
      DIR/truth.ndjson (event id -> label, scenario, case)
`

const monitorUsage = `Usage:
  trustward monitor explanations --context DIR|FILE --events FILE [--out FILE]
      one line per event: {"event": id, "explanation": kind or "unexplained"}
  trustward monitor export --context DIR|FILE --events FILE [--from TIME] [--to TIME]
                           [--out FILE] [--reviews FILE] [--all]
      score the events (re-scoring the range from..to in batch; earlier events
      build the baselines) and write the cases as NDJSON: case id, user,
      patients, AuditEvent ids, score, reasons; --reviews writes the
      break-the-glass review queue; --all also writes cases under the threshold
  trustward monitor eval [--seeds 301,302,...] [--tuning] [--patients N] [--staff N] [--days N]
      simulate, detect and score against ground truth; --tuning uses the
      tuning seeds (1-10); the default seeds are the held-out 301-310
      (reported once, round 4: a new round needs fresh seeds, --seeds)

Bad AuditEvent lines are listed with their number and reason on stderr and
skipped; the others are used. Exit status: 0 done, 1 failure, 2 usage.
`

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "accesses" {
		fmt.Fprint(stderr, simUsage)
		return &config.Error{Setting: "sim", Msg: "usage: trustward sim accesses --out DIR"}
	}
	fs := flag.NewFlagSet("trustward sim accesses", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simUsage) }
	out := fs.String("out", "", "output `DIR`")
	seed := fs.Int64("seed", 1, "seed")
	patients := fs.Int("patients", sim.DefaultAccessPatients, "patients")
	staff := fs.Int("staff", sim.DefaultAccessStaff, "staff")
	days := fs.Int("days", sim.DefaultAccessDays, "days")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return &config.Error{Setting: "--out", Msg: "the output folder is required (and no other arguments)"}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	files := map[string]*bufio.Writer{}
	var closers []*os.File
	for _, name := range []string{"context", "events", "truth"} {
		f, err := os.Create(filepath.Join(*out, name+".ndjson"))
		if err != nil {
			return err
		}
		closers = append(closers, f)
		files[name] = bufio.NewWriterSize(f, 1<<20)
	}
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	line := func(w *bufio.Writer, b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		return w.WriteByte('\n')
	}
	sum, err := sim.GenerateAccesses(ctx, sim.AccessOptions{Seed: *seed, Patients: *patients, Staff: *staff, Days: *days}, sim.AccessSink{
		Context: func(r sim.Resource) error { return line(files["context"], r.JSON) },
		Event: func(e audit.Event) error {
			b, err := e.ToFHIR()
			if err != nil {
				return err
			}
			return line(files["events"], b)
		},
		Truth: func(t sim.Truth) error {
			b, err := json.Marshal(t)
			if err != nil {
				return err
			}
			return line(files["truth"], b)
		},
	})
	if err != nil {
		if strings.HasPrefix(err.Error(), "sim: ") {
			return &config.Error{Setting: "sim accesses", Msg: strings.TrimPrefix(err.Error(), "sim: ")}
		}
		return err
	}
	for i, name := range []string{"context", "events", "truth"} {
		if err := files[name].Flush(); err != nil {
			return err
		}
		if err := closers[i].Close(); err != nil {
			return err
		}
	}
	closers = nil
	fmt.Fprintf(stdout, "%d context resources, %d events (%d legitimate, %d without a recorded reason, %d hard negatives, %d violations in %d cases) from %s to %s, violations after %s\n",
		sum.Context, sum.Events, sum.Legitimate, sum.Unrecorded, sum.HardNeg, sum.Violate, sum.Cases,
		sum.Start.Format("2006-01-02"), sum.End.Format("2006-01-02"), sum.Warmup.Format("2006-01-02"))
	return nil
}

func runMonitor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, monitorUsage)
		return &config.Error{Setting: "monitor", Msg: "usage: trustward monitor explanations|export|eval"}
	}
	switch args[0] {
	case "explanations":
		return runExplanations(args[1:], stdout, stderr)
	case "export":
		return runExport(args[1:], stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, monitorUsage)
	return &config.Error{Setting: "monitor", Msg: fmt.Sprintf("%q is not explanations, export or eval", args[0])}
}

// monitorInputs parses the shared flags and opens context and events.
type monitorInputs struct {
	fs                                     *flag.FlagSet
	contextPath, eventsPath, out, from, to string
	reviews                                string
	all                                    bool
}

func parseMonitorFlags(name string, args []string, stderr io.Writer, export bool) (*monitorInputs, error) {
	in := &monitorInputs{fs: flag.NewFlagSet("trustward monitor "+name, flag.ContinueOnError)}
	fs := in.fs
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, monitorUsage) }
	fs.StringVar(&in.contextPath, "context", "", "context `DIR` or file (FHIR R4 NDJSON)")
	fs.StringVar(&in.eventsPath, "events", "", "AuditEvent NDJSON `FILE` (- for stdin)")
	fs.StringVar(&in.out, "out", "", "output `FILE` (default stdout)")
	if export {
		fs.StringVar(&in.from, "from", "", "re-score from this RFC 3339 `TIME`")
		fs.StringVar(&in.to, "to", "", "up to this RFC 3339 `TIME`")
		fs.StringVar(&in.reviews, "reviews", "", "write the break-the-glass review queue to `FILE`")
		fs.BoolVar(&in.all, "all", false, "also write cases under the reporting threshold")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if in.contextPath == "" || in.eventsPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return nil, &config.Error{Setting: "monitor " + name, Msg: "--context and --events are required (and no other arguments)"}
	}
	return in, nil
}

func openEvents(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &config.Error{Setting: "--events", Msg: err.Error()}
	}
	return f, nil
}

func openOut(path string, stdout io.Writer) (*bufio.Writer, func() error, error) {
	if path == "" {
		w := bufio.NewWriter(stdout)
		return w, w.Flush, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	return w, func() error {
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

func badLine(stderr io.Writer, bad *int) func(int, error) {
	return func(n int, err error) {
		*bad++
		fmt.Fprintf(stderr, "events line %d: %s\n", n, errorLine(err))
	}
}

func runExplanations(args []string, stdout, stderr io.Writer) error {
	in, err := parseMonitorFlags("explanations", args, stderr, false)
	if err != nil {
		return err
	}
	cx, err := explain.LoadContext(in.contextPath)
	if err != nil {
		return &config.Error{Setting: "--context", Msg: err.Error()}
	}
	r, err := openEvents(in.eventsPath)
	if err != nil {
		return err
	}
	defer r.Close()
	w, done, err := openOut(in.out, stdout)
	if err != nil {
		return err
	}
	eng := explain.NewEngine(cx)
	bad := 0
	type line struct {
		Event       string `json:"event"`
		Explanation string `json:"explanation"`
		Ref         string `json:"ref,omitempty"`
	}
	enc := json.NewEncoder(w)
	good, err := explain.ReadEvents(r, func(ev audit.Event) error {
		ex := eng.Explain(&ev)
		return enc.Encode(line{ev.ID, ex.Kind, ex.Ref})
	}, badLine(stderr, &bad))
	if cerr := done(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d events explained, %d bad lines skipped\n", good, bad)
	return nil
}

func runExport(args []string, stdout, stderr io.Writer) error {
	in, err := parseMonitorFlags("export", args, stderr, true)
	if err != nil {
		return err
	}
	var from, to time.Time
	for _, f := range []struct {
		name, v string
		dst     *time.Time
	}{{"--from", in.from, &from}, {"--to", in.to, &to}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			return &config.Error{Setting: f.name, Msg: fmt.Sprintf("%q is not an RFC 3339 time", f.v)}
		}
		*f.dst = t
	}
	cx, err := explain.LoadContext(in.contextPath)
	if err != nil {
		return &config.Error{Setting: "--context", Msg: err.Error()}
	}
	r, err := openEvents(in.eventsPath)
	if err != nil {
		return err
	}
	defer r.Close()
	var events []audit.Event
	bad := 0
	if _, err := explain.ReadEvents(r, func(ev audit.Event) error { events = append(events, ev); return nil }, badLine(stderr, &bad)); err != nil {
		return err
	}
	// Exports of several systems interleave; the windows need time order.
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	cfg := detect.DefaultConfig()
	d := detect.Rescore(cx, cfg, func(yield func(*audit.Event) bool) {
		for i := range events {
			if !yield(&events[i]) {
				return
			}
		}
	}, from, to)
	cases := d.Cases()
	if in.all {
		cases = d.AllCases()
	}
	w, done, err := openOut(in.out, stdout)
	if err != nil {
		return err
	}
	type caseLine struct {
		Case     string    `json:"case"`
		User     string    `json:"user"`
		Patients []string  `json:"patients"`
		Events   []string  `json:"events"`
		Score    float64   `json:"score"`
		Reasons  []string  `json:"reasons"`
		Summary  string    `json:"summary"`
		Opened   time.Time `json:"opened"`
		Updated  time.Time `json:"updated"`
	}
	enc := json.NewEncoder(w)
	for _, c := range cases {
		cl := caseLine{Case: c.ID, User: c.User, Patients: c.Patients, Events: c.Events, Score: c.Score, Opened: c.Opened, Updated: c.Updated}
		for _, r := range c.Reasons {
			cl.Reasons = append(cl.Reasons, r.Text)
		}
		cl.Summary = strings.Join(cl.Reasons, "; ")
		if cl.Patients == nil {
			cl.Patients = []string{}
		}
		if err := enc.Encode(cl); err != nil {
			done()
			return err
		}
	}
	if err := done(); err != nil {
		return err
	}
	if in.reviews != "" {
		rw, rdone, err := openOut(in.reviews, stdout)
		if err != nil {
			return err
		}
		renc := json.NewEncoder(rw)
		for _, rv := range d.ReviewQueue() {
			if err := renc.Encode(rv); err != nil {
				rdone()
				return err
			}
		}
		if err := rdone(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d events scored, %d bad lines skipped, %d cases written, %d break-the-glass reviews\n",
		len(events), bad, len(cases), len(d.ReviewQueue()))
	return nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trustward monitor eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, monitorUsage) }
	seedList := fs.String("seeds", "", "comma-separated `seeds` (default: the held-out seeds)")
	tuning := fs.Bool("tuning", false, "evaluate on the tuning seeds")
	patients := fs.Int("patients", sim.DefaultAccessPatients, "patients")
	staff := fs.Int("staff", sim.DefaultAccessStaff, "staff")
	days := fs.Int("days", sim.DefaultAccessDays, "days")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &config.Error{Setting: "monitor eval", Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	seeds := eval.HeldOutSeeds
	if *tuning {
		seeds = eval.TuningSeeds
	}
	if *seedList != "" {
		seeds = nil
		for _, s := range strings.Split(*seedList, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return &config.Error{Setting: "--seeds", Msg: fmt.Sprintf("%q is not a number", s)}
			}
			seeds = append(seeds, n)
		}
	}
	rep, err := eval.Run(ctx, eval.Options{Seeds: seeds, Patients: *patients, Staff: *staff, Days: *days, Config: detect.DefaultConfig()})
	if err != nil {
		if strings.HasPrefix(err.Error(), "sim: ") {
			return &config.Error{Setting: "monitor eval", Msg: strings.TrimPrefix(err.Error(), "sim: ")}
		}
		return err
	}
	return rep.Write(stdout)
}

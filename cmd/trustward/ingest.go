package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/config"
)

const ingestUsage = `Usage:
  trustward ingest [--format auto|ndjson|json] [--source NAME] FILE|-
      load FHIR R4 AuditEvents: NDJSON (one per line), one AuditEvent,
      or a Bundle of them; auto tells them apart by the first line
  trustward ingest --mapping MAPPING.json FILE|-
      load a CSV access-log export through a column mapping (docs/ingest.md)
  trustward ingest --context FILE|-
      load the context that explains accesses for privacy monitoring: FHIR
      R4 NDJSON (Organization, Practitioner, PractitionerRole, Patient,
      RelatedPerson, Encounter, CareTeam, Appointment, ServiceRequest,
      MedicationRequest; a Bundle on a line counts entry by entry) or one
      Bundle; a resource sent again replaces the stored one

Events already stored (same id) are counted as duplicates and not stored
again, so a file can be loaded twice. A bad line or row is listed with its
number and reason; the others are stored. The store flags (--data, --db,
--config ...) are those of serve. Exit status: 0 all stored, 1 some inputs
were rejected or the store failed, 2 usage.
`

// ingestFlags are the flags of ingest itself; the rest go to config.
var ingestFlags = map[string]bool{"format": true, "mapping": true, "source": true, "context": true}

func runIngest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	own := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || !ingestFlags[name] {
			rest = append(rest, args[i])
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return &config.Error{Setting: "--" + name, Msg: "needs a value"}
			}
			i++
			val = args[i]
		}
		own[name] = val
	}
	cfg, pos, err := config.Load("trustward ingest", rest, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, ingestUsage)
		}
		return err
	}
	if file, ok := own["context"]; ok {
		if len(pos) != 0 || len(own) != 1 {
			fmt.Fprint(stderr, ingestUsage)
			return &config.Error{Setting: "--context", Msg: "takes the context FILE (or -) and no other file, --format, --mapping or --source"}
		}
		return ingestContext(ctx, cfg, file, stdout, stderr)
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, ingestUsage)
		return &config.Error{Setting: "ingest", Msg: "give exactly one FILE, or - for standard input"}
	}
	format := ingest.Format(own["format"])
	if format == "auto" {
		format = ingest.FormatAuto
	}
	var mapping *ingest.Mapping
	if own["mapping"] != "" {
		b, err := os.ReadFile(own["mapping"])
		if err != nil {
			return &config.Error{Setting: "--mapping", Msg: err.Error()}
		}
		m, err := ingest.ParseMapping(b)
		if err != nil {
			return fmt.Errorf("mapping %s: %w", own["mapping"], err)
		}
		mapping = &m
	}
	in := io.Reader(os.Stdin)
	name := "standard input"
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return &config.Error{Setting: "ingest", Msg: err.Error()}
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	log := newLogger(stderr, cfg.LogLevel)
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	var last time.Time
	progress := func(r ingest.Report) {
		if time.Since(last) < 500*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "\r%s: %d read, %d stored, %d duplicates, %d rejected, %.0f events/s", name, r.Read, r.Accepted, r.Duplicates, r.Rejected, r.Rate())
	}
	var rep ingest.Report
	if mapping != nil {
		rep, err = a.Ingest.IngestCSV(ctx, *mapping, in, progress)
	} else {
		source := own["source"]
		if source == "" {
			source = "file"
		}
		rep, err = a.Ingest.IngestFHIR(ctx, source, format, in, progress)
	}
	if !last.IsZero() {
		fmt.Fprintln(stderr)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "%s: %s\n", name, p)
	}
	if rep.Rejected > len(rep.Problems) {
		fmt.Fprintf(stdout, "%s: ... and %d more rejected\n", name, rep.Rejected-len(rep.Problems))
	}
	fmt.Fprintf(stdout, "%s: %d read, %d stored, %d duplicates (already stored), %d rejected in %s (%.0f events/s)\n",
		name, rep.Read, rep.Accepted, rep.Duplicates, rep.Rejected, rep.Elapsed.Round(time.Millisecond), rep.Rate())
	if err != nil {
		return err
	}
	if rep.Rejected > 0 {
		return fmt.Errorf("%d of %d inputs were rejected (listed above); the others were stored", rep.Rejected, rep.Read)
	}
	return nil
}

// ingestContext stores monitoring context from a file or standard input.
func ingestContext(ctx context.Context, cfg config.Config, file string, stdout, stderr io.Writer) error {
	in := io.Reader(os.Stdin)
	name := "standard input"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return &config.Error{Setting: "--context", Msg: err.Error()}
		}
		defer f.Close()
		in, name = f, file
	}
	a, err := app.Open(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	rep, err := a.Cases.PutContext(ctx, in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "%s: %s\n", name, p)
	}
	if rep.Rejected > len(rep.Problems) {
		fmt.Fprintf(stdout, "%s: ... and %d more rejected\n", name, rep.Rejected-len(rep.Problems))
	}
	fmt.Fprintf(stdout, "%s: %d context resources stored, %d rejected in %s\n", name, rep.Stored, rep.Rejected, time.Since(start).Round(time.Millisecond))
	if rep.Rejected > 0 {
		return fmt.Errorf("%d context resources were rejected (listed above); the others were stored", rep.Rejected)
	}
	return nil
}

package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

// MaxLine bounds one NDJSON line: an AuditEvent is at most 1 MiB.
const MaxLine = 1 << 20

// MaxDocument bounds a single JSON document (one AuditEvent or a Bundle);
// larger feeds belong in NDJSON, which is read line by line.
const MaxDocument = 256 << 20

// Format is the shape of a FHIR input.
type Format string

// The FHIR input formats.
const (
	FormatAuto   Format = ""
	FormatNDJSON Format = "ndjson"
	// FormatJSON is one AuditEvent or a Bundle of them.
	FormatJSON Format = "json"
)

func decodeAuditEvent(data []byte) (audit.Event, error) { return audit.EventFromFHIR(data) }

// IngestFHIR reads AuditEvents in the given format; FormatAuto reads NDJSON
// when the first line is a whole JSON value other than a Bundle, else one
// AuditEvent or a Bundle.
func (in *Ingester) IngestFHIR(ctx context.Context, source string, format Format, r io.Reader, progress Progress) (Report, error) {
	switch format {
	case FormatNDJSON:
		return in.IngestNDJSON(ctx, source, r, progress)
	case FormatJSON:
		return in.IngestJSON(ctx, source, r, progress)
	case FormatAuto:
	default:
		return Report{Source: source}, fault.InvalidField("format", "%q is not ndjson or json", string(format))
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if looksLikeNDJSON(br) {
		return in.IngestNDJSON(ctx, source, br, progress)
	}
	return in.IngestJSON(ctx, source, br, progress)
}

// looksLikeNDJSON peeks at the first line without consuming it.
func looksLikeNDJSON(br *bufio.Reader) bool {
	for n := 4096; ; n *= 4 {
		b, err := br.Peek(n)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			first := bytes.TrimSpace(b[:i])
			if !json.Valid(first) {
				return false
			}
			var probe struct {
				ResourceType string `json:"resourceType"`
			}
			_ = json.Unmarshal(first, &probe)
			return probe.ResourceType != "Bundle"
		}
		if err != nil || n >= br.Size() {
			// One line only, or a first line longer than the buffer: a
			// single document either way.
			return false
		}
	}
}

// IngestNDJSON reads AuditEvent NDJSON, one resource per line. Blank lines
// are skipped; a bad line is rejected with its number and the rest go on.
func (in *Ingester) IngestNDJSON(ctx context.Context, source string, r io.Reader, progress Progress) (Report, error) {
	return in.run(ctx, source, decodeAuditEvent, func(emit func(unit) error) error {
		return scanLines(r, MaxLine, func(n int, line []byte, tooLong bool) error {
			if tooLong {
				return emit(unit{pos: n, prob: &Problem{n, ReasonTooLarge, fmt.Sprintf("the line is longer than %d bytes", MaxLine)}})
			}
			return emit(unit{pos: n, data: line})
		})
	}, progress)
}

// scanLines calls fn with each non-blank line (a copy, without its line
// end) and its 1-based number; a line longer than max is reported with
// tooLong and skipped without being held in memory.
func scanLines(r io.Reader, max int, fn func(n int, line []byte, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	var acc []byte
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 && !tooLong {
			if len(acc)+len(frag) > max+2 {
				tooLong, acc = true, acc[:0]
			} else {
				acc = append(acc, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(frag) > 0 || len(acc) > 0 || tooLong {
			n++
			line := bytes.TrimSpace(acc)
			switch {
			case tooLong:
				if ferr := fn(n, nil, true); ferr != nil {
					return ferr
				}
			case len(line) > 0:
				if ferr := fn(n, bytes.Clone(line), false); ferr != nil {
					return ferr
				}
			}
			acc, tooLong = acc[:0], false
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fault.Wrap(fault.Invalid, err, "the input could not be read after line %d", n)
		}
	}
}

// IngestJSON reads one AuditEvent or a Bundle whose entries are
// AuditEvents; Problem.Line is then the 1-based entry number. A document
// that is not JSON at all is one rejected input.
func (in *Ingester) IngestJSON(ctx context.Context, source string, r io.Reader, progress Progress) (Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocument+1))
	if err != nil {
		return Report{Source: source}, fault.Wrap(fault.Invalid, err, "the input could not be read")
	}
	units, err := splitDocument(data)
	if err != nil {
		return Report{Source: source}, err
	}
	return in.run(ctx, source, decodeAuditEvent, func(emit func(unit) error) error {
		for _, u := range units {
			if err := emit(u); err != nil {
				return err
			}
		}
		return nil
	}, progress)
}

// splitDocument splits a JSON document into AuditEvent units: itself, or a
// Bundle's entries. Errors of the whole document become one problem at
// position 1; only a document beyond MaxDocument fails outright.
func splitDocument(data []byte) ([]unit, error) {
	if len(data) > MaxDocument {
		return nil, fault.New(fault.TooLarge, "the document is larger than %d MiB; send bulk events as NDJSON", MaxDocument>>20)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fault.New(fault.Invalid, "the input is empty")
	}
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &probe); err != nil || probe.ResourceType != "Bundle" {
		// Not a Bundle: one AuditEvent, whose errors the mapping names.
		return []unit{{pos: 1, data: data}}, nil
	}
	var b struct {
		Entry []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return []unit{{pos: 1, prob: &Problem{1, ReasonInvalidJSON, "Bundle.entry is not an array of objects"}}}, nil
	}
	units := make([]unit, 0, len(b.Entry))
	for i, raw := range b.Entry {
		n := i + 1
		var e struct {
			Resource json.RawMessage `json:"resource"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			units = append(units, unit{pos: n, prob: &Problem{n, ReasonInvalidJSON, fmt.Sprintf("Bundle.entry[%d] is not an object", i)}})
			continue
		}
		if len(e.Resource) == 0 || string(e.Resource) == "null" {
			units = append(units, unit{pos: n, prob: &Problem{n, ReasonWrongType, fmt.Sprintf("Bundle.entry[%d] has no resource", i)}})
			continue
		}
		units = append(units, unit{pos: n, data: e.Resource})
	}
	return units, nil
}

package records

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/trustward/trustward/internal/fault"
)

// ImportResult counts what an import wrote.
type ImportResult struct {
	Resources int
	ByType    map[string]int
}

// LineError is a problem with one resource of an import.
type LineError struct {
	Line int // 1-based line of NDJSON, or entry index+1 of a Bundle
	Err  error
}

// ImportError lists every bad line of an import; nothing was written.
type ImportError struct{ Lines []LineError }

func (e *ImportError) Error() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d bad resources, nothing imported", len(e.Lines))
	for i, l := range e.Lines {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Lines)-10)
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", l.Line, fault.Message(l.Err))
	}
	return b.String()
}

// MaxImportLine bounds one NDJSON line.
const MaxImportLine = 4 << 20

// Import reads a FHIR Bundle (batch, transaction or collection) or NDJSON
// (one resource per line) and stores every resource in one transaction:
// when any resource is bad, the error lists each bad line and nothing is
// written. progress, when not nil, is called as resources are written.
func (s *Store) Import(ctx context.Context, r io.Reader, progress func(done, total int)) (ImportResult, error) {
	raws, err := SplitImport(r)
	if err != nil {
		return ImportResult{}, err
	}
	return s.ImportResources(ctx, raws, progress)
}

// SplitImport reads a FHIR Bundle or NDJSON and returns its resources as
// separate JSON documents (nil for blank NDJSON lines, so that line numbers
// hold). It checks the framing only; resources are validated on import.
func SplitImport(r io.Reader) ([][]byte, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	if first != '{' {
		return nil, fault.New(fault.Invalid, "an import must be a FHIR Bundle or NDJSON of resources (it does not start with '{')")
	}
	all, err := io.ReadAll(io.LimitReader(br, 1<<30))
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "cannot read import")
	}
	// A Bundle is one JSON object (possibly pretty-printed); NDJSON starts
	// with '{' too, so look at the resourceType of the first value.
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if dec := json.NewDecoder(bytes.NewReader(all)); dec.Decode(&head) == nil && head.ResourceType == "Bundle" && !dec.More() {
		return bundleEntries(all)
	}
	return ndjsonLines(bytes.NewReader(all))
}

// ImportResources stores resources given as JSON documents in one
// transaction; nil entries (blank lines) are skipped but keep their line
// numbers in errors.
func (s *Store) ImportResources(ctx context.Context, raws [][]byte, progress func(done, total int)) (ImportResult, error) {
	if len(raws) == 0 {
		return ImportResult{}, fault.New(fault.Invalid, "the import holds no resources")
	}
	var bad []LineError
	prs := make([]*prepared, 0, len(raws))
	for i, raw := range raws {
		if raw == nil { // blank NDJSON line
			continue
		}
		pr, err := s.prepare(raw, "", "", false)
		if err != nil {
			bad = append(bad, LineError{Line: i + 1, Err: err})
			continue
		}
		prs = append(prs, pr)
	}
	kept := make([][]byte, 0, len(prs))
	for _, raw := range raws {
		if raw != nil {
			kept = append(kept, raw)
		}
	}
	if len(bad) > 0 {
		return ImportResult{}, &fault.Error{Kind: fault.Invalid, Msg: (&ImportError{Lines: bad}).Error(), Err: &ImportError{Lines: bad}}
	}
	res, err := s.write(ctx, prs, kept, writeUpsert, func(done int) {
		if progress != nil {
			progress(done, len(prs))
		}
	})
	if err != nil {
		return ImportResult{}, err
	}
	out := ImportResult{Resources: len(res), ByType: map[string]int{}}
	for _, r := range res {
		out.ByType[r.Type]++
	}
	if progress != nil {
		progress(len(prs), len(prs))
	}
	return out, nil
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, fault.New(fault.Invalid, "the import is empty")
		}
		if err != nil {
			return 0, fault.Wrap(fault.Invalid, err, "cannot read import")
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

func bundleEntries(all []byte) ([][]byte, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(all, &b); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the Bundle is not valid JSON")
	}
	switch b.Type {
	case "batch", "transaction", "collection":
	default:
		return nil, fault.InvalidField("Bundle.type", "%q: only batch, transaction and collection bundles can be imported", b.Type)
	}
	out := make([][]byte, len(b.Entry))
	for i, e := range b.Entry {
		if len(e.Resource) == 0 {
			return nil, fault.InvalidField(fmt.Sprintf("Bundle.entry[%d].resource", i), "is missing")
		}
		out[i] = e.Resource
	}
	return out, nil
}

func ndjsonLines(r io.Reader) ([][]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxImportLine)
	var out [][]byte
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			out = append(out, nil)
			continue
		}
		out = append(out, append([]byte(nil), line...))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fault.New(fault.TooLarge, "line %d is longer than %d bytes", len(out)+1, MaxImportLine)
		}
		return nil, fault.Wrap(fault.Invalid, err, "cannot read NDJSON")
	}
	return out, nil
}

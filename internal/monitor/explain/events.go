package explain

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

// maxEventLine bounds one AuditEvent line, as the audit package does.
const maxEventLine = 1 << 20

// ReadEvents streams FHIR R4 AuditEvents, one per line, to each. A line
// that is not a valid AuditEvent goes to bad with its number and reason
// and the stream goes on; an error of each stops it.
func ReadEvents(r io.Reader, each func(audit.Event) error, bad func(line int, err error)) (good int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventLine+1)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ev, err := audit.EventFromFHIR(line)
		if err != nil {
			bad(n, err)
			continue
		}
		if err := each(ev); err != nil {
			return good, err
		}
		good++
	}
	if err := sc.Err(); err != nil {
		return good, fault.Wrap(fault.Invalid, err, "events line %d", n+1)
	}
	return good, nil
}

// LoadContext reads a context file, or a folder's context*.ndjson files
// (else all its *.ndjson files but events* and truth*) in name order.
func LoadContext(path string) (*Context, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fault.Wrap(fault.NotFound, err, "context %s", path)
	}
	files := []string{path}
	if fi.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.ndjson"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		// A folder's context is its context*.ndjson files; without
		// them, every *.ndjson but the events and truth a simulator
		// writes next to the context.
		var named, rest []string
		for _, f := range files {
			switch base := filepath.Base(f); {
			case strings.HasPrefix(base, "context"):
				named = append(named, f)
			case !strings.HasPrefix(base, "events") && !strings.HasPrefix(base, "truth"):
				rest = append(rest, f)
			}
		}
		files = named
		if len(files) == 0 {
			files = rest
		}
		if len(files) == 0 {
			return nil, fault.New(fault.NotFound, "no context *.ndjson in %s", path)
		}
	}
	c := NewContext()
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		err = c.ReadNDJSON(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	return c, nil
}

package devices

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/trustward/trustward/internal/fault"
)

// EPSS maps CVE ids to their EPSS probability.
type EPSS map[string]float64

// ParseEPSS reads FIRST's EPSS CSV: an optional "#model_version:..." line,
// a header "cve,epss,percentile", then one row per CVE. A malformed row is
// an error naming its line.
func ParseEPSS(r io.Reader) (EPSS, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(1); err == nil && b[0] == '#' {
		if _, err := br.ReadString('\n'); err != nil {
			return nil, fault.New(fault.Invalid, "EPSS file has only a comment line")
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fault.New(fault.Invalid, "EPSS file has no header line")
	}
	cve, score := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "cve":
			cve = i
		case "epss":
			score = i
		}
	}
	if cve < 0 || score < 0 {
		return nil, fault.New(fault.Invalid, "EPSS header must name the columns cve and epss")
	}
	out := EPSS{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fault.Wrap(fault.Invalid, err, "EPSS file cannot be read")
		}
		line, _ := cr.FieldPos(0)
		if len(rec) <= max(cve, score) {
			return nil, fault.New(fault.Invalid, "EPSS line %d has %d fields", line, len(rec))
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(rec[score]), 64)
		id := strings.ToUpper(strings.TrimSpace(rec[cve]))
		if err != nil || p < 0 || p > 1 || !strings.HasPrefix(id, "CVE-") {
			return nil, fault.New(fault.Invalid, "EPSS line %d: %q,%q is not a CVE id and a probability from 0 to 1", line, rec[cve], rec[score])
		}
		out[id] = p
	}
}

// Lookup returns the EPSS of the first id found (a CVE or one of its
// aliases), or -1.
func (e EPSS) Lookup(ids ...string) float64 {
	for _, id := range ids {
		if p, ok := e[strings.ToUpper(id)]; ok {
			return p
		}
	}
	return -1
}

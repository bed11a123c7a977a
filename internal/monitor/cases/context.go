package cases

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/monitor/explain"
)

// Sealer encrypts under a subject's data key.
type Sealer interface {
	Seal(ctx context.Context, subject, record string, plain []byte) ([]byte, error)
	Open(ctx context.Context, subject, record string, sealed []byte) ([]byte, error)
}

// MaxContextLine bounds one line (or one single-document upload) of
// context.
const MaxContextLine = 4 << 20

// ContextProblem is one resource that was refused.
type ContextProblem struct {
	// Line is the NDJSON line (1-based); 1 for a single document.
	Line int `json:"line"`
	// Entry is the Bundle entry (0-based), or -1 when the line is the
	// resource itself.
	Entry  int    `json:"entry"`
	Reason string `json:"reason"`
}

func (p ContextProblem) String() string {
	if p.Entry >= 0 {
		return fmt.Sprintf("line %d, entry %d: %s", p.Line, p.Entry, p.Reason)
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
}

// ContextReport says what a context upload did.
type ContextReport struct {
	Stored   int              `json:"stored"`
	Rejected int              `json:"rejected"`
	ByType   map[string]int   `json:"byType"`
	Problems []ContextProblem `json:"problems,omitempty"`
}

// maxProblems bounds the problems a report lists (all are counted).
const maxProblems = 100

// contextRow is one validated resource, ready to seal.
type contextRow struct {
	key, subject string
	body         []byte
}

// keyOf reads what the store needs of a resource: its key and the
// subject it is sealed under.
func keyOf(b []byte) (contextRow, error) {
	type ref struct {
		Reference string `json:"reference"`
	}
	var r struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Subject      ref    `json:"subject"`
		Patient      ref    `json:"patient"`
		Practitioner ref    `json:"practitioner"`
		Participant  []struct {
			Actor ref `json:"actor"`
		} `json:"participant"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return contextRow{}, err
	}
	row := contextRow{key: r.ResourceType + "/" + r.ID, body: b}
	refID := func(s, typ string) string {
		if id, ok := strings.CutPrefix(s, typ+"/"); ok {
			return id
		}
		return ""
	}
	switch r.ResourceType {
	case "Patient":
		row.subject = audit.Subject(r.ID)
	case "RelatedPerson":
		row.subject = audit.Subject(refID(r.Patient.Reference, "Patient"))
	case "Encounter", "CareTeam", "ServiceRequest", "MedicationRequest":
		row.subject = audit.Subject(refID(r.Subject.Reference, "Patient"))
	case "Appointment":
		for _, p := range r.Participant {
			if id := refID(p.Actor.Reference, "Patient"); id != "" {
				row.subject = audit.Subject(id)
			}
		}
	case "Practitioner":
		row.subject = "staff/" + r.ID
	case "PractitionerRole":
		row.subject = "staff/" + refID(r.Practitioner.Reference, "Practitioner")
	default:
		row.subject = audit.Subject("")
	}
	return row, nil
}

// PutContext validates and stores context resources from r: NDJSON (a
// Bundle on a line counts entry by entry) or one JSON document. A bad
// resource is refused with its line, entry and reason; the good ones are
// stored in one transaction, so an error from the store writes nothing.
func (s *Service) PutContext(ctx context.Context, r io.Reader) (ContextReport, error) {
	rep := ContextReport{ByType: map[string]int{}}
	var rows []contextRow
	refuse := func(line, entry int, err error) {
		rep.Rejected++
		if len(rep.Problems) < maxProblems {
			rep.Problems = append(rep.Problems, ContextProblem{Line: line, Entry: entry, Reason: fault.Message(err)})
		}
	}
	take := func(line, entry int, b []byte) {
		// A scratch context checks the resource exactly as the engine
		// will read it.
		if err := explain.NewContext().Add(b); err != nil {
			refuse(line, entry, err)
			return
		}
		row, err := keyOf(b)
		if err != nil {
			refuse(line, entry, err)
			return
		}
		row.body = append([]byte(nil), b...)
		rows = append(rows, row)
		rep.ByType[row.key[:strings.IndexByte(row.key, '/')]]++
	}
	unit := func(line int, b []byte) {
		var head struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			refuse(line, -1, fault.Wrap(fault.Invalid, err, "not a FHIR resource in JSON"))
			return
		}
		if head.ResourceType != "Bundle" {
			take(line, -1, b)
			return
		}
		if len(head.Entry) == 0 {
			refuse(line, -1, fault.InvalidField("entry", "the Bundle has no entries"))
			return
		}
		for i, e := range head.Entry {
			if len(e.Resource) == 0 {
				refuse(line, i, fault.InvalidField("resource", "is missing"))
				continue
			}
			take(line, i, e.Resource)
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	whole, err := io.ReadAll(io.LimitReader(br, 1<<30))
	if err != nil {
		return rep, fault.Wrap(fault.Invalid, err, "the context could not be read")
	}
	trimmed := bytes.TrimSpace(whole)
	if len(trimmed) == 0 {
		return rep, fault.New(fault.Invalid, "the context is empty: send FHIR resources as NDJSON or one Bundle")
	}
	if bytes.IndexByte(trimmed, '\n') > 0 && json.Valid(trimmed) {
		// One pretty-printed document.
		unit(1, trimmed)
	} else {
		for n, line := range bytes.Split(whole, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if len(line) > MaxContextLine {
				refuse(n+1, -1, fault.New(fault.Invalid, "the line is longer than %d MiB", MaxContextLine>>20))
				continue
			}
			unit(n+1, line)
		}
	}
	if len(rows) == 0 {
		return rep, nil
	}
	sealed := make([][]byte, len(rows))
	for i, row := range rows {
		if sealed[i], err = s.sealer.Seal(ctx, row.subject, "MonitorContext/"+row.key, row.body); err != nil {
			return rep, err
		}
	}
	now := s.clock().UnixMicro()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for i, row := range rows {
			if _, err := tx.Exec(ctx, `INSERT INTO monitor_context (id, subject_key, body, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET subject_key = excluded.subject_key, body = excluded.body, updated_at = excluded.updated_at`,
				row.key, row.subject, sealed[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Stored = len(rows)
	s.contextChanged()
	return rep, nil
}

// ContextCount returns how many context resources are stored.
func (s *Service) ContextCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM monitor_context`).Scan(&n)
	return n, db.Translate(err)
}

// loadContext opens every stored resource into a fresh context, in the
// order they were first stored.
func (s *Service) loadContext(ctx context.Context) (*explain.Context, error) {
	cx := explain.NewContext()
	start := time.Now()
	var after int64
	for {
		rows, err := s.db.Query(ctx, `SELECT seq, id, subject_key, body FROM monitor_context WHERE seq > $1 ORDER BY seq LIMIT 5000`, after)
		if err != nil {
			return nil, err
		}
		n := 0
		for rows.Next() {
			var key, subject string
			var body []byte
			if err := rows.Scan(&after, &key, &subject, &body); err != nil {
				rows.Close()
				return nil, db.Translate(err)
			}
			n++
			plain, err := s.sealer.Open(ctx, subject, "MonitorContext/"+key, body)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("open context %s: %w", key, err)
			}
			if err := cx.Add(plain); err != nil {
				rows.Close()
				return nil, fmt.Errorf("stored context %s: %w", key, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, db.Translate(err)
		}
		if n == 0 {
			break
		}
	}
	cx.Finish()
	s.log.Info("monitor context loaded", "staff", len(cx.Staff), "patients", len(cx.Patients), "took", time.Since(start).Round(time.Millisecond))
	return cx, nil
}

package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	// Zones named in mapping files must load on hosts without zoneinfo.
	_ "time/tzdata"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

// Mapping says how the columns of a CSV access-log export become access
// events. It is read from a JSON file (docs/ingest.md).
type Mapping struct {
	// Source names the feed in events and counters ("epic-access-log").
	Source string `json:"source"`
	// Delimiter is the field separator, one character; default ",".
	Delimiter string `json:"delimiter,omitempty"`
	// Columns maps event fields to header names of the export.
	Columns Columns `json:"columns"`
	// Time is how the time column is written.
	Time TimeFormat `json:"time"`
	// Actions maps the export's action values to FHIR actions C, R, U, D
	// or E; matching ignores case. Empty: every row is a read (R).
	Actions map[string]string `json:"actions,omitempty"`
	// Reasons maps the export's access reasons to HL7 PurposeOfUse codes;
	// a reason not listed is kept as written.
	Reasons map[string]string `json:"reasons,omitempty"`
	// Role is the actor role of every row when no role column is mapped;
	// default "unknown".
	Role string `json:"role,omitempty"`
}

// Columns names the header of each mapped column; User, Patient and Time
// are required.
type Columns struct {
	ID          string `json:"id,omitempty"`
	User        string `json:"user"`
	UserName    string `json:"userName,omitempty"`
	Role        string `json:"role,omitempty"`
	Patient     string `json:"patient"`
	Time        string `json:"time"`
	Action      string `json:"action,omitempty"`
	Workstation string `json:"workstation,omitempty"`
	Department  string `json:"department,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// TimeFormat is a Go time layout and the zone of times that carry none.
type TimeFormat struct {
	// Layout is a Go reference-time layout ("01/02/2006 15:04:05") or
	// "RFC3339".
	Layout string `json:"layout"`
	// Zone is an IANA zone name ("America/Chicago"); default UTC.
	Zone string `json:"zone,omitempty"`

	loc *time.Location
}

// MaxMappingSize bounds a mapping file.
const MaxMappingSize = 64 << 10

// ParseMapping reads a mapping file strictly: unknown keys, a missing
// required column, an unknown zone or action code are errors naming the key.
func ParseMapping(b []byte) (Mapping, error) {
	var m Mapping
	if len(b) > MaxMappingSize {
		return m, fault.New(fault.TooLarge, "the mapping file is larger than %d KiB", MaxMappingSize>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return m, fault.New(fault.Invalid, "the mapping is not valid JSON (at byte %d)", se.Offset)
		}
		return m, fault.Wrap(fault.Invalid, err, "the mapping could not be read")
	}
	if dec.More() {
		return m, fault.New(fault.Invalid, "the mapping has data after the JSON object")
	}
	if m.Source == "" {
		return m, fault.InvalidField("source", "is required")
	}
	if len(m.Source) > 100 || !utf8.ValidString(m.Source) {
		return m, fault.InvalidField("source", "must be UTF-8 text of at most 100 bytes")
	}
	if m.Delimiter == "" {
		m.Delimiter = ","
	}
	if r, n := utf8.DecodeRuneInString(m.Delimiter); n != len(m.Delimiter) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
		return m, fault.InvalidField("delimiter", "must be one character other than a quote or a line end")
	}
	for name, v := range map[string]string{"columns.user": m.Columns.User, "columns.patient": m.Columns.Patient, "columns.time": m.Columns.Time} {
		if v == "" {
			return m, fault.InvalidField(name, "is required")
		}
	}
	if m.Time.Layout == "" {
		return m, fault.InvalidField("time.layout", "is required (a Go layout such as \"01/02/2006 15:04:05\", or \"RFC3339\")")
	}
	if m.Time.Layout == "RFC3339" {
		m.Time.Layout = time.RFC3339Nano
	}
	if !strings.Contains(m.Time.Layout, "06") {
		return m, fault.InvalidField("time.layout", "has no year (Go layouts write the year as 2006)")
	}
	m.Time.loc = time.UTC
	if m.Time.Zone != "" {
		loc, err := time.LoadLocation(m.Time.Zone)
		if err != nil || strings.HasPrefix(m.Time.Zone, "/") || strings.Contains(m.Time.Zone, "..") {
			return m, fault.InvalidField("time.zone", "is not a known IANA zone name")
		}
		m.Time.loc = loc
	}
	actions := make(map[string]string, len(m.Actions))
	for k, v := range m.Actions {
		switch v {
		case audit.ActionCreate, audit.ActionRead, audit.ActionUpdate, audit.ActionDelete, audit.ActionExecute:
		default:
			return m, fault.InvalidField("actions."+k, "must be one of C, R, U, D, E")
		}
		actions[strings.ToLower(strings.TrimSpace(k))] = v
	}
	m.Actions = actions
	if m.Role == "" {
		m.Role = audit.UnknownRole
	}
	return m, nil
}

// csvColumns are the resolved indexes of the mapped columns (-1: unmapped).
type csvColumns struct {
	id, user, userName, role, patient, time, action, workstation, department, reason int
	names                                                                            map[int]string
	need                                                                             int
}

// resolve finds the mapped columns in a header.
func (m *Mapping) resolve(header []string) (csvColumns, error) {
	at := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := at[h]; dup {
			return csvColumns{}, fault.InvalidField("header", "names column %q twice", h)
		}
		at[h] = i
	}
	c := csvColumns{names: map[int]string{}}
	find := func(key, name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := at[name]
		if !ok {
			return -1, fault.InvalidField("columns."+key, "names %q, which the header does not have", name)
		}
		c.names[i] = name
		c.need = max(c.need, i+1)
		return i, nil
	}
	var err error
	for _, f := range []struct {
		key, name string
		dst       *int
	}{
		{"id", m.Columns.ID, &c.id}, {"user", m.Columns.User, &c.user}, {"userName", m.Columns.UserName, &c.userName},
		{"role", m.Columns.Role, &c.role}, {"patient", m.Columns.Patient, &c.patient}, {"time", m.Columns.Time, &c.time},
		{"action", m.Columns.Action, &c.action}, {"workstation", m.Columns.Workstation, &c.workstation},
		{"department", m.Columns.Department, &c.department}, {"reason", m.Columns.Reason, &c.reason},
	} {
		if *f.dst, err = find(f.key, f.name); err != nil {
			return c, err
		}
	}
	return c, nil
}

// rowEvent maps one CSV row onto an event. Errors name the column, never
// its value.
func (m *Mapping) rowEvent(c csvColumns, rec []string) (audit.Event, *Problem) {
	if len(rec) < c.need {
		for i := len(rec); i < c.need; i++ {
			if name, ok := c.names[i]; ok {
				return audit.Event{}, &Problem{Reason: ReasonMissingCol, Detail: fmt.Sprintf("the row has %d fields; column %q (field %d) is missing", len(rec), name, i+1)}
			}
		}
	}
	get := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	for _, req := range []int{c.user, c.patient, c.time} {
		if get(req) == "" {
			return audit.Event{}, &Problem{Reason: ReasonMissingCol, Detail: fmt.Sprintf("column %q is empty", c.names[req])}
		}
	}
	t, err := time.ParseInLocation(m.Time.Layout, get(c.time), m.Time.loc)
	if err != nil {
		return audit.Event{}, &Problem{Reason: ReasonInvalidDate, Detail: fmt.Sprintf("column %q does not match the layout %q", c.names[c.time], m.Time.Layout)}
	}
	ev := audit.Event{
		V:    audit.CanonicalVersion,
		Time: t.UTC().Truncate(time.Microsecond),
		Actor: audit.Actor{UserID: get(c.user), Name: get(c.userName), Role: m.Role,
			Organization: get(c.department)},
		PatientID: get(c.patient), ResourceType: "Patient", ResourceID: get(c.patient),
		Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Source: m.Source,
		NetworkAddress: get(c.workstation),
	}
	if r := get(c.role); r != "" {
		ev.Actor.Role = r
	}
	if a := get(c.action); a != "" {
		ev.Subtype = a
		if len(m.Actions) > 0 {
			code, ok := m.Actions[strings.ToLower(a)]
			if !ok {
				return audit.Event{}, &Problem{Reason: ReasonInvalidEvent, Detail: fmt.Sprintf("column %q holds an action the mapping's actions do not list", c.names[c.action])}
			}
			ev.Action = code
		}
	}
	if r := get(c.reason); r != "" {
		ev.Purpose = r
		if code, ok := m.Reasons[r]; ok {
			ev.Purpose = code
		}
	}
	ev.ID = get(c.id)
	if ev.ID == "" {
		ev.ID = rowID(ev)
	}
	if err := ev.Validate(); err != nil {
		return audit.Event{}, &Problem{Reason: ReasonInvalidEvent, Detail: columnOf(err, c, m)}
	}
	return ev, nil
}

// rowID is the id of a row without an id column: a hash of what the row
// says, so that the same row in two overlapping exports is one event.
func rowID(ev audit.Event) string {
	h := sha256.New()
	for _, s := range []string{ev.Source, ev.Actor.UserID, ev.PatientID, strconv.FormatInt(ev.Time.UnixMicro(), 10),
		ev.Action, ev.Subtype, ev.NetworkAddress, ev.Actor.Organization, ev.Purpose, ev.Actor.Role} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "csv-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// columnOf names the column behind an event validation error.
func columnOf(err error, c csvColumns, m *Mapping) string {
	var fe *fault.Error
	if !errors.As(err, &fe) {
		return "the row does not make a valid event"
	}
	col := map[string]string{
		"id": m.Columns.ID, "actor.user": m.Columns.User, "actor.name": m.Columns.UserName,
		"actor.role": m.Columns.Role, "patient": m.Columns.Patient, "resourceId": m.Columns.Patient,
		"subtype": m.Columns.Action, "address": m.Columns.Workstation, "actor.org": m.Columns.Department,
		"purpose": m.Columns.Reason, "time": m.Columns.Time,
	}[fe.Field]
	if col == "" {
		return fault.Message(err)
	}
	return fmt.Sprintf("column %q %s", col, fe.Msg)
}

// IngestCSV reads a CSV access-log export with a header row through the
// mapping. Problem.Line is the line of the file where the row starts (the
// header is line 1). A header that lacks a mapped column fails the whole
// file; a bad row is rejected and the others are kept.
func (in *Ingester) IngestCSV(ctx context.Context, m Mapping, r io.Reader, progress Progress) (Report, error) {
	cr := csv.NewReader(r)
	cr.Comma, _ = utf8.DecodeRuneInString(m.Delimiter)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return Report{Source: m.Source}, fault.New(fault.Invalid, "the CSV is empty; it must start with a header row")
		}
		return Report{Source: m.Source}, fault.Wrap(fault.Invalid, err, "the CSV header could not be read")
	}
	cols, err := m.resolve(header)
	if err != nil {
		return Report{Source: m.Source}, err
	}
	return in.run(ctx, m.Source, nil, func(emit func(unit) error) error {
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				return nil
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if uerr := emit(unit{pos: pe.StartLine, prob: &Problem{pe.StartLine, ReasonInvalidEvent, "the row is not valid CSV: " + pe.Err.Error()}}); uerr != nil {
					return uerr
				}
				continue
			}
			if err != nil {
				return fault.Wrap(fault.Invalid, err, "the CSV could not be read")
			}
			line, _ := cr.FieldPos(0)
			ev, prob := m.rowEvent(cols, rec)
			if prob != nil {
				prob.Line = line
				if err := emit(unit{pos: line, prob: prob}); err != nil {
					return err
				}
				continue
			}
			if err := emit(unit{pos: line, ev: &ev}); err != nil {
				return err
			}
		}
	}, progress)
}

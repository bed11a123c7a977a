package devices

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/fault"
)

// CSVColumns are the columns of an inventory CSV, in the order written by
// WriteCSV. A file may order them freely; the header names them. id, name,
// class, manufacturer, model, serial, zone, clinical_function, criticality
// and owner are required.
var CSVColumns = []string{"id", "name", "class", "manufacturer", "model", "serial", "software_version", "firmware_version", "os", "os_end_of_support", "zone", "location", "care_unit", "clinical_function", "criticality", "owner"}

var requiredColumns = []string{"id", "name", "class", "manufacturer", "model", "serial", "zone", "clinical_function", "criticality", "owner"}

// RowError is a problem with one line of a CSV file.
type RowError struct {
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, fault.Message(e.Err)) }

// CSVError lists every bad row of a CSV import; nothing was imported.
type CSVError struct{ Rows []RowError }

func (e *CSVError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad rows, nothing imported", len(e.Rows))
	for i, r := range e.Rows {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Rows)-10)
			break
		}
		b.WriteString("; " + r.Error())
	}
	return b.String()
}

// MaxCSVRows bounds one import.
const MaxCSVRows = 100_000

// ParseCSV reads an inventory CSV with a header line. Every row is checked;
// when any is wrong the error lists each bad line and no device is returned,
// so an import never half-happens.
func ParseCSV(r io.Reader) ([]Device, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fault.New(fault.Invalid, "the CSV file is empty; the first line must name the columns")
	}
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the CSV header cannot be read")
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range CSVColumns {
			known = known || c == h
		}
		if !known {
			return nil, fault.InvalidField("header", "unknown column %q (known: %s)", h, strings.Join(CSVColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, fault.InvalidField("header", "column %q appears twice", h)
		}
		col[h] = i
	}
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			return nil, fault.InvalidField("header", "required column %q is missing", c)
		}
	}
	var out []Device
	var bad []RowError
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, RowError{Line: pe.Line, Err: fault.New(fault.Invalid, "%s", pe.Err)})
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					break // the rest of the file cannot be framed
				}
				continue
			}
			return nil, fault.Wrap(fault.Invalid, err, "the CSV file cannot be read")
		}
		line, _ := cr.FieldPos(0) // only valid after a successful Read
		if len(out)+len(bad) >= MaxCSVRows {
			return nil, fault.New(fault.TooLarge, "more than %d rows; split the file", MaxCSVRows)
		}
		if len(rec) != len(header) {
			bad = append(bad, RowError{Line: line, Err: fault.New(fault.Invalid, "has %d fields, the header has %d", len(rec), len(header))})
			continue
		}
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return rec[i]
			}
			return ""
		}
		d := Device{ID: get("id"), Name: get("name"), Class: get("class"), Manufacturer: get("manufacturer"), Model: get("model"), Serial: get("serial"),
			SoftwareVersion: get("software_version"), FirmwareVersion: get("firmware_version"), OS: get("os"), Zone: get("zone"), Location: get("location"),
			CareUnit: get("care_unit"), ClinicalFunction: get("clinical_function"), Criticality: get("criticality"), Owner: get("owner")}
		if eos := strings.TrimSpace(get("os_end_of_support")); eos != "" {
			t, err := time.Parse("2006-01-02", eos)
			if err != nil {
				bad = append(bad, RowError{Line: line, Err: fault.InvalidField("os_end_of_support", "%q is not a date YYYY-MM-DD", eos)})
				continue
			}
			d.OSEndOfSupport = t
		}
		d.Normalise()
		if err := d.Validate(); err != nil {
			bad = append(bad, RowError{Line: line, Err: err})
			continue
		}
		if prev, dup := seen[d.ID]; dup {
			bad = append(bad, RowError{Line: line, Err: fault.InvalidField("id", "%q is also on line %d", d.ID, prev)})
			continue
		}
		seen[d.ID] = line
		out = append(out, d)
	}
	if len(bad) > 0 {
		ce := &CSVError{Rows: bad}
		return nil, &fault.Error{Kind: fault.Invalid, Msg: ce.Error(), Err: ce}
	}
	if len(out) == 0 {
		return nil, fault.New(fault.Invalid, "the CSV file has a header but no devices")
	}
	return out, nil
}

// WriteCSV writes devices in the import format.
func WriteCSV(w io.Writer, ds []Device) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, d := range ds {
		eos := ""
		if !d.OSEndOfSupport.IsZero() {
			eos = d.OSEndOfSupport.Format("2006-01-02")
		}
		if err := cw.Write([]string{d.ID, d.Name, d.Class, d.Manufacturer, d.Model, d.Serial, d.SoftwareVersion, d.FirmwareVersion, d.OS, eos, d.Zone, d.Location, d.CareUnit, d.ClinicalFunction, d.Criticality, d.Owner}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

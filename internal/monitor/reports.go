package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Report statuses.
const (
	ReportOpen          = "open"
	ReportInvestigated  = "investigating"
	ReportAppropriate   = "appropriate"
	ReportInappropriate = "inappropriate"
)

// Sealer encrypts under a patient's key.
type Sealer interface {
	Seal(ctx context.Context, subject, record string, plain []byte) ([]byte, error)
	Open(ctx context.Context, subject, record string, sealed []byte) ([]byte, error)
}

// Report is a patient's report of an access that looks wrong.
type Report struct {
	ID        string
	PatientID string
	EventID   string
	Reporter  string
	Note      string
	Status    string
	Outcome   string
	Created   time.Time
	Updated   time.Time
}

// Reports keeps patients' reports.
type Reports struct {
	db     *db.DB
	sealer Sealer
	clock  func() time.Time
}

// NewReports returns the report store.
func NewReports(d *db.DB, s Sealer, clock func() time.Time) *Reports {
	return &Reports{db: d, sealer: s, clock: clock}
}

func subject(patientID string) string { return "patient/" + patientID }

// File records a report about one access event of the patient's record.
func (r *Reports) File(ctx context.Context, patientID, eventID, reporter, note string) (Report, error) {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 2000 || !utf8.ValidString(note) {
		return Report{}, fault.InvalidField("note", "must be text of at most 2000 characters")
	}
	var n int
	if err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE id = $1 AND patient_id = $2`, eventID, patientID).Scan(&n); err != nil {
		return Report{}, db.Translate(err)
	}
	if n == 0 {
		return Report{}, fault.New(fault.NotFound, "that access is not in your record's history")
	}
	b := make([]byte, 8)
	rand.Read(b)
	rep := Report{ID: "rep-" + hex.EncodeToString(b), PatientID: patientID, EventID: eventID, Reporter: reporter, Note: note, Status: ReportOpen}
	sealed, err := r.sealer.Seal(ctx, subject(patientID), "AccessReport/"+rep.ID+"/note", []byte(note))
	if err != nil {
		return Report{}, err
	}
	now := r.clock().UTC().Truncate(time.Microsecond)
	rep.Created, rep.Updated = now, now
	_, err = r.db.Exec(ctx, `INSERT INTO access_reports (id, patient_id, event_id, reporter, note, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		rep.ID, patientID, eventID, reporter, sealed, ReportOpen, now.UnixMicro())
	return rep, err
}

// Decide records the privacy office's outcome; the patient reads it.
func (r *Reports) Decide(ctx context.Context, id, status, outcome string) error {
	switch status {
	case ReportInvestigated, ReportAppropriate, ReportInappropriate:
	default:
		return fault.InvalidField("status", "%q is not investigating, appropriate or inappropriate", status)
	}
	outcome = strings.TrimSpace(outcome)
	if n := utf8.RuneCountInString(outcome); n < 10 || n > 2000 {
		return fault.InvalidField("outcome", "explain the outcome to the patient in 10 to 2000 characters")
	}
	var pid string
	if err := db.ScanRow(r.db.QueryRow(ctx, `SELECT patient_id FROM access_reports WHERE id = $1`, id), "report", &pid); err != nil {
		return err
	}
	sealed, err := r.sealer.Seal(ctx, subject(pid), "AccessReport/"+id+"/outcome", []byte(outcome))
	if err != nil {
		return err
	}
	_, err = r.db.Exec(ctx, `UPDATE access_reports SET status = $2, outcome = $3, updated_at = $4 WHERE id = $1`, id, status, sealed, r.clock().UnixMicro())
	return err
}

// ForPatient lists a patient's reports, newest first.
func (r *Reports) ForPatient(ctx context.Context, patientID string) ([]Report, error) {
	return r.list(ctx, `WHERE patient_id = $1 ORDER BY created_at DESC`, patientID)
}

// Open lists reports awaiting the privacy office, oldest first.
func (r *Reports) Open(ctx context.Context) ([]Report, error) {
	return r.list(ctx, `WHERE status IN ('open', 'investigating') ORDER BY created_at LIMIT 500`)
}

func (r *Reports) list(ctx context.Context, where string, args ...any) ([]Report, error) {
	rows, err := r.db.Query(ctx, `SELECT id, patient_id, event_id, reporter, note, status, outcome, created_at, updated_at FROM access_reports `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		var rep Report
		var note, outcome []byte
		var c, u int64
		if err := rows.Scan(&rep.ID, &rep.PatientID, &rep.EventID, &rep.Reporter, &note, &rep.Status, &outcome, &c, &u); err != nil {
			return nil, db.Translate(err)
		}
		rep.Created, rep.Updated = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
		if p, err := r.sealer.Open(ctx, subject(rep.PatientID), "AccessReport/"+rep.ID+"/note", note); err == nil {
			rep.Note = string(p)
		}
		if outcome != nil {
			if p, err := r.sealer.Open(ctx, subject(rep.PatientID), "AccessReport/"+rep.ID+"/outcome", outcome); err == nil {
				rep.Outcome = string(p)
			}
		}
		out = append(out, rep)
	}
	return out, db.Translate(rows.Err())
}

// Patient returns the patient a report is about.
func (r *Reports) Patient(ctx context.Context, id string) (string, error) {
	var pid string
	err := db.ScanRow(r.db.QueryRow(ctx, `SELECT patient_id FROM access_reports WHERE id = $1`, id), "report", &pid)
	return pid, err
}

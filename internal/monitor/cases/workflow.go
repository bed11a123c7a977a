package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/monitor/detect"
	"github.com/trustward/trustward/internal/monitor/explain"
)

// Case statuses and verdicts.
const (
	StatusNew           = "new"
	StatusInvestigating = "investigating"
	StatusDecided       = "decided"

	VerdictAppropriate   = "appropriate"
	VerdictInappropriate = "inappropriate"
	VerdictHR            = "hr"
)

// VerdictLabel names a verdict in plain words.
func VerdictLabel(v string) string {
	switch v {
	case VerdictAppropriate:
		return "Appropriate"
	case VerdictInappropriate:
		return "Inappropriate"
	case VerdictHR:
		return "Needs HR"
	}
	return v
}

// Summary is a case as the queue lists it.
type Summary struct {
	ID       string          `json:"id"`
	User     string          `json:"user"`
	UserName string          `json:"userName"`
	UserRole string          `json:"userRole"`
	Status   string          `json:"status"`
	Verdict  string          `json:"verdict,omitempty"`
	Score    float64         `json:"score"`
	Alerts   int             `json:"alerts"`
	Patients int             `json:"patients"`
	Opened   time.Time       `json:"opened"`
	Updated  time.Time       `json:"updated"`
	Decided  *time.Time      `json:"decided,omitempty"`
	Assignee string          `json:"assignee,omitempty"`
	Warned   bool            `json:"warned"`
	Reasons  []detect.Reason `json:"reasons"`
}

// ReasonText joins the reasons as a sentence.
func (c Summary) ReasonText() string {
	parts := make([]string, len(c.Reasons))
	for i, r := range c.Reasons {
		parts[i] = r.Text
	}
	return strings.Join(parts, "; ")
}

// Alert is one alert of a case.
type Alert struct {
	EventID string          `json:"event"`
	Patient string          `json:"patient,omitempty"`
	Time    time.Time       `json:"time"`
	Score   float64         `json:"score"`
	Reasons []detect.Reason `json:"reasons"`
}

// Access is one access of the case's user to one of its patients, for
// the timeline.
type Access struct {
	EventID     string    `json:"event"`
	Time        time.Time `json:"time"`
	Patient     string    `json:"patient"`
	Action      string    `json:"action"`
	Subtype     string    `json:"subtype,omitempty"`
	Purpose     string    `json:"purpose,omitempty"`
	Address     string    `json:"address,omitempty"`
	Explanation string    `json:"explanation"`
	Alerted     bool      `json:"alerted"`
}

// Step is one entry of a case's history.
type Step struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Note   string    `json:"note,omitempty"`
}

// Detail is a case with its evidence and history.
type Detail struct {
	Summary
	Alerts []Alert `json:"alerts"`
	// PatientIDs are the patients of the alerts; Names their names from
	// the context (empty when the context does not know one).
	PatientIDs []string          `json:"patientIds"`
	Names      map[string]string `json:"names,omitempty"`
	Timeline   []Access          `json:"timeline"`
	History    []Step            `json:"history"`
	// Suppressed counts later alerts this case's verdict suppressed.
	Suppressed int `json:"suppressed"`
}

// Filter selects cases for the queue.
type Filter struct {
	// Status is new, investigating, decided, or empty for the open ones
	// (new and investigating).
	Status string
	// Below includes cases under the threshold (a watch list).
	Below bool
	Limit int
}

const caseColumns = `id, user_id, user_name, user_role, status, verdict, score, alerts, patients, opened_at, updated_at, decided_at, assignee, warned_at`

func scanSummary(sc interface{ Scan(...any) error }) (Summary, error) {
	var c Summary
	var verdict, assignee sql.NullString
	var score, opened, updated int64
	var decided, warned sql.NullInt64
	if err := sc.Scan(&c.ID, &c.User, &c.UserName, &c.UserRole, &c.Status, &verdict, &score, &c.Alerts, &c.Patients, &opened, &updated, &decided, &assignee, &warned); err != nil {
		return c, err
	}
	c.Verdict, c.Assignee, c.Warned = verdict.String, assignee.String, warned.Valid
	c.Score = float64(score) / 100
	c.Opened, c.Updated = time.UnixMicro(opened).UTC(), time.UnixMicro(updated).UTC()
	if decided.Valid {
		t := time.UnixMicro(decided.Int64).UTC()
		c.Decided = &t
	}
	return c, nil
}

// Queue lists cases, open ones highest score first, decided ones newest
// decision first.
func (s *Service) Queue(ctx context.Context, f Filter) ([]Summary, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	var where []string
	var args []any
	switch f.Status {
	case "":
		where = append(where, `status <> 'decided'`)
	case StatusNew, StatusInvestigating, StatusDecided:
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	default:
		return nil, fault.InvalidField("status", "must be new, investigating or decided")
	}
	if !f.Below {
		args = append(args, int64(s.cfg.CaseAt*100))
		where = append(where, fmt.Sprintf("score >= $%d", len(args)))
	}
	order := `score DESC, updated_at DESC`
	if f.Status == StatusDecided {
		order = `decided_at DESC`
	}
	rows, err := s.db.Query(ctx, `SELECT `+caseColumns+` FROM monitor_cases WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+fmt.Sprintf(` LIMIT %d`, limit), args...)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for rows.Next() {
		c, err := scanSummary(rows)
		if err != nil {
			rows.Close()
			return nil, db.Translate(err)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	for i := range out {
		alerts, err := s.alerts(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Reasons = mergeReasons(alerts)
	}
	return out, nil
}

// Counts returns how many cases each status has at or above the
// threshold.
func (s *Service) Counts(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, `SELECT status, COUNT(*) FROM monitor_cases WHERE score >= $1 GROUP BY status`, int64(s.cfg.CaseAt*100))
}

// countBy runs a query of (key, count) rows into a map.
func (s *Service) countBy(ctx context.Context, q string, args ...any) (map[string]int, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, db.Translate(err)
		}
		out[k] = n
	}
	return out, db.Translate(rows.Err())
}

// mergeReasons keeps one reason per key, the latest text winning, in the
// order the keys first appeared (as the detectors' cases do).
func mergeReasons(alerts []Alert) []detect.Reason {
	var out []detect.Reason
	at := map[string]int{}
	for _, a := range alerts {
		for _, r := range a.Reasons {
			if i, ok := at[r.Key]; ok {
				out[i].Text = r.Text
				continue
			}
			at[r.Key] = len(out)
			out = append(out, r)
		}
	}
	return out
}

func (s *Service) alerts(ctx context.Context, caseID string) ([]Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT event_id, patient_id, occurred_at, score, reasons FROM monitor_alerts WHERE case_id = $1 ORDER BY occurred_at, event_id`, caseID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var patient sql.NullString
		var at, score int64
		var reasons string
		if err := rows.Scan(&a.EventID, &patient, &at, &score, &reasons); err != nil {
			return nil, db.Translate(err)
		}
		a.Patient, a.Time, a.Score = patient.String, time.UnixMicro(at).UTC(), float64(score)/100
		if err := json.Unmarshal([]byte(reasons), &a.Reasons); err != nil {
			return nil, fmt.Errorf("alert %s: stored reasons: %w", a.EventID, err)
		}
		out = append(out, a)
	}
	return out, db.Translate(rows.Err())
}

// Case returns a case with its alerts, the timeline of its user's
// accesses to its patients, their explanations, and its history.
func (s *Service) Case(ctx context.Context, id string) (Detail, error) {
	c, err := scanSummary(s.db.QueryRow(ctx, `SELECT `+caseColumns+` FROM monitor_cases WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return Detail{}, fault.New(fault.NotFound, "there is no case %q", id)
	}
	if err != nil {
		return Detail{}, db.Translate(err)
	}
	d := Detail{Summary: c, Names: map[string]string{}}
	if d.Alerts, err = s.alerts(ctx, id); err != nil {
		return Detail{}, err
	}
	d.Reasons = mergeReasons(d.Alerts)
	alerted := map[string]bool{}
	for _, a := range d.Alerts {
		alerted[a.EventID] = true
		if a.Patient != "" && !contains(d.PatientIDs, a.Patient) {
			d.PatientIDs = append(d.PatientIDs, a.Patient)
		}
	}
	s.cxMu.RLock()
	if s.cx != nil {
		for _, pid := range d.PatientIDs {
			if p := s.cx.Patients[pid]; p != nil {
				d.Names[pid] = displayName(p.Person)
			}
		}
	}
	s.cxMu.RUnlock()
	if d.Timeline, err = s.timeline(ctx, c.User, d.PatientIDs, alerted); err != nil {
		return Detail{}, err
	}
	if d.History, err = s.history(ctx, id); err != nil {
		return Detail{}, err
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM monitor_alerts WHERE suppressed_by = $1`, id).Scan(&d.Suppressed); err != nil {
		return Detail{}, db.Translate(err)
	}
	return d, nil
}

// displayName capitalises the context's lower-case name parts.
func displayName(p explain.Person) string {
	title := func(s string) string {
		if s == "" {
			return s
		}
		r, n := utf8.DecodeRuneInString(s)
		return strings.ToUpper(string(r)) + s[n:]
	}
	return strings.TrimSpace(title(p.Given) + " " + title(p.Family))
}

// maxTimeline bounds the accesses a case shows.
const maxTimeline = 500

func (s *Service) timeline(ctx context.Context, user string, patients []string, alerted map[string]bool) ([]Access, error) {
	if len(patients) == 0 {
		return nil, nil
	}
	args := []any{user}
	marks := make([]string, len(patients))
	for i, p := range patients {
		args = append(args, p)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	evs, err := s.read(ctx, `SELECT seq, id, patient_id, body, occurred_at FROM audit_events WHERE actor_id = $1 AND patient_id IN (`+strings.Join(marks, ", ")+`) ORDER BY occurred_at, seq LIMIT `+fmt.Sprint(maxTimeline), args...)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ev.ID
	}
	kinds, err := s.Explanations(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Access, len(evs))
	for i, e := range evs {
		kind := kinds[e.ev.ID]
		if kind == "" {
			kind = "not yet scored"
		}
		out[i] = Access{EventID: e.ev.ID, Time: e.ev.Time, Patient: e.ev.PatientID, Action: e.ev.Action, Subtype: e.ev.Subtype,
			Purpose: e.ev.Purpose, Address: e.ev.NetworkAddress, Explanation: kind, Alerted: alerted[e.ev.ID]}
	}
	return out, nil
}

// Explanations returns the explanation kind of each scored event of ids.
func (s *Service) Explanations(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		marks := make([]string, n)
		for i := range n {
			args[i] = ids[i]
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		ids = ids[n:]
		rows, err := s.db.Query(ctx, `SELECT event_id, kind FROM monitor_explanations WHERE event_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, kind string
			if err := rows.Scan(&id, &kind); err != nil {
				rows.Close()
				return nil, db.Translate(err)
			}
			out[id] = kind
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, db.Translate(err)
		}
	}
	return out, nil
}

// Coverage counts the scored patient accesses by explanation kind.
func (s *Service) Coverage(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, `SELECT kind, COUNT(*) FROM monitor_explanations GROUP BY kind`)
}

func noteRecord(caseID string) (subject, record string) {
	return "office/case/" + caseID, "MonitorCase/" + caseID + "/note"
}

// sealNote seals an officer's note before the transaction that logs it
// (sealing may create the case's data key, which needs the writer).
func (s *Service) sealNote(ctx context.Context, caseID, note string) ([]byte, error) {
	subject, record := noteRecord(caseID)
	return s.sealer.Seal(ctx, subject, record, []byte(note))
}

// logStep adds a step to a case's history; note is already sealed (or nil).
func (s *Service) logStep(ctx context.Context, tx *db.Tx, caseID, actor, action string, note []byte) error {
	var sealed any
	if note != nil {
		sealed = note
	}
	_, err := tx.Exec(ctx, `INSERT INTO monitor_case_log (case_id, at, actor, action, note) VALUES ($1, $2, $3, $4, $5)`, caseID, s.clock().UnixMicro(), actor, action, sealed)
	return err
}

func (s *Service) history(ctx context.Context, caseID string) ([]Step, error) {
	rows, err := s.db.Query(ctx, `SELECT at, actor, action, note FROM monitor_case_log WHERE case_id = $1 ORDER BY seq`, caseID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var st Step
		var at int64
		var note []byte
		if err := rows.Scan(&at, &st.Actor, &st.Action, &note); err != nil {
			return nil, db.Translate(err)
		}
		st.Time = time.UnixMicro(at).UTC()
		if note != nil {
			subject, record := noteRecord(caseID)
			plain, err := s.sealer.Open(ctx, subject, record, note)
			if err != nil {
				return nil, fmt.Errorf("open a note of case %s: %w", caseID, err)
			}
			st.Note = string(plain)
		}
		out = append(out, st)
	}
	return out, db.Translate(rows.Err())
}

// maxNote bounds an officer's note.
const maxNote = 4000

func checkNote(note string, required bool) (string, error) {
	note = strings.TrimSpace(note)
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > maxNote {
		return "", fault.InvalidField("note", "must be text of at most %d characters", maxNote)
	}
	if required && note == "" {
		return "", fault.InvalidField("note", "a decision needs a note that says what was found")
	}
	return note, nil
}

// Take assigns an open case to the officer and marks it under
// investigation.
func (s *Service) Take(ctx context.Context, id, officer string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		st, err := s.statusOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if st == StatusDecided {
			return fault.New(fault.Conflict, "case %s is already decided", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE monitor_cases SET status = 'investigating', assignee = $1 WHERE id = $2`, officer, id); err != nil {
			return err
		}
		return s.logStep(ctx, tx, id, officer, "investigating", nil)
	})
}

// Note adds an officer's note to a case.
func (s *Service) Note(ctx context.Context, id, officer, note string) error {
	note, err := checkNote(note, true)
	if err != nil {
		return err
	}
	sealed, err := s.sealNote(ctx, id, note)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.statusOf(ctx, tx, id); err != nil {
			return err
		}
		return s.logStep(ctx, tx, id, officer, "note", sealed)
	})
}

// Decide closes a case with a verdict and a note. An "appropriate"
// verdict records the case's reasons for each of its patients as
// explained for this user, so that the same reasons about the same
// patient do not come back as a new case.
func (s *Service) Decide(ctx context.Context, id, officer, verdict, note string) error {
	switch verdict {
	case VerdictAppropriate, VerdictInappropriate, VerdictHR:
	default:
		return fault.InvalidField("verdict", "must be appropriate, inappropriate or hr")
	}
	note, err := checkNote(note, true)
	if err != nil {
		return err
	}
	sealed, err := s.sealNote(ctx, id, note)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		st, err := s.statusOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if st == StatusDecided {
			return fault.New(fault.Conflict, "case %s is already decided", id)
		}
		now := s.clock().UnixMicro()
		if _, err := tx.Exec(ctx, `UPDATE monitor_cases SET status = 'decided', verdict = $1, decided_at = $2, assignee = COALESCE(assignee, $3) WHERE id = $4`, verdict, now, officer, id); err != nil {
			return err
		}
		if err := s.logStep(ctx, tx, id, officer, "decided: "+VerdictLabel(verdict), sealed); err != nil {
			return err
		}
		if verdict != VerdictAppropriate {
			return nil
		}
		var user string
		if err := tx.QueryRow(ctx, `SELECT user_id FROM monitor_cases WHERE id = $1`, id).Scan(&user); err != nil {
			return db.Translate(err)
		}
		rows, err := tx.Query(ctx, `SELECT patient_id, reasons FROM monitor_alerts WHERE case_id = $1 AND patient_id IS NOT NULL`, id)
		if err != nil {
			return err
		}
		type pair struct{ patient, key string }
		var pairs []pair
		for rows.Next() {
			var pid, reasons string
			if err := rows.Scan(&pid, &reasons); err != nil {
				rows.Close()
				return db.Translate(err)
			}
			var rs []detect.Reason
			if err := json.Unmarshal([]byte(reasons), &rs); err != nil {
				rows.Close()
				return fmt.Errorf("case %s: stored reasons: %w", id, err)
			}
			for _, r := range rs {
				pairs = append(pairs, pair{pid, r.Key})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return db.Translate(err)
		}
		for _, p := range pairs {
			if _, err := tx.Exec(ctx, `INSERT INTO monitor_suppressions (user_id, patient_id, reason_key, case_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, patient_id, reason_key) DO NOTHING`,
				user, p.patient, p.key, id, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) statusOf(ctx context.Context, tx *db.Tx, id string) (string, error) {
	var st string
	err := tx.QueryRow(ctx, `SELECT status FROM monitor_cases WHERE id = $1`, id).Scan(&st)
	if err == sql.ErrNoRows {
		return "", fault.New(fault.NotFound, "there is no case %q", id)
	}
	return st, db.Translate(err)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// AuditStep is the audit event of an officer's step on a case: the
// caller records it through the fail-closed recorder before answering.
func AuditStep(officer audit.Actor, caseID, action, outcome string) audit.Event {
	return audit.Event{Actor: officer, Action: audit.ActionUpdate, Subtype: "case-" + action, ResourceType: "Case", ResourceID: caseID,
		Purpose: "HOPERAT", Outcome: audit.OutcomeSuccess, OutcomeDesc: outcome, Source: "trustward"}
}

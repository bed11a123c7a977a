package records

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Care-link kinds: how a practitioner is related to a patient.
const (
	LinkCareTeam  = "care-team"
	LinkEncounter = "encounter"
	LinkOrdered   = "ordered"
	LinkCharted   = "charted"
)

type careLink struct {
	practitioner, kind string
	start, end         time.Time
}

// index is what a resource contributes to the plain-text policy index.
type index struct {
	source string // "CareTeam/x": rows from this resource are replaced on update
	links  []careLink
	// encounter placement
	encDept, encStatus string
	encStart, encEnd   time.Time
	// staff placement (PractitionerRole)
	staffPract, staffDept, staffCode string
	// patient search tokens (plain, hashed before storage)
	tokens []string
}

func indexOf(p Parsed, patientID string) index {
	ix := index{source: p.Type + "/" + p.ID}
	o := p.Object
	switch p.Type {
	case "CareTeam":
		if str(o["status"]) == "active" || str(o["status"]) == "" {
			start, end := period(o["period"])
			for _, part := range arr(o["participant"]) {
				pm, _ := part.(map[string]any)
				if id, ok := refID(pm["member"], "Practitioner"); ok {
					s, e := period(pm["period"])
					if s.IsZero() {
						s = start
					}
					if e.IsZero() {
						e = end
					}
					ix.links = append(ix.links, careLink{id, LinkCareTeam, s, e})
				}
			}
		}
	case "Encounter":
		start, end := period(o["period"])
		for _, part := range arr(o["participant"]) {
			pm, _ := part.(map[string]any)
			if id, ok := refID(pm["individual"], "Practitioner"); ok {
				ix.links = append(ix.links, careLink{id, LinkEncounter, start, end})
			}
		}
		if dept, ok := refID(o["serviceProvider"], "Organization"); ok {
			ix.encDept, ix.encStatus, ix.encStart, ix.encEnd = dept, str(o["status"]), start, end
		}
	case "MedicationRequest":
		if id, ok := refID(o["requester"], "Practitioner"); ok {
			t := parseTime(str(o["authoredOn"]))
			ix.links = append(ix.links, careLink{id, LinkOrdered, t, t})
		}
	case "Observation":
		t := parseTime(str(o["effectiveDateTime"]))
		for _, perf := range arr(o["performer"]) {
			if id, ok := refID(perf, "Practitioner"); ok {
				ix.links = append(ix.links, careLink{id, LinkCharted, t, t})
			}
		}
	case "PractitionerRole":
		pr, ok1 := refID(o["practitioner"], "Practitioner")
		org, ok2 := refID(o["organization"], "Organization")
		if ok1 && ok2 {
			ix.staffPract, ix.staffDept = pr, org
			for _, c := range arr(o["code"]) {
				cm, _ := c.(map[string]any)
				for _, cd := range arr(cm["coding"]) {
					cdm, _ := cd.(map[string]any)
					if code := str(cdm["code"]); code != "" && ix.staffCode == "" {
						ix.staffCode = code
					}
				}
				if ix.staffCode == "" {
					ix.staffCode = str(cm["text"])
				}
			}
		}
	case "Patient":
		ix.tokens = patientTokens(o)
	}
	return ix
}

// patientTokens lists the search tokens of a patient: name words and their
// prefixes, the birth date, and identifier values.
func patientTokens(o map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, n := range arr(o["name"]) {
		nm, _ := n.(map[string]any)
		words := strings.Fields(normalise(str(nm["family"])))
		for _, g := range arr(nm["given"]) {
			words = append(words, strings.Fields(normalise(str(g)))...)
		}
		for _, w := range words {
			r := []rune(w)
			for i := 2; i <= len(r) && i <= 24; i++ {
				add("name:" + string(r[:i]))
			}
		}
	}
	if bd := str(o["birthDate"]); bd != "" {
		add("dob:" + bd)
	}
	for _, id := range arr(o["identifier"]) {
		im, _ := id.(map[string]any)
		if v := normalise(str(im["value"])); v != "" {
			add("id:" + v)
		}
	}
	return out
}

// normalise lowercases, strips accents and keeps letters, digits and spaces.
func normalise(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

// queryTokens turns a search box entry into tokens: dates as birth dates,
// words with digits as identifiers, other words as name prefixes.
func queryTokens(q string) []string {
	var out []string
	for _, f := range strings.Fields(q) {
		if _, err := time.Parse("2006-01-02", f); err == nil {
			out = append(out, "dob:"+f)
			continue
		}
		n := normalise(f)
		if n == "" {
			continue
		}
		for _, w := range strings.Fields(n) {
			if strings.ContainsAny(w, "0123456789") {
				out = append(out, "id:"+w)
			} else if len([]rune(w)) >= 2 {
				r := []rune(w)
				out = append(out, "name:"+string(r[:min(len(r), 24)]))
			}
		}
	}
	return out
}

func (s *Store) writeIndex(ctx context.Context, tx *db.Tx, pr *prepared) error {
	ix := pr.index
	switch pr.p.Type {
	case "CareTeam", "Encounter", "MedicationRequest", "Observation":
		if _, err := tx.Exec(ctx, `DELETE FROM care_links WHERE source = $1`, ix.source); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, l := range ix.links {
			if seen[l.practitioner] {
				continue
			}
			seen[l.practitioner] = true
			if _, err := tx.Exec(ctx, `INSERT INTO care_links (patient_id, practitioner_id, kind, source, start_at, end_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				pr.patientID, l.practitioner, l.kind, ix.source, db.Micros(l.start), db.Micros(l.end)); err != nil {
				return err
			}
		}
		if pr.p.Type == "Encounter" {
			if _, err := tx.Exec(ctx, `DELETE FROM encounter_units WHERE encounter_id = $1`, pr.p.ID); err != nil {
				return err
			}
			if ix.encDept != "" {
				if _, err := tx.Exec(ctx, `INSERT INTO encounter_units (encounter_id, patient_id, department_id, status, start_at, end_at) VALUES ($1, $2, $3, $4, $5, $6)`,
					pr.p.ID, pr.patientID, ix.encDept, ix.encStatus, db.Micros(ix.encStart), db.Micros(ix.encEnd)); err != nil {
					return err
				}
			}
		}
	case "PractitionerRole":
		if _, err := tx.Exec(ctx, `DELETE FROM staff_units WHERE role_id = $1`, pr.p.ID); err != nil {
			return err
		}
		if ix.staffPract != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO staff_units (role_id, practitioner_id, department_id, code) VALUES ($1, $2, $3, $4)`,
				pr.p.ID, ix.staffPract, ix.staffDept, ix.staffCode); err != nil {
				return err
			}
		}
	case "Patient":
		if _, err := tx.Exec(ctx, `DELETE FROM patient_search WHERE patient_id = $1`, pr.p.ID); err != nil {
			return err
		}
		for _, t := range ix.tokens {
			if _, err := tx.Exec(ctx, `INSERT INTO patient_search (token, patient_id) VALUES ($1, $2)`, s.search.Token(t), pr.p.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// FindPatients returns the ids of patients matching every word of q (name
// prefixes, a birth date YYYY-MM-DD, an identifier such as the MRN).
func (s *Store) FindPatients(ctx context.Context, q string, limit int) ([]string, error) {
	toks := queryTokens(q)
	if len(toks) == 0 {
		return nil, fault.InvalidField("q", "type at least two letters of a name, a birth date (YYYY-MM-DD) or an MRN")
	}
	if len(toks) > 8 {
		toks = toks[:8]
	}
	uniq := map[string]bool{}
	var args []any
	var ph []string
	for _, t := range toks {
		if uniq[t] {
			continue
		}
		uniq[t] = true
		args = append(args, s.search.Token(t))
		ph = append(ph, fmt.Sprintf("$%d", len(args)))
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return s.strings(ctx, fmt.Sprintf(`SELECT patient_id FROM patient_search WHERE token IN (%s) GROUP BY patient_id HAVING COUNT(*) = %d ORDER BY patient_id LIMIT %d`,
		strings.Join(ph, ","), len(args), limit), args...)
}

// CareLink is a practitioner's relationship to a patient.
type CareLink struct {
	Kind   string
	Source string
	Start  time.Time
	End    time.Time
}

// CareLinks returns the practitioner's relationships to the patient.
func (s *Store) CareLinks(ctx context.Context, patientID, practitionerID string) ([]CareLink, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, source, start_at, end_at FROM care_links WHERE patient_id = $1 AND practitioner_id = $2`, patientID, practitionerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CareLink
	for rows.Next() {
		var l CareLink
		var s, e nullMicros
		if err := rows.Scan(&l.Kind, &l.Source, &s, &e); err != nil {
			return nil, db.Translate(err)
		}
		l.Start, l.End = s.time(), e.time()
		out = append(out, l)
	}
	return out, db.Translate(rows.Err())
}

// OpenEncounterDepartments returns the departments of the patient's
// encounters that are in progress (or planned/arrived/triaged) at now.
func (s *Store) OpenEncounterDepartments(ctx context.Context, patientID string) ([]string, error) {
	return s.strings(ctx, `SELECT DISTINCT department_id FROM encounter_units WHERE patient_id = $1 AND status IN ('in-progress', 'arrived', 'triaged', 'onleave')`, patientID)
}

// Departments returns the departments a practitioner works in.
func (s *Store) Departments(ctx context.Context, practitionerID string) ([]string, error) {
	return s.strings(ctx, `SELECT DISTINCT department_id FROM staff_units WHERE practitioner_id = $1`, practitionerID)
}

// strings runs a query of one text column and returns its values.
func (s *Store) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, v)
	}
	return out, db.Translate(rows.Err())
}

// PatientsOf lists patients a practitioner has a current relationship
// with, most recent first: a care-team membership that has not ended at
// now, or an encounter that is open or ended after since.
func (s *Store) PatientsOf(ctx context.Context, practitionerID string, now, since time.Time, limit int) ([]string, error) {
	rows, err := s.db.Query(ctx, fmt.Sprintf(`SELECT patient_id, MAX(COALESCE(start_at, 0)) AS latest FROM care_links WHERE practitioner_id = $1 AND ((kind = 'care-team' AND (end_at IS NULL OR end_at > $2)) OR (kind = 'encounter' AND (end_at IS NULL OR end_at > $3))) GROUP BY patient_id ORDER BY latest DESC, patient_id LIMIT %d`, max(1, min(limit, 500))),
		practitionerID, now.UnixMicro(), since.UnixMicro())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var latest int64
		if err := rows.Scan(&id, &latest); err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, id)
	}
	return out, db.Translate(rows.Err())
}

type nullMicros struct {
	v     int64
	valid bool
}

func (n *nullMicros) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.valid = false
	case int64:
		n.v, n.valid = v, true
	default:
		return fmt.Errorf("unexpected time value %T", src)
	}
	return nil
}

func (n nullMicros) time() time.Time {
	if !n.valid {
		return time.Time{}
	}
	return time.UnixMicro(n.v).UTC()
}

func str(v any) string { s, _ := v.(string); return s }

func arr(v any) []any { a, _ := v.([]any); return a }

func refID(v any, typ string) (string, bool) {
	id, ok := strings.CutPrefix(reference(v), typ+"/")
	return id, ok && id != ""
}

func period(v any) (time.Time, time.Time) {
	m, _ := v.(map[string]any)
	return parseTime(str(m["start"])), parseTime(str(m["end"]))
}

// parseTime reads FHIR date and dateTime values; partial dates give the
// start of the period, unparseable ones the zero time.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z07:00", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

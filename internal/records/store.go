package records

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/seal"
)

// Resource is a stored FHIR resource with its plaintext JSON.
type Resource struct {
	Type      string
	ID        string
	Version   int64
	PatientID string
	Updated   time.Time
	JSON      []byte
}

// Store keeps FHIR resources sealed at rest.
type Store struct {
	db     *db.DB
	sealer *seal.Sealer
	search *seal.Pseudonymizer
	clock  func() time.Time
	names  directoryNames
}

// NewStore returns a store; it loads (or creates) the blind-index key.
func NewStore(ctx context.Context, d *db.DB, sealer *seal.Sealer, clock func() time.Time) (*Store, error) {
	p, err := sealer.Pseudonymizer(ctx, "patient-search")
	if err != nil {
		return nil, fmt.Errorf("records: search key: %w", err)
	}
	return &Store{db: d, sealer: sealer, search: p, clock: clock}, nil
}

func subjectOf(patientID string) string {
	if patientID == "" {
		return seal.Directory
	}
	return seal.PatientSubject(patientID)
}

// prepared is a validated resource ready to write.
type prepared struct {
	p         Parsed
	patientID string
	index     index
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// prepare validates raw, assigns an id when allowed and computes the
// compartment and index rows. wantType and wantID, when set, must match.
func (s *Store) prepare(raw []byte, wantType, wantID string, assignID bool) (*prepared, error) {
	p, err := Validate(raw)
	if err != nil {
		return nil, err
	}
	if wantType != "" && p.Type != wantType {
		return nil, fault.InvalidField("resourceType", "is %s but the request is for %s", p.Type, wantType)
	}
	if wantID != "" {
		if p.ID == "" {
			p.ID = wantID
			p.Object["id"] = wantID
		} else if p.ID != wantID {
			return nil, fault.InvalidField("id", "%q does not match the id %q in the request", p.ID, wantID)
		}
	}
	if p.ID == "" {
		if !assignID {
			return nil, fault.InvalidField("id", "is required")
		}
		p.ID = newID()
		p.Object["id"] = p.ID
	}
	pid, err := compartment(p)
	if err != nil {
		return nil, err
	}
	// meta is the server's: drop what the client sent, set versionId and
	// lastUpdated at write time.
	delete(p.Object, "meta")
	return &prepared{p: p, patientID: pid, index: indexOf(p, pid)}, nil
}

// compartment returns the patient a resource belongs to, or "".
func compartment(p Parsed) (string, error) {
	var field string
	switch p.Type {
	case "Patient":
		return p.ID, nil
	case "AllergyIntolerance":
		field = "patient"
	case "Encounter", "CareTeam", "Condition", "MedicationRequest", "Observation":
		field = "subject"
	default:
		return "", nil
	}
	ref := reference(p.Object[field])
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || id == "" || strings.Contains(id, "/") {
		if p.Type == "CareTeam" || p.Type == "Observation" || p.Type == "Encounter" {
			if ref == "" {
				return "", fault.InvalidField(p.Type+"."+field, "must reference the Patient it is about")
			}
		}
		return "", fault.InvalidField(p.Type+"."+field, "must be a reference of the form Patient/<id>")
	}
	return id, nil
}

func reference(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

// keepMeta re-inserts the server-maintained meta, preserving security
// labels (VIP confidentiality) the client sent.
func withMeta(obj map[string]any, orig []byte, version int64, at time.Time) ([]byte, error) {
	meta := map[string]any{"versionId": fmt.Sprint(version), "lastUpdated": at.UTC().Format(time.RFC3339Nano)}
	var o struct {
		Meta map[string]any `json:"meta"`
	}
	if json.Unmarshal(orig, &o) == nil && o.Meta != nil {
		for _, k := range []string{"security", "tag", "profile"} {
			if v, ok := o.Meta[k]; ok {
				meta[k] = v
			}
		}
	}
	obj["meta"] = meta
	return json.Marshal(obj)
}

// Create stores a new resource; an id in raw is kept, else one is assigned.
// It fails with Conflict when the id is taken.
func (s *Store) Create(ctx context.Context, raw []byte) (Resource, error) {
	pr, err := s.prepare(raw, "", "", true)
	if err != nil {
		return Resource{}, err
	}
	res, err := s.write(ctx, []*prepared{pr}, [][]byte{raw}, writeCreate, nil)
	if err != nil {
		return Resource{}, err
	}
	return res[0], nil
}

// Put creates or updates the resource typ/id (FHIR update).
func (s *Store) Put(ctx context.Context, typ, id string, raw []byte) (Resource, error) {
	pr, err := s.prepare(raw, typ, id, false)
	if err != nil {
		return Resource{}, err
	}
	res, err := s.write(ctx, []*prepared{pr}, [][]byte{raw}, writeUpsert, nil)
	if err != nil {
		return Resource{}, err
	}
	return res[0], nil
}

type writeMode int

const (
	writeCreate writeMode = iota
	writeUpsert
)

// write seals and stores resources in one transaction.
func (s *Store) write(ctx context.Context, prs []*prepared, raws [][]byte, mode writeMode, progress func(done int)) ([]Resource, error) {
	now := s.clock().UTC()
	subjects := make([]string, 0, len(prs))
	for _, pr := range prs {
		subjects = append(subjects, subjectOf(pr.patientID))
	}
	// Keys first: they are committed on their own, outside the write
	// transaction (SQLite has a single writer connection).
	if err := s.sealer.EnsureKeys(ctx, subjects); err != nil {
		return nil, err
	}
	out := make([]Resource, len(prs))
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		known := map[string]bool{}
		for i, pr := range prs {
			var version int64 = 1
			var cur sql.NullInt64
			err := tx.QueryRow(ctx, `SELECT version FROM resources WHERE type = $1 AND id = $2`, pr.p.Type, pr.p.ID).Scan(&cur)
			switch {
			case err == nil && mode == writeCreate:
				return fault.New(fault.Conflict, "%s/%s already exists", pr.p.Type, pr.p.ID)
			case err == nil:
				version = cur.Int64 + 1
			case err != sql.ErrNoRows:
				return db.Translate(err)
			}
			if pr.patientID != "" && pr.p.Type != "Patient" && !known[pr.patientID] {
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM resources WHERE type = 'Patient' AND id = $1`, pr.patientID).Scan(&n); err != nil {
					return db.Translate(err)
				}
				if n == 0 {
					return fault.New(fault.Invalid, "%s/%s refers to Patient/%s, which does not exist", pr.p.Type, pr.p.ID, pr.patientID)
				}
				known[pr.patientID] = true
			}
			if pr.p.Type == "Patient" {
				known[pr.p.ID] = true
			}
			js, err := withMeta(pr.p.Object, raws[i], version, now)
			if err != nil {
				return err
			}
			sealed, err := s.sealer.Seal(ctx, subjectOf(pr.patientID), pr.p.Type+"/"+pr.p.ID, js)
			if err != nil {
				return err
			}
			var pid any
			if pr.patientID != "" {
				pid = pr.patientID
			}
			if version == 1 {
				_, err = tx.Exec(ctx, `INSERT INTO resources (type, id, version, patient_id, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6)`,
					pr.p.Type, pr.p.ID, version, pid, now.UnixMicro(), sealed)
			} else {
				_, err = tx.Exec(ctx, `UPDATE resources SET version = $3, patient_id = $4, updated_at = $5, body = $6 WHERE type = $1 AND id = $2`,
					pr.p.Type, pr.p.ID, version, pid, now.UnixMicro(), sealed)
			}
			if err != nil {
				return err
			}
			if err := s.writeIndex(ctx, tx, pr); err != nil {
				return err
			}
			s.names.forget(pr.p.Type + "/" + pr.p.ID)
			out[i] = Resource{Type: pr.p.Type, ID: pr.p.ID, Version: version, PatientID: pr.patientID, Updated: now, JSON: js}
			if progress != nil && (i+1)%500 == 0 {
				progress(i + 1)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Read returns the resource typ/id.
func (s *Store) Read(ctx context.Context, typ, id string) (Resource, error) {
	if !supported(typ) {
		return Resource{}, fault.New(fault.NotFound, "resource type %s is not held here", typ)
	}
	if !validID(id) {
		return Resource{}, fault.InvalidField("id", "%q is not a valid FHIR id", id)
	}
	var r Resource
	var pid sql.NullString
	var upd int64
	var body []byte
	err := db.ScanRow(s.db.QueryRow(ctx, `SELECT version, patient_id, updated_at, body FROM resources WHERE type = $1 AND id = $2`, typ, id),
		typ+"/"+id, &r.Version, &pid, &upd, &body)
	if err != nil {
		return Resource{}, err
	}
	r.Type, r.ID, r.PatientID, r.Updated = typ, id, pid.String, time.UnixMicro(upd).UTC()
	if r.JSON, err = s.sealer.Open(ctx, subjectOf(r.PatientID), typ+"/"+id, body); err != nil {
		return Resource{}, err
	}
	return r, nil
}

// PatientOf returns the compartment patient of typ/id without decrypting it,
// so that the policy can decide before any data is opened.
func (s *Store) PatientOf(ctx context.Context, typ, id string) (string, error) {
	if !supported(typ) {
		return "", fault.New(fault.NotFound, "resource type %s is not held here", typ)
	}
	if !validID(id) {
		return "", fault.InvalidField("id", "%q is not a valid FHIR id", id)
	}
	var pid sql.NullString
	if err := db.ScanRow(s.db.QueryRow(ctx, `SELECT patient_id FROM resources WHERE type = $1 AND id = $2`, typ, id), typ+"/"+id, &pid); err != nil {
		return "", err
	}
	return pid.String, nil
}

// ByPatient returns the patient's resources of the given types (all types
// when none given).
func (s *Store) ByPatient(ctx context.Context, patientID string, types ...string) ([]Resource, error) {
	q := `SELECT type, id, version, updated_at, body FROM resources WHERE patient_id = $1`
	args := []any{patientID}
	if len(types) > 0 {
		ph := make([]string, len(types))
		for i, t := range types {
			args = append(args, t)
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		q += ` AND type IN (` + strings.Join(ph, ",") + `)`
	}
	q += ` ORDER BY type, id`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Resource
	for rows.Next() {
		var r Resource
		var upd int64
		var body []byte
		if err := rows.Scan(&r.Type, &r.ID, &r.Version, &upd, &body); err != nil {
			return nil, db.Translate(err)
		}
		r.PatientID, r.Updated = patientID, time.UnixMicro(upd).UTC()
		if r.JSON, err = s.sealer.Open(ctx, subjectOf(patientID), r.Type+"/"+r.ID, body); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, db.Translate(rows.Err())
}

// Count returns the number of stored resources of a type ("" for all).
func (s *Store) Count(ctx context.Context, typ string) (int, error) {
	var n int
	var err error
	if typ == "" {
		err = s.db.QueryRow(ctx, `SELECT COUNT(*) FROM resources`).Scan(&n)
	} else {
		err = s.db.QueryRow(ctx, `SELECT COUNT(*) FROM resources WHERE type = $1`, typ).Scan(&n)
	}
	return n, db.Translate(err)
}

func supported(t string) bool {
	for _, s := range SupportedTypes {
		if s == t {
			return true
		}
	}
	return false
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// CompartmentOf returns the patient a validated resource belongs to ("" for
// directory resources such as Practitioner and Organization).
func CompartmentOf(p Parsed) (string, error) { return compartment(p) }

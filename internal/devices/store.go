package devices

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Store keeps the inventory.
type Store struct {
	db    *db.DB
	clock func() time.Time
	// riskChanged is told, after a Put commits, which existing devices
	// changed in a field the clinical risk reads (zone, function,
	// criticality, end of support, owner); NewAssessor sets it so that
	// their findings are re-scored.
	riskChanged func(ctx context.Context, ids []string) error
}

// NewStore returns an inventory store.
func NewStore(d *db.DB, clock func() time.Time) *Store { return &Store{db: d, clock: clock} }

const deviceCols = `id, name, class, manufacturer, model, serial, software_version, firmware_version, os, os_end_of_support, zone, location, care_unit, clinical_function, criticality, owner, created_at, updated_at`

func args(d Device, created, updated int64) []any {
	var eos any
	if !d.OSEndOfSupport.IsZero() {
		eos = d.OSEndOfSupport.UnixMicro()
	}
	return []any{d.ID, d.Name, d.Class, d.Manufacturer, d.Model, d.Serial, d.SoftwareVersion, d.FirmwareVersion, d.OS, eos, d.Zone, d.Location, d.CareUnit, d.ClinicalFunction, d.Criticality, d.Owner, created, updated}
}

// Put creates or replaces devices in one transaction; each is validated
// first, so a bad one writes nothing.
func (s *Store) Put(ctx context.Context, ds ...Device) error {
	for i := range ds {
		ds[i].Normalise()
		if err := ds[i].Validate(); err != nil {
			if len(ds) > 1 {
				return fmt.Errorf("device %d (%s): %w", i+1, ds[i].ID, err)
			}
			return err
		}
	}
	now := s.clock().UnixMicro()
	var changed []string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		changed = changed[:0]
		for _, d := range ds {
			var created sql.NullInt64
			var zone, function, crit, owner string
			var eos sql.NullInt64
			err := tx.QueryRow(ctx, `SELECT created_at, zone, clinical_function, criticality, owner, os_end_of_support FROM devices WHERE id = $1`, d.ID).Scan(&created, &zone, &function, &crit, &owner, &eos)
			if err == nil && (zone != d.Zone || function != d.ClinicalFunction || crit != d.Criticality || owner != d.Owner || !db.FromMicros(eos).Equal(d.OSEndOfSupport)) {
				changed = append(changed, d.ID)
			}
			switch {
			case err == sql.ErrNoRows:
				_, err = tx.Exec(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`, args(d, now, now)...)
			case err == nil:
				a := args(d, created.Int64, now)
				a = append(a[:16], now) // created_at stays as it was
				_, err = tx.Exec(ctx, `UPDATE devices SET name=$2, class=$3, manufacturer=$4, model=$5, serial=$6, software_version=$7, firmware_version=$8, os=$9, os_end_of_support=$10, zone=$11, location=$12, care_unit=$13, clinical_function=$14, criticality=$15, owner=$16, updated_at=$17 WHERE id=$1`, a...)
			default:
				return db.Translate(err)
			}
			if fault.Is(err, fault.Conflict) {
				return fault.New(fault.Conflict, "device %s: another device already has manufacturer %s, model %s and serial %s", d.ID, d.Manufacturer, d.Model, d.Serial)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(changed) == 0 || s.riskChanged == nil {
		return err
	}
	if err := s.riskChanged(ctx, changed); err != nil {
		return fmt.Errorf("the devices were saved, but their findings could not be re-evaluated: %w", err)
	}
	return nil
}

// ImportCSV parses an inventory CSV and stores every device in one
// transaction; it returns how many devices it wrote.
func (s *Store) ImportCSV(ctx context.Context, r interface{ Read([]byte) (int, error) }) (int, error) {
	ds, err := ParseCSV(r)
	if err != nil {
		return 0, err
	}
	return len(ds), s.Put(ctx, ds...)
}

func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var eos sql.NullInt64
	var created, updated int64
	err := row.Scan(&d.ID, &d.Name, &d.Class, &d.Manufacturer, &d.Model, &d.Serial, &d.SoftwareVersion, &d.FirmwareVersion, &d.OS, &eos,
		&d.Zone, &d.Location, &d.CareUnit, &d.ClinicalFunction, &d.Criticality, &d.Owner, &created, &updated)
	d.OSEndOfSupport = db.FromMicros(eos)
	d.Created, d.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return d, err
}

// Get returns one device.
func (s *Store) Get(ctx context.Context, id string) (Device, error) {
	d, err := scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return Device{}, fault.New(fault.NotFound, "device %s not found", id)
	}
	return d, db.Translate(err)
}

// Filter selects devices; empty fields match all.
type Filter struct {
	Class    string
	Zone     string
	CareUnit string
	Limit    int
}

// List returns devices ordered by id.
func (s *Store) List(ctx context.Context, f Filter) ([]Device, error) {
	var where []string
	var a []any
	for _, c := range []struct{ col, v string }{{"class", f.Class}, {"zone", f.Zone}, {"care_unit", f.CareUnit}} {
		if c.v != "" {
			a = append(a, c.v)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(a)))
		}
	}
	q := `SELECT ` + deviceCols + ` FROM devices`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 100_000 {
		limit = 100_000
	}
	q += fmt.Sprintf(` ORDER BY id LIMIT %d`, limit)
	rows, err := s.db.Query(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, d)
	}
	return out, db.Translate(rows.Err())
}

// CareUnits lists the care units devices are in, for filters.
func (s *Store) CareUnits(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT care_unit FROM devices WHERE care_unit <> '' ORDER BY care_unit`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, u)
	}
	return out, db.Translate(rows.Err())
}

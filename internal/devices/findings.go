package devices

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Finding statuses. Open and affected findings are worked; not_affected
// (from VEX) is suppressed but kept with its justification; fixed and
// resolved leave the queue.
const (
	StatusOpen        = "open"
	StatusAffected    = "affected"
	StatusNotAffected = "not_affected"
	StatusFixed       = "fixed"
	StatusMitigated   = "mitigated" // a compensating control is in force
	StatusResolved    = "resolved"  // no longer present in the latest SBOM
)

// Finding is one advisory matching one component of one device.
type Finding struct {
	DeviceID         string    `json:"device"`
	Component        string    `json:"component"` // purl or bom-ref
	Advisory         string    `json:"advisory"`
	Aliases          []string  `json:"aliases,omitempty"`
	Ecosystem        string    `json:"ecosystem"`
	Package          string    `json:"package"`
	Version          string    `json:"version"`
	FixedVersions    []string  `json:"fixedVersions,omitempty"`
	Input            RiskInput `json:"-"`
	Status           string    `json:"status"`
	VEXJustification string    `json:"vexJustification,omitempty"`
	Risk             Risk      `json:"risk"`
	Due              time.Time `json:"due"`
	Owner            string    `json:"owner"`
	Control          string    `json:"compensatingControl,omitempty"`
	ControlExpires   time.Time `json:"controlExpires,omitzero"`
	FirstSeen        time.Time `json:"firstSeen"`
	LastSeen         time.Time `json:"lastSeen"`
}

// PatchAvailable reports whether the advisory names a fixed version.
func (f Finding) PatchAvailable() bool { return len(f.FixedVersions) > 0 }

// Findings keeps findings and their history.
type Findings struct {
	db    *db.DB
	clock func() time.Time
}

// NewFindings returns the findings store.
func NewFindings(d *db.DB, clock func() time.Time) *Findings { return &Findings{db: d, clock: clock} }

// Match is what a scan found: an advisory on a component, with VEX applied
// by the caller (Status is open, affected, not_affected or fixed).
type Match struct {
	Component        string
	Advisory         string
	Aliases          []string
	Ecosystem        string
	Package          string
	Version          string
	FixedVersions    []string
	Input            RiskInput
	Status           string
	VEXJustification string
	// Note says where the status came from (a VEX document, a person's
	// override); it goes into the finding's history when the status
	// changes.
	Note string
}

// Reconcile records the result of scanning one device: new matches become
// findings scored for clinical risk, known ones are re-scored (advisories,
// VEX or the inventory may have changed) and findings no longer matched are
// resolved. One transaction: a scan is recorded whole or not at all.
func (s *Findings) Reconcile(ctx context.Context, dev Device, matches []Match, actor string) error {
	now := s.clock()
	if err := checkMatches(matches); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error { return s.reconcile(ctx, tx, dev, matches, actor, now) })
}

func checkMatches(matches []Match) error {
	for _, m := range matches {
		switch m.Status {
		case StatusOpen, StatusAffected, StatusNotAffected, StatusFixed:
		default:
			return fault.InvalidField("status", "%q is not open, affected, not_affected or fixed", m.Status)
		}
		if m.Component == "" || m.Advisory == "" {
			return fault.New(fault.Invalid, "a match needs a component and an advisory")
		}
	}
	return nil
}

// reconcile is Reconcile inside a caller's transaction (matches already
// checked).
func (s *Findings) reconcile(ctx context.Context, tx *db.Tx, dev Device, matches []Match, actor string, now time.Time) error {
	{
		present := map[string]bool{}
		for _, m := range matches {
			key := m.Component + "\x00" + m.Advisory
			if present[key] {
				continue
			}
			present[key] = true
			r := ClinicalRisk(dev, m.Input, now)
			var cur struct {
				status, control, tier, justification string
				score                                int
				controlExp                           sql.NullInt64
			}
			err := tx.QueryRow(ctx, `SELECT status, control, control_expires_at, risk_tier, risk_score, vex_justification FROM device_findings WHERE device_id = $1 AND component = $2 AND advisory = $3`,
				dev.ID, m.Component, m.Advisory).Scan(&cur.status, &cur.control, &cur.controlExp, &cur.tier, &cur.score, &cur.justification)
			status := m.Status
			if err == nil && cur.status == StatusMitigated && status != StatusNotAffected && status != StatusFixed &&
				cur.controlExp.Valid && cur.controlExp.Int64 > now.UnixMicro() {
				status = StatusMitigated // the control still holds
			}
			args := []any{dev.ID, m.Component, m.Advisory, strings.Join(m.Aliases, " "), m.Ecosystem, m.Package, m.Version, strings.Join(m.FixedVersions, " "),
				nullFloat(m.Input.CVSS, m.Input.HasCVSS), boolInt(m.Input.KEV), nullFloat(m.Input.EPSS, m.Input.EPSS >= 0), status, m.VEXJustification,
				r.Score, r.Tier, strings.Join(r.Reasons, "; "), now.AddDate(0, 0, r.DueDays).UnixMicro(), dev.Owner, now.UnixMicro()}
			switch {
			case err == sql.ErrNoRows:
				if _, err := tx.Exec(ctx, `INSERT INTO device_findings (device_id, component, advisory, aliases, ecosystem, package, version, fixed_versions, cvss, kev, epss, status, vex_justification, risk_score, risk_tier, reasons, due_at, owner, control, first_seen, last_seen)
					VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,'',$19,$19)`, args...); err != nil {
					return err
				}
				if err := s.history(ctx, tx, dev.ID, m.Component, m.Advisory, actor, "found: "+status+", risk "+fmt.Sprint(r.Score)+" "+r.Tier+note(m), now); err != nil {
					return err
				}
			case err == nil:
				// The due date is kept from first sight unless the tier rose.
				if _, err := tx.Exec(ctx, `UPDATE device_findings SET aliases=$4, ecosystem=$5, package=$6, version=$7, fixed_versions=$8, cvss=$9, kev=$10, epss=$11, status=$12, vex_justification=$13,
					risk_score=$14, risk_tier=$15, reasons=$16, due_at=CASE WHEN $17 < due_at THEN $17 ELSE due_at END, owner=$18, last_seen=$19, resolved_at=NULL
					WHERE device_id=$1 AND component=$2 AND advisory=$3`, args...); err != nil {
					return err
				}
				var changes []string
				if cur.status != status {
					changes = append(changes, cur.status+" → "+status+note(m))
				} else if cur.justification != m.VEXJustification {
					changes = append(changes, "justification: "+m.VEXJustification+note(m))
				}
				if cur.tier != r.Tier {
					changes = append(changes, fmt.Sprintf("risk %d %s → %d %s", cur.score, cur.tier, r.Score, r.Tier))
				}
				if len(changes) > 0 {
					if err := s.history(ctx, tx, dev.ID, m.Component, m.Advisory, actor, strings.Join(changes, "; "), now); err != nil {
						return err
					}
				}
			default:
				return db.Translate(err)
			}
		}
		// Findings of this device not seen in this scan are resolved.
		rows, err := tx.Query(ctx, `SELECT component, advisory FROM device_findings WHERE device_id = $1 AND status <> $2`, dev.ID, StatusResolved)
		if err != nil {
			return err
		}
		var gone [][2]string
		for rows.Next() {
			var c, a string
			if err := rows.Scan(&c, &a); err != nil {
				rows.Close()
				return db.Translate(err)
			}
			if !present[c+"\x00"+a] {
				gone = append(gone, [2]string{c, a})
			}
		}
		rows.Close()
		for _, g := range gone {
			if _, err := tx.Exec(ctx, `UPDATE device_findings SET status = $4, resolved_at = $5 WHERE device_id = $1 AND component = $2 AND advisory = $3`, dev.ID, g[0], g[1], StatusResolved, now.UnixMicro()); err != nil {
				return err
			}
			if err := s.history(ctx, tx, dev.ID, g[0], g[1], actor, "resolved: no longer in the device's components", now); err != nil {
				return err
			}
		}
		return nil
	}
}

func note(m Match) string {
	if m.Note == "" {
		return ""
	}
	return " (" + m.Note + ")"
}

// history records a change of a finding with the finding's status and risk
// tier after it (call it after the change is written), for the exposure
// chart.
func (s *Findings) history(ctx context.Context, tx *db.Tx, dev, comp, adv, actor, change string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO device_finding_events (device_id, component, advisory, at, actor, change, status, tier)
		SELECT device_id, component, advisory, CAST($4 AS BIGINT), CAST($5 AS TEXT), CAST($6 AS TEXT), status, risk_tier FROM device_findings WHERE device_id = $1 AND component = $2 AND advisory = $3`,
		dev, comp, adv, at.UnixMicro(), actor, change)
	return err
}

// SetControl records a compensating control (segmentation, a disabled
// service, an ACL) with the date it must be reviewed by; until then the
// finding is mitigated and leaves the queue.
func (s *Findings) SetControl(ctx context.Context, deviceID, component, advisory, control string, expires time.Time, actor string) error {
	control = strings.TrimSpace(control)
	if n := utf8.RuneCountInString(control); n < 5 || n > 500 {
		return fault.InvalidField("control", "describe the control in 5 to 500 characters")
	}
	now := s.clock()
	if !expires.After(now) || expires.After(now.AddDate(1, 0, 0)) {
		return fault.InvalidField("expires", "must be in the future and within a year")
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE device_findings SET status = $4, control = $5, control_expires_at = $6 WHERE device_id = $1 AND component = $2 AND advisory = $3 AND status IN ('open', 'affected', 'mitigated')`,
			deviceID, component, advisory, StatusMitigated, control, expires.UnixMicro())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.New(fault.NotFound, "no open finding %s on %s (%s)", advisory, deviceID, component)
		}
		return s.history(ctx, tx, deviceID, component, advisory, actor, "compensating control until "+expires.Format("2006-01-02")+": "+control, now)
	})
}

// Queue lists the findings to work, highest clinical risk first: open and
// affected ones, and mitigated ones whose control has expired.
func (s *Findings) Queue(ctx context.Context, limit int) ([]Finding, error) {
	return s.list(ctx, `WHERE status IN ('open', 'affected') OR (status = 'mitigated' AND control_expires_at <= $1) ORDER BY risk_score DESC, due_at, device_id, advisory`, limit, s.clock().UnixMicro())
}

// ForDevice lists every finding of a device, including suppressed ones.
func (s *Findings) ForDevice(ctx context.Context, deviceID string) ([]Finding, error) {
	return s.list(ctx, `WHERE device_id = $1 ORDER BY risk_score DESC, advisory`, 10_000, deviceID)
}

const findingCols = `device_id, component, advisory, aliases, ecosystem, package, version, fixed_versions, cvss, kev, epss, status, vex_justification, risk_score, risk_tier, reasons, due_at, owner, control, control_expires_at, first_seen, last_seen`

func (s *Findings) list(ctx context.Context, where string, limit int, args ...any) ([]Finding, error) {
	if limit <= 0 || limit > 10_000 {
		limit = 10_000
	}
	rows, err := s.db.Query(ctx, `SELECT `+findingCols+` FROM device_findings `+where+fmt.Sprintf(` LIMIT %d`, limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var aliases, fixed, reasons string
		var cvss, epss sql.NullFloat64
		var kev int
		var due, first, last int64
		var ctlExp sql.NullInt64
		if err := rows.Scan(&f.DeviceID, &f.Component, &f.Advisory, &aliases, &f.Ecosystem, &f.Package, &f.Version, &fixed, &cvss, &kev, &epss, &f.Status, &f.VEXJustification,
			&f.Risk.Score, &f.Risk.Tier, &reasons, &due, &f.Owner, &f.Control, &ctlExp, &first, &last); err != nil {
			return nil, db.Translate(err)
		}
		f.Aliases, f.FixedVersions = strings.Fields(aliases), strings.Fields(fixed)
		f.Input = RiskInput{CVSS: cvss.Float64, HasCVSS: cvss.Valid, KEV: kev == 1, EPSS: -1}
		if epss.Valid {
			f.Input.EPSS = epss.Float64
		}
		f.Risk.PlainCVSS = cvss.Float64
		if reasons != "" {
			f.Risk.Reasons = strings.Split(reasons, "; ")
		}
		f.Due, f.FirstSeen, f.LastSeen = time.UnixMicro(due).UTC(), time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		f.ControlExpires = db.FromMicros(ctlExp)
		out = append(out, f)
	}
	return out, db.Translate(rows.Err())
}

// History returns the changes of one finding, oldest first.
func (s *Findings) History(ctx context.Context, deviceID, advisory string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT at, actor, change FROM device_finding_events WHERE device_id = $1 AND advisory = $2 ORDER BY at, id`, deviceID, advisory)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var at int64
		var actor, change string
		if err := rows.Scan(&at, &actor, &change); err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, fmt.Sprintf("%s %s: %s", time.UnixMicro(at).UTC().Format("2006-01-02 15:04"), actor, change))
	}
	return out, db.Translate(rows.Err())
}

// FindingEvent is one change of a finding: who, when, what, and the
// finding's status and risk tier after it.
type FindingEvent struct {
	Component string    `json:"component"`
	Advisory  string    `json:"advisory"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Change    string    `json:"change"`
	Status    string    `json:"status,omitempty"`
	Tier      string    `json:"tier,omitempty"`
}

// Events returns the history of every finding of a device, oldest first.
func (s *Findings) Events(ctx context.Context, deviceID string) ([]FindingEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT component, advisory, at, actor, change, status, tier FROM device_finding_events WHERE device_id = $1 ORDER BY at, id`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FindingEvent
	for rows.Next() {
		var e FindingEvent
		var at int64
		var st, tier sql.NullString
		if err := rows.Scan(&e.Component, &e.Advisory, &at, &e.Actor, &e.Change, &st, &tier); err != nil {
			return nil, db.Translate(err)
		}
		e.At, e.Status, e.Tier = time.UnixMicro(at).UTC(), st.String, tier.String
		out = append(out, e)
	}
	return out, db.Translate(rows.Err())
}

func nullFloat(v float64, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WriteFindingsCSV writes findings for regulators and manufacturers.
func WriteFindingsCSV(w io.Writer, fs []Finding) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"device", "component", "ecosystem", "package", "version", "advisory", "aliases", "fixed_versions", "cvss", "kev", "epss", "status", "vex_justification", "risk_score", "risk_tier", "due", "owner", "compensating_control", "control_expires", "first_seen", "last_seen"}); err != nil {
		return err
	}
	for _, f := range fs {
		cvss, epss, exp := "", "", ""
		if f.Input.HasCVSS {
			cvss = fmt.Sprintf("%.1f", f.Input.CVSS)
		}
		if f.Input.EPSS >= 0 {
			epss = fmt.Sprintf("%.5f", f.Input.EPSS)
		}
		if !f.ControlExpires.IsZero() {
			exp = f.ControlExpires.Format("2006-01-02")
		}
		if err := cw.Write([]string{f.DeviceID, f.Component, f.Ecosystem, f.Package, f.Version, f.Advisory, strings.Join(f.Aliases, " "), strings.Join(f.FixedVersions, " "),
			cvss, fmt.Sprint(f.Input.KEV), epss, f.Status, f.VEXJustification, fmt.Sprint(f.Risk.Score), f.Risk.Tier, f.Due.Format("2006-01-02"), f.Owner, f.Control, exp,
			f.FirstSeen.Format(time.RFC3339), f.LastSeen.Format(time.RFC3339)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

package devices

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/devices/cvss"
	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/purl"
	"github.com/trustward/trustward/internal/devices/sbom"
	"github.com/trustward/trustward/internal/devices/vex"
	"github.com/trustward/trustward/internal/fault"
)

// Assessor keeps each device's SBOMs, VEX documents and VEX overrides, and
// turns them into findings: components matched against the advisories,
// statuses from VEX, risk from the device (Reevaluate). It re-evaluates by
// itself when the advisories are reloaded, when VEX changes and when a
// device's risk fields change in the inventory.
type Assessor struct {
	db       *db.DB
	clock    func() time.Time
	devices  *Store
	findings *Findings
	dir      string
	adv      atomic.Pointer[Advisories]
	// mu serialises evaluations: two evaluations of one device must not
	// interleave their reconciliations.
	mu sync.Mutex
}

// NewAssessor returns an assessor over the inventory and findings stores;
// advisoryDir is the folder ReloadAdvisories reads ("" for none). It hooks
// into inv so that risk-relevant inventory changes re-evaluate the device.
func NewAssessor(d *db.DB, inv *Store, f *Findings, clock func() time.Time, advisoryDir string) *Assessor {
	a := &Assessor{db: d, clock: clock, devices: inv, findings: f, dir: advisoryDir}
	inv.riskChanged = func(ctx context.Context, ids []string) error {
		for _, id := range ids {
			if _, err := a.Reevaluate(ctx, id, "inventory change"); err != nil {
				return err
			}
		}
		return nil
	}
	return a
}

// Advisories returns the loaded advisories, or nil.
func (a *Assessor) Advisories() *Advisories { return a.adv.Load() }

// AdvisoryDir is the folder ReloadAdvisories reads.
func (a *Assessor) AdvisoryDir() string { return a.dir }

// SetAdvisories installs advisories and re-evaluates every device.
func (a *Assessor) SetAdvisories(ctx context.Context, adv *Advisories, actor string) (Evaluation, error) {
	a.adv.Store(adv)
	return a.Reevaluate(ctx, "", actor)
}

// ReloadAdvisories loads the advisory folder again and re-evaluates every
// device; on a load error the advisories in use stay.
func (a *Assessor) ReloadAdvisories(ctx context.Context, actor string) (Evaluation, error) {
	adv, err := LoadAdvisories(ctx, a.dir, a.clock())
	if err != nil {
		return Evaluation{}, err
	}
	return a.SetAdvisories(ctx, adv, actor)
}

// SBOMInfo describes one stored SBOM.
type SBOMInfo struct {
	ID          string    `json:"id"`
	DeviceID    string    `json:"device"`
	Format      string    `json:"format"`
	Encoding    string    `json:"encoding"`
	SpecVersion string    `json:"specVersion"`
	Subject     string    `json:"subject"`
	SHA256      string    `json:"sha256"`
	Components  int       `json:"components"`
	Problems    []string  `json:"problems"`
	UploadedBy  string    `json:"uploadedBy"`
	UploadedAt  time.Time `json:"uploadedAt"`
	Superseded  time.Time `json:"supersededAt,omitzero"`
}

// SBOMUpload is what an upload stored and what the evaluation found.
type SBOMUpload struct {
	SBOM       SBOMInfo   `json:"sbom"`
	Supersedes []string   `json:"supersedes"`
	Evaluation Evaluation `json:"evaluation"`
}

// Evaluation counts what a re-evaluation did.
type Evaluation struct {
	Devices    int `json:"devices"`
	Components int `json:"components"`
	Unmatched  int `json:"unmatched"`
	Findings   int `json:"findings"`
	Open       int `json:"open"`
	Suppressed int `json:"suppressed"`
	// Skipped lists devices not evaluated and why (no SBOM, no advisories).
	Skipped []string `json:"skipped,omitempty"`
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UploadSBOM stores an SBOM for a device with its parsed components, and
// re-evaluates the device. An SBOM the parser rejects is rejected whole
// with the parser's message and nothing is written. The new SBOM
// supersedes the device's current SBOMs of the same subject (docs/decisions
// 0021); the others stay current beside it.
func (a *Assessor) UploadSBOM(ctx context.Context, deviceID string, raw []byte, actor string) (*SBOMUpload, error) {
	ups, err := a.UploadSBOMs(ctx, []DeviceSBOM{{DeviceID: deviceID, Raw: raw}}, actor)
	if err != nil {
		return nil, err
	}
	return &ups[0], nil
}

// DeviceSBOM is one SBOM for one device.
type DeviceSBOM struct {
	DeviceID string
	Raw      []byte
}

// UploadSBOMs stores several SBOMs in one transaction and re-evaluates
// their devices once (the bulk path of the demo and of fleet imports). If
// any SBOM is rejected, nothing is written and the error names it (when
// there is more than one).
func (a *Assessor) UploadSBOMs(ctx context.Context, list []DeviceSBOM, actor string) ([]SBOMUpload, error) {
	type parsed struct {
		dev Device
		doc *sbom.Document
		raw []byte
	}
	var ps []parsed
	for i, u := range list {
		dev, err := a.devices.Get(ctx, u.DeviceID)
		if err != nil {
			return nil, err
		}
		doc, err := sbom.Parse(ctx, bytes.NewReader(u.Raw))
		if err != nil {
			if len(list) > 1 {
				return nil, fmt.Errorf("SBOM %d (device %s): %w", i+1, u.DeviceID, err)
			}
			return nil, err
		}
		ps = append(ps, parsed{dev, doc, u.Raw})
	}
	ups := make([]SBOMUpload, len(ps))
	now := a.clock().UTC()
	err := a.db.InTx(ctx, func(tx *db.Tx) error {
		stmt, err := tx.Prepare(ctx, `INSERT INTO device_sbom_components (sbom_id, seq, ref, name, version, purl, raw_purl, cpe, supplier, level_of_support, end_of_support, end_of_support_at, match_state, match_note)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, p := range ps {
			up, err := a.storeSBOM(ctx, tx, stmt, p.dev, p.doc, p.raw, actor, now)
			if err != nil {
				return err
			}
			ups[i] = *up
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ev Evaluation
	if len(ps) == 1 {
		ev, err = a.Reevaluate(ctx, ps[0].dev.ID, actor)
	} else {
		ev, err = a.Reevaluate(ctx, "", actor)
	}
	for i := range ups {
		ups[i].Evaluation = ev
	}
	return ups, err
}

func (a *Assessor) storeSBOM(ctx context.Context, tx *db.Tx, stmt *sql.Stmt, dev Device, doc *sbom.Document, raw []byte, actor string, at time.Time) (*SBOMUpload, error) {
	sum := sha256.Sum256(raw)
	info := SBOMInfo{ID: newID(), DeviceID: dev.ID, Format: string(doc.Format), Encoding: string(doc.Encoding), SpecVersion: doc.SpecVersion,
		Subject: doc.Name, SHA256: hex.EncodeToString(sum[:]), Components: len(doc.Components), Problems: []string{}, UploadedBy: actor, UploadedAt: at}
	for _, p := range doc.Problems {
		info.Problems = append(info.Problems, p.String())
	}
	var subj sbom.Component
	if doc.Subject != nil {
		subj = *doc.Subject
	}
	up := &SBOMUpload{SBOM: info, Supersedes: []string{}}
	now := at.UnixMicro()
	rows, err := tx.Query(ctx, `SELECT id FROM device_sboms WHERE device_id = $1 AND subject = $2 AND superseded_at IS NULL`, dev.ID, doc.Name)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, db.Translate(err)
		}
		up.Supersedes = append(up.Supersedes, id)
	}
	rows.Close()
	if _, err := tx.Exec(ctx, `UPDATE device_sboms SET superseded_at = $3 WHERE device_id = $1 AND subject = $2 AND superseded_at IS NULL`, dev.ID, doc.Name, now); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO device_sboms (id, device_id, format, encoding, spec_version, subject, subject_purl, subject_cpe, subject_ref, serial_number, bom_version, sha256, raw, components, problems, uploaded_by, uploaded_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`,
		info.ID, dev.ID, info.Format, info.Encoding, info.SpecVersion, info.Subject, subj.Purl, subj.CPE, subj.Ref, doc.SerialNumber, doc.Version, info.SHA256, raw,
		info.Components, strings.Join(info.Problems, "\n"), actor, now); err != nil {
		return nil, err
	}
	for i, c := range doc.Components {
		canonical := ""
		if c.PurlValid {
			if p, err := purl.Parse(c.Purl); err == nil {
				canonical = p.String()
			}
		}
		var eos any
		if !c.EndOfSupportDate.IsZero() {
			eos = c.EndOfSupportDate.UnixMicro()
		}
		name := c.Name
		if c.Group != "" {
			name = c.Group + "/" + c.Name
		}
		if _, err := stmt.ExecContext(ctx, info.ID, i, c.Ref, name, c.Version, canonical, c.Purl, c.CPE, c.Supplier, c.LevelOfSupport, c.EndOfSupport, eos,
			MatchPending, "not evaluated yet"); err != nil {
			return nil, db.Translate(err)
		}
	}
	return up, nil
}

// SBOMs lists a device's SBOMs, newest first.
func (a *Assessor) SBOMs(ctx context.Context, deviceID string) ([]SBOMInfo, error) {
	rows, err := a.db.Query(ctx, `SELECT id, device_id, format, encoding, spec_version, subject, sha256, components, problems, uploaded_by, uploaded_at, superseded_at
		FROM device_sboms WHERE device_id = $1 ORDER BY uploaded_at DESC, id`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SBOMInfo{}
	for rows.Next() {
		var s SBOMInfo
		var problems string
		var at int64
		var sup sql.NullInt64
		if err := rows.Scan(&s.ID, &s.DeviceID, &s.Format, &s.Encoding, &s.SpecVersion, &s.Subject, &s.SHA256, &s.Components, &problems, &s.UploadedBy, &at, &sup); err != nil {
			return nil, db.Translate(err)
		}
		s.Problems = []string{}
		if problems != "" {
			s.Problems = strings.Split(problems, "\n")
		}
		s.UploadedAt, s.Superseded = time.UnixMicro(at).UTC(), db.FromMicros(sup)
		out = append(out, s)
	}
	return out, db.Translate(rows.Err())
}

// RawSBOM returns an SBOM as it was uploaded.
func (a *Assessor) RawSBOM(ctx context.Context, deviceID, id string) ([]byte, error) {
	var raw []byte
	err := a.db.QueryRow(ctx, `SELECT raw FROM device_sboms WHERE device_id = $1 AND id = $2`, deviceID, id).Scan(&raw)
	if err == sql.ErrNoRows {
		return nil, fault.New(fault.NotFound, "device %s has no SBOM %s", deviceID, id)
	}
	return raw, db.Translate(err)
}

// Match states of a component.
const (
	MatchPending   = "pending"   // stored, not evaluated yet
	MatchChecked   = "checked"   // looked up by purl
	MatchUnmatched = "unmatched" // could not be looked up; MatchNote says why
)

// Component is one component of one of a device's current SBOMs.
type Component struct {
	SBOM           string    `json:"sbom"`
	Seq            int       `json:"seq"`
	Ref            string    `json:"ref,omitempty"`
	Name           string    `json:"name"`
	Version        string    `json:"version,omitempty"`
	Purl           string    `json:"purl,omitempty"`
	RawPurl        string    `json:"rawPurl,omitempty"`
	CPE            string    `json:"cpe,omitempty"`
	Supplier       string    `json:"supplier,omitempty"`
	LevelOfSupport string    `json:"levelOfSupport,omitempty"`
	EndOfSupport   string    `json:"endOfSupport,omitempty"`
	EndOfSupportAt time.Time `json:"endOfSupportDate,omitzero"`
	MatchState     string    `json:"match"`
	MatchNote      string    `json:"matchNote,omitempty"`

	serial  string
	version int
}

// key is the component's identity in findings: its purl as written, else
// its CPE, else its bom-ref.
func (c Component) key() string {
	switch {
	case c.RawPurl != "":
		return c.RawPurl
	case c.CPE != "":
		return c.CPE
	case c.Ref != "":
		return c.Ref
	}
	return c.Name + "@" + c.Version
}

// Components lists the components of a device's current SBOMs.
func (a *Assessor) Components(ctx context.Context, deviceID string) ([]Component, error) {
	rows, err := a.db.Query(ctx, `SELECT c.sbom_id, c.seq, c.ref, c.name, c.version, c.purl, c.raw_purl, c.cpe, c.supplier, c.level_of_support, c.end_of_support, c.end_of_support_at, c.match_state, c.match_note, s.serial_number, s.bom_version
		FROM device_sbom_components c JOIN device_sboms s ON s.id = c.sbom_id WHERE s.device_id = $1 AND s.superseded_at IS NULL ORDER BY s.uploaded_at, s.id, c.seq`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Component{}
	for rows.Next() {
		var c Component
		var eos sql.NullInt64
		if err := rows.Scan(&c.SBOM, &c.Seq, &c.Ref, &c.Name, &c.Version, &c.Purl, &c.RawPurl, &c.CPE, &c.Supplier, &c.LevelOfSupport, &c.EndOfSupport, &eos, &c.MatchState, &c.MatchNote, &c.serial, &c.version); err != nil {
			return nil, db.Translate(err)
		}
		c.EndOfSupportAt = db.FromMicros(eos)
		out = append(out, c)
	}
	return out, db.Translate(rows.Err())
}

// subjects returns the identifiers of the products (SBOM subjects) of a
// device's current SBOMs.
func (a *Assessor) subjects(ctx context.Context, deviceID string) ([]string, error) {
	rows, err := a.db.Query(ctx, `SELECT subject_purl, subject_cpe, subject_ref FROM device_sboms WHERE device_id = $1 AND superseded_at IS NULL`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p, c, r string
		if err := rows.Scan(&p, &c, &r); err != nil {
			return nil, db.Translate(err)
		}
		out = append(out, p, c, r)
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" }), db.Translate(rows.Err())
}

// identifiers are the keys VEX statements may name a component by.
func (c Component) identifiers() []string {
	var link string
	if c.serial != "" && c.Ref != "" {
		d := sbom.Document{Format: sbom.CycloneDX, SerialNumber: c.serial, Version: c.version}
		link = d.BOMLink(c.Ref)
	}
	return slices.DeleteFunc([]string{c.RawPurl, c.CPE, c.Ref, link}, func(s string) bool { return s == "" })
}

// Reevaluate judges the current components of one device (deviceID) or
// of every device ("") against the advisories, applies the device's VEX
// overrides and documents, and records the result with
// Findings.Reconcile; actor is who or what caused it, for the findings'
// history. A device without an SBOM, or any device while no advisories are
// loaded, keeps its findings as they are (a scan that cannot run must not
// resolve them).
func (a *Assessor) Reevaluate(ctx context.Context, deviceID, actor string) (Evaluation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	if deviceID != "" {
		if _, err := a.devices.Get(ctx, deviceID); err != nil {
			return Evaluation{}, err
		}
		ids = []string{deviceID}
	} else {
		rows, err := a.db.Query(ctx, `SELECT DISTINCT device_id FROM device_sboms WHERE superseded_at IS NULL ORDER BY device_id`)
		if err != nil {
			return Evaluation{}, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return Evaluation{}, db.Translate(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
	}
	var ev Evaluation
	var plans []plan
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return ev, err
		}
		p, err := a.evaluate(ctx, id, &ev)
		if err != nil {
			return ev, fmt.Errorf("evaluate device %s: %w", id, err)
		}
		if p != nil {
			plans = append(plans, *p)
		}
	}
	// One transaction for every device: a re-evaluation is recorded whole
	// or not at all, and costs one commit however large the fleet.
	now := a.clock()
	err := a.db.InTx(ctx, func(tx *db.Tx) error {
		for _, p := range plans {
			if p.reconcile {
				if err := a.findings.reconcile(ctx, tx, p.dev, p.matches, actor, now); err != nil {
					return fmt.Errorf("device %s: %w", p.dev.ID, err)
				}
			}
			if err := saveStates(ctx, tx, p.comps, p.states); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Evaluation{}, err
	}
	return ev, nil
}

// plan is what evaluating one device decided, to be written.
type plan struct {
	dev       Device
	reconcile bool
	matches   []Match
	comps     []Component
	states    [][2]string
}

func (a *Assessor) evaluate(ctx context.Context, deviceID string, ev *Evaluation) (*plan, error) {
	dev, err := a.devices.Get(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	comps, err := a.Components(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		ev.Skipped = append(ev.Skipped, deviceID+": no SBOM")
		return nil, nil
	}
	adv := a.adv.Load()
	states := make([][2]string, len(comps))
	if adv == nil {
		for i := range states {
			states[i] = [2]string{MatchUnmatched, "no advisories are loaded"}
		}
		ev.Skipped = append(ev.Skipped, deviceID+": no advisories loaded")
		ev.Components += len(comps)
		ev.Unmatched += len(comps)
		return &plan{dev: dev, comps: comps, states: states}, nil
	}
	statements, err := a.statements(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	overrides, err := a.Overrides(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	byKey := map[string]Override{}
	for _, o := range overrides {
		byKey[o.Component+"\x00"+o.Advisory] = o
	}
	product, err := a.subjects(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	var query []osv.Component
	for i, c := range comps {
		switch {
		case c.Purl != "":
			query = append(query, osv.Component{PURL: c.RawPurl, Ref: strconv.Itoa(i)})
			states[i] = [2]string{MatchChecked, ""}
		case c.CPE != "":
			states[i] = [2]string{MatchUnmatched, "identified by CPE only: the advisories loaded (OSV) name packages, not CPEs, so check it by hand"}
		default:
			states[i] = [2]string{MatchUnmatched, "no usable purl or CPE (embedded or vendor component): it cannot be matched to advisories"}
		}
	}
	var matches []Match
	for _, f := range adv.Index.Scan(query) {
		i, _ := strconv.Atoi(f.Component.Ref)
		c := comps[i]
		if f.Status != osv.StatusAffected {
			states[i] = [2]string{MatchUnmatched, f.Err.Error()}
			continue
		}
		m := Match{Component: c.key(), Advisory: f.Advisory.ID, Aliases: f.Advisory.Aliases, Ecosystem: f.Component.Ecosystem, Package: f.Component.Name,
			Version: f.Component.Version, FixedVersions: f.Fixed, Input: RiskInput{KEV: f.KEV != nil, EPSS: -1}, Status: StatusOpen}
		m.Input.CVSS, m.Input.HasCVSS = severity(f.Advisory)
		if adv.EPSS != nil {
			m.Input.EPSS = adv.EPSS.Lookup(f.Advisory.IDs()...)
		}
		if o, ok := byKey[m.Component+"\x00"+m.Advisory]; ok {
			m.Status, m.VEXJustification, m.Note = o.Status, o.Justification, "override by "+o.Actor
		} else if statements != nil {
			for _, id := range f.Advisory.IDs() {
				s, ok := statements.Find(vex.Query{Vulnerability: id, Component: c.identifiers(), Version: c.Version, Product: product})
				if !ok {
					continue
				}
				m.Status, m.VEXJustification = vexStatus(s.Status), s.Justification
				if m.VEXJustification == "" {
					m.VEXJustification = s.ImpactStatement
				}
				if s.Status == vex.Affected && s.ActionStatement != "" {
					m.VEXJustification = s.ActionStatement
				}
				m.Note = fmt.Sprintf("%s VEX %s", s.Source.Format, s.Source.DocumentID)
				if s.Status == vex.UnderInvestigation {
					m.Note += ": under investigation"
				}
				break
			}
		}
		matches = append(matches, m)
	}
	if err := checkMatches(matches); err != nil {
		return nil, err
	}
	ev.Devices++
	ev.Components += len(comps)
	for _, s := range states {
		if s[0] == MatchUnmatched {
			ev.Unmatched++
		}
	}
	ev.Findings += len(matches)
	for _, m := range matches {
		switch m.Status {
		case StatusNotAffected, StatusFixed:
			ev.Suppressed++
		default:
			ev.Open++
		}
	}
	return &plan{dev: dev, reconcile: true, matches: matches, comps: comps, states: states}, nil
}

// severity is the highest CVSS v3 base score among the advisory's
// severity vectors.
func severity(a *osv.Advisory) (float64, bool) {
	best, ok := 0.0, false
	for _, s := range a.Severity {
		if !strings.HasPrefix(s.Type, "CVSS_V3") {
			continue
		}
		v, err := cvss.Parse(s.Score)
		if err != nil {
			continue
		}
		if sc := v.BaseScore(); !ok || sc > best {
			best, ok = sc, true
		}
	}
	return best, ok
}

// vexStatus maps a VEX status to a finding status: under investigation
// stays open (it is not yet a reason to stop working the finding).
func vexStatus(s vex.Status) string {
	switch s {
	case vex.NotAffected:
		return StatusNotAffected
	case vex.Affected:
		return StatusAffected
	case vex.Fixed:
		return StatusFixed
	}
	return StatusOpen
}

func saveStates(ctx context.Context, tx *db.Tx, comps []Component, states [][2]string) error {
	for i, c := range comps {
		if c.MatchState == states[i][0] && c.MatchNote == states[i][1] {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE device_sbom_components SET match_state = $3, match_note = $4 WHERE sbom_id = $1 AND seq = $2`, c.SBOM, c.Seq, states[i][0], states[i][1]); err != nil {
			return err
		}
	}
	return nil
}

// VEXInfo describes one stored VEX document.
type VEXInfo struct {
	ID              string    `json:"id"`
	DeviceID        string    `json:"device"`
	Format          string    `json:"format"`
	DocumentID      string    `json:"documentId"`
	SHA256          string    `json:"sha256"`
	Statements      int       `json:"statements"`
	UnknownProducts []string  `json:"unknownProducts"`
	UploadedBy      string    `json:"uploadedBy"`
	UploadedAt      time.Time `json:"uploadedAt"`
}

// VEXUpload is what a VEX upload stored, what it could not apply and what
// the evaluation found.
type VEXUpload struct {
	VEX        VEXInfo    `json:"vex"`
	Problems   []string   `json:"problems"`
	Evaluation Evaluation `json:"evaluation"`
}

// UploadVEX stores a VEX document for a device and re-evaluates it. A
// document the parser rejects is rejected whole; statements about products
// the device's SBOMs do not have are reported back (UnknownProducts) and
// the rest applied.
func (a *Assessor) UploadVEX(ctx context.Context, deviceID string, raw []byte, actor string) (*VEXUpload, error) {
	if _, err := a.devices.Get(ctx, deviceID); err != nil {
		return nil, err
	}
	doc, err := vex.Parse(ctx, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	comps, err := a.Components(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	known, err := a.subjects(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	for _, c := range comps {
		known = append(known, c.identifiers()...)
	}
	sum := sha256.Sum256(raw)
	info := VEXInfo{ID: newID(), DeviceID: deviceID, Format: string(doc.Format), DocumentID: doc.ID, SHA256: hex.EncodeToString(sum[:]),
		Statements: len(doc.Statements), UnknownProducts: []string{}, UploadedBy: actor, UploadedAt: a.clock().UTC()}
	for _, u := range doc.Index().UnknownProducts(known) {
		info.UnknownProducts = append(info.UnknownProducts, u.String())
	}
	up := &VEXUpload{VEX: info, Problems: []string{}}
	for _, p := range doc.Problems {
		up.Problems = append(up.Problems, p.String())
	}
	if _, err := a.db.Exec(ctx, `INSERT INTO device_vex (id, device_id, format, document_id, sha256, raw, statements, unknown_products, uploaded_by, uploaded_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		info.ID, deviceID, info.Format, info.DocumentID, info.SHA256, raw, info.Statements, strings.Join(info.UnknownProducts, "\n"), actor, info.UploadedAt.UnixMicro()); err != nil {
		return nil, err
	}
	up.Evaluation, err = a.Reevaluate(ctx, deviceID, actor)
	return up, err
}

// VEXDocuments lists a device's VEX documents, oldest first (the order in
// which equal-time statements supersede each other).
func (a *Assessor) VEXDocuments(ctx context.Context, deviceID string) ([]VEXInfo, error) {
	rows, err := a.db.Query(ctx, `SELECT id, device_id, format, document_id, sha256, statements, unknown_products, uploaded_by, uploaded_at FROM device_vex WHERE device_id = $1 ORDER BY uploaded_at, id`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VEXInfo{}
	for rows.Next() {
		var v VEXInfo
		var unknown string
		var at int64
		if err := rows.Scan(&v.ID, &v.DeviceID, &v.Format, &v.DocumentID, &v.SHA256, &v.Statements, &unknown, &v.UploadedBy, &at); err != nil {
			return nil, db.Translate(err)
		}
		v.UnknownProducts = []string{}
		if unknown != "" {
			v.UnknownProducts = strings.Split(unknown, "\n")
		}
		v.UploadedAt = time.UnixMicro(at).UTC()
		out = append(out, v)
	}
	return out, db.Translate(rows.Err())
}

// statements parses the device's VEX documents into one index; nil when
// it has none.
func (a *Assessor) statements(ctx context.Context, deviceID string) (*vex.Statements, error) {
	rows, err := a.db.Query(ctx, `SELECT id, raw FROM device_vex WHERE device_id = $1 ORDER BY uploaded_at, id`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lists [][]vex.Statement
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, db.Translate(err)
		}
		doc, err := vex.Parse(ctx, bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("stored VEX document %s: %w", id, err)
		}
		lists = append(lists, doc.Statements)
	}
	if err := rows.Err(); err != nil || len(lists) == 0 {
		return nil, db.Translate(err)
	}
	return vex.NewStatements(lists...), nil
}

// Override is a person's VEX statement about one finding.
type Override struct {
	DeviceID      string    `json:"device"`
	Component     string    `json:"component"`
	Advisory      string    `json:"advisory"`
	Status        string    `json:"status"`
	Justification string    `json:"justification"`
	Actor         string    `json:"actor"`
	At            time.Time `json:"at"`
}

// SetOverride records a person's VEX status for one finding (not_affected,
// affected or fixed) with a justification, and re-evaluates the device.
// It wins over VEX documents until replaced or removed (status ""); every
// change goes into the finding's history.
func (a *Assessor) SetOverride(ctx context.Context, deviceID, component, advisory, status, justification, actor string) (Evaluation, error) {
	justification = strings.TrimSpace(justification)
	switch status {
	case StatusNotAffected, StatusAffected, StatusFixed, "":
	default:
		return Evaluation{}, fault.InvalidField("status", "%q is not not_affected, affected or fixed", status)
	}
	if n := utf8.RuneCountInString(justification); status != "" && (n < 5 || n > 1000) {
		return Evaluation{}, fault.InvalidField("justification", "give the reason in 5 to 1000 characters")
	}
	now := a.clock()
	err := a.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM device_findings WHERE device_id = $1 AND component = $2 AND advisory = $3`, deviceID, component, advisory).Scan(&n); err != nil {
			return db.Translate(err)
		}
		if n == 0 {
			return fault.New(fault.NotFound, "no finding %s on %s (%s)", advisory, deviceID, component)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM device_vex_overrides WHERE device_id = $1 AND component = $2 AND advisory = $3`, deviceID, component, advisory); err != nil {
			return err
		}
		change := "VEX override removed"
		if status != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO device_vex_overrides (device_id, component, advisory, status, justification, actor, at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
				deviceID, component, advisory, status, justification, actor, now.UnixMicro()); err != nil {
				return err
			}
			change = "VEX override: " + status + ": " + justification
		}
		return a.findings.history(ctx, tx, deviceID, component, advisory, actor, change, now)
	})
	if err != nil {
		return Evaluation{}, err
	}
	return a.Reevaluate(ctx, deviceID, actor)
}

// Overrides lists a device's VEX overrides.
func (a *Assessor) Overrides(ctx context.Context, deviceID string) ([]Override, error) {
	rows, err := a.db.Query(ctx, `SELECT device_id, component, advisory, status, justification, actor, at FROM device_vex_overrides WHERE device_id = $1 ORDER BY at, advisory`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Override{}
	for rows.Next() {
		var o Override
		var at int64
		if err := rows.Scan(&o.DeviceID, &o.Component, &o.Advisory, &o.Status, &o.Justification, &o.Actor, &at); err != nil {
			return nil, db.Translate(err)
		}
		o.At = time.UnixMicro(at).UTC()
		out = append(out, o)
	}
	return out, db.Translate(rows.Err())
}

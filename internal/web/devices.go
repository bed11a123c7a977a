package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// mayManageDevices: security (biomedical) engineers and administrators
// keep the inventory; privacy officers may read it.
func mayManageDevices(u identity.User) bool {
	return u.Role == identity.RoleSecurityEngineer || u.Role == identity.RoleAdmin
}

func mayReadDevices(u identity.User) bool {
	return mayManageDevices(u) || u.Role == identity.RolePrivacyOfficer
}

// auditDeviceChange records a change to the inventory (no patient data).
func (s *Server) auditDeviceChange(r *http.Request, u identity.User, action, subtype, id, desc string) error {
	return s.Access.Recorder().Record(r.Context(), &audit.Event{
		Actor:  audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action: action, Subtype: subtype, ResourceType: "Device", ResourceID: id, Purpose: "HOPERAT",
		Outcome: audit.OutcomeSuccess, OutcomeDesc: desc, Source: "trustward", NetworkAddress: clientOf(r).Address, UserAgent: r.UserAgent(),
	})
}

type fleetRow struct {
	devices.Device
	Unsupported bool
}

func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayReadDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The device inventory is for security and biomedical engineers."))
		return
	}
	q := r.URL.Query()
	f := devices.Filter{Class: q.Get("class"), Zone: q.Get("zone"), CareUnit: q.Get("unit")}
	ds, err := s.Devices.List(r.Context(), f)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Devices", &u)
	now := s.Clock()
	for _, d := range ds {
		p.Fleet = append(p.Fleet, fleetRow{Device: d, Unsupported: d.Unsupported(now)})
		if d.Unsupported(now) {
			p.FleetUnsupported++
		}
	}
	p.DeviceFilter, p.Classes, p.Zones = f, devices.Classes, devices.Zones
	if p.Units, err = s.Devices.CareUnits(r.Context()); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p.CanManage = mayManageDevices(u)
	p.Message = q.Get("imported")
	s.render(w, r, http.StatusOK, "devices", p)
}

func (s *Server) devicePage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayReadDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The device inventory is for security and biomedical engineers."))
		return
	}
	s.renderDevice(w, r, u, r.PathValue("id"), http.StatusOK, r.URL.Query().Get("done"), "")
}

// maxCSVUpload bounds an inventory upload.
const maxCSVUpload = 8 << 20

func (s *Server) importDevicesForm(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayManageDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only security engineers and administrators change the inventory."))
		return
	}
	file, _, err := r.FormFile("inventory")
	if err != nil {
		s.renderError(w, r, &u, fault.New(fault.Invalid, "Choose a CSV file to upload."))
		return
	}
	defer file.Close()
	n, err := s.Devices.ImportCSV(r.Context(), io.LimitReader(file, maxCSVUpload))
	if err != nil {
		p := s.newPage("Devices", &u)
		p.Error = fault.Message(err)
		var ce *devices.CSVError
		if errors.As(err, &ce) {
			p.Error = fmt.Sprintf("%d rows are wrong; nothing was imported.", len(ce.Rows))
			for _, row := range ce.Rows {
				p.RowErrors = append(p.RowErrors, row.Error())
			}
		}
		p.CanManage, p.Classes, p.Zones = true, devices.Classes, devices.Zones
		s.render(w, r, status(err), "devices", p)
		return
	}
	if err := s.auditDeviceChange(r, u, audit.ActionCreate, "device-import", "", fmt.Sprintf("%d devices imported from CSV", n)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/office/devices?imported=%d+devices+imported.", n), http.StatusSeeOther)
}

// API

func (s *Server) apiListDevices(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadDevices(u) {
		return fault.New(fault.Forbidden, "the device inventory is for security and biomedical engineers")
	}
	q := r.URL.Query()
	ds, err := s.Devices.List(r.Context(), devices.Filter{Class: q.Get("class"), Zone: q.Get("zone"), CareUnit: q.Get("unit")})
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []devices.Device{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": ds})
	return nil
}

func (s *Server) apiGetDevice(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadDevices(u) {
		return fault.New(fault.Forbidden, "the device inventory is for security and biomedical engineers")
	}
	d, err := s.Devices.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiPutDevice(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayManageDevices(u) {
		return fault.New(fault.Forbidden, "only security engineers and administrators change the inventory")
	}
	var d devices.Device
	if err := decodeJSON(r, &d); err != nil {
		return err
	}
	if d.ID == "" {
		d.ID = r.PathValue("id")
	}
	if d.ID != r.PathValue("id") {
		return fault.InvalidField("id", "%q does not match the id in the path", d.ID)
	}
	d.Created, d.Updated = d.Created.UTC(), d.Updated.UTC()
	if err := s.Devices.Put(r.Context(), d); err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionUpdate, "device-put", d.ID, ""); err != nil {
		return err
	}
	got, err := s.Devices.Get(r.Context(), d.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, got)
	return nil
}

func (s *Server) apiImportDevices(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayManageDevices(u) {
		return fault.New(fault.Forbidden, "only security engineers and administrators change the inventory")
	}
	if ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])); ct != "text/csv" {
		return fault.New(fault.Invalid, "send the inventory as text/csv")
	}
	n, err := s.Devices.ImportCSV(r.Context(), r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fault.New(fault.TooLarge, "the request body is larger than %d bytes", mbe.Limit)
		}
		var ce *devices.CSVError
		if errors.As(err, &ce) {
			p := Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Detail: fault.Message(err), Instance: r.URL.Path}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			rows := make([]map[string]any, 0, len(ce.Rows))
			for _, row := range ce.Rows {
				rows = append(rows, map[string]any{"line": row.Line, "detail": fault.Message(row.Err)})
			}
			return writeProblemWithRows(w, p, rows)
		}
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionCreate, "device-import", "", fmt.Sprintf("%d devices imported from CSV", n)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"imported": n})
	return nil
}

func writeProblemWithRows(w io.Writer, p Problem, rows []map[string]any) error {
	return encodeJSON(w, struct {
		Problem
		Rows []map[string]any `json:"rows"`
	}{p, rows})
}

func (s *Server) queuePage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayReadDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The vulnerability queue is for security and biomedical engineers."))
		return
	}
	q, err := s.Findings.Queue(r.Context(), 500)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	now := s.Clock()
	days, err := s.Findings.Exposure(r.Context(), now.AddDate(0, 0, -89), now)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Vulnerability queue", &u)
	p.Findings = q
	p.Vuln = &deviceView{Exposure: days, Chart: exposureSVG(days)}
	if adv := s.Assessor.Advisories(); adv != nil {
		st := adv.Stats()
		p.Vuln.Advisories = &st
	}
	p.CanManage = mayManageDevices(u)
	p.Message = r.URL.Query().Get("done")
	s.render(w, r, http.StatusOK, "queue", p)
}

func (s *Server) apiQueue(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadDevices(u) {
		return fault.New(fault.Forbidden, "the vulnerability queue is for security and biomedical engineers")
	}
	q, err := s.Findings.Queue(r.Context(), 10_000)
	if err != nil {
		return err
	}
	if q == nil {
		q = []devices.Finding{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"findings": q})
	return nil
}

// apiExportFindings writes every finding of every device as CSV or JSON
// (?format=csv|json), for regulators and manufacturers.
func (s *Server) apiExportFindings(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayReadDevices(u) {
		return fault.New(fault.Forbidden, "the findings export is for security and biomedical engineers")
	}
	return s.writeExport(w, r, u)
}

func (s *Server) apiSetControl(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if !mayManageDevices(u) {
		return fault.New(fault.Forbidden, "only security engineers and administrators record compensating controls")
	}
	var in struct {
		Component string    `json:"component"`
		Advisory  string    `json:"advisory"`
		Control   string    `json:"control"`
		Expires   time.Time `json:"expires"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.Findings.SetControl(r.Context(), id, in.Component, in.Advisory, in.Control, in.Expires, u.ID); err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionUpdate, "finding-control", id, in.Advisory+": "+in.Control); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

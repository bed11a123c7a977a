package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// deviceView is what the device and queue pages show besides the device.
type deviceView struct {
	SBOMs      []devices.SBOMInfo
	Components []devices.Component
	Unmatched  int
	VEX        []devices.VEXInfo
	Overrides  []devices.Override
	Findings   []findingRow
	Open       int
	Suppressed int
	// Chart is the exposure chart (server-side SVG), Exposure its data.
	Chart      template.HTML
	Exposure   []devices.ExposureDay
	Advisories *devices.AdvisoryStats
	// ControlMin and ControlMax bound the control expiry date input.
	ControlMin, ControlMax string
	Statuses               []string
}

type findingRow struct {
	devices.Finding
	Key     string
	History []devices.FindingEvent
}

func (s *Server) deviceRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /office/devices/{id}/sboms", s.authed(s.uploadSBOMForm))
	m.HandleFunc("POST /office/devices/{id}/vex", s.authed(s.uploadVEXForm))
	m.HandleFunc("POST /office/devices/{id}/overrides", s.authed(s.overrideForm))
	m.HandleFunc("POST /office/devices/{id}/controls", s.authed(s.controlForm))
	m.HandleFunc("GET /office/findings/export", s.authed(s.fresh(s.exportFindingsPage)))
	m.HandleFunc("POST /office/advisories/reload", s.authed(s.reloadAdvisoriesForm))
}

func (s *Server) deviceAPIRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/devices/{id}/sboms", s.api(s.apiListSBOMs))
	m.HandleFunc("POST /api/v1/devices/{id}/sboms", s.api(s.apiUploadSBOM))
	m.HandleFunc("GET /api/v1/devices/{id}/sboms/{sbom}", s.api(s.apiRawSBOM))
	m.HandleFunc("GET /api/v1/devices/{id}/components", s.api(s.apiComponents))
	m.HandleFunc("GET /api/v1/devices/{id}/findings", s.api(s.apiDeviceFindings))
	m.HandleFunc("GET /api/v1/devices/{id}/history", s.api(s.apiDeviceHistory))
	m.HandleFunc("GET /api/v1/devices/{id}/vex", s.api(s.apiListVEX))
	m.HandleFunc("POST /api/v1/devices/{id}/vex", s.api(s.apiUploadVEX))
	m.HandleFunc("PUT /api/v1/devices/{id}/overrides", s.api(s.apiSetOverride))
	m.HandleFunc("POST /api/v1/devices/{id}/reevaluate", s.api(s.apiReevaluate))
	m.HandleFunc("GET /api/v1/findings/exposure", s.api(s.apiExposure))
	m.HandleFunc("GET /api/v1/advisories", s.api(s.apiAdvisories))
	m.HandleFunc("POST /api/v1/advisories/reload", s.api(s.apiReloadAdvisories))
}

// deviceView builds the device page's sections.
func (s *Server) buildDeviceView(r *http.Request, id string) (*deviceView, error) {
	ctx := r.Context()
	v := &deviceView{Statuses: []string{devices.StatusNotAffected, devices.StatusAffected, devices.StatusFixed}}
	var err error
	if v.SBOMs, err = s.Assessor.SBOMs(ctx, id); err != nil {
		return nil, err
	}
	if v.Components, err = s.Assessor.Components(ctx, id); err != nil {
		return nil, err
	}
	for _, c := range v.Components {
		if c.MatchState == devices.MatchUnmatched {
			v.Unmatched++
		}
	}
	if v.VEX, err = s.Assessor.VEXDocuments(ctx, id); err != nil {
		return nil, err
	}
	if v.Overrides, err = s.Assessor.Overrides(ctx, id); err != nil {
		return nil, err
	}
	fs, err := s.Findings.ForDevice(ctx, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.Findings.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	hist := map[string][]devices.FindingEvent{}
	for _, e := range evs {
		k := e.Component + "\x00" + e.Advisory
		hist[k] = append(hist[k], e)
	}
	for i, f := range fs {
		v.Findings = append(v.Findings, findingRow{Finding: f, Key: "f" + strconv.Itoa(i+1), History: hist[f.Component+"\x00"+f.Advisory]})
		switch f.Status {
		case devices.StatusOpen, devices.StatusAffected:
			v.Open++
		case devices.StatusNotAffected, devices.StatusFixed:
			v.Suppressed++
		}
	}
	now := s.Clock().UTC()
	v.ControlMin, v.ControlMax = now.AddDate(0, 0, 1).Format("2006-01-02"), now.AddDate(1, 0, 0).Format("2006-01-02")
	return v, nil
}

// renderDevice shows a device's page with a status and a message or error.
func (s *Server) renderDevice(w http.ResponseWriter, r *http.Request, u identity.User, id string, st int, msg, errMsg string) {
	d, err := s.Devices.Get(r.Context(), id)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage(d.Name, &u)
	p.Device = &fleetRow{Device: d, Unsupported: d.Unsupported(s.Clock())}
	if p.Vuln, err = s.buildDeviceView(r, id); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p.CanManage = mayManageDevices(u)
	p.Message, p.Error = msg, errMsg
	s.render(w, r, st, "device", p)
}

// maxUpload bounds an SBOM or VEX read from a form; the server's body
// limit applies first.
const maxUpload = 64 << 20

func formFile(r *http.Request, field string) ([]byte, error) {
	file, _, err := r.FormFile(field)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fault.New(fault.TooLarge, "the upload is larger than %d bytes", mbe.Limit)
		}
		return nil, fault.New(fault.Invalid, "choose a file to upload")
	}
	defer file.Close()
	return io.ReadAll(io.LimitReader(file, maxUpload))
}

func redirectDevice(w http.ResponseWriter, r *http.Request, id, msg, anchor string) {
	http.Redirect(w, r, "/office/devices/"+url.PathEscape(id)+"?done="+url.QueryEscape(msg)+"#"+anchor, http.StatusSeeOther)
}

// docUpload is a document a device page takes (an SBOM or a VEX): the
// form field, the refusals' wording, and how it is stored, which returns
// the audit subtype and description, the message shown and the page's tab.
type docUpload struct {
	field, forbidden, notStored string
	store                       func(ctx context.Context, device string, raw []byte, by string) (subtype, desc, msg, tab string, err error)
}

func (s *Server) uploadSBOMForm(w http.ResponseWriter, r *http.Request, u identity.User) {
	s.uploadDocForm(w, r, u, docUpload{field: "sbom",
		forbidden: "Only security engineers and administrators upload SBOMs.", notStored: "The SBOM was not stored: ",
		store: func(ctx context.Context, id string, raw []byte, by string) (string, string, string, string, error) {
			up, err := s.Assessor.UploadSBOM(ctx, id, raw, by)
			if err != nil {
				return "", "", "", "", err
			}
			return "device-sbom", fmt.Sprintf("SBOM %s (%s %s, %d components)", up.SBOM.ID, up.SBOM.Format, up.SBOM.SpecVersion, up.SBOM.Components),
				fmt.Sprintf("SBOM stored: %d components, %d unmatched, %d findings (%d open).", up.SBOM.Components, up.Evaluation.Unmatched, up.Evaluation.Findings, up.Evaluation.Open), "sboms", nil
		}})
}

func (s *Server) uploadVEXForm(w http.ResponseWriter, r *http.Request, u identity.User) {
	s.uploadDocForm(w, r, u, docUpload{field: "vex",
		forbidden: "Only security engineers and administrators upload VEX.", notStored: "The VEX document was not stored: ",
		store: func(ctx context.Context, id string, raw []byte, by string) (string, string, string, string, error) {
			up, err := s.Assessor.UploadVEX(ctx, id, raw, by)
			if err != nil {
				return "", "", "", "", err
			}
			msg := fmt.Sprintf("VEX applied: %d statements; %d findings suppressed.", up.VEX.Statements, up.Evaluation.Suppressed)
			if n := len(up.VEX.UnknownProducts); n > 0 {
				msg += fmt.Sprintf(" %d statements name products this device does not have (listed under VEX).", n)
			}
			return "device-vex", fmt.Sprintf("VEX %s (%s, %d statements)", up.VEX.ID, up.VEX.Format, up.VEX.Statements), msg, "vex", nil
		}})
}

// uploadDocForm stores an uploaded document, audits it and shows the
// device again with the outcome; a refused document changes nothing.
func (s *Server) uploadDocForm(w http.ResponseWriter, r *http.Request, u identity.User, d docUpload) {
	id := r.PathValue("id")
	if !mayManageDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "%s", d.forbidden))
		return
	}
	raw, err := formFile(r, d.field)
	var subtype, desc, msg, tab string
	if err == nil {
		subtype, desc, msg, tab, err = d.store(r.Context(), id, raw, u.ID)
	}
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			s.renderError(w, r, &u, err)
			return
		}
		logError(s.Log, r, err)
		s.renderDevice(w, r, u, id, status(err), "", d.notStored+fault.Message(err))
		return
	}
	if err := s.auditDeviceChange(r, u, audit.ActionCreate, subtype, id, desc); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	redirectDevice(w, r, id, msg, tab)
}

func (s *Server) overrideForm(w http.ResponseWriter, r *http.Request, u identity.User) {
	id := r.PathValue("id")
	if !mayManageDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only security engineers and administrators change findings."))
		return
	}
	comp, adv, st, why := r.PostFormValue("component"), r.PostFormValue("advisory"), r.PostFormValue("status"), r.PostFormValue("justification")
	if _, err := s.Assessor.SetOverride(r.Context(), id, comp, adv, st, why, u.ID); err != nil {
		logError(s.Log, r, err)
		s.renderDevice(w, r, u, id, status(err), "", "The status was not changed: "+fault.Message(err))
		return
	}
	if err := s.auditDeviceChange(r, u, audit.ActionUpdate, "finding-vex-override", id, adv+": "+st); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	redirectDevice(w, r, id, adv+" is now "+orRemoved(st)+".", "findings")
}

func orRemoved(st string) string {
	if st == "" {
		return "back to what the VEX documents say"
	}
	return st
}

func (s *Server) controlForm(w http.ResponseWriter, r *http.Request, u identity.User) {
	id := r.PathValue("id")
	if !mayManageDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only security engineers and administrators record compensating controls."))
		return
	}
	comp, adv, ctl := r.PostFormValue("component"), r.PostFormValue("advisory"), r.PostFormValue("control")
	exp, err := time.Parse("2006-01-02", r.PostFormValue("expires"))
	if err != nil {
		err = fault.InvalidField("expires", "give the review date as YYYY-MM-DD")
	} else {
		err = s.Findings.SetControl(r.Context(), id, comp, adv, ctl, exp, u.ID)
	}
	if err != nil {
		logError(s.Log, r, err)
		s.renderDevice(w, r, u, id, status(err), "", "The control was not recorded: "+fault.Message(err))
		return
	}
	if err := s.auditDeviceChange(r, u, audit.ActionUpdate, "finding-control", id, adv+": "+ctl); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	redirectDevice(w, r, id, "Compensating control recorded for "+adv+" until "+exp.Format("2006-01-02")+".", "findings")
}

func (s *Server) reloadAdvisoriesForm(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayManageDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only security engineers and administrators reload advisories."))
		return
	}
	ev, err := s.Assessor.ReloadAdvisories(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if err := s.auditDeviceChange(r, u, audit.ActionExecute, "advisories-reload", "", fmt.Sprintf("%d devices re-evaluated", ev.Devices)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, "/office/queue?done="+url.QueryEscape(fmt.Sprintf("Advisories reloaded; %d devices re-evaluated, %d open findings.", ev.Devices, ev.Open)), http.StatusSeeOther)
}

// allFindings lists every finding of every device, for the export.
func (s *Server) allFindings(r *http.Request) ([]devices.Finding, error) {
	ds, err := s.Devices.List(r.Context(), devices.Filter{})
	if err != nil {
		return nil, err
	}
	all := []devices.Finding{}
	for _, d := range ds {
		fs, err := s.Findings.ForDevice(r.Context(), d.ID)
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	return all, nil
}

// writeExport writes findings as CSV or JSON (format "csv" or "json").
func (s *Server) writeExport(w http.ResponseWriter, r *http.Request, u identity.User) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		return fault.InvalidField("format", "%q is not csv or json", format)
	}
	all, err := s.allFindings(r)
	if err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionExecute, "findings-export", "", fmt.Sprintf("%d findings exported as %s", len(all), format)); err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="trustward-findings.`+format+`"`)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		return devices.WriteFindingsCSV(w, all)
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"generated": s.Clock().UTC(), "findings": exportRows(all)})
}

// exportRow is a finding as exported, with what the JSON of Finding
// leaves out (CVSS, KEV, EPSS).
type exportRow struct {
	devices.Finding
	CVSS           *float64 `json:"cvss"`
	KEV            bool     `json:"kev"`
	EPSS           *float64 `json:"epss"`
	PatchAvailable bool     `json:"patchAvailable"`
}

func exportRows(fs []devices.Finding) []exportRow {
	out := make([]exportRow, 0, len(fs))
	for _, f := range fs {
		row := exportRow{Finding: f, KEV: f.Input.KEV, PatchAvailable: f.PatchAvailable()}
		if f.Input.HasCVSS {
			c := f.Input.CVSS
			row.CVSS = &c
		}
		if f.Input.EPSS >= 0 {
			e := f.Input.EPSS
			row.EPSS = &e
		}
		out = append(out, row)
	}
	return out
}

func (s *Server) exportFindingsPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	if !mayReadDevices(u) {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "The findings export is for security and biomedical engineers."))
		return
	}
	if err := s.writeExport(w, r, u); err != nil {
		s.renderError(w, r, &u, err)
	}
}

// API

func (s *Server) apiReadable(u identity.User) error {
	if !mayReadDevices(u) {
		return fault.New(fault.Forbidden, "the device inventory is for security and biomedical engineers")
	}
	return nil
}

func (s *Server) apiManageable(u identity.User) error {
	if !mayManageDevices(u) {
		return fault.New(fault.Forbidden, "only security engineers and administrators change devices' SBOMs, VEX and findings")
	}
	return nil
}

func (s *Server) apiListSBOMs(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Devices.Get(r.Context(), id); err != nil {
		return err
	}
	list, err := s.Assessor.SBOMs(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sboms": list})
	return nil
}

func (s *Server) apiUploadSBOM(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiManageable(u); err != nil {
		return err
	}
	raw, err := readBody(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	up, err := s.Assessor.UploadSBOM(r.Context(), id, raw, u.ID)
	if err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionCreate, "device-sbom", id, fmt.Sprintf("SBOM %s (%s %s, %d components)", up.SBOM.ID, up.SBOM.Format, up.SBOM.SpecVersion, up.SBOM.Components)); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/devices/"+url.PathEscape(id)+"/sboms/"+up.SBOM.ID)
	writeJSON(w, http.StatusCreated, up)
	return nil
}

func (s *Server) apiRawSBOM(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	raw, err := s.Assessor.RawSBOM(r.Context(), r.PathValue("id"), r.PathValue("sbom"))
	if err != nil {
		return err
	}
	ct := "text/plain; charset=utf-8" // SPDX tag-value
	switch t := strings.TrimLeft(string(raw[:min(len(raw), 64)]), " \t\r\n\ufeff"); {
	case strings.HasPrefix(t, "{"):
		ct = "application/json"
	case strings.HasPrefix(t, "<"):
		ct = "application/xml"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", "attachment")
	_, err = w.Write(raw)
	return err
}

func (s *Server) apiComponents(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Devices.Get(r.Context(), id); err != nil {
		return err
	}
	cs, err := s.Assessor.Components(r.Context(), id)
	if err != nil {
		return err
	}
	unmatched := 0
	for _, c := range cs {
		if c.MatchState == devices.MatchUnmatched {
			unmatched++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"components": cs, "unmatched": unmatched})
	return nil
}

func (s *Server) apiDeviceFindings(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Devices.Get(r.Context(), id); err != nil {
		return err
	}
	fs, err := s.Findings.ForDevice(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"findings": exportRows(fs)})
	return nil
}

func (s *Server) apiDeviceHistory(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Devices.Get(r.Context(), id); err != nil {
		return err
	}
	evs, err := s.Findings.Events(r.Context(), id)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []devices.FindingEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	return nil
}

func (s *Server) apiListVEX(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Devices.Get(r.Context(), id); err != nil {
		return err
	}
	docs, err := s.Assessor.VEXDocuments(r.Context(), id)
	if err != nil {
		return err
	}
	ovs, err := s.Assessor.Overrides(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": docs, "overrides": ovs})
	return nil
}

func (s *Server) apiUploadVEX(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiManageable(u); err != nil {
		return err
	}
	raw, err := readBody(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	up, err := s.Assessor.UploadVEX(r.Context(), id, raw, u.ID)
	if err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionCreate, "device-vex", id, fmt.Sprintf("VEX %s (%s, %d statements)", up.VEX.ID, up.VEX.Format, up.VEX.Statements)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, up)
	return nil
}

func (s *Server) apiSetOverride(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiManageable(u); err != nil {
		return err
	}
	var in struct {
		Component     string `json:"component"`
		Advisory      string `json:"advisory"`
		Status        string `json:"status"`
		Justification string `json:"justification"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	ev, err := s.Assessor.SetOverride(r.Context(), id, in.Component, in.Advisory, in.Status, in.Justification, u.ID)
	if err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionUpdate, "finding-vex-override", id, in.Advisory+": "+in.Status); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"evaluation": ev})
	return nil
}

func (s *Server) apiReevaluate(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiManageable(u); err != nil {
		return err
	}
	ev, err := s.Assessor.Reevaluate(r.Context(), r.PathValue("id"), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"evaluation": ev})
	return nil
}

// exposureDays reads the days parameter (1 to 366; 90 by default).
func exposureDays(r *http.Request) (int, error) {
	q := r.URL.Query().Get("days")
	if q == "" {
		return 90, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > 366 {
		return 0, fault.InvalidField("days", "must be a whole number from 1 to 366")
	}
	return n, nil
}

func (s *Server) apiExposure(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	n, err := exposureDays(r)
	if err != nil {
		return err
	}
	now := s.Clock()
	days, err := s.Findings.Exposure(r.Context(), now.AddDate(0, 0, 1-n), now)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"days": days})
	return nil
}

func (s *Server) apiAdvisories(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiReadable(u); err != nil {
		return err
	}
	adv := s.Assessor.Advisories()
	if adv == nil {
		return fault.New(fault.NotFound, "no advisories are loaded; put OSV advisories in %s/osv and reload", s.Assessor.AdvisoryDir())
	}
	writeJSON(w, http.StatusOK, adv.Stats())
	return nil
}

func (s *Server) apiReloadAdvisories(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.apiManageable(u); err != nil {
		return err
	}
	ev, err := s.Assessor.ReloadAdvisories(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if err := s.auditDeviceChange(r, u, audit.ActionExecute, "advisories-reload", "", fmt.Sprintf("%d devices re-evaluated", ev.Devices)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"advisories": s.Assessor.Advisories().Stats(), "evaluation": ev})
	return nil
}

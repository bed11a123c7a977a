package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/sim"
)

// DemoPassword is the password of every demo account. It is printed by
// `trustward demo` and is for synthetic data only.
const DemoPassword = "trustward-demo-2026"

// DemoResult describes a loaded demo hospital.
type DemoResult struct {
	Resources   int
	Devices     int
	Invitations []Invitation
	Patients    int
	Staff       int
	Accounts    []identity.User
	Demo        []sim.Account
	// Accesses is the simulated access history given to privacy
	// monitoring (zero when demo_access_days is 0).
	Accesses   sim.AccessSummary
	AccessDays int
	// AccessSkipped says why a configured history was not loaded.
	AccessSkipped string
	Took          time.Duration
}

// Invitation is a demo patient's code for the portal.
type Invitation struct {
	Code, PatientID, Name string
}

// LoadDemo fills an empty store with the synthetic hospital from the
// configured seed. It refuses a store that already holds resources.
func (a *App) LoadDemo(ctx context.Context, progress io.Writer) (DemoResult, error) {
	start := time.Now()
	n, err := a.Records.Count(ctx, "")
	if err != nil {
		return DemoResult{}, err
	}
	if n > 0 {
		return DemoResult{}, fault.New(fault.Conflict, "the store already holds %d resources; the demo hospital loads only into an empty data folder", n)
	}
	// The hospital's "now" is a day, not an instant, so that seed, size and
	// date give the same hospital byte for byte.
	day := a.Clock().UTC().Truncate(24 * time.Hour)
	if a.Cfg.DemoDate != "" {
		day, _ = time.Parse("2006-01-02", a.Cfg.DemoDate)
	}
	var raws [][]byte
	sum, err := sim.Generate(ctx, sim.Options{Seed: a.Cfg.DemoSeed, Patients: a.Cfg.DemoPatients, Staff: a.Cfg.DemoStaff, Now: day}, func(r sim.Resource) error {
		raws = append(raws, r.JSON)
		return nil
	})
	if err != nil {
		return DemoResult{}, fmt.Errorf("generate demo hospital: %w", err)
	}
	bar := NewProgress(progress, "Loading demo hospital")
	res, err := a.Records.ImportResources(ctx, raws, bar.Update)
	if err != nil {
		return DemoResult{}, fmt.Errorf("load demo hospital: %w", err)
	}
	hash, err := a.Identity.Hasher().Hash(ctx, DemoPassword)
	if err != nil {
		return DemoResult{}, err
	}
	users := make([]identity.User, 0, len(sum.Accounts))
	for _, acc := range sum.Accounts {
		users = append(users, identity.User{Username: acc.Username, DisplayName: acc.DisplayName, Role: acc.Role,
			PractitionerID: acc.PractitionerID, PatientID: acc.PatientID, DepartmentID: acc.DepartmentID})
	}
	// Demo staff share one password, hashed once: hashing 300 passwords
	// with argon2id would cost the demo ten seconds for nothing.
	created, err := a.Identity.CreateUsers(ctx, users, hash)
	if err != nil {
		return DemoResult{}, fmt.Errorf("create demo accounts: %w", err)
	}
	// Invitation codes for three of the demo clinician's patients, so that
	// a visitor can open a chart as the clinician and see that access from
	// the patient's side.
	var invites []Invitation
	for _, d := range sum.Demo {
		if d.Username != "clinician" {
			continue
		}
		ids, err := a.Access.MyPatients(ctx, access.Subject{User: identity.User{PractitionerID: d.PractitionerID}}, 3)
		if err != nil {
			return DemoResult{}, err
		}
		for _, id := range ids {
			code, err := a.Identity.NewInvitation(ctx, id, 30*24*time.Hour)
			if err != nil {
				return DemoResult{}, err
			}
			p, err := a.Records.Read(ctx, "Patient", id)
			if err != nil {
				return DemoResult{}, err
			}
			invites = append(invites, Invitation{Code: code, PatientID: id, Name: access.Summarise(p.JSON).Name})
		}
	}
	fleet := sim.Fleet(a.Cfg.DemoSeed)
	if err := a.Devices.Put(ctx, fleet...); err != nil {
		return DemoResult{}, fmt.Errorf("load demo devices: %w", err)
	}
	if err := a.loadDemoSBOMs(ctx, fleet); err != nil {
		return DemoResult{}, err
	}
	var accesses sim.AccessSummary
	accessDays, skipped := a.Cfg.DemoAccessDays, ""
	if accessDays > 0 && (a.Cfg.DemoPatients < 50 || a.Cfg.DemoStaff < 40) {
		// The simulator's care needs enough people to be realistic.
		accessDays, skipped = 0, "a demo hospital smaller than 50 patients and 40 staff gets no access history"
	}
	if accessDays > 0 {
		if accesses, err = a.loadDemoAccesses(ctx, day, progress); err != nil {
			return DemoResult{}, err
		}
	}
	return DemoResult{Accesses: accesses, AccessDays: accessDays, AccessSkipped: skipped, Invitations: invites, Devices: len(fleet), Resources: res.Resources, Patients: res.ByType["Patient"], Staff: res.ByType["Practitioner"], Accounts: created, Demo: sum.Demo, Took: time.Since(start)}, nil
}

// PrintDemo writes the demo sign-ins.
func PrintDemo(w io.Writer, r DemoResult, url string) {
	fmt.Fprintf(w, "Demo hospital loaded: %d patients, %d staff, %d FHIR resources, %d devices in %s.\n", r.Patients, r.Staff, r.Resources, r.Devices, r.Took.Round(time.Millisecond))
	if r.AccessSkipped != "" {
		fmt.Fprintf(w, "Privacy monitoring: %s.\n", r.AccessSkipped)
	}
	if r.AccessDays > 0 {
		fmt.Fprintf(w, "Privacy monitoring: %d days of simulated access history (%d access events, %d context resources) with %d planted cases of snooping for the privacy office to find.\n",
			r.AccessDays, r.Accesses.Events, r.Accesses.Context, r.Accesses.Cases)
	}
	if url != "" {
		fmt.Fprintf(w, "Open %s and sign in as one of:\n", url)
	} else {
		fmt.Fprintln(w, "Sign in as one of:")
	}
	for _, d := range r.Demo {
		fmt.Fprintf(w, "  %-10s  %-18s  %s\n", d.Username, identity.RoleLabel(d.Role), d.DisplayName)
	}
	fmt.Fprintf(w, "Password for every demo account: %s  (synthetic data only)\n", DemoPassword)
	if len(r.Invitations) > 0 {
		fmt.Fprintln(w, "Patients can create a portal account at /register with an invitation code (30 days); these patients are on the clinician's list:")
		for _, inv := range r.Invitations {
			fmt.Fprintf(w, "  %s  %s\n", inv.Code, inv.Name)
		}
	}
}

// loadDemoSBOMs gives the demo fleet its SBOMs and, when the data folder
// has no advisories yet, the demo's small advisory folder, so that the
// vulnerability queue has work on the first start.
func (a *App) loadDemoSBOMs(ctx context.Context, fleet []devices.Device) error {
	dir := a.Assessor.AdvisoryDir()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.CopyFS(dir, sim.DemoAdvisories()); err != nil {
			return fmt.Errorf("write the demo advisories to %s: %w", dir, err)
		}
	}
	if _, err := a.Assessor.ReloadAdvisories(ctx, "demo"); err != nil {
		return fmt.Errorf("load the advisories: %w", err)
	}
	if _, err := a.Assessor.UploadSBOMs(ctx, sim.FleetSBOMs(fleet), "demo"); err != nil {
		return fmt.Errorf("load the demo SBOMs: %w", err)
	}
	return nil
}

// loadDemoAccesses gives privacy monitoring a history: the simulator's
// days of care in the same hospital (same seed and size), ending on the
// demo's today, with injected violations. The context enters through the
// context store a hospital's feeds use; the events are stored through the
// recorder's idempotent bulk path (the one ingestion uses; ingestion
// itself refuses events about no patient, and the history's sign-ins and
// searches are what some detectors read). The ground truth is dropped,
// as a hospital has none.
func (a *App) loadDemoAccesses(ctx context.Context, day time.Time, progress io.Writer) (sim.AccessSummary, error) {
	var cx bytes.Buffer
	var batch []audit.Prepared
	stored := 0
	bar := NewProgress(progress, "Loading demo access history")
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := a.Recorder.StoreNew(ctx, batch); err != nil {
			return err
		}
		stored += len(batch)
		bar.Update(stored, stored+1)
		batch = batch[:0]
		return nil
	}
	sum, err := sim.GenerateAccesses(ctx, sim.AccessOptions{Seed: a.Cfg.DemoSeed, Patients: a.Cfg.DemoPatients, Staff: a.Cfg.DemoStaff, Days: a.Cfg.DemoAccessDays, Now: day}, sim.AccessSink{
		Context: func(r sim.Resource) error { cx.Write(r.JSON); return cx.WriteByte('\n') },
		Event: func(ev audit.Event) error {
			p, err := a.Recorder.Prepare(ctx, ev)
			if err != nil {
				return err
			}
			batch = append(batch, p)
			if len(batch) == 4096 {
				return flush()
			}
			return nil
		},
		Truth: func(sim.Truth) error { return nil },
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return sum, fmt.Errorf("load the demo's access history: %w", err)
	}
	bar.Update(stored, stored)
	rep, err := a.Cases.PutContext(ctx, &cx)
	if err != nil {
		return sum, fmt.Errorf("store the demo's monitoring context: %w", err)
	}
	if rep.Rejected > 0 {
		return sum, fmt.Errorf("store the demo's monitoring context: %d resources refused, first: %s", rep.Rejected, rep.Problems[0])
	}
	return sum, nil
}

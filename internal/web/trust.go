package web

import (
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/ledger"
)

// trustView is the public trust page: what the organisation does to
// protect records, the transparency log's current checkpoint, and the
// protection figures governance reports, computed from the store.
type trustView struct {
	Checkpoint *ledger.Checkpoint
	// CheckpointText is the signed note as served at /log/checkpoint.
	CheckpointText string
	CheckpointAt   time.Time
	VerifierKey    string
	Witnesses      []ledger.WitnessStatus
	Coverage       identity.Coverage
	CoverageErr    bool
	// Percentages, rounded down, of Coverage.
	StaffMFA, StaffPasskey, PatientMFA string
}

// trust serves the public trust page (no sign-in).
func (s *Server) trust(w http.ResponseWriter, r *http.Request) {
	v := &trustView{VerifierKey: s.LogKey}
	switch b, cp, err := s.publishedCheckpoint(); {
	case err == nil:
		v.Checkpoint, v.CheckpointText = &cp, string(b)
		if st, err := fs.Stat(s.LogFiles, "checkpoint"); err == nil {
			v.CheckpointAt = st.ModTime().UTC()
		}
	case fault.Is(err, fault.Internal):
		s.Log.Error("the published checkpoint does not verify with the log's key", "err", err)
	}
	if s.LogWitnesses != nil {
		v.Witnesses = s.LogWitnesses()
	}
	c, err := s.Identity.Coverage(r.Context())
	if err != nil {
		s.Log.Error("trust page: coverage", "err", err)
		v.CoverageErr = true
	}
	v.Coverage = c
	v.StaffMFA, v.StaffPasskey, v.PatientMFA = percent(c.StaffSecondFactor, c.Staff), percent(c.StaffPhishingResistant, c.Staff), percent(c.PatientsSecondFactor, c.Patients)
	p := s.newPage("How we protect your records", nil)
	p.Trust = v
	w.Header().Set("Cache-Control", "no-cache")
	s.render(w, r, http.StatusOK, "trust", p)
}

// percent is part of whole as a whole-number percentage, rounded down so
// that a figure is never overstated; "—" when whole is zero.
func percent(part, whole int) string {
	if whole == 0 {
		return "—"
	}
	return strconv.Itoa(part*100/whole) + "%"
}

package devices

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/fault"
)

// Advisories are what findings are judged against: the OSV index (with
// KEV flags) and EPSS probabilities.
type Advisories struct {
	Index  *osv.Index
	KEV    *osv.KEV // nil when no catalog was loaded
	EPSS   EPSS     // nil when no EPSS file was loaded
	Dir    string
	Loaded time.Time
}

// Files of an advisory folder (docs/devices-risk.md, "Advisories").
const (
	advisoryOSVDir = "osv"
	advisoryKEV    = "known_exploited_vulnerabilities.json"
	advisoryEPSS   = "epss.csv"
)

// LoadAdvisories reads an advisory folder: OSV advisories under dir/osv
// (<Ecosystem>/all.zip files or JSON files, as OSV exports them), and,
// when present, CISA's KEV catalog (dir/known_exploited_vulnerabilities.json)
// and FIRST's EPSS scores (dir/epss.csv). A file that is present but
// unreadable is an error: a half-loaded index would pass for a clean scan.
func LoadAdvisories(ctx context.Context, dir string, now time.Time) (*Advisories, error) {
	if dir == "" {
		return nil, fault.New(fault.Unavailable, "no advisory folder is configured")
	}
	ix, err := osv.LoadDir(ctx, filepath.Join(dir, advisoryOSVDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Wrap(fault.Unavailable, err, "no OSV advisories in %s", filepath.Join(dir, advisoryOSVDir))
		}
		return nil, fault.Wrap(fault.Invalid, err, "the OSV advisories in %s cannot be loaded: %v", dir, err)
	}
	adv := &Advisories{Index: ix, Dir: dir, Loaded: now}
	if path := filepath.Join(dir, advisoryKEV); exists(path) {
		k, err := osv.LoadKEV(path)
		if err != nil {
			return nil, fault.Wrap(fault.Invalid, err, "the KEV catalog %s cannot be loaded: %v", path, err)
		}
		adv.KEV, adv.Index = k, ix.WithKEV(k)
	}
	if path := filepath.Join(dir, advisoryEPSS); exists(path) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if adv.EPSS, err = ParseEPSS(f); err != nil {
			return nil, fmt.Errorf("EPSS file %s: %w", path, err)
		}
	}
	return adv, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// AdvisoryStats describes the loaded advisories.
type AdvisoryStats struct {
	Loaded      time.Time      `json:"loaded"`
	Dir         string         `json:"dir"`
	Advisories  int            `json:"advisories"`
	ByEcosystem map[string]int `json:"byEcosystem"`
	Problems    int            `json:"problems"`
	KEV         int            `json:"kev"`
	EPSS        int            `json:"epss"`
}

// Stats counts what is loaded.
func (a *Advisories) Stats() AdvisoryStats {
	st := a.Index.Stats()
	out := AdvisoryStats{Loaded: a.Loaded, Dir: a.Dir, Advisories: st.Advisories, ByEcosystem: st.ByEcosystem, Problems: st.Problems, EPSS: len(a.EPSS)}
	if a.KEV != nil {
		out.KEV = a.KEV.Len()
	}
	return out
}

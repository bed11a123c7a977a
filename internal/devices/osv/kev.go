package osv

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// KEV is the CISA Known Exploited Vulnerabilities catalog, keyed by CVE.
type KEV struct {
	Version  string // catalogVersion, e.g. "2025.08.25"
	Released string // dateReleased
	entries  map[string]*KEVEntry
}

// KEVEntry is one catalog entry.
type KEVEntry struct {
	CVE                string `json:"cveID"`
	VendorProject      string `json:"vendorProject"`
	Product            string `json:"product"`
	Name               string `json:"vulnerabilityName"`
	DateAdded          string `json:"dateAdded"` // YYYY-MM-DD
	DueDate            string `json:"dueDate"`   // YYYY-MM-DD, for US federal agencies
	RequiredAction     string `json:"requiredAction"`
	KnownRansomwareUse string `json:"knownRansomwareCampaignUse"` // "Known" or "Unknown"
}

// LoadKEV reads the catalog's JSON file
// (known_exploited_vulnerabilities.json).
func LoadKEV(path string) (*KEV, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load KEV catalog: %w", err)
	}
	defer f.Close()
	k, err := ReadKEV(f)
	if err != nil {
		return nil, fmt.Errorf("load KEV catalog %s: %w", path, err)
	}
	return k, nil
}

// ReadKEV decodes the catalog. Entries without a CVE id are an error: the
// catalog is short and curated, so a bad entry means a bad file.
func ReadKEV(r io.Reader) (*KEV, error) {
	var doc struct {
		CatalogVersion  string      `json:"catalogVersion"`
		DateReleased    string      `json:"dateReleased"`
		Count           int         `json:"count"`
		Vulnerabilities []*KEVEntry `json:"vulnerabilities"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not the KEV JSON format: %w", err)
	}
	if doc.Vulnerabilities == nil {
		return nil, fmt.Errorf("not the KEV JSON format: no %q list", "vulnerabilities")
	}
	k := &KEV{Version: doc.CatalogVersion, Released: doc.DateReleased, entries: make(map[string]*KEVEntry, len(doc.Vulnerabilities))}
	for i, e := range doc.Vulnerabilities {
		if e == nil || !strings.HasPrefix(e.CVE, "CVE-") {
			return nil, fmt.Errorf("vulnerabilities[%d]: no CVE id", i)
		}
		k.entries[e.CVE] = e
	}
	if doc.Count != 0 && doc.Count != len(doc.Vulnerabilities) {
		return nil, fmt.Errorf("count says %d entries, the list holds %d", doc.Count, len(doc.Vulnerabilities))
	}
	return k, nil
}

// Len returns the number of entries.
func (k *KEV) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entries)
}

// Lookup returns the entry of a CVE id.
func (k *KEV) Lookup(cve string) (*KEVEntry, bool) {
	if k == nil {
		return nil, false
	}
	e, ok := k.entries[cve]
	return e, ok
}

// match returns the entry of the advisory's ID or first listed alias that
// is in the catalog.
func (k *KEV) match(a *Advisory) *KEVEntry {
	if k == nil {
		return nil
	}
	if e, ok := k.entries[a.ID]; ok {
		return e
	}
	for _, id := range a.Aliases {
		if e, ok := k.entries[id]; ok {
			return e
		}
	}
	return nil
}

package records

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
)

// directoryNames caches the display names of directory resources
// (Practitioner, Organization): every chart shows a care team and
// departments, and these hold no patient data. A write of the resource
// through this store drops its entry.
type directoryNames struct {
	mu    sync.RWMutex
	names map[string]string
}

const maxDirectoryNames = 100_000

func (c *directoryNames) get(key string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.names[key]
	return n, ok
}

func (c *directoryNames) put(key, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil || len(c.names) >= maxDirectoryNames {
		c.names = map[string]string{}
	}
	c.names[key] = name
}

func (c *directoryNames) forget(key string) {
	c.mu.Lock()
	delete(c.names, key)
	c.mu.Unlock()
}

// DirectoryName returns the display name of a Practitioner or Organization
// (the id when it has none or does not exist). Patients are not directory
// resources and are refused.
func (s *Store) DirectoryName(ctx context.Context, typ, id string) string {
	if typ != "Practitioner" && typ != "Organization" && typ != "PractitionerRole" {
		return id
	}
	key := typ + "/" + id
	if n, ok := s.names.get(key); ok {
		return n
	}
	n := id
	if r, err := s.Read(ctx, typ, id); err == nil {
		if dn := directoryName(r.JSON); dn != "" {
			n = dn
		}
	} else {
		return n // not cached: it may appear later
	}
	s.names.put(key, n)
	return n
}

// directoryName names a Practitioner or Organization from its JSON.
func directoryName(js []byte) string {
	var d struct {
		Name json.RawMessage `json:"name"`
	}
	if json.Unmarshal(js, &d) != nil {
		return ""
	}
	var org string
	if json.Unmarshal(d.Name, &org) == nil {
		return org
	}
	var names []struct {
		Text   string   `json:"text"`
		Family string   `json:"family"`
		Given  []string `json:"given"`
		Prefix []string `json:"prefix"`
	}
	if json.Unmarshal(d.Name, &names) == nil && len(names) > 0 {
		n := names[0]
		if n.Text != "" {
			return n.Text
		}
		return strings.TrimSpace(strings.Join(append(append([]string{}, n.Prefix...), append(n.Given, n.Family)...), " "))
	}
	return ""
}

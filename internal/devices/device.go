package devices

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
)

// Device classes.
var Classes = []string{"infusion-pump", "patient-monitor", "imaging", "lab-analyser", "ventilator", "ehr-server", "pacs-server", "workstation", "network-device", "mobile-device", "other"}

// Network zones, from least to most exposed.
var Zones = []string{"isolated", "clinical-vlan", "hospital-network", "internet-reachable"}

// Clinical functions, in the MITRE medical-device rubric's impact order.
var Functions = []string{"therapy-delivery", "diagnosis-monitoring", "clinical-workflow", "phi-store", "none"}

// Criticality of a device to care.
var Criticalities = []string{"low", "medium", "high", "life-critical"}

// Device is one device or clinical system.
type Device struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Class            string    `json:"class"`
	Manufacturer     string    `json:"manufacturer"`
	Model            string    `json:"model"`
	Serial           string    `json:"serial"`
	SoftwareVersion  string    `json:"softwareVersion,omitempty"`
	FirmwareVersion  string    `json:"firmwareVersion,omitempty"`
	OS               string    `json:"os,omitempty"`
	OSEndOfSupport   time.Time `json:"osEndOfSupport,omitzero"`
	Zone             string    `json:"zone"`
	Location         string    `json:"location,omitempty"`
	CareUnit         string    `json:"careUnit,omitempty"`
	ClinicalFunction string    `json:"clinicalFunction"`
	Criticality      string    `json:"criticality"`
	Owner            string    `json:"owner"`
	Created          time.Time `json:"created,omitzero"`
	Updated          time.Time `json:"updated,omitzero"`
}

var deviceID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Normalise trims fields and lowercases the coded ones.
func (d *Device) Normalise() {
	for _, p := range []*string{&d.ID, &d.Name, &d.Manufacturer, &d.Model, &d.Serial, &d.SoftwareVersion, &d.FirmwareVersion, &d.OS, &d.Location, &d.CareUnit, &d.Owner} {
		*p = strings.TrimSpace(*p)
	}
	for _, p := range []*string{&d.Class, &d.Zone, &d.ClinicalFunction, &d.Criticality} {
		*p = strings.ToLower(strings.TrimSpace(*p))
	}
}

// Validate checks a device and names the first wrong field.
func (d *Device) Validate() error {
	if !deviceID.MatchString(d.ID) {
		return fault.InvalidField("id", "must be 1 to 64 letters, digits, '.', '_' or '-' (got %q)", d.ID)
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{
		{"name", d.Name, true}, {"manufacturer", d.Manufacturer, true}, {"model", d.Model, true}, {"serial", d.Serial, true},
		{"softwareVersion", d.SoftwareVersion, false}, {"firmwareVersion", d.FirmwareVersion, false}, {"os", d.OS, false},
		{"location", d.Location, false}, {"careUnit", d.CareUnit, false}, {"owner", d.Owner, true},
	} {
		if f.required && f.v == "" {
			return fault.InvalidField(f.name, "is required")
		}
		if len(f.v) > 200 || !utf8.ValidString(f.v) {
			return fault.InvalidField(f.name, "must be text of at most 200 bytes")
		}
	}
	for _, f := range []struct {
		name, v string
		allowed []string
	}{
		{"class", d.Class, Classes}, {"zone", d.Zone, Zones}, {"clinicalFunction", d.ClinicalFunction, Functions}, {"criticality", d.Criticality, Criticalities},
	} {
		if !slices.Contains(f.allowed, f.v) {
			return fault.InvalidField(f.name, "%q is not one of %s", f.v, strings.Join(f.allowed, ", "))
		}
	}
	return nil
}

// Unsupported reports whether the device's operating system is past its end
// of support at t.
func (d Device) Unsupported(t time.Time) bool {
	return !d.OSEndOfSupport.IsZero() && !t.Before(d.OSEndOfSupport)
}

func (d Device) String() string {
	return fmt.Sprintf("device %s (%s %s)", d.ID, d.Manufacturer, d.Model)
}

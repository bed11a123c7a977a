package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/trustward/trustward/internal/devices"
)

// fleetModel is one kind of device the synthetic hospital runs. Makers and
// models are invented.
type fleetModel struct {
	class, maker, model, software, firmware, os string
	osEOS                                       string // YYYY-MM-DD or ""
	zone, function, criticality, owner          string
	perUnit                                     int // per clinical care unit; 0 for site-wide kinds
	siteWide                                    int
}

var fleetModels = []fleetModel{
	{"infusion-pump", "Acme Medical", "InfuseMax 5", "4.2.1", "2.0.7", "VxWorks 6.9", "2023-12-31", "clinical-vlan", "therapy-delivery", "life-critical", "Biomedical engineering", 6, 0},
	{"infusion-pump", "Acme Medical", "InfuseMax 7", "7.0.3", "3.1.0", "VxWorks 7", "", "clinical-vlan", "therapy-delivery", "life-critical", "Biomedical engineering", 3, 0},
	{"patient-monitor", "Heartline", "VitalView 3", "7.1", "1.4", "Embedded Linux 4.19", "2024-12-31", "clinical-vlan", "diagnosis-monitoring", "high", "Biomedical engineering", 5, 0},
	{"ventilator", "Breathwell", "Aeris 900", "3.3", "1.1", "QNX 6.5", "2022-06-30", "isolated", "therapy-delivery", "life-critical", "Biomedical engineering", 1, 0},
	{"workstation", "Corvid", "ClinStation 24", "2026.1", "", "Windows 10", "2025-10-14", "hospital-network", "clinical-workflow", "medium", "Clinical IT", 2, 0},
	{"imaging", "Radiant", "Scanline 64", "VB20", "", "Windows 7", "2020-01-14", "hospital-network", "diagnosis-monitoring", "high", "Imaging IT", 0, 2},
	{"imaging", "Radiant", "MagnaView 3T", "XA31", "", "Windows 10 LTSC 2019", "2029-01-09", "hospital-network", "diagnosis-monitoring", "high", "Imaging IT", 0, 1},
	{"pacs-server", "Radiant", "Archive 9", "9.4", "", "Red Hat Enterprise Linux 7", "2024-06-30", "hospital-network", "phi-store", "high", "Imaging IT", 0, 1},
	{"lab-analyser", "Quantix", "ChemLab 400", "5.2", "2.2", "Windows Embedded 8.1", "2023-07-11", "clinical-vlan", "diagnosis-monitoring", "high", "Laboratory", 0, 3},
	{"ehr-server", "Trusty EHR", "Core 2026", "2026.3", "", "Debian 12", "2028-06-30", "hospital-network", "phi-store", "high", "Clinical IT", 0, 2},
	{"ehr-server", "Trusty EHR", "Patient Portal", "2026.3", "", "Debian 12", "2028-06-30", "internet-reachable", "phi-store", "high", "Clinical IT", 0, 1},
	{"network-device", "Meshline", "Core Switch 48", "15.2", "", "MeshOS 15", "", "hospital-network", "none", "medium", "Network team", 0, 4},
}

// clinicalUnits are the departments whose wards hold bedside devices.
var clinicalUnits = []string{"Emergency", "Intensive Care", "Cardiology", "General Medicine", "Surgery", "Oncology", "Pediatrics", "Obstetrics"}

// Fleet returns the synthetic hospital's connected devices and clinical
// systems for a seed: the same seed gives the same fleet.
func Fleet(seed int64) []devices.Device {
	r := rand.New(rand.NewPCG(uint64(seed), 0xf1ee7))
	var out []devices.Device
	serial := 10000
	add := func(m fleetModel, unit, location string, n int) {
		for i := 0; i < n; i++ {
			serial += 1 + r.IntN(40)
			d := devices.Device{
				ID:               fmt.Sprintf("%s-%04d", m.class, len(out)+1),
				Name:             fmt.Sprintf("%s %s %d", m.model, unitShort(unit), i+1),
				Class:            m.class,
				Manufacturer:     m.maker,
				Model:            m.model,
				Serial:           fmt.Sprintf("SN-%d", serial),
				SoftwareVersion:  m.software,
				FirmwareVersion:  m.firmware,
				OS:               m.os,
				Zone:             m.zone,
				Location:         location,
				CareUnit:         unit,
				ClinicalFunction: m.function,
				Criticality:      m.criticality,
				Owner:            m.owner,
			}
			if m.osEOS != "" {
				d.OSEndOfSupport, _ = time.Parse("2006-01-02", m.osEOS)
			}
			out = append(out, d)
		}
	}
	for _, unit := range clinicalUnits {
		for _, m := range fleetModels {
			if m.perUnit > 0 {
				add(m, unit, unit+" ward", m.perUnit+r.IntN(m.perUnit+1))
			}
		}
	}
	for _, m := range fleetModels {
		if m.siteWide > 0 {
			loc := map[string]string{"imaging": "Radiology", "pacs-server": "Data centre", "lab-analyser": "Laboratory", "ehr-server": "Data centre", "network-device": "Comms rooms"}[m.class]
			unit := map[string]string{"imaging": "Radiology", "lab-analyser": "Laboratory"}[m.class]
			add(m, unit, loc, m.siteWide)
		}
	}
	return out
}

func unitShort(u string) string {
	if u == "" {
		return "site"
	}
	return u
}

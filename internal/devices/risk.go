package devices

import (
	"fmt"
	"math"
	"time"
)

// RiskInput is what is known about one vulnerability on one device.
type RiskInput struct {
	// CVSS is the base score (0-10); HasCVSS is false when the advisory
	// gives none.
	CVSS    float64
	HasCVSS bool
	// KEV: the vulnerability is in CISA's Known Exploited Vulnerabilities.
	KEV bool
	// EPSS is the probability of exploitation in the next 30 days (0-1),
	// or negative when unknown.
	EPSS float64
}

// Risk is a clinical-risk score with its reasons.
type Risk struct {
	Score   int      `json:"score"` // 0-100
	Tier    string   `json:"tier"`  // critical, high, medium, low
	DueDays int      `json:"dueDays"`
	Reasons []string `json:"reasons"`
	// PlainCVSS is the score a CVSS-only ranking would use, for comparison.
	PlainCVSS float64 `json:"plainCvss"`
}

// Factor weights. They are documented in docs/devices-risk.md; change both
// together.
var (
	zoneExposure = map[string]float64{"isolated": 0.35, "clinical-vlan": 0.6, "hospital-network": 0.8, "internet-reachable": 1.0}
	// functionImpact follows the MITRE medical-device CVSS rubric's order
	// of clinical impact: harm through therapy comes first.
	functionImpact = map[string]float64{"therapy-delivery": 1.0, "diagnosis-monitoring": 0.85, "phi-store": 0.7, "clinical-workflow": 0.6, "none": 0.3}
	criticality    = map[string]float64{"life-critical": 1.0, "high": 0.85, "medium": 0.6, "low": 0.4}
	// unsupportedFactor raises the risk of a device whose operating
	// system no longer gets security fixes.
	unsupportedFactor = 1.15
)

// Tiers and their remediation due dates.
var tiers = []struct {
	min  int
	name string
	due  int
}{{60, "critical", 7}, {35, "high", 30}, {15, "medium", 90}, {0, "low", 180}}

// ClinicalRisk scores one vulnerability on one device:
//
//	score = 100 × severity × exploitation × exposure × consequence × support
//
// severity = CVSS/10 (0.5 when the advisory has no CVSS); exploitation = 1
// for KEV, else 0.35 + 0.65·√EPSS (0.35 when unknown); exposure by network
// zone; consequence = clinical function × criticality; support = 1.15 past
// the operating system's end of support.
func ClinicalRisk(d Device, in RiskInput, now time.Time) Risk {
	var reasons []string
	sev := 0.5
	if in.HasCVSS {
		sev = math.Max(0, math.Min(10, in.CVSS)) / 10
		reasons = append(reasons, fmt.Sprintf("CVSS %.1f", in.CVSS))
	} else {
		reasons = append(reasons, "no CVSS score published: assumed medium severity")
	}
	var expl float64
	switch {
	case in.KEV:
		expl = 1
		reasons = append(reasons, "known to be exploited (CISA KEV)")
	case in.EPSS >= 0:
		expl = 0.35 + 0.65*math.Sqrt(math.Min(1, in.EPSS))
		reasons = append(reasons, fmt.Sprintf("EPSS %.1f%% chance of exploitation in 30 days", in.EPSS*100))
	default:
		expl = 0.35
		reasons = append(reasons, "no exploitation data")
	}
	x := zoneExposure[d.Zone]
	reasons = append(reasons, "network zone: "+d.Zone)
	c := functionImpact[d.ClinicalFunction] * criticality[d.Criticality]
	reasons = append(reasons, fmt.Sprintf("%s device, %s criticality", d.ClinicalFunction, d.Criticality))
	sup := 1.0
	if d.Unsupported(now) {
		sup = unsupportedFactor
		reasons = append(reasons, d.OS+" is past its end of support")
	}
	score := int(math.Round(math.Min(100, 100*sev*expl*x*c*sup)))
	r := Risk{Score: score, Reasons: reasons, PlainCVSS: in.CVSS}
	for _, t := range tiers {
		if score >= t.min {
			r.Tier, r.DueDays = t.name, t.due
			break
		}
	}
	return r
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/devices/osv"
	"github.com/trustward/trustward/internal/devices/scan"
	"github.com/trustward/trustward/internal/devices/vex"
)

const sbomUsage = `Usage:
  trustward sbom scan FILE --osv DIR [--kev FILE] [--vex FILE] [--format json|table]

Checks an SBOM (CycloneDX 1.0-1.7 JSON or XML, SPDX 2.1-2.3 JSON or
tag-value) against OSV advisories in DIR (<Ecosystem>/all.zip files or
OSV JSON files), marks CISA KEV entries and applies a VEX document
(OpenVEX or CycloneDX). No server or database is needed.

json (default): one JSON object per finding, then {"summary": {...}}.
table: aligned columns for a person, then the summary.
Exit status: 0 no open finding, 1 open findings, 2 bad usage or input.
`

// errFindings gives exit status 1 without an error line: the findings
// were the output.
type errFindings struct{ n int }

func (e errFindings) Error() string { return fmt.Sprintf("%d open findings", e.n) }

func runSBOM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "scan" {
		fmt.Fprint(stderr, sbomUsage)
		return &config.Error{Setting: "sbom", Msg: "usage: trustward sbom scan FILE --osv DIR"}
	}
	fs := flag.NewFlagSet("trustward sbom scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sbomUsage) }
	osvDir := fs.String("osv", "", "folder of OSV advisories (`DIR`/<Ecosystem>/all.zip)")
	kevFile := fs.String("kev", "", "CISA KEV catalog JSON `file`")
	vexFile := fs.String("vex", "", "OpenVEX or CycloneDX VEX `file`")
	format := fs.String("format", "json", "json or table")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		fs.Usage()
		return &config.Error{Setting: "sbom scan", Msg: "give exactly one SBOM FILE"}
	case *osvDir == "":
		return &config.Error{Setting: "--osv", Msg: "the folder of OSV advisories is required"}
	case *format != "json" && *format != "table":
		return &config.Error{Setting: "--format", Msg: fmt.Sprintf("%q is not json or table", *format)}
	}
	loadStart := time.Now()
	ix, err := osv.LoadDir(ctx, *osvDir)
	loaded := time.Since(loadStart)
	if err != nil {
		return &config.Error{Setting: "--osv", Msg: err.Error()}
	}
	for _, p := range ix.Problems() {
		fmt.Fprintln(stderr, "advisory skipped:", p.Error())
	}
	var kev *osv.KEV
	if *kevFile != "" {
		if kev, err = osv.LoadKEV(*kevFile); err != nil {
			return &config.Error{Setting: "--kev", Msg: err.Error()}
		}
		ix = ix.WithKEV(kev)
	}
	opts := scan.Options{Index: ix, KEV: kev, IndexLoad: loaded}
	if *vexFile != "" {
		f, err := os.Open(*vexFile)
		if err != nil {
			return &config.Error{Setting: "--vex", Msg: err.Error()}
		}
		doc, err := vex.Parse(ctx, f)
		f.Close()
		if err != nil {
			return &config.Error{Setting: "--vex", Msg: err.Error()}
		}
		opts.VEX = doc
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return &config.Error{Setting: "FILE", Msg: err.Error()}
	}
	defer f.Close()
	res, err := scan.Scan(ctx, f, opts)
	if err != nil {
		return &config.Error{Setting: "FILE", Msg: pos[0] + ": " + err.Error()}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		for _, fd := range res.Findings {
			if err := enc.Encode(fd); err != nil {
				return err
			}
		}
		if err := enc.Encode(map[string]any{"summary": res.Summary}); err != nil {
			return err
		}
	} else {
		writeTable(stdout, res)
	}
	if res.Summary.Open > 0 {
		return errFindings{res.Summary.Open}
	}
	return nil
}

func writeTable(w io.Writer, res *scan.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEV\tSEVERITY\tPACKAGE\tVERSION\tADVISORY\tFIXED IN\tVEX")
	for _, f := range res.Findings {
		kev := ""
		if f.KEV {
			kev = "KEV"
		}
		fixed := strings.Join(f.Fixed, ", ")
		if fixed == "" {
			fixed = "no fix known"
		}
		v := f.VEX
		if f.Suppressed {
			v = "not_affected (" + f.VEXJustification + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\n", kev, f.Severity, f.Ecosystem, f.Name, f.Version, f.Advisory, fixed, v)
	}
	tw.Flush()
	s := res.Summary
	fmt.Fprintf(w, "\n%s %s SBOM: %d components; %d matched (%d by purl, %d by CPE), %d affected, %d unmatched.\n",
		s.Format, s.SpecVersion, s.Components, s.Matched, s.MatchedByPurl, s.MatchedByCPE, s.Affected, len(s.Unmatched))
	fmt.Fprintf(w, "%d findings: %d open (%s; %d in CISA KEV), %d suppressed by VEX.\n", s.Findings, s.Open, bySeverity(s.OpenBySeverity), s.KEV, s.Suppressed)
	fmt.Fprintf(w, "%d advisories (%s), %d KEV entries; CPE matching: %s.\n", s.Index.Advisories, bySeverity(s.Index.ByEcosystem), s.Index.KEVEntries, s.Index.CPE)
	fmt.Fprintf(w, "Index load %.0f ms, SBOM read %.1f ms, matching %.1f ms (%.0f components/s).\n", s.Timings.IndexLoadMs, s.Timings.ParseMs, s.Timings.MatchMs, s.Timings.ComponentsPerSecond)
	for _, l := range s.SuppressedList {
		fmt.Fprintln(w, "Suppressed by VEX:", l)
	}
	if len(s.Unmatched) > 0 {
		fmt.Fprintln(w, "\nUnmatched (not clean: nobody knows):")
		for _, u := range s.Unmatched {
			fmt.Fprintf(w, "  %s: %s\n", u.Component, u.Reason)
		}
	}
	for _, p := range s.SBOMProblems {
		fmt.Fprintln(w, "SBOM problem:", p)
	}
	for _, p := range s.VEXProblems {
		fmt.Fprintln(w, "VEX problem:", p)
	}
	for _, p := range s.VEXUnknownProducts {
		fmt.Fprintln(w, "VEX statement about a product not in this SBOM:", p)
	}
}

// bySeverity prints counts in a fixed order for known severities, then the
// other keys sorted.
func bySeverity(m map[string]int) string {
	order := []string{"critical", "high", "medium", "low", "none", "unknown"}
	var parts []string
	for _, k := range order {
		if n, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

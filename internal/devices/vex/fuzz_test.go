package vex_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/vex"
)

// checkParse is the property both fuzz targets hold: no panic; a document
// or an error of the package's kinds, never both; every statement usable
// and every lookup safe.
func checkParse(t *testing.T, data []byte, key, ver string) {
	doc, err := vex.Parse(context.Background(), strings.NewReader(string(data)))
	if err != nil {
		if doc != nil {
			t.Fatal("a document and an error")
		}
		if !errors.Is(err, vex.ErrUnsupported) && !errors.Is(err, vex.ErrMalformed) && !errors.Is(err, vex.ErrTooLarge) {
			t.Fatalf("error of no kind: %v", err)
		}
		return
	}
	for _, s := range doc.Statements {
		switch s.Status {
		case vex.NotAffected, vex.Affected, vex.Fixed, vex.UnderInvestigation:
		default:
			t.Fatalf("status %q kept", s.Status)
		}
		if s.Vulnerability.ID == "" {
			t.Fatal("a statement without a vulnerability was kept")
		}
	}
	ix := doc.Index()
	for _, s := range doc.Statements {
		for _, p := range s.Products {
			for _, k := range []string{p.Purl, p.Ref, p.CPE, key} {
				ix.Find(vex.Query{Vulnerability: s.Vulnerability.ID, Component: []string{k}, Version: ver, Product: []string{key}})
			}
		}
	}
	ix.UnknownProducts([]string{key})
}

func seeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				f.Add(data, "pkg:npm/left-pad@1.3.0", "2.5")
			}
		}
	}
}

// FuzzOpenVEX feeds OpenVEX-shaped and arbitrary bytes to Parse.
func FuzzOpenVEX(f *testing.F) {
	seeds(f, "testdata/openvex-*.json")
	f.Add([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"X","products":["pkg:a/b"],"status":"fixed"}]}`), "pkg:a/b@1", "")
	f.Fuzz(checkParse)
}

// FuzzCycloneDXVEX feeds CycloneDX VEX documents (the CISA cases) and
// arbitrary bytes to Parse.
func FuzzCycloneDXVEX(f *testing.F) {
	seeds(f, filepath.Join(sharedVEX, "Case-*_vex*.json"))
	f.Add([]byte(`<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><vulnerabilities><vulnerability><id>X</id><analysis><state>in_triage</state></analysis><affects><target><ref>a</ref></target></affects></vulnerability></vulnerabilities></bom>`), "a", "1")
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.4","vulnerabilities":[{"id":"X","analysis":{"state":"exploitable"},"affects":[{"ref":"a","versions":[{"range":"vers:generic/>=1|<2|!=1.5"}]}]}]}`), "a", "1.2")
	f.Fuzz(checkParse)
}

package sbom_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/sbom"
)

// FuzzParse feeds any bytes to Parse: it must not panic, and it must give
// either a document or an error of one of the package's kinds, never both
// and never neither. A document keeps every component flagged consistently.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*")
	for _, name := range []string{"HBOM_PCIe-SATA-adapter-board_bom.json", "SBOM_laravel-7.12.0_bom.1.4.json"} {
		seeds = append(seeds, filepath.Join(sharedSBOMs, name))
	}
	for _, name := range seeds {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(flatCycloneDX(3, true)))
	f.Add([]byte(nestedCycloneDX(3)))
	f.Add([]byte("SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\nPackageName: a\nSPDXID: SPDXRef-a\n"))
	p := sbom.NewParser(sbom.Limits{MaxBytes: 1 << 20, MaxComponents: 2000, MaxNesting: 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := p.Parse(context.Background(), strings.NewReader(string(data)))
		if err != nil {
			if doc != nil {
				t.Fatal("a document and an error")
			}
			if !errors.Is(err, sbom.ErrTooLarge) && !errors.Is(err, sbom.ErrUnsupported) && !errors.Is(err, sbom.ErrMalformed) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		if doc == nil || doc.Format == "" || doc.Encoding == "" || doc.Dependencies == nil {
			t.Fatalf("incomplete document %+v", doc)
		}
		for _, c := range doc.Components {
			if c.Unmatchable != (!c.PurlValid && !c.CPEValid) || c.PurlValid && c.Purl == "" || c.CPEValid && c.CPE == "" {
				t.Fatalf("inconsistent flags on %+v", c)
			}
			if c.Depth >= 8 {
				t.Fatalf("nesting limit not held: %+v", c)
			}
		}
		if len(doc.Components) > 2000 {
			t.Fatalf("%d components", len(doc.Components))
		}
	})
}

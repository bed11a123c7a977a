package sbom_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/sbom"
)

// benchmarkParse parses data b.N times and reports components per second
// and MB/s.
func benchmarkParse(b *testing.B, data []byte, limits sbom.Limits) {
	p := sbom.NewParser(limits)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		doc, err := p.Parse(ctx, bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		n = len(doc.Components)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "components/s")
	b.ReportMetric(float64(n), "components")
}

// BenchmarkParseShared parses the shared SBOMs; juice-shop (743 kB, 840
// components) is the largest.
func BenchmarkParseShared(b *testing.B) {
	for _, name := range []string{"SBOM_juice-shop_v11.1.2_bom.json", "SBOM_dropwizard-1.3.15_bom.json", "SBOM_dropwizard-1.3.15_bom.xml"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(sharedFile(b, name))
			if err != nil {
				b.Fatal(err)
			}
			benchmarkParse(b, data, sbom.Limits{})
		})
	}
}

// syntheticCycloneDX is a large SBOM shaped like real ones: n npm
// components with purl, hashes, licence and a dependency each.
func syntheticCycloneDX(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:00000000-0000-4000-8000-000000000000","version":1,` +
		`"metadata":{"timestamp":"2024-01-01T00:00:00Z","component":{"type":"device","bom-ref":"root","name":"device"}},"components":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"library","bom-ref":"pkg:npm/pkg-%d@1.%d.0","name":"pkg-%d","version":"1.%d.0","purl":"pkg:npm/pkg-%d@1.%d.0",`+
			`"hashes":[{"alg":"SHA-256","content":"%064d"}],"licenses":[{"license":{"id":"MIT"}}],`+
			`"properties":[{"name":"fda:levelOfSupport","value":"active"}]}`, i, i%50, i, i%50, i, i%50, i)
	}
	b.WriteString(`],"dependencies":[{"ref":"root","dependsOn":["pkg:npm/pkg-0@1.0.0"]}`)
	for i := 0; i+1 < n; i++ {
		fmt.Fprintf(&b, `,{"ref":"pkg:npm/pkg-%d@1.%d.0","dependsOn":["pkg:npm/pkg-%d@1.%d.0"]}`, i, i%50, i+1, (i+1)%50)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkParseLarge parses a synthetic 50,000-component SBOM (about
// 20 MB), the size of a full container-image SBOM.
func BenchmarkParseLarge(b *testing.B) {
	benchmarkParse(b, syntheticCycloneDX(50_000), sbom.Limits{})
}

package sbom_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/devices/sbom"
	"github.com/trustward/trustward/internal/fault"
)

const sharedSBOMs = "../../../../shared/data/sbom"

func sharedFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedSBOMs, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s in %s (the shared data folder is absent)", name, sharedSBOMs)
	}
	return p
}

func parseFile(t testing.TB, path string) *sbom.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := sbom.Parse(context.Background(), f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func byRef(doc *sbom.Document) map[string]sbom.Component {
	m := map[string]sbom.Component{}
	for _, c := range doc.Components {
		m[c.Ref] = c
	}
	return m
}

func purls(doc *sbom.Document) []string {
	var out []string
	for _, c := range doc.Components {
		out = append(out, c.Purl)
	}
	return out
}

// TestSharedSBOMs reads the real SBOMs of the shared data folder and checks
// what a user sees of each: format, counts, sample purls kept exactly as
// written, and that none of them has a problem.
func TestSharedSBOMs(t *testing.T) {
	tests := []struct {
		file         string
		enc          sbom.Encoding
		spec         string
		name         string
		created      string
		components   int
		dependencies int
		unmatchable  int
		samplePurls  []string
	}{
		{
			file: "SBOM_dropwizard-1.3.15_bom.json", enc: sbom.JSON, spec: "1.2", name: "io.dropwizard/dropwizard-parent",
			created: "2020-08-02T21:27:04Z", components: 167, dependencies: 167,
			samplePurls: []string{
				"pkg:maven/org.glassfish.jersey.core/jersey-client@2.25.1?type=jar",
				"pkg:maven/io.dropwizard/dropwizard-client@1.3.15?type=jar",
			},
		},
		{
			file: "SBOM_dropwizard-1.3.15_bom.xml", enc: sbom.XML, spec: "1.2", name: "io.dropwizard/dropwizard-parent",
			created: "2020-08-02T21:27:04Z", components: 167, dependencies: 167,
			samplePurls: []string{"pkg:maven/org.glassfish.jersey.core/jersey-client@2.25.1?type=jar"},
		},
		{
			file: "SBOM_juice-shop_v11.1.2_bom.json", enc: sbom.JSON, spec: "1.2", name: "juice-shop",
			created: "2020-08-03T03:20:53.771Z", components: 840,
			samplePurls: []string{"pkg:npm/express@4.17.1", "pkg:npm/sequelize@5.22.3", "pkg:npm/jsonwebtoken@0.4.0"},
		},
		{
			file: "SBOM_laravel-7.12.0_bom.1.4.json", enc: sbom.JSON, spec: "1.4", name: "cyclonedx/cyclonedx-php-composer-demo",
			components: 62, dependencies: 63,
			samplePurls: []string{"pkg:composer/laravel/framework@v7.30.6", "pkg:composer/asm89/stack-cors@1.3.0"},
		},
		{ // A hardware BOM: parts have neither purl nor CPE, and are kept.
			file: "HBOM_PCIe-SATA-adapter-board_bom.json", enc: sbom.JSON, spec: "1.4", name: "uk.ac.cam.cl/pcie-sata-adaptor-board",
			created: "2022-01-09T12:00:00Z", components: 6, unmatchable: 6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			doc := parseFile(t, sharedFile(t, tc.file))
			if doc.Format != sbom.CycloneDX || doc.Encoding != tc.enc || doc.SpecVersion != tc.spec {
				t.Errorf("format %s/%s/%s, want CycloneDX/%s/%s", doc.Format, doc.Encoding, doc.SpecVersion, tc.enc, tc.spec)
			}
			if doc.Name != tc.name || doc.Subject == nil {
				t.Errorf("name %q (subject %v), want %q", doc.Name, doc.Subject, tc.name)
			}
			if got := formatTime(doc.Created); got != tc.created {
				t.Errorf("created %q, want %q", got, tc.created)
			}
			if len(doc.Components) != tc.components {
				t.Errorf("%d components, want %d", len(doc.Components), tc.components)
			}
			if len(doc.Dependencies) != tc.dependencies {
				t.Errorf("%d dependency entries, want %d", len(doc.Dependencies), tc.dependencies)
			}
			unmatchable := 0
			for _, c := range doc.Components {
				if c.Unmatchable {
					unmatchable++
					if c.Purl != "" || c.CPE != "" {
						t.Errorf("%s is unmatchable with purl %q and CPE %q", c.Label(), c.Purl, c.CPE)
					}
				} else if !c.PurlValid {
					t.Errorf("%s: purl %q did not parse", c.Label(), c.Purl)
				}
			}
			if unmatchable != tc.unmatchable {
				t.Errorf("%d unmatchable components, want %d", unmatchable, tc.unmatchable)
			}
			all := purls(doc)
			for _, p := range tc.samplePurls {
				if !slices.Contains(all, p) {
					t.Errorf("purl %q not found exactly as written", p)
				}
			}
			if len(doc.Problems) != 0 {
				t.Errorf("problems: %v", doc.Problems)
			}
		})
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// TestDropwizardJSONAndXMLAgree: the two encodings of one BOM give the same
// components, with every field, and the same dependency graph.
func TestDropwizardJSONAndXMLAgree(t *testing.T) {
	j := parseFile(t, sharedFile(t, "SBOM_dropwizard-1.3.15_bom.json"))
	x := parseFile(t, sharedFile(t, "SBOM_dropwizard-1.3.15_bom.xml"))
	if len(j.Components) != len(x.Components) {
		t.Fatalf("JSON has %d components, XML %d", len(j.Components), len(x.Components))
	}
	jc, xc := byRef(j), byRef(x)
	if len(jc) != len(j.Components) {
		t.Fatalf("refs are not unique: %d of %d", len(jc), len(j.Components))
	}
	// The upstream files differ in one place: the XML gives no licence for
	// osgi-resource-locator, the JSON an expression. Everything else,
	// field by field, is the same.
	const noLicenceInXML = "pkg:maven/org.glassfish.hk2/osgi-resource-locator@1.0.1?type=jar"
	for ref, c := range jc {
		xcomp, ok := xc[ref]
		if !ok {
			t.Errorf("component %s is only in the JSON", ref)
			continue
		}
		if ref == noLicenceInXML {
			if !slices.Equal(c.Licenses, []string{"(CDDL-1.0 OR GPL-2.0-with-classpath-exception)"}) || len(xcomp.Licenses) != 0 {
				t.Errorf("%s: licences %v (JSON) and %v (XML); the upstream difference changed", ref, c.Licenses, xcomp.Licenses)
			}
			xcomp.Licenses = c.Licenses
		}
		if !reflect.DeepEqual(c, xcomp) {
			t.Errorf("component %s differs:\nJSON %+v\nXML  %+v", ref, c, xcomp)
		}
	}
	if !reflect.DeepEqual(j.Dependencies, x.Dependencies) {
		t.Error("the dependency graphs differ")
	}
	if !reflect.DeepEqual(j.Subject, x.Subject) || j.SerialNumber != x.SerialNumber || j.Version != x.Version {
		t.Errorf("subjects or identities differ: %+v %+v", j.Subject, x.Subject)
	}
	link := j.BOMLink("pkg:maven/io.dropwizard/dropwizard-client@1.3.15?type=jar")
	if want := "urn:cdx:b4f2954f-a96d-4578-9509-1ae2d6476209/1#pkg:maven/io.dropwizard/dropwizard-client@1.3.15?type=jar"; link != want {
		t.Errorf("BOMLink = %q, want %q", link, want)
	}
}

func problemsOf(doc *sbom.Document, kind sbom.ProblemKind) []sbom.Problem {
	var out []sbom.Problem
	for _, p := range doc.Problems {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func TestCycloneDXSynthetic(t *testing.T) {
	doc := parseFile(t, "testdata/cdx16-monitor.cdx.json")
	if doc.SpecVersion != "1.6" || doc.Supplier != "Acme Medical Devices" || doc.Name != "acme/bedside-monitor" || doc.Version != 2 {
		t.Errorf("document: %s %q %q v%d", doc.SpecVersion, doc.Supplier, doc.Name, doc.Version)
	}
	var labels []string
	for _, c := range doc.Components {
		labels = append(labels, c.Ref+"@"+c.Parent)
	}
	// Nested components follow their parent; metadata.component's children
	// come first; the subject itself is not a component.
	want := []string{"monitor-fw@monitor", "os@", "glibc@os", "libc-bin@glibc", "openssl@", "vendor-blob@", "broken-ids@", "dup@", "dup@", "@"}
	if !slices.Equal(labels, want) {
		t.Errorf("components in order %v, want %v", labels, want)
	}
	c := byRef(doc)
	if c["libc-bin"].Depth != 2 || c["glibc"].Depth != 1 || c["os"].Depth != 0 {
		t.Errorf("depths: %d %d %d", c["os"].Depth, c["glibc"].Depth, c["libc-bin"].Depth)
	}
	// The purl is kept as written, percent-encoding and qualifiers included.
	if g := c["glibc"]; g.Purl != "pkg:deb/debian/glibc@2.31-13%2Bdeb11u5?arch=amd64&distro=debian-11" || !g.PurlValid || g.Licenses[0] != "LGPL-2.1-or-later AND GPL-2.0-or-later" {
		t.Errorf("glibc: %+v", g)
	}
	if o := c["openssl"]; !o.CPEValid || o.Unmatchable || o.Supplier != "OpenSSL Software Foundation" ||
		o.LevelOfSupport != "Actively maintained" || o.EndOfSupport != "2026-09-07" || o.EndOfSupportDate != time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC) {
		t.Errorf("openssl: %+v", o)
	}
	if v := c["vendor-blob"]; !v.Unmatchable || v.Supplier != "Acme DSP Partners" || v.LevelOfSupport != "Supported by supplier contract" || v.EndOfSupportDate.Year() != 2027 {
		t.Errorf("vendor-blob: %+v", v)
	}
	if b := c["broken-ids"]; !b.Unmatchable || b.PurlValid || b.CPEValid || b.Purl != "pkg:npm/" {
		t.Errorf("broken-ids: %+v", b)
	}
	if !slices.Equal(doc.Dependencies["monitor-fw"], []string{"openssl", "vendor-blob"}) {
		t.Errorf("monitor-fw depends on %v (repeats must go)", doc.Dependencies["monitor-fw"])
	}
	checks := []struct {
		kind   sbom.ProblemKind
		ref    string
		detail string
	}{
		{sbom.BadPurl, "broken-ids", "no name"},
		{sbom.BadCPE, "broken-ids", "has 2 attributes"},
		{sbom.BadEndOfSupport, "broken-ids", `"next year"`},
		{sbom.DuplicateRef, "dup", "component zlib@1.2.13"},
		{sbom.MissingRef, "", "no ref"},
		{sbom.UnknownRef, "vendor-blob", `depends on "ghost"`},
		{sbom.DependencyCycle, "glibc", "2 components depend on each other in a cycle: glibc@2.31-13+deb11u5, libc-bin@2.31-13+deb11u5"},
		{sbom.DependencyCycle, "vendor-blob", "acme-dsp-blob@r12 depends on itself"},
	}
	for _, ch := range checks {
		found := false
		for _, p := range problemsOf(doc, ch.kind) {
			found = found || p.Ref == ch.ref && strings.Contains(p.Detail, ch.detail)
		}
		if !found {
			t.Errorf("no %s problem for %q containing %q in %v", ch.kind, ch.ref, ch.detail, doc.Problems)
		}
	}
	if n := len(doc.Problems); n != len(checks) {
		t.Errorf("%d problems, want %d: %v", n, len(checks), doc.Problems)
	}
}

func TestCycloneDXXMLWithPrefix(t *testing.T) {
	doc := parseFile(t, "testdata/cdx14-prefixed.cdx.xml")
	if doc.Encoding != sbom.XML || doc.SpecVersion != "1.4" || doc.Name != "syringe-pump" || len(doc.Components) != 2 {
		t.Fatalf("%s %s %q %d components", doc.Encoding, doc.SpecVersion, doc.Name, len(doc.Components))
	}
	c := byRef(doc)
	if q := c["qt"]; q.Parent != "app" || q.Supplier != "The Qt Company" || !q.CPEValid || q.Unmatchable {
		t.Errorf("qt: %+v", q)
	}
	if c["app"].LevelOfSupport != "active" {
		t.Errorf("app: %+v", c["app"])
	}
	if !reflect.DeepEqual(doc.Dependencies, map[string][]string{"pump": {"app"}, "app": {"qt"}}) {
		t.Errorf("dependencies %v", doc.Dependencies)
	}
	if len(doc.Problems) != 0 {
		t.Errorf("problems %v", doc.Problems)
	}
}

// TestSPDXJSONAndTagValue reads one synthetic device SBOM written in both
// SPDX encodings: the two documents must be the same, and every rule of
// fromSPDX shows in it.
func TestSPDXJSONAndTagValue(t *testing.T) {
	j := parseFile(t, "testdata/spdx23-pump.spdx.json")
	tv := parseFile(t, "testdata/spdx23-pump.spdx")
	if j.Encoding != sbom.JSON || tv.Encoding != sbom.TagValue {
		t.Fatalf("encodings %s and %s", j.Encoding, tv.Encoding)
	}
	tv.Encoding = j.Encoding
	if !reflect.DeepEqual(j, tv) {
		t.Errorf("JSON and tag-value differ:\nJSON %+v\nTV   %+v", j, tv)
	}
	doc := j
	if doc.Format != sbom.SPDX || doc.SpecVersion != "2.3" || doc.Name != "acme-infusion-pump-fw-4.2.0" ||
		doc.Namespace != "https://sbom.example.org/acme/infusion-pump/4.2.0-5f1c" || doc.Supplier != "Acme Medical Devices" ||
		!doc.Created.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("document: %+v", doc)
	}
	if doc.Subject == nil || doc.Subject.Ref != "SPDXRef-Package-firmware" || doc.Subject.Type != "firmware" {
		t.Fatalf("subject %+v", doc.Subject)
	}
	if len(doc.Components) != 5 {
		t.Errorf("%d components, want 5 (the described package is the subject)", len(doc.Components))
	}
	c := byRef(doc)
	if o := c["SPDXRef-Package-openssl"]; o.Purl != "pkg:generic/openssl@1.1.1k" || !o.CPEValid || o.LevelOfSupport != "end of life" ||
		o.EndOfSupport != "2023-09-11" || o.Hashes[0] != (sbom.Hash{Algorithm: "SHA256", Value: "892a0875b9872acd04a9fde79b1f943075d5ea162415de3047c327df33fbaee5"}) ||
		!slices.Equal(o.Licenses, []string{"OpenSSL"}) || o.Supplier != "OpenSSL Software Foundation" {
		t.Errorf("openssl: %+v", o)
	}
	if b := c["SPDXRef-Package-busybox"]; b.CPE != "cpe:/a:busybox:busybox:1.33.1" || !b.CPEValid || b.Supplier != "BusyBox project" ||
		b.LevelOfSupport != "actively maintained" || b.EndOfSupport != "unknown" || !b.EndOfSupportDate.IsZero() {
		t.Errorf("busybox: %+v", b)
	}
	if a := c["SPDXRef-Package-control"]; !a.Unmatchable || a.LevelOfSupport != "active" || a.EndOfSupport != "2031-12-31" {
		t.Errorf("control: %+v", a)
	}
	if z := c["SPDXRef-Package-zlib"]; z.PurlValid || !z.CPEValid || z.Unmatchable {
		t.Errorf("zlib (bad purl, CPE with wildcard vendor is still a CPE): %+v", z)
	}
	if cu := c["SPDXRef-Package-curl"]; cu.Purl != "pkg:generic/curl@7.76.1" || cu.CPEValid || cu.Unmatchable {
		t.Errorf("curl: %+v", cu)
	}
	wantDeps := map[string][]string{
		"SPDXRef-Package-firmware": {"SPDXRef-Package-control", "SPDXRef-Package-busybox"},
		"SPDXRef-Package-control":  {"SPDXRef-Package-openssl", "SPDXRef-Package-libpng"},
		"SPDXRef-Package-openssl":  {"SPDXRef-Package-zlib"},
		"SPDXRef-Package-zlib":     {"SPDXRef-Package-curl"},
		"SPDXRef-Package-curl":     {"SPDXRef-Package-openssl"},
	}
	if !reflect.DeepEqual(doc.Dependencies, wantDeps) {
		t.Errorf("dependencies\n got %v\nwant %v", doc.Dependencies, wantDeps)
	}
	var kinds []string
	for _, p := range doc.Problems {
		kinds = append(kinds, string(p.Kind)+" "+p.Ref)
	}
	wantKinds := []string{
		"bad-purl SPDXRef-Package-zlib",
		"bad-cpe SPDXRef-Package-curl",
		"extra-identifier SPDXRef-Package-curl",
		"unknown-ref SPDXRef-Package-control",
		"dependency-cycle SPDXRef-Package-openssl",
	}
	slices.Sort(kinds)
	slices.Sort(wantKinds)
	if !slices.Equal(kinds, wantKinds) {
		t.Errorf("problems %v\nwant %v", doc.Problems, wantKinds)
	}
}

func TestUnsupportedAndMalformed(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
		msg      string
	}{
		{"empty", "  \n", sbom.ErrUnsupported, "empty"},
		{"text", "hello, world", sbom.ErrUnsupported, "neither JSON, XML nor SPDX tag-value"},
		{"json without format", `{"name": "x"}`, sbom.ErrUnsupported, "neither bomFormat"},
		{"other bomFormat", `{"bomFormat": "SWID"}`, sbom.ErrUnsupported, `"SWID"`},
		{"unknown CycloneDX version", `{"bomFormat": "CycloneDX", "specVersion": "9.9"}`, sbom.ErrUnsupported, `"9.9"`},
		{"no CycloneDX version", `{"bomFormat": "CycloneDX"}`, sbom.ErrMalformed, "no specVersion"},
		{"OpenVEX", `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": []}`, sbom.ErrUnsupported, "OpenVEX"},
		{"SPDX 2.0", `{"spdxVersion": "SPDX-2.0"}`, sbom.ErrUnsupported, "not 2.1, 2.2 or 2.3"},
		{"SPDX RDF", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>`, sbom.ErrUnsupported, "RDF/XML"},
		{"other XML", `<project xmlns="http://maven.apache.org/POM/4.0.0"></project>`, sbom.ErrUnsupported, "<project>"},
		{"bom in another namespace", `<bom xmlns="http://example.org/bom"/>`, sbom.ErrUnsupported, "not a CycloneDX"},
		{"CycloneDX 9.9 XML", `<bom xmlns="http://cyclonedx.org/schema/bom/9.9"/>`, sbom.ErrUnsupported, "namespace"},
		{"broken JSON", "{\n  \"bomFormat\": \"CycloneDX\",\n  \"specVersion\": \"1.4\",\n  \"components\": [}\n}", sbom.ErrMalformed, "line 4, column 19"},
		{"type mismatch", "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.4\",\n\"components\": [{\"name\": 7}]}", sbom.ErrMalformed, "line 2"},
		{"broken XML", `<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components>`, sbom.ErrMalformed, "not valid XML"},
		{"tag-value without version", "SPDXVersion: \nDocumentName: x\n", sbom.ErrUnsupported, "no SPDXVersion"},
		{"broken tag-value", "SPDXVersion: SPDX-2.3\nPackageName: a\nNotATag: x\n", sbom.ErrMalformed, "tag-value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := sbom.Parse(context.Background(), strings.NewReader(tc.in))
			if doc != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", doc, err, tc.want)
			}
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("kind %s, want invalid input", fault.KindOf(err))
			}
			if msg := fault.Message(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not contain %q", msg, tc.msg)
			}
		})
	}
}

// nestedCycloneDX returns a CycloneDX JSON document whose components nest
// depth deep.
func nestedCycloneDX(depth int) string {
	var b strings.Builder
	b.WriteString(`{"bomFormat":"CycloneDX","specVersion":"1.4","components":[`)
	for i := 0; i < depth; i++ {
		b.WriteString(`{"type":"library","name":"n","components":[`)
	}
	for i := 0; i < depth; i++ {
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

// flatCycloneDX returns n components in JSON or XML.
func flatCycloneDX(n int, xml bool) string {
	var b strings.Builder
	if xml {
		b.WriteString(`<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components>`)
		for i := 0; i < n; i++ {
			b.WriteString(`<component type="library"><name>x</name></component>`)
		}
		b.WriteString(`</components></bom>`)
		return b.String()
	}
	b.WriteString(`{"bomFormat":"CycloneDX","specVersion":"1.4","components":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"library","name":"x"}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestLimits(t *testing.T) {
	small := sbom.NewParser(sbom.Limits{MaxBytes: 4096, MaxComponents: 10, MaxNesting: 4})
	var tagValue strings.Builder
	tagValue.WriteString("SPDXVersion: SPDX-2.3\n")
	for i := 0; i < 11; i++ {
		tagValue.WriteString("PackageName: p\n")
	}
	tests := []struct {
		name, in string
		msg      string
	}{
		{"bytes", strings.Repeat(" ", 4097), "larger than 4096 bytes"},
		{"components JSON", flatCycloneDX(11, false), "more than 10 components"},
		{"components XML", flatCycloneDX(11, true), "more than 10 components"},
		{"packages tag-value", tagValue.String(), "more than 10 packages and files"},
		{"packages SPDX JSON", `{"spdxVersion":"SPDX-2.3","packages":[` + strings.Repeat(`{},`, 10) + `{}]}`, "more than 10 components"},
		{"escaped key", `{"bomFormat":"CycloneDX","specVersion":"1.4","compon\u0065nts":[` + strings.Repeat(`{},`, 10) + `{}]}`, "more than 10 components"},
		{"key in other case", `{"bomFormat":"CycloneDX","specVersion":"1.4","COMPONENTS":[` + strings.Repeat(`{},`, 10) + `{}]}`, "more than 10 components"},
		{"nesting", nestedCycloneDX(5), "nests components more than 4 deep"},
		{"JSON depth", `{"bomFormat":"CycloneDX","specVersion":"1.4","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "deeper than 64 levels"},
		{"XML depth", `<bom xmlns="http://cyclonedx.org/schema/bom/1.4">` + strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100) + `</bom>`, "deeper than 64 levels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := small.Parse(context.Background(), strings.NewReader(tc.in))
			if doc != nil || !errors.Is(err, sbom.ErrTooLarge) || fault.KindOf(err) != fault.TooLarge {
				t.Fatalf("got %v, %v; want ErrTooLarge", doc, err)
			}
			if msg := fault.Message(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not contain %q", msg, tc.msg)
			}
		})
	}
	// Exactly at the limits is fine.
	for name, in := range map[string]string{"components": flatCycloneDX(10, false), "xml": flatCycloneDX(10, true), "nesting": nestedCycloneDX(4)} {
		doc, err := small.Parse(context.Background(), strings.NewReader(in))
		if err != nil {
			t.Errorf("%s at the limit: %v", name, err)
			continue
		}
		for _, c := range doc.Components {
			if !c.Unmatchable {
				t.Errorf("%s: a component without identifiers must be unmatchable", name)
			}
		}
	}
	if d := sbom.DefaultLimits(); d.MaxBytes != 64<<20 || d.MaxComponents != 200_000 || d.MaxNesting != 32 {
		t.Errorf("default limits %+v", d)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sbom.Parse(ctx, strings.NewReader(flatCycloneDX(3, false))); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestByteOrderMarkAndWhitespace(t *testing.T) {
	in := "\xef\xbb\xbf\n  " + flatCycloneDX(2, false)
	doc, err := sbom.Parse(context.Background(), bytes.NewReader([]byte(in)))
	if err != nil || len(doc.Components) != 2 {
		t.Fatalf("%v %v", doc, err)
	}
}

// TestSPDX22AndExternalRefs reads SPDX 2.2 JSON (through tools-golang's
// converting reader) with a dependency on an element of another document,
// which is known by reference and not a problem.
func TestSPDX22AndExternalRefs(t *testing.T) {
	in := `{
  "spdxVersion": "SPDX-2.2", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "gateway",
  "documentNamespace": "https://sbom.example.org/gateway-1",
  "creationInfo": {"created": "2022-02-02T02:02:02Z", "creators": ["Organization: Gateway Makers"]},
  "externalDocumentRefs": [{"externalDocumentId": "DocumentRef-os", "spdxDocument": "https://sbom.example.org/os-1",
    "checksum": {"algorithm": "SHA1", "checksumValue": "d6a770ba38583ed4bb4525bd96e50461655d2759"}}],
  "packages": [
    {"name": "gateway-app", "SPDXID": "SPDXRef-app", "versionInfo": "1.0", "downloadLocation": "NOASSERTION",
     "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:golang/example.org/gateway@v1.0.0"}]},
    {"name": "helper", "SPDXID": "SPDXRef-helper", "versionInfo": "0.3", "downloadLocation": "NOASSERTION"}
  ],
  "relationships": [
    {"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "DocumentRef-os:SPDXRef-libc"},
    {"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-helper"},
    {"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "NOASSERTION"}
  ]
}`
	doc, err := sbom.Parse(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if doc.SpecVersion != "2.2" || doc.Subject != nil || len(doc.Components) != 2 || doc.Supplier != "Gateway Makers" {
		t.Errorf("%+v", doc)
	}
	if !slices.Equal(doc.Dependencies["SPDXRef-app"], []string{"DocumentRef-os:SPDXRef-libc", "SPDXRef-helper"}) {
		t.Errorf("dependencies %v", doc.Dependencies)
	}
	if len(doc.Problems) != 0 {
		t.Errorf("problems %v", doc.Problems)
	}
	if h := byRef(doc)["SPDXRef-helper"]; !h.Unmatchable {
		t.Errorf("helper has no identifiers: %+v", h)
	}
}

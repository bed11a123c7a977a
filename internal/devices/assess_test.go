package devices_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
)

// pumpSBOM is an infusion pump's SBOM: two packages with known-exploited
// advisories (salt, libwebp-sys), one with a CVSS vector (wasmtime), one
// with an EPSS score (django), and three that cannot be matched: a CPE-only
// RTOS, a vendor blob without identifiers and a Debian package (no Debian
// advisories loaded).
const pumpSBOM = `{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,
"metadata":{"component":{"type":"device","bom-ref":"pump","name":"InfuseMax 5","version":"4.2.1","purl":"pkg:generic/acme/infusemax@4.2.1"}},
"components":[
 {"type":"library","bom-ref":"salt","name":"salt","version":"2019.2.0","purl":"pkg:pypi/salt@2019.2.0"},
 {"type":"library","bom-ref":"django","name":"django","version":"3.1.0","purl":"pkg:pypi/django@3.1.0","supplier":{"name":"Django Software Foundation"}},
 {"type":"library","bom-ref":"webp","name":"libwebp-sys","version":"0.9.0","purl":"pkg:cargo/libwebp-sys@0.9.0"},
 {"type":"library","bom-ref":"wasm","name":"wasmtime","version":"3.0.0","purl":"pkg:cargo/wasmtime@3.0.0"},
 {"type":"operating-system","bom-ref":"rtos","name":"VxWorks","version":"6.9","cpe":"cpe:2.3:o:windriver:vxworks:6.9:*:*:*:*:*:*:*"},
 {"type":"firmware","bom-ref":"blob","name":"pump-motor-firmware","version":"2.0.7"},
 {"type":"library","bom-ref":"ssl","name":"openssl","version":"1.1.1n","purl":"pkg:deb/debian/openssl@1.1.1n"}
]}`

const notAffectedVEX = `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://acme.example/vex/2026-1","author":"Acme Medical PSIRT","timestamp":"2026-11-20T00:00:00Z","version":1,
"statements":[
 {"vulnerability":{"name":"CVE-2021-35042"},"products":[{"@id":"pkg:pypi/django@3.1.0"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
 {"vulnerability":{"name":"CVE-2099-0001"},"products":[{"@id":"pkg:npm/left-pad@1.0.0"}],"status":"not_affected","justification":"component_not_present"}
]}`

type fixture struct {
	inv      *devices.Store
	findings *devices.Findings
	as       *devices.Assessor
	clock    *time.Time
	advDir   string
}

func newFixture(t *testing.T, d *db.DB) fixture {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/advisories")); err != nil {
		t.Fatal(err)
	}
	clock := now
	c := func() time.Time { return clock }
	f := fixture{inv: devices.NewStore(d, c), findings: devices.NewFindings(d, c), clock: &clock, advDir: dir}
	f.as = devices.NewAssessor(d, f.inv, f.findings, c, dir)
	return f
}

func byAdvisory(t *testing.T, fs []devices.Finding) map[string]devices.Finding {
	t.Helper()
	out := map[string]devices.Finding{}
	for _, f := range fs {
		out[f.Advisory] = f
	}
	return out
}

func TestSBOMToFindingsWithVEXAndReevaluation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		pump := dev("clinical-vlan", "therapy-delivery", "life-critical", "2023-12-31")
		pump.ID = "pump-001"
		if err := f.inv.Put(ctx, pump); err != nil {
			t.Fatal(err)
		}
		// No advisories yet: the SBOM is stored, nothing is judged.
		up, err := f.as.UploadSBOM(ctx, "pump-001", []byte(pumpSBOM), "sam")
		if err != nil {
			t.Fatal(err)
		}
		if up.Evaluation.Devices != 0 || len(up.Evaluation.Skipped) != 1 || up.SBOM.Components != 7 {
			t.Fatalf("evaluation without advisories: %+v", up)
		}
		ev, err := f.as.ReloadAdvisories(ctx, "advisory reload")
		if err != nil {
			t.Fatal(err)
		}
		if ev.Devices != 1 || ev.Components != 7 || ev.Unmatched != 3 || ev.Findings != 4 {
			t.Fatalf("evaluation: %+v", ev)
		}
		fs, _ := f.findings.ForDevice(ctx, "pump-001")
		got := byAdvisory(t, fs)
		salt, webp, wasm, django := got["PYSEC-2020-102"], got["RUSTSEC-2023-0061"], got["RUSTSEC-2023-0090"], got["PYSEC-2021-109"]
		if !salt.Input.KEV || !webp.Input.KEV || wasm.Input.KEV {
			t.Errorf("KEV flags: salt %v webp %v wasm %v", salt.Input.KEV, webp.Input.KEV, wasm.Input.KEV)
		}
		if !wasm.Input.HasCVSS || wasm.Input.CVSS != 9.9 {
			t.Errorf("wasmtime CVSS from the advisory's vector: %+v", wasm.Input)
		}
		if django.Input.EPSS != 0.0221 || !strings.Contains(strings.Join(django.Risk.Reasons, ";"), "EPSS 2.2%") {
			t.Errorf("django EPSS: %+v %v", django.Input, django.Risk.Reasons)
		}
		if salt.Component != "pkg:pypi/salt@2019.2.0" || salt.Status != devices.StatusOpen || strings.Join(salt.FixedVersions, ",") != "2019.2.4" {
			t.Errorf("salt finding: %+v", salt)
		}
		comps, _ := f.as.Components(ctx, "pump-001")
		unmatched := map[string]string{}
		for _, c := range comps {
			if c.MatchState == devices.MatchUnmatched {
				unmatched[c.Name] = c.MatchNote
			} else if c.MatchState != devices.MatchChecked {
				t.Errorf("%s: state %s", c.Name, c.MatchState)
			}
			if c.Name == "django" && (c.Supplier != "Django Software Foundation" || c.Purl != "pkg:pypi/django@3.1.0") {
				t.Errorf("django component: %+v", c)
			}
		}
		if len(unmatched) != 3 || !strings.Contains(unmatched["VxWorks"], "CPE only") || !strings.Contains(unmatched["pump-motor-firmware"], "no usable purl or CPE") || !strings.Contains(unmatched["openssl"], "Debian") {
			t.Errorf("unmatched components: %v", unmatched)
		}

		// A VEX document: django not affected (suppressed, kept with its
		// justification), a statement about a product the device lacks
		// reported back.
		*f.clock = f.clock.Add(time.Hour)
		vu, err := f.as.UploadVEX(ctx, "pump-001", []byte(notAffectedVEX), "sam")
		if err != nil {
			t.Fatal(err)
		}
		if len(vu.VEX.UnknownProducts) != 1 || !strings.Contains(vu.VEX.UnknownProducts[0], "left-pad") {
			t.Errorf("unknown products: %v", vu.VEX.UnknownProducts)
		}
		fs, _ = f.findings.ForDevice(ctx, "pump-001")
		if d := byAdvisory(t, fs)["PYSEC-2021-109"]; d.Status != devices.StatusNotAffected || d.VEXJustification != "vulnerable_code_not_in_execute_path" {
			t.Errorf("django after VEX: %+v", d)
		}
		q, _ := f.findings.Queue(ctx, 100)
		for _, x := range q {
			if x.Advisory == "PYSEC-2021-109" {
				t.Error("a not_affected finding is still queued")
			}
		}
		if len(q) != 3 {
			t.Errorf("queue after VEX: %d", len(q))
		}

		// A person overrides the VEX: affected after all.
		if _, err := f.as.SetOverride(ctx, "pump-001", "pkg:pypi/django@3.1.0", "PYSEC-2021-109", "affected", "", "sam"); !fault.Is(err, fault.Invalid) {
			t.Errorf("override without justification: %v", err)
		}
		if _, err := f.as.SetOverride(ctx, "pump-001", "pkg:pypi/django@3.1.0", "NOPE-1", "affected", "reason given here", "sam"); !fault.Is(err, fault.NotFound) {
			t.Errorf("override of an unknown finding: %v", err)
		}
		*f.clock = f.clock.Add(time.Hour)
		if _, err := f.as.SetOverride(ctx, "pump-001", "pkg:pypi/django@3.1.0", "PYSEC-2021-109", "affected", "the pump's web UI uses QuerySet.order_by with user input", "kim"); err != nil {
			t.Fatal(err)
		}
		fs, _ = f.findings.ForDevice(ctx, "pump-001")
		if d := byAdvisory(t, fs)["PYSEC-2021-109"]; d.Status != devices.StatusAffected {
			t.Errorf("django after override: %+v", d)
		}
		h, _ := f.findings.History(ctx, "pump-001", "PYSEC-2021-109")
		hist := strings.Join(h, "\n")
		for _, want := range []string{"sam: open → not_affected (OpenVEX VEX https://acme.example/vex/2026-1)", "kim: VEX override: affected", "kim: not_affected → affected (override by kim)"} {
			if !strings.Contains(hist, want) {
				t.Errorf("history lacks %q:\n%s", want, hist)
			}
		}

		// The inventory changes: the pump becomes reachable from the
		// internet. Its findings are re-scored without anyone asking.
		before := byAdvisory(t, fs)["PYSEC-2020-102"].Risk.Score
		pump.Zone = "internet-reachable"
		*f.clock = f.clock.Add(time.Hour)
		if err := f.inv.Put(ctx, pump); err != nil {
			t.Fatal(err)
		}
		fs, _ = f.findings.ForDevice(ctx, "pump-001")
		after := byAdvisory(t, fs)["PYSEC-2020-102"]
		if after.Risk.Score <= before || !strings.Contains(strings.Join(after.Risk.Reasons, ";"), "internet-reachable") {
			t.Errorf("risk after the zone change: %d → %d %v", before, after.Risk.Score, after.Risk.Reasons)
		}

		// The advisories are reloaded without the libwebp advisory: its
		// finding is resolved.
		*f.clock = f.clock.Add(24 * time.Hour)
		if err := os.Remove(filepath.Join(f.advDir, "osv", "crates.io", "RUSTSEC-2023-0061.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.as.ReloadAdvisories(ctx, "advisory reload"); err != nil {
			t.Fatal(err)
		}
		fs, _ = f.findings.ForDevice(ctx, "pump-001")
		if w := byAdvisory(t, fs)["RUSTSEC-2023-0061"]; w.Status != devices.StatusResolved {
			t.Errorf("withdrawn advisory's finding: %s", w.Status)
		}

		// Exposure over time replays the history: today's count equals
		// the queue.
		q, _ = f.findings.Queue(ctx, 100)
		days, err := f.findings.Exposure(ctx, now.AddDate(0, 0, -2), *f.clock)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 4 || days[0].Total != 0 || days[len(days)-1].Total != len(q) {
			t.Errorf("exposure: %+v, queue %d", days, len(q))
		}
		// End of the first day: salt, libwebp, wasmtime open, django
		// affected again after the override.
		if days[2].Total != 4 || days[2].ByTier["critical"]+days[2].ByTier["high"] == 0 {
			t.Errorf("exposure on the first day: %+v", days[2])
		}
		tiers := 0
		for _, n := range days[len(days)-1].ByTier {
			tiers += n
		}
		if tiers != days[len(days)-1].Total {
			t.Errorf("tiers %d, total %d", tiers, days[len(days)-1].Total)
		}
		if _, err := f.findings.Exposure(ctx, now, now.AddDate(0, 0, -1)); !fault.Is(err, fault.Invalid) {
			t.Errorf("reversed period: %v", err)
		}

		// A new SBOM of the same product supersedes the old one: salt is
		// gone, its finding resolved; the old SBOM is kept.
		newer := strings.Replace(pumpSBOM, `{"type":"library","bom-ref":"salt","name":"salt","version":"2019.2.0","purl":"pkg:pypi/salt@2019.2.0"},`, "", 1)
		up, err = f.as.UploadSBOM(ctx, "pump-001", []byte(newer), "sam")
		if err != nil {
			t.Fatal(err)
		}
		if len(up.Supersedes) != 1 {
			t.Errorf("supersedes: %v", up.Supersedes)
		}
		fs, _ = f.findings.ForDevice(ctx, "pump-001")
		if s := byAdvisory(t, fs)["PYSEC-2020-102"]; s.Status != devices.StatusResolved {
			t.Errorf("salt after the new SBOM: %s", s.Status)
		}
		list, _ := f.as.SBOMs(ctx, "pump-001")
		if len(list) != 2 || list[1].Superseded.IsZero() || !list[0].Superseded.IsZero() {
			t.Errorf("SBOMs: %+v", list)
		}
		if raw, err := f.as.RawSBOM(ctx, "pump-001", list[1].ID); err != nil || string(raw) != pumpSBOM {
			t.Errorf("raw SBOM kept: %v", err)
		}
	})
}

// A bad SBOM or VEX is rejected whole with the parser's message and
// nothing is written.
func TestBadUploadsWriteNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		pump := dev("clinical-vlan", "therapy-delivery", "life-critical", "")
		pump.ID = "pump-001"
		if err := f.inv.Put(ctx, pump); err != nil {
			t.Fatal(err)
		}
		if _, err := f.as.ReloadAdvisories(ctx, "test"); err != nil {
			t.Fatal(err)
		}
		broken := pumpSBOM[:len(pumpSBOM)-40]
		_, err := f.as.UploadSBOM(ctx, "pump-001", []byte(broken), "sam")
		if !fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "line") {
			t.Errorf("broken SBOM: %v", err)
		}
		if _, err := f.as.UploadSBOM(ctx, "nope", []byte(pumpSBOM), "sam"); !fault.Is(err, fault.NotFound) {
			t.Errorf("unknown device: %v", err)
		}
		_, err = f.as.UploadSBOMs(ctx, []devices.DeviceSBOM{{DeviceID: "pump-001", Raw: []byte(pumpSBOM)}, {DeviceID: "pump-001", Raw: []byte("hello")}}, "sam")
		if err == nil || !strings.Contains(err.Error(), "SBOM 2") {
			t.Errorf("bulk with a bad SBOM: %v", err)
		}
		if _, err := f.as.UploadVEX(ctx, "pump-001", []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[`), "sam"); !fault.Is(err, fault.Invalid) {
			t.Errorf("broken VEX: %v", err)
		}
		list, _ := f.as.SBOMs(ctx, "pump-001")
		vx, _ := f.as.VEXDocuments(ctx, "pump-001")
		fs, _ := f.findings.ForDevice(ctx, "pump-001")
		if len(list) != 0 || len(vx) != 0 || len(fs) != 0 {
			t.Errorf("bad uploads wrote %d SBOMs, %d VEX, %d findings", len(list), len(vx), len(fs))
		}
	})
}

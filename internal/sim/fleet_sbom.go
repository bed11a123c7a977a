package sim

import (
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/trustward/trustward/internal/devices"
)

// advisoryFiles are a small advisory folder for the demo (the layout
// devices.LoadAdvisories reads): the OSV advisories of the packages the
// fleet's SBOMs name, taken unchanged from OSV's Go, PyPI and crates.io
// exports, and the entries of CISA's KEV catalog that match them.
//
//go:embed data/advisories
var advisoryFiles embed.FS

// DemoAdvisories returns the demo's advisory folder.
func DemoAdvisories() fs.FS {
	sub, err := fs.Sub(advisoryFiles, "data/advisories")
	if err != nil {
		panic(err) // the embedded folder exists at build time
	}
	return sub
}

// sbomComponent is one component of a model's SBOM: a purl, or only a CPE,
// or neither (embedded parts nobody has a package identifier for).
type sbomComponent struct {
	typ, name, version, purl, cpe, supplier string
}

// modelSBOMs are what each model of the fleet runs. The package versions
// are real releases with published advisories (in the demo advisory
// folder), so that the queue has work; the operating systems and firmware
// are listed as real device SBOMs list them, by CPE or not at all.
var modelSBOMs = map[string][]sbomComponent{
	"InfuseMax 5": {
		{"operating-system", "VxWorks", "6.9", "", "cpe:2.3:o:windriver:vxworks:6.9:*:*:*:*:*:*:*", "Wind River"},
		{"firmware", "infusemax-motor-controller", "2.0.7", "", "", "Acme Medical"},
		{"library", "libwebp-sys", "0.9.0", "pkg:cargo/libwebp-sys@0.9.0", "", ""},
		{"library", "smallvec", "1.6.0", "pkg:cargo/smallvec@1.6.0", "", ""},
		{"library", "zlib", "1.2.11", "pkg:generic/zlib@1.2.11", "", "zlib"},
	},
	"InfuseMax 7": {
		{"operating-system", "VxWorks", "7", "", "cpe:2.3:o:windriver:vxworks:7:*:*:*:*:*:*:*", "Wind River"},
		{"library", "hyper", "0.14.10", "pkg:cargo/hyper@0.14.10", "", ""},
		{"library", "openssl", "0.10.38", "pkg:cargo/openssl@0.10.38", "", ""},
	},
	"VitalView 3": {
		{"library", "openssl", "1.1.1n-0+deb11u3", "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?arch=armhf", "", "Debian"},
		{"library", "urllib3", "1.25.8", "pkg:pypi/urllib3@1.25.8", "", ""},
		{"library", "requests", "2.19.1", "pkg:pypi/requests@2.19.1", "", ""},
		{"library", "pillow", "8.1.0", "pkg:pypi/pillow@8.1.0", "", ""},
	},
	"Aeris 900": {
		{"operating-system", "QNX Neutrino", "6.5.0", "", "cpe:2.3:o:blackberry:qnx_neutrino_rtos:6.5.0:*:*:*:*:*:*:*", "BlackBerry"},
		{"firmware", "aeris-valve-firmware", "1.1", "", "", "Breathwell"},
	},
	"ClinStation 24": {
		{"library", "golang.org/x/net", "v0.7.0", "pkg:golang/golang.org/x/net@v0.7.0", "", ""},
		{"library", "github.com/gin-gonic/gin", "v1.6.0", "pkg:golang/github.com/gin-gonic/gin@v1.6.0", "", ""},
	},
	"Scanline 64": {
		{"operating-system", "Windows 7", "6.1", "", "cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*", "Microsoft"},
		{"library", "stdlib", "1.13.1", "pkg:golang/stdlib@1.13.1", "", ""},
		{"library", "pydicom", "2.3.0", "pkg:pypi/pydicom@2.3.0", "", ""},
		{"library", "pillow", "8.1.0", "pkg:pypi/pillow@8.1.0", "", ""},
		{"library", "cryptography", "3.3.1", "pkg:pypi/cryptography@3.3.1", "", ""},
	},
	"MagnaView 3T": {
		{"library", "pillow", "9.0.0", "pkg:pypi/pillow@9.0.0", "", ""},
		{"library", "pydicom", "2.4.0", "pkg:pypi/pydicom@2.4.0", "", ""},
	},
	"Archive 9": {
		{"library", "salt", "2019.2.0", "pkg:pypi/salt@2019.2.0", "", "SaltStack"},
		{"library", "django", "3.1.0", "pkg:pypi/django@3.1.0", "", "Django Software Foundation"},
		{"library", "openssl", "1.0.2k", "pkg:rpm/redhat/openssl@1.0.2k-19.el7?arch=x86_64", "", "Red Hat"},
	},
	"ChemLab 400": {
		{"library", "jinja2", "2.10", "pkg:pypi/jinja2@2.10", "", ""},
		{"library", "urllib3", "1.24.1", "pkg:pypi/urllib3@1.24.1", "", ""},
	},
	"Core 2026": {
		{"library", "stdlib", "1.20.1", "pkg:golang/stdlib@1.20.1", "", ""},
		{"library", "golang.org/x/crypto", "v0.0.0-20200622213623-75b288015ac9", "pkg:golang/golang.org/x/crypto@v0.0.0-20200622213623-75b288015ac9", "", ""},
		{"library", "django", "3.2.0", "pkg:pypi/django@3.2.0", "", "Django Software Foundation"},
	},
	"Patient Portal": {
		{"library", "stdlib", "1.20.1", "pkg:golang/stdlib@1.20.1", "", ""},
		{"library", "github.com/gin-gonic/gin", "v1.6.0", "pkg:golang/github.com/gin-gonic/gin@v1.6.0", "", ""},
		{"library", "golang.org/x/net", "v0.7.0", "pkg:golang/golang.org/x/net@v0.7.0", "", ""},
	},
	"Core Switch 48": {
		{"operating-system", "MeshOS", "15.2", "", "cpe:2.3:o:meshline:meshos:15.2:*:*:*:*:*:*:*", "Meshline"},
	},
}

type cdxComponent struct {
	Type     string       `json:"type"`
	BOMRef   string       `json:"bom-ref"`
	Name     string       `json:"name"`
	Version  string       `json:"version,omitempty"`
	Purl     string       `json:"purl,omitempty"`
	CPE      string       `json:"cpe,omitempty"`
	Supplier *cdxSupplier `json:"supplier,omitempty"`
}

type cdxSupplier struct {
	Name string `json:"name"`
}

// FleetSBOMs returns a CycloneDX 1.5 JSON SBOM for each device of the
// fleet whose model has one; devices of one model share it (one build,
// one SBOM), as manufacturers ship them.
func FleetSBOMs(fleet []devices.Device) []devices.DeviceSBOM {
	byModel := map[string][]byte{}
	var out []devices.DeviceSBOM
	for _, d := range fleet {
		comps, ok := modelSBOMs[d.Model]
		if !ok {
			continue
		}
		raw, ok := byModel[d.Model]
		if !ok {
			raw = modelSBOM(d, comps)
			byModel[d.Model] = raw
		}
		out = append(out, devices.DeviceSBOM{DeviceID: d.ID, Raw: raw})
	}
	return out
}

func modelSBOM(d devices.Device, comps []sbomComponent) []byte {
	sum := sha256.Sum256([]byte(d.Manufacturer + "/" + d.Model + "/" + d.SoftwareVersion))
	serial := fmt.Sprintf("urn:uuid:%x-%x-4%x-8%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	doc := map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": serial, "version": 1,
		"metadata": map[string]any{
			"timestamp": "2026-01-15T00:00:00Z",
			"supplier":  map[string]any{"name": d.Manufacturer},
			"component": cdxComponent{Type: "device", BOMRef: "device", Name: d.Model, Version: d.SoftwareVersion, Supplier: &cdxSupplier{Name: d.Manufacturer}},
		},
	}
	list := make([]cdxComponent, 0, len(comps))
	for i, c := range comps {
		cc := cdxComponent{Type: c.typ, BOMRef: fmt.Sprintf("c%d-%s", i+1, c.name), Name: c.name, Version: c.version, Purl: c.purl, CPE: c.cpe}
		if c.supplier != "" {
			cc.Supplier = &cdxSupplier{Name: c.supplier}
		}
		list = append(list, cc)
	}
	doc["components"] = list
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		panic(err) // plain maps and strings always marshal
	}
	return b
}

package purl

import "fmt"

// osvEcosystems maps purl types to OSV ecosystem names
// (https://ossf.github.io/osv-schema/#affectedpackage-field). Types whose
// ecosystem depends on the distribution (deb, apk, rpm) are resolved from
// the namespace by distroEcosystems.
var osvEcosystems = map[string]string{
	"golang":   "Go",
	"cargo":    "crates.io",
	"pypi":     "PyPI",
	"npm":      "npm",
	"maven":    "Maven",
	"composer": "Packagist",
	"gem":      "RubyGems",
	"nuget":    "NuGet",
	"hex":      "Hex",
	"pub":      "Pub",
	"hackage":  "Hackage",
	"cran":     "CRAN",
	"swift":    "SwiftURL",
	"conan":    "ConanCenter",
	"bitnami":  "Bitnami",
}

var distroEcosystems = map[string]map[string]string{
	"deb": {"debian": "Debian", "ubuntu": "Ubuntu"},
	"apk": {"alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard", "alpaquita": "Alpaquita", "minimos": "MinimOS"},
	"rpm": {
		"almalinux": "AlmaLinux", "rocky-linux": "Rocky Linux", "rocky": "Rocky Linux",
		"opensuse": "openSUSE", "suse": "SUSE", "redhat": "Red Hat", "mageia": "Mageia",
		"openeuler": "openEuler",
	},
}

// Ecosystem returns the OSV ecosystem of the package, without a release
// suffix (OSV's "Debian:12" needs a release that purls spell in many ways).
// The error wraps ErrNoEcosystem when OSV has none for the type or distro.
func (p PURL) Ecosystem() (string, error) {
	if eco, ok := osvEcosystems[p.Type]; ok {
		return eco, nil
	}
	if byDistro, ok := distroEcosystems[p.Type]; ok {
		if eco, ok := byDistro[p.Namespace]; ok {
			return eco, nil
		}
		return "", fmt.Errorf("%s purl of distribution %q: %w", p.Type, p.Namespace, ErrNoEcosystem)
	}
	return "", fmt.Errorf("purl type %q: %w", p.Type, ErrNoEcosystem)
}

// PackageName returns the package's name as OSV spells it: the module path
// for Go, groupId:artifactId for Maven, @scope/name for npm, vendor/name
// for Packagist, the PEP 503 name for PyPI, the bare name for distribution
// packages (their namespace is the distribution), and namespace/name or
// name for the rest.
func (p PURL) PackageName() string {
	switch p.Type {
	case "maven":
		return p.Namespace + ":" + p.Name
	case "deb", "apk", "rpm", "alpm":
		return p.Name
	case "pypi":
		return p.Name
	}
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + "/" + p.Name
}

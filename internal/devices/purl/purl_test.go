package purl_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/purl"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		want      purl.PURL
		canonical string
	}{
		{
			in:        "pkg:golang/github.com/gin-gonic/gin@v1.5.0",
			want:      purl.PURL{Type: "golang", Namespace: "github.com/gin-gonic", Name: "gin", Version: "v1.5.0"},
			canonical: "pkg:golang/github.com/gin-gonic/gin@v1.5.0",
		},
		{ // Go module paths keep their case.
			in:        "pkg:golang/github.com/Azure/azure-sdk-for-go@v1.0.0",
			want:      purl.PURL{Type: "golang", Namespace: "github.com/Azure", Name: "azure-sdk-for-go", Version: "v1.0.0"},
			canonical: "pkg:golang/github.com/Azure/azure-sdk-for-go@v1.0.0",
		},
		{ // PEP 503 normalisation; the raw string is kept.
			in:        "pkg:PyPI/Django_REST.framework@3.9.0",
			want:      purl.PURL{Type: "pypi", Name: "django-rest-framework", Version: "3.9.0"},
			canonical: "pkg:pypi/django-rest-framework@3.9.0",
		},
		{
			in:        "pkg:npm/%40angular/core@12.0.0",
			want:      purl.PURL{Type: "npm", Namespace: "@angular", Name: "core", Version: "12.0.0"},
			canonical: "pkg:npm/%40angular/core@12.0.0",
		},
		{ // An unencoded scope, as many tools write it.
			in:        "pkg:npm/@angular/core",
			want:      purl.PURL{Type: "npm", Namespace: "@angular", Name: "core"},
			canonical: "pkg:npm/%40angular/core",
		},
		{
			in: "pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?type=zip&classifier=sources&repository_url=repo.spring.io/release",
			want: purl.PURL{Type: "maven", Namespace: "org.apache.xmlgraphics", Name: "batik-anim", Version: "1.9.1",
				Qualifiers: []purl.Qualifier{{Key: "classifier", Value: "sources"}, {Key: "repository_url", Value: "repo.spring.io/release"}, {Key: "type", Value: "zip"}}},
			canonical: "pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?classifier=sources&repository_url=repo.spring.io/release&type=zip",
		},
		{
			in: "pkg:deb/Debian/Curl@7.50.3-1?arch=i386&distro=jessie",
			want: purl.PURL{Type: "deb", Namespace: "debian", Name: "curl", Version: "7.50.3-1",
				Qualifiers: []purl.Qualifier{{Key: "arch", Value: "i386"}, {Key: "distro", Value: "jessie"}}},
			canonical: "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
		},
		{ // Slashes after the scheme are not significant; the subpath drops "." and "..".
			in:        "pkg://golang/google.golang.org/genproto#/googleapis/./api/../annotations/",
			want:      purl.PURL{Type: "golang", Namespace: "google.golang.org", Name: "genproto", Subpath: "googleapis/api/annotations"},
			canonical: "pkg:golang/google.golang.org/genproto#googleapis/api/annotations",
		},
		{ // Percent-encoded version characters; "+" stays a plus; empty qualifiers are dropped.
			in:        "pkg:docker/customer/dockerimage@sha256%3A244fd47e07d10?repository_url=gcr.io&empty=",
			want:      purl.PURL{Type: "docker", Namespace: "customer", Name: "dockerimage", Version: "sha256:244fd47e07d10", Qualifiers: []purl.Qualifier{{Key: "repository_url", Value: "gcr.io"}}},
			canonical: "pkg:docker/customer/dockerimage@sha256%3A244fd47e07d10?repository_url=gcr.io",
		},
		{
			in:        "pkg:cargo/rand@0.7.2+build.1",
			want:      purl.PURL{Type: "cargo", Name: "rand", Version: "0.7.2+build.1"},
			canonical: "pkg:cargo/rand@0.7.2%2Bbuild.1",
		},
		{
			in:        "pkg:composer/Laravel/Framework@v7.12.0",
			want:      purl.PURL{Type: "composer", Namespace: "laravel", Name: "framework", Version: "v7.12.0"},
			canonical: "pkg:composer/laravel/framework@v7.12.0",
		},
	}
	for _, tt := range tests {
		got, err := purl.Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		tt.want.Raw = tt.in
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) =\n %#v\nwant\n %#v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.canonical)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "does not start with"},
		{"npm/foo@1.0", "does not start with"},
		{"http://example.com/foo", "does not start with"},
		{"pkg:", "no type"},
		{"pkg:npm", "no name"},
		{"pkg:npm/", "no name"},
		{"pkg:n&m/foo", "type \"n&m\""},
		{"pkg:9npm/foo", "not starting with a digit"},
		{"pkg:npm/foo@", "empty version"},
		{"pkg:npm/foo%2", "bad percent-encoding"},
		{"pkg:npm/foo%zz@1", "bad percent-encoding"},
		{"pkg:npm/a%2Fb", "holds a \"/\""},
		{"pkg:npm/foo?a=1&a=2", "appears twice"},
		{"pkg:npm/foo?novalue", "has no \"=\""},
		{"pkg:npm/foo?1key=x", "not starting with a digit"},
		{"pkg:npm/foo bar", "white space"},
		{"pkg:maven/commons-io@2.6", "needs a namespace"},
		{"pkg:composer/framework@1.0", "needs a namespace"},
		{"pkg:npm/" + strings.Repeat("a", purl.MaxLength), "longer than"},
	}
	for _, tt := range tests {
		_, err := purl.Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q): no error", tt.in)
			continue
		}
		var pe *purl.ParseError
		if !errors.Is(err, purl.ErrInvalid) || !errors.As(err, &pe) || pe.Input != tt.in {
			t.Errorf("Parse(%q): %v is not a ParseError naming the input", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("Parse(%q): %q does not say %q", tt.in, err, tt.reason)
		}
	}
}

func TestOSV(t *testing.T) {
	tests := []struct{ in, eco, name string }{
		{"pkg:golang/golang.org/x/net@v0.0.0-20190125091013-d26f9f9a57f3", "Go", "golang.org/x/net"},
		{"pkg:golang/stdlib@1.18.2", "Go", "stdlib"},
		{"pkg:cargo/smallvec@0.6.9", "crates.io", "smallvec"},
		{"pkg:pypi/Jinja2@2.7.2", "PyPI", "jinja2"},
		{"pkg:npm/%40types/node@1.0.0", "npm", "@types/node"},
		{"pkg:maven/io.dropwizard/dropwizard-core@1.3.15", "Maven", "io.dropwizard:dropwizard-core"},
		{"pkg:composer/laravel/framework@7.12.0", "Packagist", "laravel/framework"},
		{"pkg:gem/rails@6.0.0", "RubyGems", "rails"},
		{"pkg:nuget/Newtonsoft.Json@12.0.1", "NuGet", "Newtonsoft.Json"},
		{"pkg:deb/debian/openssl@1.1.1n-0+deb11u3?distro=debian-11", "Debian", "openssl"},
		{"pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1", "Ubuntu", "openssl"},
		{"pkg:apk/alpine/busybox@1.36.1-r5", "Alpine", "busybox"},
	}
	for _, tt := range tests {
		p, err := purl.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		eco, err := p.Ecosystem()
		if err != nil || eco != tt.eco || p.PackageName() != tt.name {
			t.Errorf("%s: ecosystem %q (%v), name %q; want %q, %q", tt.in, eco, err, p.PackageName(), tt.eco, tt.name)
		}
	}
	for _, in := range []string{"pkg:generic/openssl@1.1.1", "pkg:deb/fedora/openssl@1", "pkg:github/package-url/purl-spec@244fd47e07d10"} {
		p, err := purl.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if eco, err := p.Ecosystem(); !errors.Is(err, purl.ErrNoEcosystem) {
			t.Errorf("%s: ecosystem %q, %v; want ErrNoEcosystem", in, eco, err)
		}
	}
}

// TestSharedSBOMs reads every purl of the shared CycloneDX examples: each
// must parse, name an OSV ecosystem and survive a round trip.
func TestSharedSBOMs(t *testing.T) {
	files, _ := filepath.Glob("../../../../shared/data/sbom/SBOM_*.json")
	if len(files) == 0 {
		t.Skip("no SBOMs in ../../../../shared/data/sbom (the shared data folder is absent)")
	}
	re := regexp.MustCompile(`"purl"\s*:\s*"([^"]+)"`)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			n++
			p, err := purl.Parse(string(m[1]))
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
				continue
			}
			if _, err := p.Ecosystem(); err != nil {
				t.Errorf("%s: %s: %v", filepath.Base(f), m[1], err)
			}
			again, err := purl.Parse(p.String())
			if err != nil || again.String() != p.String() {
				t.Errorf("%s: %s does not round-trip: %q, %v", filepath.Base(f), m[1], p.String(), err)
			}
		}
	}
	if n < 1000 {
		t.Errorf("read only %d purls", n)
	}
	t.Logf("%d purls", n)
}

func TestNormalizePyPIName(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "zope.interface": "zope-interface", "Foo__Bar-.baz": "foo-bar-baz",
		"requests": "requests", "a--b": "a-b",
	} {
		if got := purl.NormalizePyPIName(in); got != want {
			t.Errorf("NormalizePyPIName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse checks that Parse never panics and that the canonical form is
// a fixed point: it parses back to the same package URL.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"pkg:golang/github.com/gin-gonic/gin@v1.5.0",
		"pkg:npm/%40angular/core@12.0.0?x=1#a/b",
		"pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?type=zip&classifier=sources",
		"pkg://pypi/Django_REST.framework@3.9.0",
		"pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
		"pkg:docker/customer/dockerimage@sha256%3A244fd47e07d10?repository_url=gcr.io",
		"pkg:golang/google.golang.org/genproto#googleapis/api/annotations",
		"pkg:npm/@scope/name",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := purl.Parse(s)
		if err != nil {
			if !errors.Is(err, purl.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		canonical := p.String()
		if len(canonical) > purl.MaxLength {
			return // percent-encoding grew it past the input bound
		}
		q, err := purl.Parse(canonical)
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", s, canonical, err)
		}
		q.Raw, p.Raw = "", ""
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("%q -> %q -> %#v, want %#v", s, canonical, q, p)
		}
		if q.String() != canonical {
			t.Fatalf("canonical form is not stable: %q then %q", canonical, q.String())
		}
		_, _ = p.Ecosystem()
		_ = p.PackageName()
	})
}

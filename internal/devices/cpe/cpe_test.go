package cpe_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/devices/cpe"
)

// anyName is a name with every attribute Any, to be edited per case.
func anyName() cpe.Name {
	return cpe.Name{Part: cpe.Any, Vendor: cpe.Any, Product: cpe.Any, Version: cpe.Any, Update: cpe.Any, Edition: cpe.Any,
		Language: cpe.Any, SWEdition: cpe.Any, TargetSW: cpe.Any, TargetHW: cpe.Any, Other: cpe.Any}
}

func TestParseFormattedString(t *testing.T) {
	tests := []struct {
		in   string
		want func(n *cpe.Name)
		// bound is String's output when it differs from in.
		bound string
	}{
		{ // NISTIR 7695 example: quoted "." in the WFN, plain in the binding.
			in: "cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
			want: func(n *cpe.Name) {
				n.Part, n.Vendor, n.Product, n.Version, n.Update = "a", "microsoft", "internet_explorer", `8\.0\.6001`, "beta"
			},
		},
		{
			in: "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*",
			want: func(n *cpe.Name) {
				n.Part, n.Vendor, n.Product, n.Version, n.Update = "a", "hp", "insight_diagnostics", `7\.4\.0\.1570`, cpe.NA
				n.SWEdition, n.TargetSW, n.TargetHW = "online", "win2003", "x64"
			},
		},
		{ // Quoted backslash and dollar stay quoted in both forms.
			in: `cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*`,
			want: func(n *cpe.Name) {
				n.Part, n.Vendor, n.Product = "a", `foo\\bar`, `big\$money_2010`
				n.SWEdition, n.TargetSW, n.TargetHW = "special", "ipod_touch", "80gb"
			},
		},
		{ // A quoted colon does not split attributes.
			in: `cpe:2.3:a:foo:bar\:baz:1.0:*:*:*:*:*:*:*`,
			want: func(n *cpe.Name) {
				n.Part, n.Vendor, n.Product, n.Version = "a", "foo", `bar\:baz`, `1\.0`
			},
		},
		{ // Unquoted punctuation is quoted in the WFN; "\." is bound plainly.
			in: `cpe:2.3:a:vendor:product!:1\.0:*:*:en-us:*:*:*:*`,
			want: func(n *cpe.Name) {
				n.Part, n.Vendor, n.Product, n.Version, n.Language = "a", "vendor", `product\!`, `1\.0`, `en\-us`
			},
			bound: `cpe:2.3:a:vendor:product\!:1.0:*:*:en-us:*:*:*:*`,
		},
		{ // Wildcards at the ends, and a value that is a literal hyphen.
			in: `cpe:2.3:o:linux:linux_kernel:2.6.*:??rc:\-:*:*:*:*:*`,
			want: func(n *cpe.Name) {
				n.Part, n.Vendor, n.Product, n.Version, n.Update, n.Edition = "o", "linux", "linux_kernel", `2\.6\.*`, "??rc", `\-`
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := cpe.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			want := anyName()
			tc.want(&want)
			if got != want {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, want)
			}
			bound := tc.bound
			if bound == "" {
				bound = tc.in
			}
			if s := got.String(); s != bound {
				t.Fatalf("String() = %q, want %q", s, bound)
			}
			again, err := cpe.Parse(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip: %+v, %v", again, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ in, attr, reason string }{
		{"cpe:2.3:a:apache:log4j:2.14.1", "", "has 4 attributes"},
		{"cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*:extra", "", "has 12 attributes"},
		{"cpe:/a:apache", "", `does not start with "cpe:2.3:"`},
		{"cpe:2.3:a:apache::2.14.1:*:*:*:*:*:*:*", "product", "empty"},
		{"cpe:2.3:x:apache:log4j:1:*:*:*:*:*:*:*", "part", "not a, o or h"},
		{"cpe:2.3:a:apache:log4j:1:*:*:english:*:*:*:*", "language", "not a language tag"},
		{"cpe:2.3:a:apa*che:log4j:1:*:*:*:*:*:*:*", "vendor", "unquoted *"},
		{"cpe:2.3:a:apache:lo?g4j:1:*:*:*:*:*:*:*", "product", "unquoted ?"},
		{`cpe:2.3:a:apache:log4j:1:*:*:*:*:*:*:foo\`, "other", "lone backslash"},
		{`cpe:2.3:a:ap\ache:log4j:1:*:*:*:*:*:*:*`, "vendor", "needs no quoting"},
		{"cpe:2.3:a:apache:log 4j:1:*:*:*:*:*:*:*", "", "not a printable ASCII"},
		{"cpe:2.3:a:apache:log4j:1:*:*:*:*:*:*:*" + strings.Repeat("x", cpe.MaxLength), "", "longer than"},
	}
	for _, tc := range tests {
		_, err := cpe.Parse(tc.in)
		var pe *cpe.ParseError
		if !errors.As(err, &pe) || !errors.Is(err, cpe.ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tc.in, err)
			continue
		}
		if pe.Attribute != tc.attr || !strings.Contains(pe.Reason, tc.reason) || pe.Input != tc.in {
			t.Errorf("Parse(%q): attribute %q reason %q, want %q containing %q", tc.in, pe.Attribute, pe.Reason, tc.attr, tc.reason)
		}
	}
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		in        string
		formatted string
	}{
		{"cpe:/a:microsoft:internet_explorer:8.0.6001:beta", "cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*"},
		{"cpe:/a:apache:log4j:2.4:-", "cpe:2.3:a:apache:log4j:2.4:-:*:*:*:*:*:*"},
		{"cpe:/A:Apache:Log4J", "cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*"}, // letters are lower-cased
		{"cpe:/a:hp:insight_diagnostics:7.4.0.1570::~~online~win2003~x64~", "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:*:*:*:online:win2003:x64:*"},
		{"cpe:/a:foo%5cbar:big%24money_2010:::~~special~ipod_touch~80gb~", `cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*`},
		{"cpe:/a:foo~bar:big%7emoney_2010", `cpe:2.3:a:foo\~bar:big\~money_2010:*:*:*:*:*:*:*:*`},
		{"cpe:/a:vendor:product:%01%011.2%02", `cpe:2.3:a:vendor:product:??1.2*:*:*:*:*:*:*:*`},
		{"cpe:/o:redhat:enterprise_linux:8:::en-us", "cpe:2.3:o:redhat:enterprise_linux:8:*:*:en-us:*:*:*:*"},
	}
	for _, tc := range tests {
		n, err := cpe.ParseURI(tc.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tc.in, err)
			continue
		}
		if got := n.String(); got != tc.formatted {
			t.Errorf("ParseURI(%q).String() = %q, want %q", tc.in, got, tc.formatted)
		}
		if m, err := cpe.ParseName(tc.in); err != nil || m != n {
			t.Errorf("ParseName(%q) = %+v, %v; want the URI reading", tc.in, m, err)
		}
	}
	for _, bad := range []string{
		"cpe:/a:foo%5cbar:big%24money_2010%07:::~~special~ipod_touch~80gb~", // %07 is not punctuation
		"cpe:/a:foo:bar:12.%02.1234",                                        // * inside
		"cpe:/a:foo:bar:1:2:3:4:5",                                          // eight components
		"cpe:/a:foo:bar:1::~a~b~c",                                          // packed edition with three fields
		"cpe:/a:foo:bar:1%2",                                                // truncated escape
		"cpe:/a:fo o:bar",                                                   // space
	} {
		if _, err := cpe.ParseURI(bad); !errors.Is(err, cpe.ErrInvalid) {
			t.Errorf("ParseURI(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{`2\.14\.1`: "2.14.1", `foo\\bar`: `foo\bar`, "plain": "plain", cpe.Any: cpe.Any} {
		if got := cpe.Unquote(in); got != want {
			t.Errorf("Unquote(%q) = %q, want %q", in, got, want)
		}
	}
}

package vex

import "testing"

func TestVers(t *testing.T) {
	tests := []struct {
		rng  string
		in   []string
		out  []string
		fail bool
	}{
		{rng: "vers:generic/>=2.9|<=4.1", in: []string{"2.9", "3.0", "4.1", "4.0.9"}, out: []string{"2.8", "4.2", "10"}},
		{rng: "vers:npm/>=1.0.0|<2.0.0|>=3.0.0", in: []string{"1.0.0", "1.9.9", "2.0.0-rc.1", "3.0.0", "9.0.0"}, out: []string{"0.9.0", "2.0.0", "2.5.0"}},
		{rng: "vers:npm/<1.0.0|>=2.0.0|<3.0.0", in: []string{"0.1.0", "2.0.0"}, out: []string{"1.0.0", "3.0.0"}},
		{rng: "vers:maven/>=1.0|<2.0|!=1.5", in: []string{"1.0", "1.4"}, out: []string{"1.5", "2.0"}},
		{rng: "vers:pypi/1.0|2.0%2Bpost1", in: []string{"1.0", "2.0+post1"}, out: []string{"1.5"}},
		{rng: "vers:deb/>=1.2-1|<1.2-3", in: []string{"1.2-2"}, out: []string{"1.2-3", "1.1"}},
		{rng: "vers:generic/*", in: []string{"anything-1"}},
		{rng: "VERS:Generic/ >= 1.0 | < 2.0 ", in: []string{"1.5"}, out: []string{"2.0"}},
		{rng: "version:generic/1.0", fail: true},
		{rng: "vers:/1.0", fail: true},
		{rng: "vers:generic/>=", fail: true},
		{rng: "vers:generic/>=1.0|%zz", fail: true},
	}
	for _, tc := range tests {
		r, err := parseVers(tc.rng)
		if tc.fail != (err != nil) {
			t.Errorf("%q: error %v, want failure %v", tc.rng, err, tc.fail)
			continue
		}
		for _, v := range tc.in {
			if ok, err := r.contains(v); !ok || err != nil {
				t.Errorf("%q should contain %q (%v)", tc.rng, v, err)
			}
		}
		for _, v := range tc.out {
			if ok, _ := r.contains(v); ok {
				t.Errorf("%q should not contain %q", tc.rng, v)
			}
		}
	}
}

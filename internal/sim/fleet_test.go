package sim

import (
	"reflect"
	"testing"
	"time"
)

func TestFleetIsValidAndReproducible(t *testing.T) {
	a, b := Fleet(7), Fleet(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two fleets")
	}
	if reflect.DeepEqual(a, Fleet(8)) {
		t.Fatal("another seed gave the same fleet")
	}
	if len(a) < 100 || len(a) > 400 {
		t.Fatalf("fleet of %d devices", len(a))
	}
	ids, serials := map[string]bool{}, map[string]bool{}
	unsupported, internet := 0, 0
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, d := range a {
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		key := d.Manufacturer + "|" + d.Model + "|" + d.Serial
		if ids[d.ID] || serials[key] {
			t.Fatalf("duplicate %s", d.ID)
		}
		ids[d.ID], serials[key] = true, true
		if d.Unsupported(now) {
			unsupported++
		}
		if d.Zone == "internet-reachable" {
			internet++
		}
	}
	// Realistic: a large share runs an unsupported OS, a few face the internet.
	if unsupported < len(a)/4 || internet == 0 {
		t.Fatalf("%d unsupported, %d internet-reachable of %d", unsupported, internet, len(a))
	}
}

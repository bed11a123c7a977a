package devices_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const inventory = `id,name,class,manufacturer,model,serial,software_version,firmware_version,os,os_end_of_support,zone,location,care_unit,clinical_function,criticality,owner
pump-001,Infusion pump bay 3,infusion-pump,Acme Medical,InfuseMax 5,SN-10001,4.2.1,2.0.7,VxWorks 6.9,2023-12-31,clinical-vlan,Ward 4B,Intensive Care,therapy-delivery,life-critical,Biomed team
mon-014,Bedside monitor 14,patient-monitor,Heartline,VitalView 3,SN-20014,7.1,1.4,Embedded Linux 4.19,,clinical-vlan,Ward 4B,Intensive Care,diagnosis-monitoring,high,Biomed team
ct-01,CT scanner,imaging,Radiant,Scanline 64,CT-7781,VB20,,Windows 7,2020-01-14,hospital-network,Radiology,Radiology,diagnosis-monitoring,high,Imaging IT
ehr-app-1,EHR application server,ehr-server,Trusty EHR,Core 2026,VM-1,2026.3,,Debian 12,2028-06-30,internet-reachable,Data centre,,phi-store,high,Clinical IT
`

func TestParseCSV(t *testing.T) {
	ds, err := devices.ParseCSV(strings.NewReader(inventory))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 || ds[2].OS != "Windows 7" || !ds[2].Unsupported(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || ds[1].Unsupported(time.Now()) {
		t.Fatalf("parsed %+v", ds)
	}
	// Columns in any order, a UTF-8 BOM, optional columns missing.
	reordered := "\ufeffowner,criticality,clinical_function,zone,serial,model,manufacturer,class,name,id\nIT,low,none,isolated,S1,M,Maker,workstation,Nurse station PC,ws-1\n"
	if ds, err := devices.ParseCSV(strings.NewReader(reordered)); err != nil || ds[0].ID != "ws-1" {
		t.Fatalf("reordered: %+v %v", ds, err)
	}
	var buf bytes.Buffer
	if err := devices.WriteCSV(&buf, ds); err != nil {
		t.Fatal(err)
	}
	again, err := devices.ParseCSV(&buf)
	if err != nil || len(again) != len(ds) || again[0] != ds[0] {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseCSVRejectsAndNamesEveryBadLine(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"unknown column", "id,colour\n", `unknown column "colour"`},
		{"missing column", "id,name\n", `required column "class"`},
		{"duplicate column", "id,id\n", "appears twice"},
		{"header only", strings.Split(inventory, "\n")[0] + "\n", "no devices"},
	} {
		_, err := devices.ParseCSV(strings.NewReader(c.in))
		if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	bad := inventory +
		"pump-002,P,toaster,A,B,C,,,,,clinical-vlan,,,therapy-delivery,high,X\n" + // line 6: class
		"pump-003,P,infusion-pump,A,B,C,,,,31/12/2020,clinical-vlan,,,therapy-delivery,high,X\n" + // line 7: date
		"pump-001,Dup,infusion-pump,A,B,D,,,,,clinical-vlan,,,therapy-delivery,high,X\n" + // line 8: duplicate id
		"short,row\n" // line 9: field count
	_, err := devices.ParseCSV(strings.NewReader(bad))
	var ce *devices.CSVError
	if !errors.As(err, &ce) || len(ce.Rows) != 4 {
		t.Fatalf("bad rows: %v", err)
	}
	for i, want := range []struct {
		line int
		text string
	}{{6, `"toaster" is not one of`}, {7, "not a date"}, {8, "also on line 2"}, {9, "has 2 fields"}} {
		if ce.Rows[i].Line != want.line || !strings.Contains(ce.Rows[i].Error(), want.text) {
			t.Errorf("row error %d = %v, want line %d %q", i, ce.Rows[i], want.line, want.text)
		}
	}
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := devices.NewStore(d, func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) })
		n, err := s.ImportCSV(ctx, strings.NewReader(inventory))
		if err != nil || n != 4 {
			t.Fatalf("import: %d %v", n, err)
		}
		got, err := s.Get(ctx, "ct-01")
		if err != nil || got.OS != "Windows 7" || got.OSEndOfSupport.Format("2006-01-02") != "2020-01-14" {
			t.Fatalf("get: %+v %v", got, err)
		}
		icu, _ := s.List(ctx, devices.Filter{CareUnit: "Intensive Care"})
		if len(icu) != 2 {
			t.Fatalf("ICU devices: %d", len(icu))
		}
		// An update keeps created, changes updated.
		got.FirmwareVersion = "VB30"
		if err := s.Put(ctx, got); err != nil {
			t.Fatal(err)
		}
		// The same manufacturer, model and serial on another id conflicts.
		dup := got
		dup.ID = "ct-02"
		if err := s.Put(ctx, dup); !fault.Is(err, fault.Conflict) {
			t.Fatalf("duplicate serial: %v", err)
		}
		// A bad device in a batch writes nothing.
		bad := got
		bad.ID, bad.Serial, bad.Zone = "ct-03", "X", "moon"
		good := got
		good.ID, good.Serial = "ct-04", "Y"
		if err := s.Put(ctx, good, bad); !fault.Is(err, fault.Invalid) {
			t.Fatalf("batch with a bad device: %v", err)
		}
		if _, err := s.Get(ctx, "ct-04"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("half-written batch: %v", err)
		}
		all, _ := s.List(ctx, devices.Filter{})
		if len(all) != 4 {
			t.Fatalf("devices: %d", len(all))
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add(inventory)
	f.Add("id,name\n\"unterminated\n")
	f.Add("\ufeff" + strings.Split(inventory, "\n")[0] + "\na,b,c\n")
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := devices.ParseCSV(strings.NewReader(in))
		if err != nil {
			if fault.KindOf(err) == fault.Internal {
				t.Fatalf("error without a kind: %v", err)
			}
			return
		}
		for _, d := range ds {
			if err := d.Validate(); err != nil {
				t.Fatalf("accepted an invalid device: %v", err)
			}
		}
	})
}

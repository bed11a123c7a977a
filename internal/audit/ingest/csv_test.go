package ingest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
)

func loadMapping(t testing.TB) ingest.Mapping {
	t.Helper()
	b, err := os.ReadFile("testdata/ehr_mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ingest.ParseMapping(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCSVExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		f, err := os.Open("testdata/ehr_access.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := e.in.IngestCSV(ctx, loadMapping(t), f, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []ingest.Problem{
			{Line: 5, Reason: ingest.ReasonMissingCol, Detail: `the row has 7 fields; column "Patient MRN" (field 8) is missing`},
			{Line: 6, Reason: ingest.ReasonMissingCol, Detail: `column "Patient MRN" is empty`},
			{Line: 7, Reason: ingest.ReasonInvalidDate, Detail: `column "Access Time" does not match the layout "01/02/2006 03:04:05 PM"`},
			{Line: 8, Reason: ingest.ReasonInvalidEvent, Detail: `column "Action" holds an action the mapping's actions do not list`},
		}
		if len(rep.Problems) != len(want) {
			t.Fatalf("problems = %+v", rep.Problems)
		}
		for i := range want {
			if rep.Problems[i] != want[i] {
				t.Errorf("problem %d = %+v, want %+v", i, rep.Problems[i], want[i])
			}
		}
		if rep.Read != 9 || rep.Accepted != 4 || rep.Duplicates != 1 || rep.Rejected != 4 {
			t.Fatalf("report %+v", rep)
		}
		got, err := e.store.Events(ctx, audit.Query{PatientID: "MRN100234"})
		if err != nil || len(got) != 2 {
			t.Fatalf("events of MRN100234: %d, %v", len(got), err)
		}
		ev := got[1].Event // oldest last
		chicago, _ := time.LoadLocation("America/Chicago")
		wantEv := audit.Event{V: 1, ID: "A-1001", Time: time.Date(2026, 3, 2, 8, 15, 2, 0, chicago).UTC(),
			Actor:     audit.Actor{UserID: "jdoe", Name: "Jane Doe", Role: "Physician", Organization: "Cardiology"},
			PatientID: "MRN100234", ResourceType: "Patient", ResourceID: "MRN100234",
			Action: "R", Subtype: "Chart Review", Purpose: "TREAT", Outcome: "0", Source: "ehr-access-log", NetworkAddress: "WS-CARD-04"}
		if ev != wantEv {
			t.Fatalf("event = %+v\nwant    %+v", ev, wantEv)
		}
		got, _ = e.store.Events(ctx, audit.Query{PatientID: "MRN100889"})
		if len(got) != 1 || got[0].Event.Purpose != "Research" || got[0].Event.Action != "E" {
			t.Fatalf("unmapped reason or lookup action lost: %+v", got)
		}
	})
}

func TestCSVRowIDIsDeterministic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		m := loadMapping(t)
		m.Columns = ingest.Columns{User: "User ID", Patient: "Patient MRN", Time: "Access Time"}
		csv := "Access Time,User ID,Patient MRN\n03/02/2026 08:15:02 AM,jdoe,MRN1\n03/02/2026 08:15:03 AM,jdoe,MRN1\n"
		for run := 0; run < 2; run++ {
			rep, err := e.in.IngestCSV(ctx, m, strings.NewReader(csv), nil)
			if err != nil {
				t.Fatal(err)
			}
			if run == 0 && rep.Accepted != 2 || run == 1 && (rep.Accepted != 0 || rep.Duplicates != 2) {
				t.Fatalf("run %d: %+v", run, rep)
			}
		}
		got, _ := e.store.Events(ctx, audit.Query{PatientID: "MRN1"})
		if len(got) != 2 || !strings.HasPrefix(got[0].Event.ID, "csv-") || got[0].Event.ID == got[1].Event.ID {
			t.Fatalf("ids: %+v", got)
		}
	})
}

func TestCSVHeaderWithoutMappedColumnFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, err := e.in.IngestCSV(context.Background(), loadMapping(t), strings.NewReader("Access Time,User ID\n"), nil)
		if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), `columns.id`) {
			t.Fatalf("err = %v", err)
		}
		if n := count(t, e.store); n != 0 {
			t.Fatalf("stored %d", n)
		}
	})
}

func TestParseMappingErrors(t *testing.T) {
	for _, tc := range []struct{ in, field string }{
		{`{`, ""},
		{`{"source":"x","columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"2006-01-02"},"extra":1}`, ""},
		{`{"columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"2006"}}`, "source"},
		{`{"source":"x","columns":{"user":"u","time":"t"},"time":{"layout":"2006"}}`, "columns.patient"},
		{`{"source":"x","columns":{"user":"u","patient":"p","time":"t"}}`, "time.layout"},
		{`{"source":"x","columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"15:04"}}`, "time.layout"},
		{`{"source":"x","columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"2006","zone":"Mars/Olympus"}}`, "time.zone"},
		{`{"source":"x","columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"2006"},"actions":{"View":"X"}}`, "actions.View"},
		{`{"source":"x","delimiter":";;","columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"2006"}}`, "delimiter"},
	} {
		_, err := ingest.ParseMapping([]byte(tc.in))
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: err = %v, want invalid", tc.in, err)
			continue
		}
		if tc.field != "" && !strings.HasPrefix(fault.Message(err), tc.field+":") {
			t.Errorf("%s: err = %q, want it to name %s", tc.in, fault.Message(err), tc.field)
		}
	}
}

package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func clock() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type env struct {
	in    *ingest.Ingester
	store *audit.Store
}

func newEnv(t testing.TB, d *db.DB) env {
	t.Helper()
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	s := seal.NewSealer(d, kek, clock)
	rec := audit.NewRecorder(d, s, clock, quietLog())
	t.Cleanup(rec.Close)
	in := ingest.New(rec, ingest.NewCounters(clock), clock, quietLog())
	return env{in: in, store: audit.NewStore(d, s)}
}

// access is an EHR-style access event.
func access(i int) audit.Event {
	return audit.Event{
		V: audit.CanonicalVersion, ID: fmt.Sprintf("ehr-%06d", i),
		Time:         clock().Add(time.Duration(i) * time.Second),
		Actor:        audit.Actor{UserID: fmt.Sprintf("u%d", i%7), Name: "Dr Example", Role: "physician", Organization: "cardiology"},
		PatientID:    fmt.Sprintf("mrn-%d", i%11),
		ResourceType: "Patient", ResourceID: fmt.Sprintf("mrn-%d", i%11),
		Action: audit.ActionRead, Subtype: "read", Purpose: "TREAT",
		Outcome: audit.OutcomeSuccess, Source: "ehr", NetworkAddress: "10.0.0.7",
	}
}

func fhirLine(t testing.TB, ev audit.Event) string {
	t.Helper()
	b, err := ev.ToFHIR()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func count(t *testing.T, st *audit.Store) int64 {
	t.Helper()
	n, err := st.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNDJSONKeepsGoodLinesAndNamesBadOnes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		var lines []string
		for i := 0; i < 600; i++ {
			lines = append(lines, fhirLine(t, access(i)))
		}
		noPatient := access(9001)
		noPatient.PatientID, noPatient.ResourceType, noPatient.ResourceID = "", "", ""
		badDate := strings.Replace(fhirLine(t, access(9002)), `"recorded":"2026-03-02T`, `"recorded":"2026-13-02T`, 1)
		noAgent := strings.Replace(fhirLine(t, access(9003)), `"agent":`, `"agentX":`, 1)
		// Bad lines at known places: 3 broken JSON, 5 wrong type, 8 blank,
		// 10 no patient, 12 bad date, 14 no agent, 601 a repeat of line 1.
		lines[2] = `{"resourceType":"AuditEvent",`
		lines[4] = `{"resourceType":"Patient","id":"p1"}`
		lines[7] = ``
		lines[9] = fhirLine(t, noPatient)
		lines[11] = badDate
		lines[13] = noAgent
		lines = append(lines, lines[0])
		var progressed int
		rep, err := e.in.IngestNDJSON(ctx, "ehr-bulk", strings.NewReader(strings.Join(lines, "\r\n")+"\n"), func(r ingest.Report) { progressed++ })
		if err != nil {
			t.Fatal(err)
		}
		want := []ingest.Problem{
			{Line: 3, Reason: ingest.ReasonInvalidJSON},
			{Line: 5, Reason: ingest.ReasonWrongType},
			{Line: 10, Reason: ingest.ReasonNoPatient},
			{Line: 12, Reason: ingest.ReasonInvalidDate},
			{Line: 14, Reason: ingest.ReasonNoAgent},
		}
		if len(rep.Problems) != len(want) {
			t.Fatalf("problems = %v, want %d", rep.Problems, len(want))
		}
		for i, p := range rep.Problems {
			if p.Line != want[i].Line || p.Reason != want[i].Reason || p.Detail == "" {
				t.Errorf("problem %d = %+v, want line %d reason %s", i, p, want[i].Line, want[i].Reason)
			}
		}
		// 601 non-blank lines: 595 good events, one of them repeated.
		if rep.Read != 600 || rep.Accepted != 594 || rep.Duplicates != 1 || rep.Rejected != 5 {
			t.Fatalf("report = read %d accepted %d duplicates %d rejected %d", rep.Read, rep.Accepted, rep.Duplicates, rep.Rejected)
		}
		if progressed == 0 {
			t.Error("no progress was reported")
		}
		if n := count(t, e.store); n != 594 {
			t.Fatalf("stored %d events, want 594", n)
		}
		// The event read back is the one sent, under its own id.
		got, err := e.store.Events(ctx, audit.Query{PatientID: "mrn-3", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, st := range got {
			if st.Event.ID == "ehr-000014" {
				found = true
				if want := access(14); st.Event != want {
					t.Fatalf("stored %+v, want %+v", st.Event, want)
				}
			}
		}
		if !found {
			t.Fatal("event ehr-000014 not stored under its own id")
		}
		// The same feed again stores nothing new: every good line is a duplicate.
		rep2, err := e.in.IngestNDJSON(ctx, "ehr-bulk", strings.NewReader(strings.Join(lines, "\n")), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep2.Accepted != 0 || rep2.Duplicates != 595 || rep2.Rejected != 5 {
			t.Fatalf("second run: accepted %d duplicates %d rejected %d", rep2.Accepted, rep2.Duplicates, rep2.Rejected)
		}
		if n := count(t, e.store); n != 594 {
			t.Fatalf("after a repeat, stored %d events, want 594", n)
		}
		snap := e.in.Counters().Snapshot()
		if len(snap) != 1 || snap[0].Source != "ehr-bulk" || snap[0].Accepted != 594 || snap[0].Duplicates != 596 || snap[0].Rejected != 10 {
			t.Fatalf("counters = %+v", snap)
		}
		if snap[0].ByReason[0].Count != 2 {
			t.Fatalf("by reason = %+v", snap[0].ByReason)
		}
	})
}

func TestLongLineRejectedOthersKept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		long := `{"resourceType":"AuditEvent","x":"` + strings.Repeat("a", ingest.MaxLine+10) + `"}`
		in := fhirLine(t, access(1)) + "\n" + long + "\n" + fhirLine(t, access(2)) + "\n"
		rep, err := e.in.IngestNDJSON(context.Background(), "t", strings.NewReader(in), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Accepted != 2 || len(rep.Problems) != 1 || rep.Problems[0].Line != 2 || rep.Problems[0].Reason != ingest.ReasonTooLarge {
			t.Fatalf("report = %+v", rep)
		}
	})
}

func TestBundleAndSingle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		bundle := `{"resourceType":"Bundle","type":"collection","entry":[` +
			`{"resource":` + fhirLine(t, access(1)) + `},` +
			`{"fullUrl":"urn:x"},` +
			`{"resource":{"resourceType":"Observation","id":"o"}},` +
			`{"resource":` + fhirLine(t, access(2)) + `}]}`
		rep, err := e.in.IngestFHIR(ctx, "api", ingest.FormatAuto, strings.NewReader(bundle), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Accepted != 2 || rep.Rejected != 2 || rep.Problems[0].Line != 2 || rep.Problems[1].Line != 3 || rep.Problems[1].Reason != ingest.ReasonWrongType {
			t.Fatalf("bundle report = %+v", rep)
		}
		// A single pretty-printed AuditEvent (several lines) is one document.
		var pretty bytes.Buffer
		pretty.WriteString(strings.Replace(fhirLine(t, access(3)), `,"recorded"`, ",\n  \"recorded\"", 1))
		rep, err = e.in.IngestFHIR(ctx, "api", ingest.FormatAuto, &pretty, nil)
		if err != nil || rep.Accepted != 1 || rep.Rejected != 0 {
			t.Fatalf("single: %+v, %v", rep, err)
		}
		rep, err = e.in.IngestFHIR(ctx, "api", ingest.FormatJSON, strings.NewReader(`{"resourceType":`), nil)
		if err != nil || rep.Rejected != 1 || rep.Problems[0].Reason != ingest.ReasonInvalidJSON {
			t.Fatalf("broken: %+v, %v", rep, err)
		}
		if n := count(t, e.store); n != 3 {
			t.Fatalf("stored %d, want 3", n)
		}
	})
}

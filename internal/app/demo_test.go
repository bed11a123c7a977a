package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/monitor/cases"
)

func loadDemo(t *testing.T, engine string) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if engine == "postgres" {
		cfg.DB = dbtest.PostgresURL(t)
	}
	cfg.DemoPatients, cfg.DemoStaff, cfg.DemoDate = 80, 20, "2026-03-01"
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	res, err := a.LoadDemo(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Patients != 80 || res.Staff != 20 || len(res.Demo) != 7 || res.AccessDays != 0 || res.AccessSkipped == "" {
		t.Fatalf("demo: %+v", res)
	}
	return a
}

// withoutMeta drops the server-written meta (write times differ).
func withoutMeta(t *testing.T, js []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "meta")
	return m
}

// TestDemoIsReproducible loads the same seed, size and date on SQLite and
// PostgreSQL and compares what is stored.
func TestDemoIsReproducible(t *testing.T) {
	a, b := loadDemo(t, "sqlite"), loadDemo(t, "postgres")
	ctx := context.Background()
	for _, typ := range []string{"", "Patient", "Observation", "Encounter"} {
		na, _ := a.Records.Count(ctx, typ)
		nb, _ := b.Records.Count(ctx, typ)
		if na != nb || na == 0 {
			t.Fatalf("%s: %d vs %d resources", typ, na, nb)
		}
	}
	for _, id := range []string{"pat-00001", "pat-00040", "pat-00080"} {
		ra, err := a.Records.ByPatient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Records.ByPatient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ra) != len(rb) {
			t.Fatalf("%s: %d vs %d resources", id, len(ra), len(rb))
		}
		for i := range ra {
			if !reflect.DeepEqual(withoutMeta(t, ra[i].JSON), withoutMeta(t, rb[i].JSON)) {
				t.Fatalf("%s/%s differs between two loads", ra[i].Type, ra[i].ID)
			}
		}
	}
	if _, err := a.LoadDemo(ctx, nil); err == nil {
		t.Fatal("a second demo load into a filled store was accepted")
	}
}

// TestDemoAccessHistory loads a demo hospital with its access history and
// checks that privacy monitoring explains its accesses and opens cases,
// and that the history is about the demo's own people.
func TestDemoAccessHistory(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DemoPatients, cfg.DemoStaff, cfg.DemoDate, cfg.DemoAccessDays = 300, 60, "2026-03-01", 10
	cfg.MonitorWarn = true
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	res, err := a.LoadDemo(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accesses.Events == 0 || res.Accesses.Cases == 0 {
		t.Fatalf("no access history: %+v", res.Accesses)
	}
	if n, err := a.Audit.Count(ctx); err != nil || n < int64(res.Accesses.Events) {
		t.Fatalf("%d events stored (%v), the history has %d", n, err, res.Accesses.Events)
	}
	if err := a.Cases.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	cov, err := a.Cases.Coverage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scored, unexplained := 0, cov["unexplained"]
	for _, n := range cov {
		scored += n
	}
	if scored == 0 || float64(unexplained) > 0.2*float64(scored) {
		t.Fatalf("explanations %v: most of the demo's accesses should be explained", cov)
	}
	queue, err := a.Cases.Queue(ctx, cases.Filter{})
	if err != nil || len(queue) == 0 {
		t.Fatalf("no cases in the demo's queue (%v)", err)
	}
	// monitor_warn: the user of a queued case got the warning notice,
	// which names no patient.
	var uid string
	if err := a.DB.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, queue[0].User).Scan(&uid); err != nil {
		t.Fatalf("the case's user %q has no account: %v", queue[0].User, err)
	}
	notes, err := a.Notices.ForUser(ctx, uid)
	if err != nil || len(notes) != 1 || notes[0].Kind != "privacy-warning" || !queue[0].Warned {
		t.Fatalf("warning notices of %s: %+v %v (case warned: %v)", uid, notes, err, queue[0].Warned)
	}
	// The history's patients and staff are the demo's: the demo clinician
	// is a practitioner the accesses name, and a patient of a case is in
	// the records store with the same name the case shows.
	d, err := a.Cases.Case(ctx, queue[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range d.PatientIDs {
		p, err := a.Records.Read(ctx, "Patient", pid)
		if err != nil {
			t.Fatalf("case patient %s is not in the records store: %v", pid, err)
		}
		if got := access.Summarise(p.JSON).Name; !strings.Contains(got, strings.Split(d.Names[pid], " ")[0]) {
			t.Fatalf("patient %s is %q in the records and %q in the case", pid, got, d.Names[pid])
		}
	}
}

package cases

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/monitor/detect"
	"github.com/trustward/trustward/internal/monitor/explain"
	"github.com/trustward/trustward/internal/seal"
	"github.com/trustward/trustward/internal/sim"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a small simulated hospital month: its context as NDJSON and
// its events in time order.
type world struct {
	context []byte
	events  []audit.Event
}

var (
	worldOnce sync.Once
	theWorld  world
)

func simWorld(t *testing.T) world {
	worldOnce.Do(func() {
		var buf bytes.Buffer
		_, err := sim.GenerateAccesses(context.Background(), sim.AccessOptions{Seed: 7, Patients: 300, Staff: 60, Days: 10}, sim.AccessSink{
			Context: func(r sim.Resource) error { buf.Write(r.JSON); buf.WriteByte('\n'); return nil },
			Event:   func(ev audit.Event) error { theWorld.events = append(theWorld.events, ev); return nil },
			Truth:   func(sim.Truth) error { return nil },
		})
		if err != nil {
			panic(err)
		}
		theWorld.context = buf.Bytes()
	})
	return theWorld
}

type fixture struct {
	d     *db.DB
	sl    *seal.Sealer
	rec   *audit.Recorder
	svc   *Service
	now   time.Time
	warns []string
}

func newFixture(t *testing.T, d *db.DB, warn bool) *fixture {
	f := &fixture{d: d, now: time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	f.sl = seal.NewSealer(d, kek, clock)
	f.rec = audit.NewRecorder(d, f.sl, clock, quiet)
	t.Cleanup(f.rec.Close)
	opt := Options{}
	if warn {
		opt.Warn = func(ctx context.Context, user string) error { f.warns = append(f.warns, user); return nil }
	}
	f.svc = New(d, f.sl, clock, quiet, opt)
	return f
}

func (f *fixture) store(t *testing.T, evs []audit.Event) {
	t.Helper()
	ctx := context.Background()
	ps := make([]audit.Prepared, 0, len(evs))
	for _, ev := range evs {
		p, err := f.rec.Prepare(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for len(ps) > 0 {
		n := min(len(ps), 4096)
		if _, err := f.rec.StoreNew(ctx, ps[:n]); err != nil {
			t.Fatal(err)
		}
		ps = ps[n:]
	}
}

// TestScoresTheStoreLikeTheBatchEngine loads a simulated month through
// the service and checks its explanations and cases against the
// detectors run over the same data in memory.
func TestScoresTheStoreLikeTheBatchEngine(t *testing.T) {
	w := simWorld(t)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d, true)
		rep, err := f.svc.PutContext(ctx, bytes.NewReader(w.context))
		if err != nil || rep.Rejected != 0 || rep.Stored == 0 {
			t.Fatalf("context: %+v %v", rep, err)
		}
		// Stored sealed: no patient name in the clear.
		cx := explain.NewContext()
		if err := cx.ReadNDJSON(bytes.NewReader(w.context)); err != nil {
			t.Fatal(err)
		}
		var family string
		for _, p := range cx.Patients {
			family = p.Family
			break
		}
		rows, err := d.Query(ctx, `SELECT body FROM monitor_context`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(bytes.ToLower(body), []byte(family)) {
				t.Fatal("a context row holds a patient's family name in the clear")
			}
		}
		rows.Close()

		// The first half arrives, is scored, then the rest arrives live.
		half := len(w.events) / 2
		f.store(t, w.events[:half])
		if err := f.svc.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		f.store(t, w.events[half:])
		if err := f.svc.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if st := f.svc.Status(); st.Err != "" || st.Events != int64(len(w.events)) {
			t.Fatalf("status %+v, want %d events", st, len(w.events))
		}

		det := detect.New(cx, detect.DefaultConfig())
		want := map[string]string{}
		alerts := map[string]bool{}
		for i := range w.events {
			ev := w.events[i]
			ex, as := det.ProcessEvent(&ev)
			if ev.PatientID != "" {
				want[ev.ID] = ex.Kind
			}
			for _, a := range as {
				alerts[a.EventID] = true
			}
		}
		ids := make([]string, 0, len(want))
		for id := range want {
			ids = append(ids, id)
		}
		got, err := f.svc.Explanations(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d explanations stored, want %d", len(got), len(want))
		}
		for id, k := range want {
			if got[id] != k {
				t.Fatalf("event %s explained as %q, the batch engine says %q", id, got[id], k)
			}
		}
		cov, err := f.svc.Coverage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cov[explain.Unexplained] == 0 || cov[explain.Unexplained] > len(want)/4 {
			t.Fatalf("coverage %v: the simulated month should be mostly explained, with some unexplained", cov)
		}
		var stored int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM monitor_alerts`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != len(alerts) {
			t.Fatalf("%d alerts stored, the batch engine raised %d", stored, len(alerts))
		}
		queue, err := f.svc.Queue(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		wantCases := det.Cases()
		if len(queue) != len(wantCases) || len(queue) == 0 {
			t.Fatalf("%d cases in the queue, the batch engine reports %d", len(queue), len(wantCases))
		}
		byUser := map[string]detect.Case{}
		for _, c := range wantCases {
			byUser[c.User] = c
		}
		for _, c := range queue {
			wc, ok := byUser[c.User]
			if !ok || c.Score != wc.Score || c.Alerts != wc.Alerts || c.Patients != len(wc.Patients) || len(c.Reasons) != len(wc.Reasons) {
				t.Fatalf("case %+v differs from the batch engine's %+v", c, wc)
			}
		}
		if len(f.warns) != len(queue) {
			t.Fatalf("%d warnings for %d cases at the threshold", len(f.warns), len(queue))
		}

		// A second pass after a restart changes nothing.
		f2 := New(d, f.sl, func() time.Time { return f.now }, quiet, Options{Warn: f.svc.opt.Warn})
		if err := f2.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		again, err := f2.Queue(ctx, Filter{})
		if err != nil || len(again) != len(queue) || len(f.warns) != len(queue) {
			t.Fatalf("after a restart: %d cases (%v), %d warnings", len(again), err, len(f.warns))
		}
	})
}

func TestWorkflow(t *testing.T) {
	w := simWorld(t)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d, false)
		if _, err := f.svc.PutContext(ctx, bytes.NewReader(w.context)); err != nil {
			t.Fatal(err)
		}
		f.store(t, w.events)
		if err := f.svc.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		queue, err := f.svc.Queue(ctx, Filter{})
		if err != nil || len(queue) == 0 {
			t.Fatalf("queue: %v %v", queue, err)
		}
		if !slices.IsSortedFunc(queue, func(a, b Summary) int { return -cmpFloat(a.Score, b.Score) }) {
			t.Fatal("the queue is not highest score first")
		}
		// Pick a case with a patient.
		var c Detail
		for _, q := range queue {
			if c, err = f.svc.Case(ctx, q.ID); err != nil {
				t.Fatal(err)
			}
			if len(c.PatientIDs) > 0 {
				break
			}
		}
		if len(c.PatientIDs) == 0 || len(c.Timeline) == 0 || len(c.Reasons) == 0 || len(c.History) != 1 || c.History[0].Action != "opened" {
			t.Fatalf("case detail: %+v", c)
		}
		alerted := 0
		for _, a := range c.Timeline {
			if a.Alerted {
				alerted++
			}
			if a.Explanation == "" || a.Explanation == "not yet scored" || !slices.Contains(c.PatientIDs, a.Patient) {
				t.Fatalf("timeline entry %+v", a)
			}
		}
		if alerted == 0 {
			t.Fatal("the timeline marks none of the case's alerted accesses")
		}
		if c.Names[c.PatientIDs[0]] == "" {
			t.Fatalf("no name for %s from the context", c.PatientIDs[0])
		}

		if _, err := f.svc.Case(ctx, "case-nope"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("unknown case: %v", err)
		}
		if err := f.svc.Take(ctx, "case-nope", "u-po"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("take unknown: %v", err)
		}
		if err := f.svc.Take(ctx, c.ID, "u-po"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Note(ctx, c.ID, "u-po", "  "); !fault.Is(err, fault.Invalid) {
			t.Fatalf("empty note: %v", err)
		}
		if err := f.svc.Note(ctx, c.ID, "u-po", strings.Repeat("x", maxNote+1)); !fault.Is(err, fault.Invalid) {
			t.Fatalf("long note: %v", err)
		}
		if err := f.svc.Note(ctx, c.ID, "u-po", "Asked the ward manager about the shift roster."); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Decide(ctx, c.ID, "u-po", "guilty", "note"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("bad verdict: %v", err)
		}
		if err := f.svc.Decide(ctx, c.ID, "u-po", VerdictAppropriate, ""); !fault.Is(err, fault.Invalid) {
			t.Fatalf("decision without a note: %v", err)
		}
		if err := f.svc.Decide(ctx, c.ID, "u-po", VerdictAppropriate, "Covering a colleague's patients that week; confirmed with the roster."); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Decide(ctx, c.ID, "u-po", VerdictInappropriate, "Second thoughts."); !fault.Is(err, fault.Conflict) {
			t.Fatalf("deciding twice: %v", err)
		}
		if err := f.svc.Take(ctx, c.ID, "u-po"); !fault.Is(err, fault.Conflict) {
			t.Fatalf("taking a decided case: %v", err)
		}
		got, err := f.svc.Case(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		steps := []string{}
		for _, s := range got.History {
			steps = append(steps, s.Action)
		}
		if got.Status != StatusDecided || got.Verdict != VerdictAppropriate || got.Assignee != "u-po" || got.Decided == nil ||
			strings.Join(steps, ",") != "opened,investigating,note,decided: Appropriate" || got.History[2].Note != "Asked the ward manager about the shift roster." {
			t.Fatalf("decided case: %+v", got)
		}
		var sealed []byte
		if err := d.QueryRow(ctx, `SELECT note FROM monitor_case_log WHERE case_id = $1 AND action = 'note'`, c.ID).Scan(&sealed); err != nil || bytes.Contains(sealed, []byte("roster")) {
			t.Fatalf("the note is not sealed: %v", err)
		}
		open, err := f.svc.Queue(ctx, Filter{})
		if err != nil || slices.ContainsFunc(open, func(s Summary) bool { return s.ID == c.ID }) {
			t.Fatalf("the decided case is still in the open queue: %v", err)
		}
		decided, err := f.svc.Queue(ctx, Filter{Status: StatusDecided})
		if err != nil || len(decided) != 1 || decided[0].ID != c.ID {
			t.Fatalf("decided queue: %+v %v", decided, err)
		}
		if _, err := f.svc.Queue(ctx, Filter{Status: "closed"}); !fault.Is(err, fault.Invalid) {
			t.Fatalf("bad status filter: %v", err)
		}

		// The verdict suppresses the same reasons about the same patient:
		// a repeat of one of the case's alerts, a day later, is kept but
		// not queued; one with a new reason opens a new case.
		a := got.Alerts[slices.IndexFunc(got.Alerts, func(a Alert) bool { return a.Patient != "" })]
		repeat := detect.Alert{EventID: "ev-repeat", User: got.User, Patient: a.Patient, Time: a.Time.Add(24 * time.Hour), Score: a.Score, Reasons: a.Reasons}
		fresh := detect.Alert{EventID: "ev-fresh", User: got.User, Patient: a.Patient, Time: a.Time.Add(25 * time.Hour), Score: 4,
			Reasons: append(slices.Clone(a.Reasons), detect.Reason{Key: "export", Text: "bulk export of records"})}
		ev := &audit.Event{Actor: audit.Actor{UserID: got.User, Name: got.UserName, Role: got.UserRole}, PatientID: a.Patient}
		if err := f.svc.write(ctx, []scored{{seq: 0, ev: ev, alerts: []detect.Alert{repeat, fresh}}}, f.svc.seq, f.svc.seq); err != nil {
			t.Fatal(err)
		}
		var by, caseID *string
		if err := d.QueryRow(ctx, `SELECT suppressed_by, case_id FROM monitor_alerts WHERE event_id = 'ev-repeat'`).Scan(&by, &caseID); err != nil || by == nil || *by != c.ID || caseID != nil {
			t.Fatalf("the repeat is not suppressed: by %v case %v (%v)", by, caseID, err)
		}
		var newCase string
		if err := d.QueryRow(ctx, `SELECT case_id FROM monitor_alerts WHERE event_id = 'ev-fresh'`).Scan(&newCase); err != nil || newCase == "" || newCase == c.ID {
			t.Fatalf("the alert with a new reason is not in a new case: %q %v", newCase, err)
		}
		if again, _ := f.svc.Case(ctx, c.ID); again.Suppressed != 1 {
			t.Fatalf("the decided case counts %d suppressed alerts, want 1", again.Suppressed)
		}
	})
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestPutContextRejectsBadResourcesAndKeepsTheRest(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, d, false)
	in := strings.Join([]string{
		`{"resourceType":"Organization","id":"dept-1","name":"Cardiology"}`,
		`{"resourceType":"Organization","id":"dept-2","name":`,
		`{"resourceType":"Observation","id":"o-1"}`,
		``,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Practitioner","id":"pr-1","name":[{"family":"Okafor","given":["Ada"]}]}},{"resource":{"resourceType":"Encounter","id":"enc-1"}},{}]}`,
		`{"resourceType":"Bundle","entry":[]}`,
	}, "\n")
	rep, err := f.svc.PutContext(ctx, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stored != 2 || rep.Rejected != 5 || rep.ByType["Organization"] != 1 || rep.ByType["Practitioner"] != 1 {
		t.Fatalf("report %+v", rep)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"line 2: not a FHIR resource", "line 3:", "line 5, entry 1:", "line 5, entry 2: resource", "line 6: entry"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("problems %q lack %q", joined, want)
		}
	}
	if n, err := f.svc.ContextCount(ctx); err != nil || n != 2 {
		t.Fatalf("stored %d (%v), want 2", n, err)
	}
	// A resource sent again replaces the stored one.
	if _, err := f.svc.PutContext(ctx, strings.NewReader(`{"resourceType":"Organization","id":"dept-1","name":"Cardiology and Vascular"}`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.svc.ContextCount(ctx); n != 2 {
		t.Fatalf("a resource sent twice is stored %d times", n)
	}
	if _, err := f.svc.PutContext(ctx, strings.NewReader(" \n ")); !fault.Is(err, fault.Invalid) {
		t.Fatalf("empty context: %v", err)
	}
	// One pretty-printed Bundle is one document.
	doc := "{\n \"resourceType\": \"Bundle\",\n \"entry\": [{\"resource\": {\"resourceType\": \"Organization\", \"id\": \"dept-3\", \"name\": \"Oncology\"}}]\n}\n"
	if rep, err := f.svc.PutContext(ctx, strings.NewReader(doc)); err != nil || rep.Stored != 1 || rep.Rejected != 0 {
		t.Fatalf("pretty-printed bundle: %+v %v", rep, err)
	}
	if err := f.svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if f.svc.cx.Depts["dept-1"] != "Cardiology and Vascular" || f.svc.cx.Depts["dept-3"] != "Oncology" {
		t.Fatalf("loaded departments %v", f.svc.cx.Depts)
	}
}

func FuzzPutContext(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Organization","id":"d","name":"x"}`))
	f.Add([]byte("{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p\"}}]}\n{}"))
	f.Add([]byte(`{"resourceType":"RelatedPerson","id":"r","patient":{"reference":"Patient/p"}}`))
	d := dbtest.SQLite(f)
	sl := seal.NewSealer(d, mustKEK(f), time.Now)
	svc := New(d, sl, time.Now, quiet, Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := svc.PutContext(context.Background(), bytes.NewReader(b))
		if err != nil && !fault.Is(err, fault.Invalid) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if rep.Stored+rep.Rejected < len(rep.Problems) {
			t.Fatalf("report does not add up: %+v", rep)
		}
	})
}

func mustKEK(t testing.TB) seal.KeyEncrypter {
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// TestLoopScoresLiveEventsWithinASecond runs the background loop: an
// event recorded while it runs is scored within a second, and Close
// stops it.
func TestLoopScoresLiveEventsWithinASecond(t *testing.T) {
	w := simWorld(t)
	d := dbtest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, d, false)
	if _, err := f.svc.PutContext(ctx, bytes.NewReader(w.context)); err != nil {
		t.Fatal(err)
	}
	f.store(t, w.events[:len(w.events)-1])
	f.svc.Start()
	defer f.svc.Close()
	waitFor := func(what string, ok func() bool) time.Duration {
		start := time.Now()
		for !ok() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: not within 10 s (status %+v)", what, f.svc.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("the history", func() bool { return f.svc.Status().Events == int64(len(w.events)-1) })
	last := w.events[len(w.events)-1]
	if last.PatientID == "" {
		t.Fatal("the simulated month should end with a patient access")
	}
	f.store(t, []audit.Event{last})
	took := waitFor("the live event", func() bool {
		got, err := f.svc.Explanations(ctx, []string{last.ID})
		return err == nil && got[last.ID] != ""
	})
	if took > time.Second {
		t.Fatalf("a live event was scored after %s, want under 1 s", took)
	}
	f.svc.Close()
	if st := f.svc.Status(); st.Err != "" {
		t.Fatalf("the loop ended with %s", st.Err)
	}
}

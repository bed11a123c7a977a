package notify_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/notify/smtptest"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)} }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func exec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if _, err := d.Exec(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}

func setup(t *testing.T, d *db.DB, c *clock) *seal.Sealer {
	t.Helper()
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), c.Now())
	if err != nil {
		t.Fatal(err)
	}
	sl := seal.NewSealer(d, kek, c.Now)
	if err := sl.EnsureKeys(context.Background(), []string{seal.PatientSubject("pat-1")}); err != nil {
		t.Fatal(err)
	}
	// Two accounts of pat-1 (one with an address), one of another patient
	// and a disabled one of pat-1.
	exec(t, d, `INSERT INTO users (id, username, display_name, role, patient_id, email, created_at) VALUES ('u-a', 'a', 'A', 'patient', 'pat-1', 'marisol@example.org', 1)`)
	exec(t, d, `INSERT INTO users (id, username, display_name, role, patient_id, created_at) VALUES ('u-b', 'b', 'B', 'patient', 'pat-1', 1)`)
	exec(t, d, `INSERT INTO users (id, username, display_name, role, patient_id, email, created_at) VALUES ('u-c', 'c', 'C', 'patient', 'pat-2', 'other@example.org', 1)`)
	exec(t, d, `INSERT INTO users (id, username, display_name, role, patient_id, email, created_at, disabled_at) VALUES ('u-d', 'd', 'D', 'patient', 'pat-1', 'gone@example.org', 1, 2)`)
	return sl
}

// A notice reaches every active account of the patient in the portal; the
// one with an address gets an email over real SMTP on loopback that says
// nothing about the record.
func TestNoticeInPortalAndByEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		sl := setup(t, d, c)
		mail := smtptest.Start(t)
		svc := notify.New(d, sl, &notify.SMTP{Addr: mail.Addr, From: "privacy@riverside.example"}, c.Now, quiet(),
			notify.Options{Org: "Riverside General Hospital", PortalURL: "https://portal.riverside.example/portal"})
		defer svc.Close()
		n, err := svc.ToPatient(ctx, "pat-1", seal.PatientSubject("pat-1"), notify.KindBreakGlass,
			"Emergency access to your record", "Dr Luc Moreau (clinician) opened your record in an emergency.")
		if err != nil || n != 2 {
			t.Fatalf("notified %d accounts: %v", n, err)
		}
		select {
		case <-mail.Wait():
		case <-time.After(10 * time.Second):
			t.Fatal("no email arrived")
		}
		msgs := mail.Messages()
		if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "marisol@example.org" || msgs[0].From != "privacy@riverside.example" {
			t.Fatalf("mail received: %+v", msgs)
		}
		body := msgs[0].Data
		for _, leak := range []string{"Luc", "Moreau", "emergency", "Emergency"} {
			if strings.Contains(body, leak) {
				t.Fatalf("the email carries %q:\n%s", leak, body)
			}
		}
		if !strings.Contains(body, "Subject: A new notice about your record at Riverside General Hospital") || !strings.Contains(body, "https://portal.riverside.example/portal") {
			t.Fatalf("email:\n%s", body)
		}
		for _, u := range []string{"u-a", "u-b"} {
			ns, err := svc.ForUser(ctx, u)
			if err != nil || len(ns) != 1 || ns[0].Title != "Emergency access to your record" || !strings.Contains(ns[0].Body, "Luc Moreau") || ns[0].Read {
				t.Fatalf("%s notices: %+v %v", u, ns, err)
			}
		}
		if ns, _ := svc.ForUser(ctx, "u-c"); len(ns) != 0 {
			t.Fatal("another patient's account was notified")
		}
		if ns, _ := svc.ForUser(ctx, "u-d"); len(ns) != 0 {
			t.Fatal("a disabled account was notified")
		}
		// The text is sealed in the store.
		var raw []byte
		if err := d.QueryRow(ctx, `SELECT message FROM notifications WHERE user_id = 'u-a'`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "Moreau") {
			t.Fatal("the notice is stored in clear")
		}
		if err := svc.MarkRead(ctx, "u-a"); err != nil {
			t.Fatal(err)
		}
		// The server has the mail; the sender records it as sent a moment later.
		deadline := time.Now().Add(10 * time.Second)
		for {
			ns, _ := svc.ForUser(ctx, "u-a")
			if ns[0].Read && ns[0].Email == "sent" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after reading: %+v", ns[0])
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Shredding the patient takes the notices with it.
		if err := sl.Shred(ctx, seal.PatientSubject("pat-1")); err != nil {
			t.Fatal(err)
		}
		if ns, err := svc.ForUser(ctx, "u-a"); err != nil || len(ns) != 0 {
			t.Fatalf("after shredding: %+v %v", ns, err)
		}
	})
}

// A mail server that refuses is retried with growing delays; after the
// last retry the email is marked failed and the notice stays readable.
func TestEmailRetriedThenFailed(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)
	c := newClock()
	sl := setup(t, d, c)
	mail := smtptest.Start(t)
	mail.Refuse(true)
	svc := notify.New(d, sl, &notify.SMTP{Addr: mail.Addr, From: "privacy@riverside.example"}, c.Now, quiet(),
		notify.Options{Retry: []time.Duration{time.Minute, 10 * time.Minute}, Manual: true})
	defer svc.Close()
	if _, err := svc.ToPatient(ctx, "pat-1", seal.PatientSubject("pat-1"), notify.KindReportOutcome, "Your report was answered", "The access was appropriate."); err != nil {
		t.Fatal(err)
	}
	state := func() (string, int) {
		var s string
		var n int
		if err := d.QueryRow(ctx, `SELECT email_state, email_attempts FROM notifications WHERE user_id = 'u-a'`).Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		return s, n
	}
	deliver := func() int {
		n, err := svc.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if deliver() != 0 {
		t.Fatal("sent to a refusing server")
	}
	if s, n := state(); s != "pending" || n != 1 {
		t.Fatalf("after one refusal: %s %d", s, n)
	}
	if deliver(); true {
		if _, n := state(); n != 1 {
			t.Fatal("retried before the delay")
		}
	}
	c.Add(time.Minute)
	deliver()
	if s, n := state(); s != "pending" || n != 2 {
		t.Fatalf("after two refusals: %s %d", s, n)
	}
	c.Add(10 * time.Minute)
	deliver()
	if s, n := state(); s != "failed" || n != 3 {
		t.Fatalf("after three refusals: %s %d", s, n)
	}
	// A working server later does not resurrect a failed email, and the
	// notice is still in the portal.
	mail.Refuse(false)
	c.Add(time.Hour)
	if deliver() != 0 {
		t.Fatal("a failed email was sent")
	}
	if ns, _ := svc.ForUser(ctx, "u-a"); len(ns) != 1 || ns[0].Email != "failed" {
		t.Fatalf("notices: %+v", ns)
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []string{"", "not an address", "a@", strings.Repeat("a", 250) + "@example.org"} {
		if _, err := notify.ValidEmail(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if a, err := notify.ValidEmail(" Marisol <marisol@example.org> "); err != nil || a != "marisol@example.org" {
		t.Errorf("got %q %v", a, err)
	}
	m := &notify.SMTP{Addr: "127.0.0.1:1", From: "x@example.org"}
	if err := m.Send(context.Background(), "a@example.org\r\nBcc: evil@example.org", "s", "b"); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("header injection: %v", err)
	}
	d := dbtest.SQLite(t)
	c := newClock()
	sl := setup(t, d, c)
	svc := notify.New(d, sl, nil, c.Now, quiet(), notify.Options{Manual: true})
	defer svc.Close()
	if _, err := svc.ToPatient(context.Background(), "pat-1", seal.PatientSubject("pat-1"), notify.KindSecurity, "", "x"); err == nil {
		t.Error("a notice without a title was accepted")
	}
	if n, err := svc.ToPatient(context.Background(), "pat-1", seal.PatientSubject("pat-1"), notify.KindSecurity, "t", "b"); err != nil || n != 2 {
		t.Errorf("without a mailer: %d %v", n, err)
	}
	var pending int
	d.QueryRow(context.Background(), `SELECT COUNT(*) FROM notifications WHERE email_state <> 'none'`).Scan(&pending)
	if pending != 0 {
		t.Error("emails queued without a mailer")
	}
}

// A staff member's email sends them to their account page, not to the
// patient portal, and still says nothing of the notice.
func TestStaffEmailPointsToTheAccountPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		sl := setup(t, d, c)
		exec(t, d, `INSERT INTO users (id, username, display_name, role, email, created_at) VALUES ('u-n', 'nurse.n', 'N', 'nurse', 'n@riverside.example', 1)`)
		mail := smtptest.Start(t)
		svc := notify.New(d, sl, &notify.SMTP{Addr: mail.Addr, From: "privacy@riverside.example"}, c.Now, quiet(),
			notify.Options{Org: "Riverside General Hospital", PortalURL: "https://trust.riverside.example/portal"})
		defer svc.Close()
		if n, err := svc.ToUser(ctx, "u-n", "staff/u-n", notify.KindNewSignIn, "New sign-in", "Firefox on Windows at 10.1.2.3"); err != nil || n != 1 {
			t.Fatalf("ToUser = %d, %v", n, err)
		}
		select {
		case <-mail.Wait():
		case <-time.After(10 * time.Second):
			t.Fatal("no email arrived")
		}
		body := mail.Messages()[0].Data
		if !strings.Contains(body, "Subject: A new notice about your account at Riverside General Hospital") ||
			!strings.Contains(body, "https://trust.riverside.example/console/account") || strings.Contains(body, "patient portal") {
			t.Fatalf("staff email:\n%s", body)
		}
		if strings.Contains(body, "Firefox") || strings.Contains(body, "10.1.2.3") {
			t.Fatalf("the email carries the notice:\n%s", body)
		}
	})
}

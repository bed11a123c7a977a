// Package notify owns telling people what happened to them: notices to a
// patient's accounts about their record (an emergency access, the outcome
// of their report), shown in the portal and announced by email through an
// SMTP server when the account has an address. A notice's text is sealed
// under the patient's key; the email says only that there is a notice to
// read, so that no patient data travels by email (decision 0019). Email is
// delivered from an outbox in the store by a background sender that
// retries with growing delays, so a mail server outage loses nothing and
// never slows the care path.
package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Kinds of notice.
const (
	KindBreakGlass    = "break-glass"
	KindReportOutcome = "report-outcome"
	KindNewSignIn     = "new-sign-in"
	KindSecurity      = "security"
	// KindPrivacyWarning tells a staff member that an access of theirs is
	// being reviewed by the privacy office.
	KindPrivacyWarning = "privacy-warning"
)

// Sealer encrypts under a subject's key (seal.Sealer).
type Sealer interface {
	Seal(ctx context.Context, subject, record string, plain []byte) ([]byte, error)
	Open(ctx context.Context, subject, record string, sealed []byte) ([]byte, error)
}

// Mailer sends one email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Notice is one notice as its reader sees it.
type Notice struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
	Read    bool      `json:"read"`
	// Email is none, pending, sent or failed.
	Email string `json:"email"`
}

// Options tune the service; zero values take the defaults.
type Options struct {
	// Org names the organisation in emails.
	Org string
	// PortalURL is where the email sends people to read the notice.
	PortalURL string
	// Retry are the delays between delivery attempts (default 1 m, 5 m,
	// 30 m, 2 h, 6 h); after the last the email is marked failed.
	Retry []time.Duration
	// Poll is how often the outbox is checked (default 5 s).
	Poll time.Duration
	// Manual runs no background sender: the caller calls Deliver.
	Manual bool
}

// Service stores notices and delivers their emails.
type Service struct {
	db     *db.DB
	sealer Sealer
	mailer Mailer
	clock  func() time.Time
	log    *slog.Logger
	opts   Options

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// New starts the service; mailer nil means in-app notices only. Close
// stops the sender.
func New(d *db.DB, sealer Sealer, mailer Mailer, clock func() time.Time, log *slog.Logger, opts Options) *Service {
	if len(opts.Retry) == 0 {
		opts.Retry = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Org == "" {
		opts.Org = "your care organisation"
	}
	s := &Service{db: d, sealer: sealer, mailer: mailer, clock: clock, log: log, opts: opts,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts.Manual {
		close(s.stopped)
	} else {
		go s.run()
	}
	return s
}

// Close stops the sender after the delivery in progress.
func (s *Service) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.stopped
	})

}

type message struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

const maxText = 4000

// ToPatient gives a notice to every active account of the patient, sealed
// under subject (the patient's key subject). A patient without an account
// gets none, which is not an error.
func (s *Service) ToPatient(ctx context.Context, patientID, subject, kind, title, body string) (int, error) {
	return s.give(ctx, `SELECT id, email FROM users WHERE patient_id = $1 AND disabled_at IS NULL`, patientID, subject, kind, title, body)
}

// ToUser gives a notice to one active account, named by its id or its
// user name (feeds from other systems name users by login), sealed under
// subject. An unknown or disabled account gets none, which is not an
// error.
func (s *Service) ToUser(ctx context.Context, user, subject, kind, title, body string) (int, error) {
	return s.give(ctx, `SELECT id, email FROM users WHERE (id = $1 OR username = $1) AND disabled_at IS NULL`, user, subject, kind, title, body)
}

// give stores the notice for every account the query finds.
func (s *Service) give(ctx context.Context, query, arg, subject, kind, title, body string) (int, error) {
	title, body = strings.TrimSpace(title), strings.TrimSpace(body)
	if title == "" || len(title) > 200 || len(body) > maxText {
		return 0, fault.New(fault.Invalid, "a notice needs a title of at most 200 bytes and a body of at most %d", maxText)
	}
	rows, err := s.db.Query(ctx, query, arg)
	if err != nil {
		return 0, err
	}
	type account struct {
		id    string
		email *string
	}
	var accounts []account
	for rows.Next() {
		var a account
		if err := rows.Scan(&a.id, &a.email); err != nil {
			rows.Close()
			return 0, db.Translate(err)
		}
		accounts = append(accounts, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, db.Translate(err)
	}
	if len(accounts) == 0 {
		return 0, nil
	}
	plain, _ := json.Marshal(message{Title: title, Body: body})
	now := s.clock().UnixMicro()
	// Sealed before the transaction: sealing may create the subject's data
	// key, which needs the store's writer.
	ids := make([]string, len(accounts))
	sealed := make([][]byte, len(accounts))
	for i := range accounts {
		ids[i] = newID()
		if sealed[i], err = s.sealer.Seal(ctx, subject, "Notice/"+ids[i], plain); err != nil {
			return 0, err
		}
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for i, a := range accounts {
			id, sealed := ids[i], sealed[i]
			state, next := "none", any(nil)
			if a.email != nil && *a.email != "" && s.mailer != nil {
				state, next = "pending", now
			}
			if _, err := tx.Exec(ctx, `INSERT INTO notifications (id, user_id, subject_key, kind, message, created_at, email_state, email_next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				id, a.id, subject, kind, sealed, now, state, next); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.Wake()
	return len(accounts), nil
}

// Wake asks the sender to look at the outbox now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// ForUser lists a user's notices, newest first (at most 100).
func (s *Service) ForUser(ctx context.Context, userID string) ([]Notice, error) {
	rows, err := s.db.Query(ctx, `SELECT id, subject_key, kind, message, created_at, read_at, email_state FROM notifications WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var subject string
		var sealed []byte
		var created int64
		var read *int64
		if err := rows.Scan(&n.ID, &subject, &n.Kind, &sealed, &created, &read, &n.Email); err != nil {
			return nil, db.Translate(err)
		}
		plain, err := s.sealer.Open(ctx, subject, "Notice/"+n.ID, sealed)
		if err != nil {
			continue // the patient's key was destroyed: the notice is gone with it
		}
		var m message
		if err := json.Unmarshal(plain, &m); err != nil {
			return nil, fault.Wrap(fault.Internal, err, "a stored notice is not readable")
		}
		n.Title, n.Body, n.Created, n.Read = m.Title, m.Body, time.UnixMicro(created).UTC(), read != nil
		out = append(out, n)
	}
	return out, db.Translate(rows.Err())
}

// MarkRead marks every notice of the user read.
func (s *Service) MarkRead(ctx context.Context, userID string) error {
	_, err := s.db.Exec(ctx, `UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL`, userID, s.clock().UnixMicro())
	return err
}

func (s *Service) run() {
	defer close(s.stopped)
	for {
		if s.mailer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := s.Deliver(ctx); err != nil {
				s.log.Error("delivering notification emails", "err", err)
			}
			cancel()
		}
		t := time.NewTimer(s.opts.Poll)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Deliver sends the emails that are due and returns how many were sent.
// A failure is retried after the next delay of Options.Retry; after the
// last one the email is marked failed (the notice stays in the portal).
func (s *Service) Deliver(ctx context.Context) (int, error) {
	if s.mailer == nil {
		return 0, nil
	}
	now := s.clock().UnixMicro()
	rows, err := s.db.Query(ctx, `SELECT n.id, n.email_attempts, u.email, u.role FROM notifications n JOIN users u ON u.id = n.user_id
WHERE n.email_state = 'pending' AND n.email_next_at <= $1 ORDER BY n.email_next_at LIMIT 50`, now)
	if err != nil {
		return 0, err
	}
	type due struct {
		id       string
		attempts int
		to       *string
		role     string
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.attempts, &d.to, &d.role); err != nil {
			rows.Close()
			return 0, db.Translate(err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, db.Translate(err)
	}
	sent := 0
	for _, d := range list {
		if d.to == nil || *d.to == "" {
			if _, err := s.db.Exec(ctx, `UPDATE notifications SET email_state = 'none' WHERE id = $1`, d.id); err != nil {
				return sent, err
			}
			continue
		}
		subject := "A new notice about your record at " + s.opts.Org
		body := fmt.Sprintf("Hello,\r\n\r\nThere is a new notice for you in the patient portal of %s.\r\nFor your privacy this email does not say what it is about.\r\nSign in to read it: %s\r\n\r\nIf you did not expect this, you can still read it there; never share your password or codes with anyone who asks by email.\r\n",
			s.opts.Org, s.opts.PortalURL)
		if d.role != "patient" {
			// Staff read their notices on their account page, not in
			// the patient portal.
			subject = "A new notice about your account at " + s.opts.Org
			body = fmt.Sprintf("Hello,\r\n\r\nThere is a new notice for you in Trustward at %s.\r\nThis email does not say what it is about.\r\nSign in to read it: %s\r\n\r\nIf you did not expect this, you can still read it there; never share your password or codes with anyone who asks by email.\r\n",
				s.opts.Org, strings.TrimSuffix(s.opts.PortalURL, "/portal")+"/console/account")
		}
		err := s.mailer.Send(ctx, *d.to, subject, body)
		at := s.clock().UnixMicro()
		switch {
		case err == nil:
			sent++
			_, err = s.db.Exec(ctx, `UPDATE notifications SET email_state = 'sent', email_attempts = email_attempts + 1, email_error = NULL WHERE id = $1`, d.id)
		case d.attempts >= len(s.opts.Retry):
			s.log.Warn("a notification email could not be delivered; giving up", "notice", d.id, "err", err)
			_, err = s.db.Exec(ctx, `UPDATE notifications SET email_state = 'failed', email_attempts = email_attempts + 1, email_error = $2 WHERE id = $1`, d.id, trim(err.Error()))
		default:
			s.log.Warn("a notification email could not be delivered; will retry", "notice", d.id, "err", err)
			next := at + s.opts.Retry[d.attempts].Microseconds()
			_, err = s.db.Exec(ctx, `UPDATE notifications SET email_attempts = email_attempts + 1, email_next_at = $2, email_error = $3 WHERE id = $1`, d.id, next, trim(err.Error()))
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func trim(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "nt-" + hex.EncodeToString(b)
}

// ValidEmail checks an address as a person would type it, at most 254
// bytes, and returns it normalised ("Name <a@b>" becomes "a@b").
func ValidEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || len(a.Address) > 254 || !strings.Contains(a.Address, "@") {
		return "", fault.InvalidField("email", "%q is not an email address such as name@example.org", s)
	}
	return a.Address, nil
}

// SMTP sends mail through an SMTP server: STARTTLS when the server offers
// it (required when a password is set, unless the server is on loopback),
// AUTH PLAIN when a username is set.
type SMTP struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
	Timeout  time.Duration
}

// Send sends one plain-text email.
func (m *SMTP) Send(ctx context.Context, to, subject, body string) error {
	if strings.ContainsAny(to+subject+m.From, "\r\n") {
		return fault.New(fault.Invalid, "an email header may not contain a line break")
	}
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return fault.Wrap(fault.Invalid, err, "the SMTP address %q is not host:port", m.Addr)
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "cannot reach the mail server")
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fault.Wrap(fault.Unavailable, err, "the mail server did not greet")
	}
	defer c.Close()
	if err := c.Hello("trustward"); err != nil {
		return fault.Wrap(fault.Unavailable, err, "EHLO")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fault.Wrap(fault.Unavailable, err, "STARTTLS")
		}
	}
	if m.Username != "" {
		// net/smtp's PlainAuth refuses to send a password without TLS
		// except to localhost.
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fault.Wrap(fault.Unavailable, err, "SMTP authentication")
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fault.Wrap(fault.Unavailable, err, "MAIL FROM")
	}
	if err := c.Rcpt(to); err != nil {
		return fault.Wrap(fault.Unavailable, err, "RCPT TO")
	}
	w, err := c.Data()
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "DATA")
	}
	msg := "From: " + m.From + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n" + body
	if _, err := w.Write([]byte(msg)); err != nil {
		return fault.Wrap(fault.Unavailable, err, "writing the message")
	}
	if err := w.Close(); err != nil {
		return fault.Wrap(fault.Unavailable, err, "the mail server refused the message")
	}
	return c.Quit()
}

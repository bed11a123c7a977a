package notify_test

import (
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/notify/smtptest"
)

// A one-time link goes out at once over real SMTP, in the background; a
// refusing server loses it (it is never stored) without failing the
// caller; without a mail server nothing is sent.
func TestLinkMailer(t *testing.T) {
	mail := smtptest.Start(t)
	l := notify.NewLinkMailer(&notify.SMTP{Addr: mail.Addr, From: "no-reply@riverside.example"}, quiet())
	if !l.Enabled() {
		t.Fatal("a link mailer with a mail server is not enabled")
	}
	if !l.Send("marisol@example.org", "Recover your account", "Open https://portal.example/recover/abc once.\r\n") {
		t.Fatal("send not started")
	}
	l.Close()
	m := mail.Messages()
	if len(m) != 1 || m[0].To[0] != "marisol@example.org" || !strings.Contains(m[0].Data, "Subject: Recover your account") || !strings.Contains(m[0].Data, "https://portal.example/recover/abc") {
		t.Fatalf("messages: %+v", m)
	}
	mail.Refuse(true)
	if !l.Send("marisol@example.org", "Recover your account", "second") {
		t.Fatal("send not started")
	}
	l.Close()
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("%d messages after a refused one, want 1", n)
	}
	// A header with a line break is refused before it reaches the server.
	mail.Refuse(false)
	l.Send("marisol@example.org\r\nBcc: x@evil.example", "Recover", "x")
	l.Close()
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("a header injection was sent: %d messages", n)
	}
	off := notify.NewLinkMailer(nil, quiet())
	if off.Enabled() || off.Send("a@example.org", "s", "b") {
		t.Error("a link mailer without a mail server sent")
	}
	off.Close()
}

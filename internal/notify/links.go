package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LinkMailer sends emails that carry a one-time secret, such as an
// account-recovery link (decision 0039). They do not go through the
// outbox: a stored message would keep a live secret in the clear in the
// store, and a link that arrives after hours of retries has expired
// anyway; the person asks again. Each email is sent in the background, so
// that the request that asked for it answers in the same time whether or
// not there was anything to send. Such an email still carries no patient
// data (decision 0019): only the organisation's name and the link.
type LinkMailer struct {
	mailer Mailer
	log    *slog.Logger
	// slots bounds the emails in flight; past it a send is dropped (and
	// logged): the per-account limit of the caller makes that rare.
	slots chan struct{}
	wg    sync.WaitGroup
	// timeout bounds one delivery.
	timeout time.Duration
}

// maxLinksInFlight bounds LinkMailer's background sends.
const maxLinksInFlight = 64

// NewLinkMailer returns a sender over mailer (nil: none is configured,
// and Enabled is false).
func NewLinkMailer(mailer Mailer, log *slog.Logger) *LinkMailer {
	return &LinkMailer{mailer: mailer, log: log, slots: make(chan struct{}, maxLinksInFlight), timeout: time.Minute}
}

// Enabled reports whether emails can be sent at all.
func (l *LinkMailer) Enabled() bool { return l != nil && l.mailer != nil }

// Send emails body to to in the background and reports whether the send
// was started. The body is never stored or logged.
func (l *LinkMailer) Send(to, subject, body string) bool {
	if !l.Enabled() {
		return false
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.log.Warn("a one-time link email was dropped: too many in flight")
		return false
	}
	l.wg.Add(1)
	go func() {
		defer func() { <-l.slots; l.wg.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		if err := l.mailer.Send(ctx, to, subject, body); err != nil {
			l.log.Warn("a one-time link email could not be delivered", "err", err)
		}
	}()
	return true
}

// Close waits for the sends in flight.
func (l *LinkMailer) Close() {
	if l != nil {
		l.wg.Wait()
	}
}

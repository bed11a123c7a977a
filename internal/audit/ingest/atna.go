package ingest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

// ATNASource is the counters' name of events received over ATNA syslog.
const ATNASource = "atna"

// ATNAOptions configure the ATNA syslog listener.
type ATNAOptions struct {
	// Addr is the TCP listen address ("0.0.0.0:6514").
	Addr string
	// TLS, when set, makes the listener speak TLS (RFC 5425).
	TLS *tls.Config
	// MaxFrame bounds one syslog frame; default 1 MiB.
	MaxFrame int
	// IdleTimeout closes a connection silent for this long; default 5 min.
	IdleTimeout time.Duration
	// FlushInterval bounds how long a received event waits to be stored;
	// default 200 ms.
	FlushInterval time.Duration
}

// ATNATLSConfig loads a TLS server configuration from PEM files; with a
// client CA, client certificates signed by it are required (IHE ATNA's
// mutual authentication).
func ATNATLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("ATNA TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("ATNA client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ATNA client CA %s holds no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ATNAListener receives IHE ATNA audit messages over syslog and stores
// them. Close stops it and stores what was received.
type ATNAListener struct {
	in   *Ingester
	opt  ATNAOptions
	ln   net.Listener
	evs  chan audit.Prepared
	done chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	writer sync.WaitGroup
}

// ListenATNA binds the listener and starts serving in the background.
func (in *Ingester) ListenATNA(opt ATNAOptions) (*ATNAListener, error) {
	if opt.MaxFrame <= 0 {
		opt.MaxFrame = MaxDICOMMessage + 4096
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 5 * time.Minute
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = 200 * time.Millisecond
	}
	ln, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("ATNA listen on %s: %w", opt.Addr, err)
	}
	l := &ATNAListener{in: in, opt: opt, ln: ln, evs: make(chan audit.Prepared, 4096),
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	l.writer.Add(1)
	go l.store()
	l.wg.Add(1)
	go l.accept()
	in.log.Info("ATNA syslog listener started", "addr", ln.Addr().String(), "tls", opt.TLS != nil,
		"client_certificates", opt.TLS != nil && opt.TLS.ClientAuth == tls.RequireAndVerifyClientCert)
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *ATNAListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, ends open connections, stores the events already
// received and returns.
func (l *ATNAListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.ln.Close()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	close(l.evs)
	l.writer.Wait()
	return err
}

func (l *ATNAListener) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.in.log.Warn("ATNA accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			l.serve(c)
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			c.Close()
		}()
	}
}

// serve reads frames from one connection until it ends or its framing is
// lost. Bad frames are counted and logged (by number, never content).
func (l *ATNAListener) serve(c net.Conn) {
	remote := c.RemoteAddr().String()
	counters := l.in.counters
	if l.opt.TLS != nil {
		tc := tls.Server(c, l.opt.TLS)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(context.Background()); err != nil {
			counters.Reject(ATNASource, ReasonTLSRefused, 1)
			l.in.log.Warn("ATNA TLS handshake refused", "remote", remote, "err", err)
			return
		}
		c.SetDeadline(time.Time{})
		c = tc
	}
	br := bufio.NewReaderSize(c, 64<<10)
	for frame := 1; ; frame++ {
		c.SetReadDeadline(time.Now().Add(l.opt.IdleTimeout))
		msg, err := ReadFrame(br, l.opt.MaxFrame)
		var fe *frameError
		switch {
		case err == nil:
		case errors.As(err, &fe):
			counters.Reject(ATNASource, ReasonBadFrame, 1)
			l.in.log.Warn("ATNA frame skipped", "remote", remote, "frame", frame, "reason", fe.msg)
			continue
		case errors.Is(err, errFramingLost):
			counters.Reject(ATNASource, ReasonBadFrame, 1)
			l.in.log.Warn("ATNA connection closed: framing lost", "remote", remote, "frame", frame, "reason", err.Error())
			return
		default:
			// EOF, a timeout or Close: the connection is over.
			return
		}
		ev, reason, err := l.decode(msg)
		if err != nil {
			counters.Reject(ATNASource, reason, 1)
			l.in.log.Warn("ATNA message rejected", "remote", remote, "frame", frame, "reason", string(reason), "detail", fault.Message(err))
			continue
		}
		p, err := l.in.store.Prepare(context.Background(), ev)
		if err != nil {
			counters.Reject(ATNASource, ReasonInvalidEvent, 1)
			l.in.log.Warn("ATNA message rejected", "remote", remote, "frame", frame, "detail", fault.Message(err))
			continue
		}
		l.evs <- p
	}
}

// decode turns one syslog message into an event, or a reason it cannot.
func (l *ATNAListener) decode(msg []byte) (audit.Event, Reason, error) {
	_, body, err := ParseSyslog(msg)
	if err != nil {
		return audit.Event{}, ReasonBadHeader, err
	}
	ev, err := EventFromDICOM(ATNASource, body)
	if err != nil {
		if errors.Is(err, errNotXML) {
			return ev, ReasonInvalidXML, err
		}
		return ev, problemOf(0, dicomReason(err)).Reason, err
	}
	if err := checkIngested(ev); err != nil {
		return ev, ReasonNoPatient, err
	}
	return ev, "", nil
}

// dicomReason gives DICOM field errors the FHIR paths problemOf knows.
func dicomReason(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		switch {
		case fe.Field == "EventIdentification@EventDateTime":
			return fault.InvalidField("AuditEvent.recorded", "%s", fe.Msg)
		case len(fe.Field) >= 17 && fe.Field[:17] == "ActiveParticipant":
			return fault.InvalidField("AuditEvent.agent", "%s", fe.Msg)
		}
	}
	return err
}

// store writes received events in batches: when 1024 are waiting or the
// flush interval has passed.
func (l *ATNAListener) store() {
	defer l.writer.Done()
	batch := make([]audit.Prepared, 0, 1024)
	tick := time.NewTicker(l.opt.FlushInterval)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := l.in.store.StoreNew(ctx, batch)
		cancel()
		if err != nil {
			// Syslog has no acknowledgement to withhold; the loss is
			// counted and logged so that it can be resent from the source.
			l.in.counters.Reject(ATNASource, ReasonStoreFailed, len(batch))
			l.in.log.Error("ATNA events could not be stored", "events", len(batch), "err", err)
		} else {
			l.in.counters.Add(ATNASource, n, len(batch)-n)
		}
		batch = batch[:0]
	}
	for {
		select {
		case p, ok := <-l.evs:
			if !ok {
				flush()
				return
			}
			batch = append(batch, p)
			if len(batch) >= 1024 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

package ingest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
)

func dicomMessage(t testing.TB, patient, when string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/dicom_access.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "MRN100234", patient, 1)
	return strings.Replace(s, "2026-03-02T08:15:02.123-06:00", when, 1)
}

func syslogMsg(body string) string {
	return "<85>1 2026-03-02T14:15:02.123Z ehr01.example ehr 4242 IHE+RFC-3881 - \xef\xbb\xbf" + body
}

func frame(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

func rejected(snap []ingest.SourceCount, reason ingest.Reason) int64 {
	for _, s := range snap {
		for _, r := range s.ByReason {
			if s.Source == ingest.ATNASource && r.Reason == reason {
				return r.Count
			}
		}
	}
	return 0
}

func accepted(snap []ingest.SourceCount) (int64, int64) {
	for _, s := range snap {
		if s.Source == ingest.ATNASource {
			return s.Accepted, s.Duplicates
		}
	}
	return 0, 0
}

// sendATNA writes a stream and waits for the server to close it or for
// the reader to see nothing more.
func sendATNA(t *testing.T, c net.Conn, stream string) {
	t.Helper()
	if _, err := io.WriteString(c, stream); err != nil {
		t.Fatal(err)
	}
}

func TestATNAOverTCP(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		l, err := e.in.ListenATNA(ingest.ATNAOptions{Addr: "127.0.0.1:0", MaxFrame: 8192, FlushInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		good1 := frame(syslogMsg(dicomMessage(t, "MRN1", "2026-03-02T08:15:02.123-06:00")))
		good2 := frame(syslogMsg(dicomMessage(t, "MRN2", "2026-03-02T08:16:00Z")))
		good3 := frame(syslogMsg(dicomMessage(t, "MRN3", "2026-03-02T08:17:00Z")))
		tooLong := fmt.Sprintf("9000 %s", strings.Repeat("x", 9000))
		badHeader := frame("<999>1 - - - - - - hello")
		notXML := frame(syslogMsg("<AuditMessage><EventIdentification></AuditMessage>"))
		noPatient := frame(syslogMsg(strings.Replace(dicomMessage(t, "MRN9", "2026-03-02T08:18:00Z"), `ParticipantObjectTypeCodeRole="1"`, `ParticipantObjectTypeCodeRole="3"`, 1)))
		badDate := frame(syslogMsg(dicomMessage(t, "MRN9", "yesterday")))
		// Good frames around every kind of bad frame that keeps framing,
		// a repeat of the first, then a length that is not a number: the
		// server must close the connection, and the last frame is lost.
		stream := good1 + tooLong + badHeader + good2 + notXML + noPatient + badDate + good1 + good3 + "12x4 " + good2
		sendATNA(t, c, stream)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after lost framing the server should close; read: %v", err)
		}
		// A second connection still works.
		c2, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sendATNA(t, c2, frame(syslogMsg(dicomMessage(t, "MRN4", "2026-03-02T08:19:00Z"))))
		c2.Close()
		waitFor(t, func() bool { a, _ := accepted(e.in.Counters().Snapshot()); return a == 4 })
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		snap := e.in.Counters().Snapshot()
		a, dups := accepted(snap)
		if a != 4 || dups != 1 {
			t.Fatalf("accepted %d, duplicates %d; want 4, 1", a, dups)
		}
		for reason, want := range map[ingest.Reason]int64{
			ingest.ReasonBadFrame: 2, ingest.ReasonBadHeader: 1, ingest.ReasonInvalidXML: 1,
			ingest.ReasonNoPatient: 1, ingest.ReasonInvalidDate: 1,
		} {
			if got := rejected(snap, reason); got != want {
				t.Errorf("rejected for %s = %d, want %d (%+v)", reason, got, want, snap)
			}
		}
		got, err := e.store.Events(t.Context(), audit.Query{PatientID: "MRN1"})
		if err != nil || len(got) != 1 {
			t.Fatalf("MRN1 events = %d, %v", len(got), err)
		}
		ev := got[0].Event
		if ev.Actor.UserID != "jdoe" || ev.Actor.Role != "Physician" || ev.Action != "R" || ev.Purpose != "TREAT" ||
			ev.Source != "ehr01" || ev.NetworkAddress != "10.1.2.3" || !ev.Time.Equal(time.Date(2026, 3, 2, 14, 15, 2, 123e6, time.UTC)) ||
			!strings.HasPrefix(ev.ID, "atna-") {
			t.Fatalf("event = %+v", ev)
		}
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	clientCert                tls.Certificate
	strangerCert              tls.Certificate
	roots                     *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, key *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caKey := newKey()
	ca := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil, caKey)
	srvKey := newKey()
	srv := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey, srvKey)
	cliKey := newKey()
	cli := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "ehr01"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey, cliKey)
	strangerCAKey := newKey()
	strangerCA := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil, strangerCAKey)
	strKey := newKey()
	str := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "stranger"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, strangerCA, strangerCAKey, strKey)

	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := pki{dir: dir, roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	p.caFile = writePEM("ca.pem", "CERTIFICATE", ca.Raw)
	p.certFile = writePEM("server.pem", "CERTIFICATE", srv.Raw)
	p.keyFile = writePEM("server.key", "EC PRIVATE KEY", keyDER(srvKey))
	p.clientCert = tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}
	p.strangerCert = tls.Certificate{Certificate: [][]byte{str.Raw}, PrivateKey: strKey}
	return p
}

func TestATNAOverTLSWithClientCertificates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		p := newPKI(t)
		cfg, err := ingest.ATNATLSConfig(p.certFile, p.keyFile, p.caFile)
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.in.ListenATNA(ingest.ATNAOptions{Addr: "127.0.0.1:0", TLS: cfg, FlushInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		send := func(certs []tls.Certificate, patient string) error {
			cc := &tls.Config{RootCAs: p.roots, ServerName: "127.0.0.1"}
			if len(certs) > 0 {
				// Send the certificate even when the server's CA list does
				// not name its issuer, as a misconfigured client would.
				cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
			}
			c, err := tls.Dial("tcp", l.Addr().String(), cc)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := io.WriteString(c, frame(syslogMsg(dicomMessage(t, patient, "2026-03-02T08:15:02Z")))); err != nil {
				// The server may have sent its alert and closed before
				// the write: the alert is still there to be read.
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, rerr := c.Read(make([]byte, 1)); rerr != nil && strings.Contains(rerr.Error(), "remote error") {
					return rerr
				}
				return err
			}
			// In TLS 1.3 the server judges the client's certificate after
			// the client's handshake is done: a refusal shows on reading.
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Read(make([]byte, 1))
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := send([]tls.Certificate{p.clientCert}, "MRN-TLS"); err != nil {
			t.Fatalf("client with a certificate: %v", err)
		}
		if err := send(nil, "MRN-NOCERT"); err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Fatalf("client without a certificate: err = %v, want certificate required", err)
		}
		if err := send([]tls.Certificate{p.strangerCert}, "MRN-STRANGER"); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
			t.Fatalf("client with a certificate from another CA: err = %v", err)
		}
		waitFor(t, func() bool { a, _ := accepted(e.in.Counters().Snapshot()); return a == 1 })
		l.Close()
		snap := e.in.Counters().Snapshot()
		if got := rejected(snap, ingest.ReasonTLSRefused); got != 2 {
			t.Fatalf("TLS refusals counted = %d, want 2", got)
		}
		n, _ := e.store.Count(t.Context())
		if n != 1 {
			t.Fatalf("stored %d events, want 1", n)
		}
		got, _ := e.store.Events(t.Context(), audit.Query{PatientID: "MRN-TLS"})
		if len(got) != 1 {
			t.Fatal("the event sent with a client certificate was not stored")
		}
	})
}

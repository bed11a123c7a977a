package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/audit"
)

func seedFile(f *testing.F, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzNDJSONLine: every line either becomes a valid event or a problem
// with a reason and a detail; nothing panics.
func FuzzNDJSONLine(f *testing.F) {
	ev := audit.Event{V: 1, ID: "a1", Time: audit.Event{}.Time.AddDate(2025, 0, 0), Actor: audit.Actor{UserID: "u", Role: "r"},
		PatientID: "p", Action: "R", Outcome: "0", Source: "s"}
	good, err := ev.ToFHIR()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(good) + "\n\n" + `{"resourceType":"Patient"}` + "\r\n{")
	f.Add(`{"resourceType":"AuditEvent","id":"x","recorded":"2026-01-01T00:00:00Z","type":{},"agent":[{"who":{"reference":"Practitioner/1"}}],"source":{"observer":{"display":"s"}}}`)
	f.Add("\xff\n" + strings.Repeat("[", 100))
	f.Fuzz(func(t *testing.T, in string) {
		lines := 0
		err := scanLines(strings.NewReader(in), 4096, func(n int, line []byte, tooLong bool) error {
			if n <= lines {
				t.Fatalf("line numbers go back: %d after %d", n, lines)
			}
			lines = n
			if tooLong {
				return nil
			}
			if len(line) == 0 || len(line) > 4096+2 {
				t.Fatalf("line of %d bytes passed on", len(line))
			}
			ev, err := decodeAuditEvent(line)
			if err == nil {
				err = checkIngested(ev)
			}
			if err != nil {
				p := problemOf(n, err)
				if p.Reason == "" || p.Detail == "" || p.Line != n {
					t.Fatalf("problem %+v", p)
				}
				return nil
			}
			if verr := ev.Validate(); verr != nil {
				t.Fatalf("accepted an invalid event: %v", verr)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if lines > strings.Count(in, "\n")+1 {
			t.Fatalf("%d lines from %d line ends", lines, strings.Count(in, "\n"))
		}
	})
}

// FuzzMapping: a mapping is accepted only when complete; a fuzzed header
// and row then give an event that validates, or a problem.
func FuzzMapping(f *testing.F) {
	f.Add(string(seedFile(f, "testdata/ehr_mapping.json")), "Access Time,User ID,Patient MRN", "01/02/2026 01:02:03 PM,u,p")
	f.Add(`{"source":"x","delimiter":";","columns":{"user":"u","patient":"p","time":"t"},"time":{"layout":"RFC3339","zone":"Europe/Paris"}}`, "u;p;t", "a;b;2026-01-01T00:00:00Z")
	f.Add(`{"source":"x","columns":{"user":"u"}}`, "", "")
	f.Fuzz(func(t *testing.T, mapping, header, row string) {
		m, err := ParseMapping([]byte(mapping))
		if err != nil {
			return
		}
		if m.Columns.User == "" || m.Columns.Patient == "" || m.Columns.Time == "" || m.Time.Layout == "" || m.Time.loc == nil {
			t.Fatalf("incomplete mapping accepted: %+v", m)
		}
		comma, _ := utf8.DecodeRuneInString(m.Delimiter)
		cols, err := m.resolve(strings.Split(header, string(comma)))
		if err != nil {
			return
		}
		rowEventChecked(t, &m, cols, strings.Split(row, string(comma)))
	})
}

func rowEventChecked(t *testing.T, m *Mapping, cols csvColumns, rec []string) {
	ev, prob := m.rowEvent(cols, rec)
	if prob != nil {
		if prob.Reason == "" || prob.Detail == "" {
			t.Fatalf("problem without reason: %+v", prob)
		}
		return
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("row gave an invalid event: %v", err)
	}
	if ev.PatientID == "" || ev.Actor.UserID == "" {
		t.Fatalf("row gave an event without patient or user: %+v", ev)
	}
}

// FuzzCSVRows reads fuzzed CSV through the example mapping.
func FuzzCSVRows(f *testing.F) {
	f.Add(string(seedFile(f, "testdata/ehr_access.csv")))
	f.Add("Access Log ID,Access Time,User ID,User Name,User Role,Login Department,Workstation,Patient MRN,Action,Access Reason\n\"x,\"\"\n,,,\n")
	m, err := ParseMapping(seedFile(f, "testdata/ehr_mapping.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cr := csv.NewReader(strings.NewReader(in))
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil {
			return
		}
		cols, err := m.resolve(header)
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				continue
			}
			rowEventChecked(t, &m, cols, rec)
		}
	})
}

// FuzzReadFrame: frames never claim more bytes than were sent, and a
// stream ends in EOF, lost framing, or more frames.
func FuzzReadFrame(f *testing.F) {
	f.Add("5 hello3 abc")
	f.Add("012 x")
	f.Add("99999999999 x")
	f.Add("20 short")
	f.Add("7 toolong5 hello")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReader(strings.NewReader(in))
		total := 0
		for i := 0; i < 10000; i++ {
			msg, err := ReadFrame(br, 6)
			var fe *frameError
			switch {
			case err == nil:
				if len(msg) > 6 {
					t.Fatalf("frame of %d bytes above the limit", len(msg))
				}
				total += len(msg)
				if total > len(in) {
					t.Fatalf("read %d bytes of frames from %d", total, len(in))
				}
			case errors.As(err, &fe):
			case err == io.EOF, errors.Is(err, errFramingLost):
				return
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}

// FuzzParseSyslog: an accepted header has fields of the allowed shape and
// the MSG is the message's tail.
func FuzzParseSyslog(f *testing.F) {
	f.Add("<85>1 2026-03-02T14:15:02.123Z ehr01.example ehr 4242 IHE+RFC-3881 - \xef\xbb\xbf<AuditMessage/>")
	f.Add(`<0>1 - - - - - [a b="c\"]" d="e"][f]`)
	f.Add("<191>1 2026-03-02T14:15:02+01:00 h a p m -")
	f.Add("<192>1 - - - - - -")
	f.Fuzz(func(t *testing.T, in string) {
		h, body, err := ParseSyslog([]byte(in))
		if err != nil {
			return
		}
		if h.Facility*8+h.Severity > 191 || h.Severity > 7 {
			t.Fatalf("PRI out of range: %+v", h)
		}
		for _, s := range []string{h.Hostname, h.AppName, h.ProcID, h.MsgID} {
			for i := 0; i < len(s); i++ {
				if s[i] < 33 || s[i] > 126 {
					t.Fatalf("header field %q not printable", s)
				}
			}
		}
		if !bytes.HasSuffix([]byte(in), body) {
			t.Fatal("MSG is not the message's tail")
		}
	})
}

// FuzzDICOM: an accepted message gives a valid event with a deterministic
// id; a refused one says why without panicking.
func FuzzDICOM(f *testing.F) {
	f.Add(string(seedFile(f, "testdata/dicom_access.xml")))
	f.Add(`<AuditMessage><EventIdentification EventDateTime="2026-01-01T00:00:00Z"><EventID code="110114"/><EventTypeCode code="110122"/></EventIdentification><ActiveParticipant UserID="u"/><AuditSourceIdentification AuditSourceID="s"/></AuditMessage>`)
	f.Add(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><AuditMessage>&e;</AuditMessage>`)
	f.Add(`<AuditMessage></AuditMessage><x/>`)
	f.Fuzz(func(t *testing.T, in string) {
		ev, err := EventFromDICOM("atna", []byte(in))
		if err != nil {
			return
		}
		if verr := ev.Validate(); verr != nil {
			t.Fatalf("invalid event accepted: %v", verr)
		}
		again, _ := EventFromDICOM("atna", []byte(in))
		if again.ID != ev.ID || !strings.HasPrefix(ev.ID, "atna-") {
			t.Fatalf("ids %q and %q", ev.ID, again.ID)
		}
	})
}

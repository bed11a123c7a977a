// Package smtptest is a real SMTP receiver on loopback for tests: it
// speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA with dot
// unstuffing, RSET, NOOP, QUIT) for net/smtp and keeps every message it
// accepted. It can be told to refuse mail, to test retries.
package smtptest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// Message is one accepted mail.
type Message struct {
	From string
	To   []string
	Data string // headers and body, CRLF line ends, dot-unstuffed
}

// Server is a running receiver.
type Server struct {
	Addr string
	ln   net.Listener

	mu     sync.Mutex
	msgs   []Message
	refuse bool
	wake   chan struct{}
}

// Start starts a receiver on 127.0.0.1, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, wake: make(chan struct{}, 1)}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Refuse makes the server answer 451 to every message until told otherwise.
func (s *Server) Refuse(on bool) {
	s.mu.Lock()
	s.refuse = on
	s.mu.Unlock()
}

// Messages returns the mail accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns a channel that receives when a message is accepted.
func (s *Server) Wait() <-chan struct{} { return s.wake }

func (s *Server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *Server) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	say("220 smtptest ready")
	var m Message
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(verb, "EHLO"):
			w.WriteString("250-smtptest\r\n")
			say("250 8BITMIME")
		case strings.HasPrefix(verb, "HELO"):
			say("250 smtptest")
		case strings.HasPrefix(verb, "MAIL FROM:"):
			m = Message{From: path(line[len("MAIL FROM:"):])}
			say("250 OK")
		case strings.HasPrefix(verb, "RCPT TO:"):
			m.To = append(m.To, path(line[len("RCPT TO:"):]))
			say("250 OK")
		case verb == "DATA":
			if m.From == "" || len(m.To) == 0 {
				say("503 need MAIL and RCPT first")
				continue
			}
			say("354 end with <CRLF>.<CRLF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.mu.Lock()
			refuse := s.refuse
			if !refuse {
				s.msgs = append(s.msgs, m)
			}
			s.mu.Unlock()
			if refuse {
				say("451 try again later")
				continue
			}
			select {
			case s.wake <- struct{}{}:
			default:
			}
			say("250 OK queued")
		case verb == "RSET":
			m = Message{}
			say("250 OK")
		case verb == "NOOP":
			say("250 OK")
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("502 command not implemented")
		}
	}
}

// path is the address of "<a@b> PARAMS" (RFC 5321 reverse- and
// forward-path), without the brackets and the parameters.
func path(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

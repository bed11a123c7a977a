package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// Passkey ceremonies in the browser (static/passkey.js): begin returns
// the WebAuthn options as JSON, finish takes the authenticator's answer.
// They are JSON requests on the browser mux, so they pass
// http.CrossOriginProtection like every form; errors are problem+json.

// ceremonyCookie binds a sign-in ceremony (a passkey challenge, or a
// password sign-in waiting for its second factor) to one browser before
// there is a session.
const ceremonyCookie = "tw_ceremony"

func (s *Server) ceremonyCookieName() string {
	if s.opt.TLS {
		return "__Host-" + ceremonyCookie
	}
	return ceremonyCookie
}

// newCeremony sets a fresh ceremony cookie and returns its value.
func (s *Server) newCeremony(w http.ResponseWriter) string {
	b := make([]byte, 32)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookieName(), Value: v, Path: "/", HttpOnly: true, Secure: s.opt.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: int((10 * time.Minute) / time.Second)})
	return v
}

func (s *Server) ceremony(r *http.Request) (string, error) {
	c, err := r.Cookie(s.ceremonyCookieName())
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return "", fault.Wrap(fault.Unauthenticated, identity.ErrNoCeremony, "this sign-in was not started in this browser, or has expired; please start again")
	}
	return c.Value, nil
}

func (s *Server) clearCeremony(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.opt.TLS, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// passkeyFinish is the body of a finish request.
type passkeyFinish struct {
	// Name is the passkey's name (registration only).
	Name string `json:"name,omitempty"`
	// Next is where to go after a sign-in.
	Next string `json:"next,omitempty"`
	// Credential is the PublicKeyCredential as static/passkey.js
	// serialises it; identity parses it.
	Credential json.RawMessage `json:"credential"`
}

const maxPasskeyBody = 32 << 10

// parsePasskeyFinish reads a finish request body strictly: one JSON
// object, known fields only, a credential object present.
func parsePasskeyFinish(body []byte) (passkeyFinish, error) {
	var f passkeyFinish
	if len(body) > maxPasskeyBody {
		return f, fault.New(fault.TooLarge, "the request is %d bytes; at most %d are accepted", len(body), maxPasskeyBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fault.Wrap(fault.Invalid, err, "the request is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return f, fault.New(fault.Invalid, "the request holds more than one JSON value")
	}
	if t := bytes.TrimSpace(f.Credential); len(t) == 0 || t[0] != '{' {
		return f, fault.InvalidField("credential", "a credential object is required")
	}
	return f, nil
}

func (s *Server) readPasskeyFinish(r *http.Request) (passkeyFinish, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPasskeyBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return passkeyFinish{}, fault.New(fault.TooLarge, "the request is too large")
		}
		return passkeyFinish{}, fault.Wrap(fault.Invalid, err, "the request could not be read")
	}
	return parsePasskeyFinish(body)
}

// jsonAuthed is authed for JSON endpoints: no redirect, a 401 problem.
func (s *Server) jsonAuthed(h func(w http.ResponseWriter, r *http.Request, u identity.User, session string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.cookieName())
		if err != nil {
			writeProblem(w, r, s.Log, fault.New(fault.Unauthenticated, "please sign in"))
			return
		}
		ss, u, err := s.Identity.CheckSession(r.Context(), c.Value)
		if err != nil {
			writeProblem(w, r, s.Log, err)
			return
		}
		if s.MFA == nil {
			writeProblem(w, r, s.Log, fault.New(fault.Unavailable, "passkeys are not set up on this server"))
			return
		}
		h(w, r.WithContext(withSession(r.Context(), ss)), u, c.Value)
	}
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, u identity.User, session string) {
	opts, err := s.MFA.Passkeys().BeginRegistration(r.Context(), u, session)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(opts))
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, u identity.User, session string) {
	f, err := s.readPasskeyFinish(r)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	k, err := s.MFA.Passkeys().FinishRegistration(r.Context(), u, session, f.Name, f.Credential, clientOf(r))
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	s.notifySecurity(r, u, "A passkey was added to your account.")
	n, err := s.endOthersAfterChange(r, u, "passkey added")
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": k.Name, "redirect": withEnded(securityPath(u)+"?added=passkey", n)})
}

func (s *Server) passkeySignInBegin(w http.ResponseWriter, r *http.Request) {
	if s.MFA == nil {
		writeProblem(w, r, s.Log, fault.New(fault.Unavailable, "passkeys are not set up on this server"))
		return
	}
	opts, err := s.MFA.Passkeys().BeginSignIn(r.Context(), s.newCeremony(w))
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(opts))
}

func (s *Server) passkeySignInFinish(w http.ResponseWriter, r *http.Request) {
	if s.MFA == nil {
		writeProblem(w, r, s.Log, fault.New(fault.Unavailable, "passkeys are not set up on this server"))
		return
	}
	cer, err := s.ceremony(r)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	f, err := s.readPasskeyFinish(r)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	u, err := s.MFA.Passkeys().FinishSignIn(r.Context(), cer, f.Credential, clientOf(r))
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	// A passkey with user verification is two factors in one: a password
	// sign-in held for its second factor in this browser is dropped.
	s.clearCeremony(w)
	next, err := s.startSession(w, r, u, safeNext(f.Next))
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
}

// startSession opens a session of u's area with a new token (an old
// cookie planted before sign-in never becomes a session), remembers the
// browser (a new one is told to u) and returns where to go next.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u identity.User, next string) (string, error) {
	area, ttl, idle := "console", s.opt.SessionTTL, s.opt.SessionIdle
	if u.Role == identity.RolePatient {
		area, ttl, idle = "portal", s.opt.PortalSessionTTL, s.opt.PortalSessionIdle
		if next == "/console" || next == "/" {
			next = "/portal"
		}
	}
	tok, err := s.Identity.NewSession(r.Context(), u.ID, area, ttl, idle, clientOf(r))
	if err != nil {
		return "", err
	}
	s.setSession(w, tok, ttl)
	s.seeDevice(w, r, u)
	return next, nil
}

// securityPath is the account security page of u's area.
func securityPath(u identity.User) string {
	if u.Role == identity.RolePatient {
		return "/portal/security"
	}
	return "/console/account"
}

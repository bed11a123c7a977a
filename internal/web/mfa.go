package web

import (
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify"
)

// The security set-up wizard (patients at /portal/security, staff at
// /console/account) and the second step of a password sign-in. Every
// action goes through identity.MFA, which audits it.

// securityView is what the security pages show.
type securityView struct {
	Status identity.FactorStatus
	// Added names what was just set up, for a confirmation line.
	Added string
	// TOTPSecret and TOTPQR are shown once, while an app is set up.
	TOTPSecret string
	TOTPQR     template.URL
	// Codes are new recovery codes, shown once.
	Codes []string
	// Checklist is the portal's list of what is done and what is left.
	Checklist []checkItem
	// Second-step options of a held sign-in.
	HasTOTP, HasCodes, HasPasskeys bool
	// Path is the security page of this area.
	Path string
	// Sessions are the account's active sessions; Ended is how many
	// other sessions the last action signed out (sessions.go).
	Sessions []sessionRow
	Ended    int
}

type checkItem struct {
	Done bool
	Text string
}

func (s *Server) mfaRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /portal/security", s.authed(s.securityPage))
	m.HandleFunc("GET /console/account", s.authed(s.securityPage))
	// Changing sign-in methods needs a fresh sign-in (decision 0037).
	m.HandleFunc("POST /account/totp/begin", s.authed(s.fresh(s.totpBegin)))
	m.HandleFunc("POST /account/totp/confirm", s.authed(s.fresh(s.totpConfirm)))
	m.HandleFunc("POST /account/totp/remove", s.authed(s.fresh(s.totpRemove)))
	m.HandleFunc("POST /account/recovery-codes", s.authed(s.fresh(s.recoveryCodes)))
	m.HandleFunc("POST /account/passkeys/{id}/remove", s.authed(s.fresh(s.passkeyRemove)))
	m.HandleFunc("POST /passkey/register/begin", s.jsonAuthed(s.freshJSON(s.passkeyRegisterBegin)))
	m.HandleFunc("POST /passkey/register/finish", s.jsonAuthed(s.freshJSON(s.passkeyRegisterFinish)))
	m.HandleFunc("POST /passkey/signin/begin", s.passkeySignInBegin)
	m.HandleFunc("POST /passkey/signin/finish", s.passkeySignInFinish)
	m.HandleFunc("GET /signin/second-factor", s.secondFactorForm)
	m.HandleFunc("POST /signin/second-factor", s.secondFactor)
}

// notifySecurity tells a patient that their sign-in methods changed
// (in the portal, and by email when they gave an address): a change they
// did not make means someone else is in their account.
func (s *Server) notifySecurity(r *http.Request, u identity.User, what string) {
	if u.PatientID == "" || s.Notices == nil {
		return
	}
	s.notifyPatient(r.Context(), u.PatientID, notify.KindSecurity, "Your sign-in methods changed",
		what+" If this was not you, change your password, check Account security and tell the clinic.")
}

// security returns the factor status of u with the checklist.
func (s *Server) security(r *http.Request, u identity.User) (*securityView, error) {
	if s.MFA == nil {
		return nil, fault.New(fault.Unavailable, "second factors are not set up on this server")
	}
	st, err := s.MFA.Status(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	v := &securityView{Status: st, Path: securityPath(u)}
	v.Checklist = []checkItem{
		{true, "A password protects your account."},
		{len(st.Passkeys) > 0, "A passkey: sign in with your fingerprint, face or screen lock, with nothing to type and nothing a fake website can steal."},
		{st.TOTP.Active, "An authenticator app, as a second way in (optional when you have a passkey)."},
		{st.RecoveryLeft > 0, "Recovery codes saved somewhere safe, in case you lose your phone."},
	}
	return v, nil
}

func (s *Server) securityPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	v, err := s.security(r, u)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	switch a := r.URL.Query().Get("added"); a {
	case "passkey", "totp", "codes":
		v.Added = a
	}
	if v.Sessions, err = s.sessionRows(r, u); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	v.Ended = endedParam(r)
	p := s.newPage("Account security", &u)
	p.Security = v
	// Staff read their notices here (patients on the portal's home).
	if u.Role != identity.RolePatient && s.Notices != nil {
		if p.Notices, err = s.Notices.ForUser(r.Context(), u.ID); err != nil {
			s.renderError(w, r, &u, err)
			return
		}
		if err := s.Notices.MarkRead(r.Context(), u.ID); err != nil {
			s.Log.Error("marking notices read", "err", err)
		}
	}
	s.render(w, r, http.StatusOK, "account", p)
}

// groupSecret shows a base32 secret in groups of four for typing.
func groupSecret(sec string) string {
	var b strings.Builder
	for i, c := range sec {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Server) totpBegin(w http.ResponseWriter, r *http.Request, u identity.User) {
	v, err := s.security(r, u)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	secret, _, png, err := s.MFA.BeginTOTP(r.Context(), u)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	v.TOTPSecret = groupSecret(secret)
	// A data: URL: the image is never stored or served at an address.
	v.TOTPQR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	p := s.newPage("Set up an authenticator app", &u)
	p.Security = v
	s.render(w, r, http.StatusOK, "mfa_totp", p)
}

func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request, u identity.User) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	v, err := s.security(r, u)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	codes, err := s.MFA.ConfirmTOTP(r.Context(), u, r.PostForm.Get("code"), clientOf(r))
	if err != nil {
		if fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Invalid) {
			p := s.newPage("Set up an authenticator app", &u)
			p.Security, p.Error = v, fault.Message(err)
			s.render(w, r, http.StatusBadRequest, "mfa_totp", p)
			return
		}
		s.renderError(w, r, &u, err)
		return
	}
	s.notifySecurity(r, u, "An authenticator app was added to your account.")
	n, err := s.endOthersAfterChange(r, u, "authenticator app added")
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if len(codes) == 0 {
		http.Redirect(w, r, withEnded(v.Path+"?added=totp", n), http.StatusSeeOther)
		return
	}
	v.Codes, v.Added, v.Ended = codes, "totp", n
	p := s.newPage("Save your recovery codes", &u)
	p.Security = v
	s.render(w, r, http.StatusOK, "mfa_codes", p)
}

func (s *Server) totpRemove(w http.ResponseWriter, r *http.Request, u identity.User) {
	if s.MFA == nil {
		s.renderError(w, r, &u, fault.New(fault.Unavailable, "second factors are not set up on this server"))
		return
	}
	if err := s.MFA.RemoveTOTP(r.Context(), u, clientOf(r)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	s.notifySecurity(r, u, "The authenticator app was removed from your account.")
	s.afterChange(w, r, u, "authenticator app removed")
}

func (s *Server) recoveryCodes(w http.ResponseWriter, r *http.Request, u identity.User) {
	v, err := s.security(r, u)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	if v.Codes, err = s.MFA.NewRecoveryCodes(r.Context(), u, clientOf(r)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	s.notifySecurity(r, u, "New recovery codes were made for your account; the old ones no longer work.")
	if v.Ended, err = s.endOthersAfterChange(r, u, "new recovery codes"); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	p := s.newPage("Save your recovery codes", &u)
	p.Security = v
	s.render(w, r, http.StatusOK, "mfa_codes", p)
}

func (s *Server) passkeyRemove(w http.ResponseWriter, r *http.Request, u identity.User) {
	if s.MFA == nil {
		s.renderError(w, r, &u, fault.New(fault.Unavailable, "passkeys are not set up on this server"))
		return
	}
	id, err := hex.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 {
		s.renderError(w, r, &u, fault.New(fault.NotFound, "there is no such passkey on your account"))
		return
	}
	if err := s.MFA.Passkeys().Remove(r.Context(), u, id, clientOf(r)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	s.notifySecurity(r, u, "A passkey was removed from your account.")
	s.afterChange(w, r, u, "passkey removed")
}

// afterChange signs out u's other sessions after a change of sign-in
// methods and goes back to the security page, which says how many.
func (s *Server) afterChange(w http.ResponseWriter, r *http.Request, u identity.User, what string) {
	n, err := s.endOthersAfterChange(r, u, what)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, withEnded(securityPath(u), n), http.StatusSeeOther)
}

// holdForSecondFactor is called after a correct password: when u has a
// second factor, the sign-in waits for it (bound to a new ceremony cookie)
// and the browser is sent to the second step. It reports whether it did.
func (s *Server) holdForSecondFactor(w http.ResponseWriter, r *http.Request, u identity.User, next string) (bool, error) {
	if s.MFA == nil {
		return false, nil
	}
	need, err := s.MFA.NeedsSecondFactor(r.Context(), u.ID)
	if err != nil || !need {
		return false, err
	}
	if err := s.MFA.HoldSignIn(r.Context(), u, s.newCeremony(w), next); err != nil {
		return false, err
	}
	http.Redirect(w, r, "/signin/second-factor", http.StatusSeeOther)
	return true, nil
}

func (s *Server) renderSecondFactor(w http.ResponseWriter, r *http.Request, status int, u identity.User, next, msg string) {
	p := s.newPage("Confirm it is you", nil)
	st, err := s.MFA.Status(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	p.Security = &securityView{Status: st, HasTOTP: st.TOTP.Active, HasCodes: st.RecoveryLeft > 0, HasPasskeys: len(st.Passkeys) > 0}
	p.Next, p.Error = next, msg
	s.render(w, r, status, "mfa_second", p)
}

func (s *Server) secondFactorForm(w http.ResponseWriter, r *http.Request) {
	if s.MFA == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	cer, err := s.ceremony(r)
	if err == nil {
		var u identity.User
		var next string
		if u, next, err = s.MFA.HeldSignIn(r.Context(), cer); err == nil {
			s.renderSecondFactor(w, r, http.StatusOK, u, next, "")
			return
		}
	}
	if fault.Is(err, fault.Unauthenticated) {
		p := s.newPage("Sign in", nil)
		p.Error, p.Next = fault.Message(err), "/"
		s.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	}
	s.renderError(w, r, nil, err)
}

func (s *Server) secondFactor(w http.ResponseWriter, r *http.Request) {
	if s.MFA == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	cer, err := s.ceremony(r)
	if err != nil {
		p := s.newPage("Sign in", nil)
		p.Error, p.Next = fault.Message(err), "/"
		s.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	}
	u, next, err := s.MFA.CompleteSignIn(r.Context(), cer, r.PostForm.Get("code"), clientOf(r))
	if err != nil {
		held, heldNext, herr := s.MFA.HeldSignIn(r.Context(), cer)
		if (fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Invalid)) && herr == nil {
			s.renderSecondFactor(w, r, http.StatusUnauthorized, held, heldNext, fault.Message(err))
			return
		}
		if fault.Is(err, fault.Unauthenticated) {
			p := s.newPage("Sign in", nil)
			p.Error, p.Next = fault.Message(err), "/"
			s.render(w, r, http.StatusUnauthorized, "signin", p)
			return
		}
		s.renderError(w, r, nil, err)
		return
	}
	s.clearCeremony(w)
	next, err = s.startSession(w, r, u, safeNext(next))
	if err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// apiSecondFactor keeps the API's token sign-in from bypassing a second
// factor: an account that has one must send its code with the password.
func (s *Server) apiSecondFactor(r *http.Request, u identity.User, code string) error {
	if s.MFA == nil {
		return nil
	}
	need, err := s.MFA.NeedsSecondFactor(r.Context(), u.ID)
	if err != nil || !need {
		return err
	}
	return s.MFA.VerifyCode(r.Context(), u, code, clientOf(r))
}

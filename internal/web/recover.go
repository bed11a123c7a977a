package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/seal"
)

// Account recovery in the browser (identity/recover.go, decision 0039):
// patients ask for a link by email at /recover; the link (or an
// administrator's enrolment code typed at /recover) is moved into a
// cookie at once, so that the secret leaves the address bar and the
// history, and the steps at /recover/continue read it from there.
// Administrators recover staff at /office/users.

// linkSender sends emails that carry a one-time link (notify.LinkMailer).
type linkSender interface {
	Enabled() bool
	Send(to, subject, body string) bool
}

// recoveryAnswerFloor is the least time a recovery request takes to
// answer, so that a request for an account (a stored token, an email
// started) and one for no account take about as long.
const recoveryAnswerFloor = 300 * time.Millisecond

// recoveryCookie holds the token of the recovery in progress.
const recoveryCookie = "tw_recovery"

// recoveryView is what the recovery and administrators' pages show.
type recoveryView struct {
	// The request page.
	EmailOn     bool
	Sent        bool
	Who         string
	LinkMinutes int
	// The steps of a recovery.
	State       *identity.RecoveryState
	MinPassword int
	Done        bool
	// The administrators' page.
	Accounts  []identity.AccountSummary
	Query     string
	Enrolment *identity.Enrolment
	Link      string
}

func (s *Server) recoveryRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /recover", s.recoverForm)
	m.HandleFunc("POST /recover", s.recoverRequest)
	m.HandleFunc("POST /recover/code", s.recoverCode)
	m.HandleFunc("GET /recover/continue", s.recoverContinue)
	m.HandleFunc("POST /recover/second-factor", s.recoverFactor)
	m.HandleFunc("POST /recover/password", s.recoverPassword)
	m.HandleFunc("POST /recover/passkey/factor/begin", s.recoverPasskeyBegin(s.Recovery.BeginPasskeyFactor))
	m.HandleFunc("POST /recover/passkey/factor/finish", s.recoverPasskeyFactorFinish)
	m.HandleFunc("POST /recover/passkey/register/begin", s.recoverPasskeyBegin(s.Recovery.BeginPasskeyEnrolment))
	m.HandleFunc("POST /recover/passkey/register/finish", s.recoverPasskeyFinish)
	m.HandleFunc("GET /recover/done", s.recoverDone)
	m.HandleFunc("GET /recover/{token}", s.recoverOpen)
	m.HandleFunc("GET /office/users", s.authed(s.usersPage))
	m.HandleFunc("POST /office/users/{id}/recover", s.authed(s.userRecover))
}

func (s *Server) emailRecoveryOn() bool {
	return s.Recovery != nil && s.LinkMail != nil && s.LinkMail.Enabled()
}

func (s *Server) recoverPage(status int, w http.ResponseWriter, r *http.Request, v *recoveryView, msg string) {
	v.EmailOn = s.emailRecoveryOn()
	if s.Recovery != nil {
		v.LinkMinutes = int(s.Recovery.LinkTTL() / time.Minute)
	}
	p := s.newPage("Recover your account", nil)
	p.Recovery, p.Error = v, msg
	s.render(w, r, status, "recover", p)
}

func (s *Server) recoverForm(w http.ResponseWriter, r *http.Request) {
	s.recoverPage(http.StatusOK, w, r, &recoveryView{}, "")
}

// recoverThrottled applies the per-address limit of password sign-in to
// recovery requests and typed codes: they draw from the same budget.
func (s *Server) recoverThrottled(w http.ResponseWriter, r *http.Request, v *recoveryView) bool {
	ok, wait := s.signinLimit.allow(clientOf(r).Address)
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	s.recoverPage(http.StatusTooManyRequests, w, r, v, fmt.Sprintf("Too many attempts from your network address. Please wait %d seconds and try again.", retryAfterSeconds(wait)))
	return true
}

// recoverRequest answers the same, in about the same time, whether or not
// an account has the address: the identity layer audits what happened.
func (s *Server) recoverRequest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	v := &recoveryView{Who: r.PostForm.Get("who")}
	if len(v.Who) > 254 {
		v.Who = ""
	}
	if !s.emailRecoveryOn() {
		s.recoverPage(http.StatusServiceUnavailable, w, r, v, "Recovery by email is not available here. Please contact the clinic.")
		return
	}
	if s.recoverThrottled(w, r, v) {
		return
	}
	mails, err := s.Recovery.RequestByEmail(r.Context(), r.PostForm.Get("who"), clientOf(r))
	if err != nil {
		if fault.Is(err, fault.Invalid) {
			s.recoverPage(http.StatusBadRequest, w, r, v, fault.Message(err))
			return
		}
		s.renderError(w, r, nil, err)
		return
	}
	for _, m := range mails {
		subject, body := s.recoveryEmail(m)
		s.LinkMail.Send(m.To, subject, body)
	}
	select {
	case <-time.After(time.Until(start.Add(recoveryAnswerFloor))):
	case <-r.Context().Done():
		return
	}
	// The same page whoever was asked for: not even the address typed.
	v.Sent, v.Who = true, ""
	s.recoverPage(http.StatusOK, w, r, v, "")
}

// recoveryEmail is the email of a link: the organisation, the link and
// how long it works, and nothing about the account or the patient.
func (s *Server) recoveryEmail(m identity.RecoveryMail) (subject, body string) {
	link := strings.TrimSuffix(s.opt.PublicURL, "/") + "/recover/" + m.Token
	org := s.opt.Org
	if org == "" {
		org = "your care organisation"
	}
	minutes := int(s.Recovery.LinkTTL() / time.Minute)
	subject = "Recover your account at " + org
	body = fmt.Sprintf("Hello,\r\n\r\nSomeone, we hope you, asked to recover the account that uses this email address in the patient portal of %s.\r\n\r\n"+
		"To choose a new password, open this link within %d minutes (it works once):\r\n%s\r\n\r\n"+
		"If your account has an authenticator app or a passkey, you will need it, or one of your recovery codes.\r\n\r\n"+
		"If you did not ask for this, ignore this email: nothing changes unless the link is used. Never give this link or your codes to anyone, staff included.\r\n",
		org, minutes, link)
	return subject, body
}

// recoverRefused shows why a link or code cannot be used. The request
// path holds the token, so it is not logged.
func (s *Server) recoverRefused(w http.ResponseWriter, r *http.Request, err error) {
	st := status(err)
	p := s.newPage("Recover your account", nil)
	if st >= 500 {
		// Not renderError: it would log the path, which may hold the token.
		s.Log.Error("account recovery failed", "method", r.Method, "status", st, "err", err)
		p.Heading, p.Message = "Temporarily unavailable", "Please try again in a moment."
		s.render(w, r, http.StatusServiceUnavailable, "error", p)
		return
	}
	s.Log.Info("account recovery refused", "method", r.Method, "status", st, "kind", fault.KindOf(err).String())
	s.clearRecoveryCookie(w)
	msg := fault.Message(err)
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	p.Heading, p.Message = "This recovery cannot continue", msg
	s.render(w, r, st, "error", p)
}

func (s *Server) recoveryCookieName() string {
	if s.opt.TLS {
		return "__Host-" + recoveryCookie
	}
	return recoveryCookie
}

func (s *Server) setRecoveryCookie(w http.ResponseWriter, token string, until time.Time) {
	age := int(until.Sub(s.now()) / time.Second)
	http.SetCookie(w, &http.Cookie{Name: s.recoveryCookieName(), Value: token, Path: "/", HttpOnly: true, Secure: s.opt.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: max(1, age)})
}

func (s *Server) clearRecoveryCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.recoveryCookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.opt.TLS, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// recoveryToken is the token of the recovery this browser is in.
func (s *Server) recoveryToken(r *http.Request) (string, error) {
	if s.Recovery == nil {
		return "", fault.New(fault.Unavailable, "account recovery is not set up on this server")
	}
	c, err := r.Cookie(s.recoveryCookieName())
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return "", fault.New(fault.Unauthenticated, "no recovery is in progress in this browser (it ended, or was started in another one): open the link from your email again, or type your enrolment code at /recover")
	}
	return c.Value, nil
}

// startRecovery checks token, moves it into the cookie and sends the
// browser to the next step.
func (s *Server) startRecovery(w http.ResponseWriter, r *http.Request, token string) error {
	if s.Recovery == nil {
		return fault.New(fault.Unavailable, "account recovery is not set up on this server")
	}
	st, err := s.Recovery.Open(r.Context(), token, clientOf(r))
	if err != nil {
		return err
	}
	canonical, err := identity.ParseRecoveryToken(token)
	if err != nil {
		return err
	}
	s.setRecoveryCookie(w, canonical, st.Expires)
	http.Redirect(w, r, "/recover/continue", http.StatusSeeOther)
	return nil
}

// recoverOpen is the link from the email. Opening it changes nothing but
// the cookie (mail scanners open links too).
func (s *Server) recoverOpen(w http.ResponseWriter, r *http.Request) {
	if err := s.startRecovery(w, r, r.PathValue("token")); err != nil {
		s.recoverRefused(w, r, err)
	}
}

// recoverCode takes an enrolment code (or a whole link) typed or pasted.
func (s *Server) recoverCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	v := &recoveryView{}
	if s.recoverThrottled(w, r, v) {
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	if i := strings.LastIndex(code, "/recover/"); i >= 0 {
		code = code[i+len("/recover/"):]
	}
	if err := s.startRecovery(w, r, code); err != nil {
		if st := status(err); st < 500 {
			s.recoverPage(st, w, r, v, fault.Message(err))
			return
		}
		s.recoverRefused(w, r, err)
	}
}

// recoverStep shows the step the recovery is at.
func (s *Server) recoverStep(w http.ResponseWriter, r *http.Request, status int, st identity.RecoveryState, msg string) {
	v := &recoveryView{State: &st, MinPassword: identity.MinPasswordRunes}
	if !st.ReplacesFactors() && st.Factors.Protected() {
		v.MinPassword = identity.MinPasswordRunesWithSecondFactor
	}
	p := s.newPage("Recover your account", nil)
	p.Recovery, p.Error = v, msg
	s.render(w, r, status, "recover_account", p)
}

func (s *Server) recoverContinue(w http.ResponseWriter, r *http.Request) {
	tok, err := s.recoveryToken(r)
	if err != nil {
		s.recoverRefused(w, r, err)
		return
	}
	st, err := s.Recovery.Open(r.Context(), tok, clientOf(r))
	if err != nil {
		s.recoverRefused(w, r, err)
		return
	}
	s.recoverStep(w, r, http.StatusOK, st, "")
}

// recoverAgain shows the step again with the refusal of err when the
// recovery can go on, and the end of it otherwise.
func (s *Server) recoverAgain(w http.ResponseWriter, r *http.Request, tok string, err error) {
	if fault.Is(err, fault.Invalid) || fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Forbidden) {
		if st, oerr := s.Recovery.Open(r.Context(), tok, clientOf(r)); oerr == nil {
			s.recoverStep(w, r, status(err), st, fault.Message(err))
			return
		}
	}
	s.recoverRefused(w, r, err)
}

func (s *Server) recoverFactor(w http.ResponseWriter, r *http.Request) {
	tok, err := s.recoveryToken(r)
	if err != nil {
		s.recoverRefused(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	if err := s.Recovery.VerifyFactor(r.Context(), tok, r.PostForm.Get("code"), clientOf(r)); err != nil {
		s.recoverAgain(w, r, tok, err)
		return
	}
	http.Redirect(w, r, "/recover/continue", http.StatusSeeOther)
}

func (s *Server) recoverPassword(w http.ResponseWriter, r *http.Request) {
	tok, err := s.recoveryToken(r)
	if err != nil {
		s.recoverRefused(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		s.recoverAgain(w, r, tok, fault.InvalidField("password", "the two passwords are not the same; type the new password twice"))
		return
	}
	u, err := s.Recovery.CompleteWithPassword(r.Context(), tok, pw, clientOf(r))
	if err != nil {
		s.recoverAgain(w, r, tok, err)
		return
	}
	s.recovered(w, r, u, "a new password was set")
	http.Redirect(w, r, "/recover/done", http.StatusSeeOther)
}

// recovered ends the recovery in this browser and tells the account's
// owner, in the portal and by email when they gave an address: a
// recovery they did not make means someone else is in their account.
func (s *Server) recovered(w http.ResponseWriter, r *http.Request, u identity.User, what string) {
	s.clearRecoveryCookie(w)
	s.notifyAccount(r.Context(), u, "Your account was recovered",
		fmt.Sprintf("Your account %s was recovered on %s: %s, and every session was signed out. If this was you, there is nothing else to do; "+
			"set up your authenticator app, passkey or recovery codes again if you lost them. If it was not you, tell the clinic or your administrator at once: someone may be able to read your email.",
			u.Username, s.now().Format("2 January 2006 at 15:04 UTC"), what))
}

func (s *Server) now() time.Time {
	if s.Clock != nil {
		return s.Clock().UTC()
	}
	return time.Now().UTC()
}

// notifyAccount gives one account a security notice: a patient's under
// the patient's key (gone with the record), a staff member's under their
// own. A failure is logged; the action it reports has happened.
func (s *Server) notifyAccount(ctx context.Context, u identity.User, title, body string) {
	if s.Notices == nil {
		return
	}
	subject := "user/" + u.ID
	if u.PatientID != "" {
		subject = seal.PatientSubject(u.PatientID)
	}
	if _, err := s.Notices.ToUser(ctx, u.ID, subject, notify.KindSecurity, title, body); err != nil {
		s.Log.Error("notifying an account", "kind", notify.KindSecurity, "err", err)
	}
}

func (s *Server) recoverDone(w http.ResponseWriter, r *http.Request) {
	p := s.newPage("Your account is recovered", nil)
	p.Recovery = &recoveryView{Done: true}
	s.render(w, r, http.StatusOK, "recover_account", p)
}

// recoveryJSON is recoveryToken for the passkey endpoints: a problem on
// failure.
func (s *Server) recoveryJSON(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok, err := s.recoveryToken(r)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return "", false
	}
	return tok, true
}

// recoverPasskeyBegin starts a recovery's passkey ceremony (the second
// factor, or enrolling a new passkey) and answers its options.
func (s *Server) recoverPasskeyBegin(begin func(ctx context.Context, token string, c identity.Client) ([]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.recoveryJSON(w, r)
		if !ok {
			return
		}
		opts, err := begin(r.Context(), tok, clientOf(r))
		if err != nil {
			writeProblem(w, r, s.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, json.RawMessage(opts))
	}
}

func (s *Server) recoverPasskeyFactorFinish(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.recoveryJSON(w, r)
	if !ok {
		return
	}
	f, err := s.readPasskeyFinish(r)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	if err := s.Recovery.FinishPasskeyFactor(r.Context(), tok, f.Credential, clientOf(r)); err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": "/recover/continue"})
}

func (s *Server) recoverPasskeyFinish(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.recoveryJSON(w, r)
	if !ok {
		return
	}
	f, err := s.readPasskeyFinish(r)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	u, err := s.Recovery.CompleteWithPasskey(r.Context(), tok, f.Name, f.Credential, clientOf(r))
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	s.recovered(w, r, u, "a new passkey was added")
	writeJSON(w, http.StatusCreated, map[string]string{"redirect": "/recover/done"})
}

// usersPage lists accounts for administrators, with their sign-in methods
// and the way to recover one.
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	s.renderUsers(w, r, u, http.StatusOK, &recoveryView{Query: r.URL.Query().Get("q")}, "")
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, u identity.User, status int, v *recoveryView, msg string) {
	if u.Role != identity.RoleAdmin {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only administrators manage other people's sign-in."))
		return
	}
	accounts, err := s.Identity.ListAccounts(r.Context(), v.Query)
	if err != nil {
		if !fault.Is(err, fault.Invalid) {
			s.renderError(w, r, &u, err)
			return
		}
		status, msg, v.Query = http.StatusBadRequest, fault.Message(err), ""
		if accounts, err = s.Identity.ListAccounts(r.Context(), ""); err != nil {
			s.renderError(w, r, &u, err)
			return
		}
	}
	v.Accounts = accounts
	p := s.newPage("Staff sign-in", &u)
	p.Recovery, p.Error = v, msg
	s.render(w, r, status, "users", p)
}

// userRecover issues an enrolment code for another account, shown once
// to the administrator, who hands it over in person.
func (s *Server) userRecover(w http.ResponseWriter, r *http.Request, u identity.User) {
	if u.Role != identity.RoleAdmin {
		s.renderError(w, r, &u, fault.New(fault.Forbidden, "Only administrators manage other people's sign-in."))
		return
	}
	if s.Recovery == nil {
		s.renderError(w, r, &u, fault.New(fault.Unavailable, "account recovery is not set up on this server"))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	en, err := s.Recovery.IssueEnrolment(r.Context(), u, r.PathValue("id"), r.PostForm.Get("reason"), clientOf(r))
	if err != nil {
		if st := status(err); st < 500 {
			s.renderUsers(w, r, u, st, &recoveryView{}, fault.Message(err))
			return
		}
		s.renderError(w, r, &u, err)
		return
	}
	s.notifyAccount(r.Context(), en.User, "An administrator started a recovery of your sign-in",
		fmt.Sprintf("%s gave you a one-time enrolment code on %s, valid until %s, to set a new password or passkey; the authenticator app, recovery codes and passkeys of your account are removed when it is used. "+
			"If you did not ask for this, tell the security team at once.",
			u.DisplayName, s.now().Format("2 January 2006 at 15:04 UTC"), en.Expires.UTC().Format("2 January 2006 at 15:04 UTC")))
	v := &recoveryView{Enrolment: &en, Link: strings.TrimSuffix(s.opt.PublicURL, "/") + "/recover/" + en.Code}
	s.renderUsers(w, r, u, http.StatusOK, v, "")
}

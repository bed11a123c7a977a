package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/seal"
)

// Sessions a person can see and end, fresh authentication before
// sensitive actions (decision 0037) and notices of sign-ins from new
// devices (decision 0038).

func (s *Server) sessionRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /account/sessions/{id}/end", s.authed(s.endSession))
	m.HandleFunc("POST /account/sessions/end-others", s.authed(s.endOtherSessions))
	m.HandleFunc("GET /reauth", s.authed(s.reauthPage))
	// A re-authentication that succeeds sends the action it interrupted
	// through the same mux (replayAction).
	m.HandleFunc("POST /reauth", s.authed(func(w http.ResponseWriter, r *http.Request, u identity.User) { s.reauth(w, r, u, m) }))
	m.HandleFunc("POST /reauth/passkey/begin", s.jsonAuthed(s.reauthPasskeyBegin))
}

func (s *Server) sessionAPIRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/sessions", s.api(s.apiSessions))
	m.HandleFunc("DELETE /api/v1/sessions/{id}", s.api(s.apiEndSession))
	m.HandleFunc("POST /api/v1/sessions/current/reauth", s.api(s.apiReauth))
}

// sessionKey is the request context key of the session a request came
// with (set by authed, jsonAuthed and the API's bearer check).
type sessionKey struct{}

func withSession(ctx context.Context, ss identity.Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, ss)
}

func sessionFrom(ctx context.Context) (identity.Session, bool) {
	ss, ok := ctx.Value(sessionKey{}).(identity.Session)
	return ss, ok && len(ss.TokenHash) > 0
}

// currentSession returns the session and user of a browser request.
func (s *Server) currentSession(r *http.Request) (identity.Session, identity.User, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return identity.Session{}, identity.User{}, fault.New(fault.Unauthenticated, "please sign in")
	}
	return s.Identity.CheckSession(r.Context(), c.Value)
}

// isFresh reports whether the request's session proved who its owner is
// within identity.FreshFor.
func (s *Server) isFresh(r *http.Request) bool {
	ss, ok := sessionFrom(r.Context())
	return ok && ss.Fresh(s.now())
}

// fresh guards a sensitive browser action (decision 0037): with a sign-in
// older than identity.FreshFor, the browser is sent to /reauth and comes
// back afterwards. A form sent by POST goes there with 307, so that the
// browser sends the same form to /reauth, which keeps it in the page and
// sends it on once the person has confirmed who they are: nothing typed
// is lost, and nothing of it is stored on the server.
func (s *Server) fresh(h func(w http.ResponseWriter, r *http.Request, u identity.User)) func(w http.ResponseWriter, r *http.Request, u identity.User) {
	return func(w http.ResponseWriter, r *http.Request, u identity.User) {
		if s.isFresh(r) {
			h(w, r, u)
			return
		}
		to := "/reauth?next=" + url.QueryEscape(r.URL.RequestURI())
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
	}
}

// freshJSON is fresh for the browser's JSON endpoints (passkey
// registration): a problem whose reauth member is where to confirm.
func (s *Server) freshJSON(h func(w http.ResponseWriter, r *http.Request, u identity.User, session string)) func(w http.ResponseWriter, r *http.Request, u identity.User, session string) {
	return func(w http.ResponseWriter, r *http.Request, u identity.User, session string) {
		if s.isFresh(r) {
			h(w, r, u, session)
			return
		}
		s.writeNotFresh(w, r, "/reauth?next="+url.QueryEscape(securityPath(u)))
	}
}

// freshAPI is fresh for the API: a 401 problem of type
// problemNotFresh, with the step-up challenge of RFC 9470 in
// WWW-Authenticate. An API token counts as fresh for identity.FreshFor
// after the sign-in that made it, and again after
// POST /api/v1/sessions/current/reauth.
func (s *Server) freshAPI(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, u identity.User) error {
		if s.isFresh(r) {
			return h(w, r, u)
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="trustward", error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age=%d`, int(identity.FreshFor.Seconds())))
		s.writeNotFresh(w, r, "")
		return nil
	}
}

// problemNotFresh is the problem type of a sensitive request made with an
// authentication older than identity.FreshFor.
const problemNotFresh = "urn:trustward:problem:fresh-authentication-required"

func (s *Server) writeNotFresh(w http.ResponseWriter, r *http.Request, reauth string) {
	err := identity.NotFresh()
	logError(s.Log, r, err)
	detail := fault.Message(err)
	if reauth == "" {
		detail += fmt.Sprintf(" (POST /api/v1/sessions/current/reauth with the password and code, or sign in again; a token is fresh for %d minutes after either)", int(identity.FreshFor.Minutes()))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(struct {
		Problem
		Reauth string `json:"reauth,omitempty"`
	}{Problem{Type: problemNotFresh, Title: "Fresh authentication required", Status: http.StatusUnauthorized, Detail: detail, Instance: r.URL.Path}, reauth})
}

// sessionRow is one line of the session list.
type sessionRow struct {
	ID, Area, Device, Address string
	Started, LastSeen         time.Time
	Current                   bool
}

// sessionRows lists u's active sessions, the request's own marked.
func (s *Server) sessionRows(r *http.Request, u identity.User) ([]sessionRow, error) {
	ss, _ := sessionFrom(r.Context())
	list, err := s.Identity.ListSessions(r.Context(), u.ID, ss.TokenHash)
	if err != nil {
		return nil, err
	}
	rows := make([]sessionRow, 0, len(list))
	for _, si := range list {
		rows = append(rows, sessionRow{ID: si.ID, Area: areaLabel(si.Area), Device: deviceName(si.UserAgent), Address: si.Address,
			Started: si.Created, LastSeen: si.LastSeen, Current: si.Current})
	}
	return rows, nil
}

func areaLabel(a string) string {
	switch a {
	case "portal":
		return "Patient portal"
	case "console":
		return "Staff pages"
	case "api":
		return "API token"
	}
	return a
}

// endedParam reads how many other sessions the last action ended, for
// the security page's confirmation line.
func endedParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("ended"))
	if err != nil || n < 0 || n > 10000 {
		return 0
	}
	return n
}

// withEnded adds the ended count to a security page address.
func withEnded(path string, n int) string {
	if n == 0 {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "ended=" + strconv.Itoa(n)
}

// endOthersAfterChange signs out every other session of u after a change
// of u's sign-in methods (the request's own stays), so that someone
// signed in elsewhere with what was just replaced is signed out. It
// returns how many ended; identity audits them.
func (s *Server) endOthersAfterChange(r *http.Request, u identity.User, what string) (int, error) {
	ss, ok := sessionFrom(r.Context())
	if !ok {
		return 0, fault.New(fault.Unauthenticated, "please sign in")
	}
	return s.Identity.RevokeOtherSessions(r.Context(), u, ss.TokenHash, what, clientOf(r))
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request, u identity.User) {
	id := r.PathValue("id")
	if ss, ok := sessionFrom(r.Context()); ok && id == hex.EncodeToString(ss.TokenHash) {
		s.renderError(w, r, &u, fault.New(fault.Invalid, "This is the session you are using now; to end it, sign out."))
		return
	}
	if err := s.Identity.RevokeSession(r.Context(), u, id, clientOf(r)); err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, withEnded(securityPath(u), 1)+"#step-sessions", http.StatusSeeOther)
}

func (s *Server) endOtherSessions(w http.ResponseWriter, r *http.Request, u identity.User) {
	n, err := s.endOthersAfterChange(r, u, "signed out everywhere else from the session list")
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	http.Redirect(w, r, withEnded(securityPath(u), n)+"#step-sessions", http.StatusSeeOther)
}

// apiSession is a session as the API lists it.
type apiSession struct {
	ID        string    `json:"id"`
	Area      string    `json:"area"`
	Device    string    `json:"device"`
	UserAgent string    `json:"userAgent"`
	Address   string    `json:"address"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"lastSeen"`
	Expires   time.Time `json:"expires"`
	Current   bool      `json:"current"`
}

func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request, u identity.User) error {
	ss, _ := sessionFrom(r.Context())
	list, err := s.Identity.ListSessions(r.Context(), u.ID, ss.TokenHash)
	if err != nil {
		return err
	}
	out := make([]apiSession, 0, len(list))
	for _, si := range list {
		out = append(out, apiSession{ID: si.ID, Area: si.Area, Device: deviceName(si.UserAgent), UserAgent: si.UserAgent, Address: si.Address,
			Created: si.Created.UTC(), LastSeen: si.LastSeen.UTC(), Expires: si.Expires.UTC(), Current: si.Current})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

func (s *Server) apiEndSession(w http.ResponseWriter, r *http.Request, u identity.User) error {
	if err := s.Identity.RevokeSession(r.Context(), u, r.PathValue("id"), clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiReauth(w http.ResponseWriter, r *http.Request, u identity.User) error {
	var in struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ss, ok := sessionFrom(r.Context())
	if !ok {
		return fault.New(fault.Unauthenticated, "please sign in")
	}
	if err := s.reauthenticate(r, u, ss, in.Password, in.Code); err != nil {
		s.retryAfterLock(w, err)
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reauthenticate checks the password, and the second factor when the
// account has one, and marks the session fresh.
func (s *Server) reauthenticate(r *http.Request, u identity.User, ss identity.Session, password, code string) error {
	if s.MFA == nil {
		return s.Identity.Reauthenticate(r.Context(), u, ss.TokenHash, password, clientOf(r))
	}
	return s.MFA.Reauthenticate(r.Context(), u, ss.TokenHash, password, code, clientOf(r))
}

// reauthView is what the re-authentication page shows.
type reauthView struct {
	// Action is the form's address (/reauth with next); Post says the
	// interrupted action was a form, sent on by POST after success.
	Action string
	Post   bool
	// Replay are the interrupted form's fields, kept in the page.
	Replay []replayField
	// Purpose says in words what is being confirmed.
	Purpose string
	// What the account can confirm with.
	HasPasskeys, ShowPassword, NeedsCode, HasTOTP, HasCodes bool
	Error                                                   string
	Cancel                                                  string
}

type replayField struct{ Name, Value string }

// Fields of the re-authentication form itself; every other field is the
// interrupted form's.
const (
	reauthPrefix   = "reauth."
	reauthMethod   = reauthPrefix + "method"
	reauthPassword = reauthPrefix + "password"
	reauthCode     = reauthPrefix + "code"
	reauthPasskey  = reauthPrefix + "passkey"
)

// maxReplayFields bounds the fields carried through a re-authentication.
const maxReplayFields = 50

// sameSitePath returns n when it is a path on this site (no scheme, no
// host, not protocol-relative, no backslash, no control or space
// character a browser would drop), else "/". It keeps a re-authentication
// or sign-in from sending the browser anywhere else (an open redirect).
func sameSitePath(n string) string {
	if n == "" || n[0] != '/' || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") {
		return "/"
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(n)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if u.Path == "/reauth" || strings.HasPrefix(u.Path, "/reauth/") {
		return "/"
	}
	return n
}

// reauthPurpose names the interrupted action in words.
func reauthPurpose(next string) string {
	p, _, _ := strings.Cut(next, "?")
	switch {
	case strings.HasSuffix(p, "/break-glass"):
		return "break the glass and open a patient's record"
	case strings.HasPrefix(p, "/account/") || strings.HasPrefix(p, "/passkey/") || p == "/console/account" || p == "/portal/security":
		return "change how you sign in"
	case strings.HasSuffix(p, "/export"):
		return "export data"
	}
	return "continue"
}

func (s *Server) newReauthView(r *http.Request, u identity.User, next string, post bool, replay []replayField) (reauthView, error) {
	v := reauthView{Action: "/reauth?next=" + url.QueryEscape(next), Post: post, Replay: replay, Purpose: reauthPurpose(next), ShowPassword: true, Cancel: "/"}
	// Cancelling goes back to where the action started, when that is
	// known; nothing is sent.
	if p, _, _ := strings.Cut(next, "?"); strings.HasSuffix(p, "/break-glass") {
		v.Cancel = strings.TrimSuffix(p, "/break-glass")
	} else if v.Purpose == reauthPurpose("/account/") {
		v.Cancel = securityPath(u)
	}
	if s.MFA == nil {
		return v, nil
	}
	st, err := s.MFA.Status(r.Context(), u.ID)
	if err != nil {
		return v, err
	}
	v.HasPasskeys, v.HasTOTP, v.HasCodes = len(st.Passkeys) > 0, st.TOTP.Active, st.RecoveryLeft > 0
	v.NeedsCode = st.Protected()
	// A passkey-only account without codes has nothing to type after its
	// password: it confirms with the passkey.
	v.ShowPassword = !v.NeedsCode || v.HasTOTP || v.HasCodes
	return v, nil
}

func (s *Server) renderReauth(w http.ResponseWriter, r *http.Request, u identity.User, status int, v reauthView) {
	p := s.newPage("Confirm it is you", &u)
	p.Reauth = &v
	s.render(w, r, status, "reauth", p)
}

func (s *Server) reauthPage(w http.ResponseWriter, r *http.Request, u identity.User) {
	v, err := s.newReauthView(r, u, sameSitePath(r.URL.Query().Get("next")), false, nil)
	if err != nil {
		s.renderError(w, r, &u, err)
		return
	}
	s.renderReauth(w, r, u, http.StatusOK, v)
}

// reauth is POST /reauth: either an interrupted form arriving (fresh sent
// it here with 307: it has no field of the re-authentication form), shown
// with the page; or the page's form, checked and, on success, followed by
// the interrupted action.
func (s *Server) reauth(w http.ResponseWriter, r *http.Request, u identity.User, mux *http.ServeMux) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, &u, fault.Wrap(fault.Invalid, err, "the form could not be read"))
		return
	}
	next := sameSitePath(r.URL.Query().Get("next"))
	var replay []replayField
	form := url.Values{}
	for name, vals := range r.PostForm {
		if strings.HasPrefix(name, reauthPrefix) {
			continue
		}
		for _, v := range vals {
			replay = append(replay, replayField{name, v})
			form.Add(name, v)
		}
	}
	if len(replay) > maxReplayFields {
		s.renderError(w, r, &u, fault.New(fault.Invalid, "the form has more than %d fields", maxReplayFields))
		return
	}
	method := r.PostForm.Get(reauthMethod)
	if method == "" {
		v, err := s.newReauthView(r, u, next, true, replay)
		if err != nil {
			s.renderError(w, r, &u, err)
			return
		}
		s.renderReauth(w, r, u, http.StatusOK, v)
		return
	}
	post := method == http.MethodPost
	ss, ok := sessionFrom(r.Context())
	if !ok {
		s.renderError(w, r, &u, fault.New(fault.Unauthenticated, "please sign in"))
		return
	}
	var err error
	if pk := r.PostForm.Get(reauthPasskey); pk != "" && s.MFA != nil {
		if len(pk) > maxPasskeyBody {
			err = fault.New(fault.TooLarge, "the passkey answer is too large")
		} else {
			err = s.MFA.ReauthWithPasskey(r.Context(), u, ss.TokenHash, []byte(pk), clientOf(r))
		}
	} else {
		err = s.reauthenticate(r, u, ss, r.PostForm.Get(reauthPassword), r.PostForm.Get(reauthCode))
	}
	if err != nil {
		if fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Invalid) || fault.Is(err, fault.TooLarge) {
			v, verr := s.newReauthView(r, u, next, post, replay)
			if verr != nil {
				s.renderError(w, r, &u, verr)
				return
			}
			s.retryAfterLock(w, err)
			v.Error = fault.Message(err)
			s.renderReauth(w, r, u, http.StatusUnauthorized, v)
			return
		}
		s.renderError(w, r, &u, err)
		return
	}
	if !post {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.replayAction(w, r, mux, next, form)
}

// replayAction sends the interrupted form to its action through the
// browser mux, as the browser sent it but for the re-authentication's own
// fields: this request already passed the cross-origin check, and the
// session it carries is now fresh.
func (s *Server) replayAction(w http.ResponseWriter, r *http.Request, mux *http.ServeMux, next string, form url.Values) {
	body := form.Encode()
	r2, err := http.NewRequestWithContext(r.Context(), http.MethodPost, next, strings.NewReader(body))
	if err != nil {
		s.renderError(w, r, nil, fault.Wrap(fault.Invalid, err, "the address to continue to is not valid"))
		return
	}
	r2.Header = r.Header.Clone()
	r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r2.Header.Del("Content-Length")
	r2.RemoteAddr, r2.Host, r2.TLS = r.RemoteAddr, r.Host, r.TLS
	mux.ServeHTTP(w, r2)
}

func (s *Server) reauthPasskeyBegin(w http.ResponseWriter, r *http.Request, u identity.User, _ string) {
	ss, ok := sessionFrom(r.Context())
	if !ok {
		writeProblem(w, r, s.Log, fault.New(fault.Unauthenticated, "please sign in"))
		return
	}
	opts, err := s.MFA.BeginReauthPasskey(r.Context(), u, ss.TokenHash)
	if err != nil {
		writeProblem(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(opts))
}

// The device cookie: a random id a browser keeps for 400 days (the most
// browsers allow), so that a sign-in from a browser the account has not
// used before can be told to its owner (decision 0038). It names no one:
// the account's list of its devices holds only hashes.
const deviceCookie = "tw_device"

const deviceCookieDays = 400

func (s *Server) deviceCookieName() string {
	if s.opt.TLS {
		return "__Host-" + deviceCookie
	}
	return deviceCookie
}

// browserDevice returns the browser's device id, giving it a new one when
// it has none (or one that is not ours), and refreshes the cookie.
func (s *Server) browserDevice(w http.ResponseWriter, r *http.Request) string {
	id := ""
	if c, err := r.Cookie(s.deviceCookieName()); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			id = c.Value
		}
	}
	if id == "" {
		b := make([]byte, 32)
		rand.Read(b)
		id = base64.RawURLEncoding.EncodeToString(b)
	}
	http.SetCookie(w, &http.Cookie{Name: s.deviceCookieName(), Value: id, Path: "/", HttpOnly: true, Secure: s.opt.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: deviceCookieDays * 24 * 3600})
	return id
}

// seeDevice is called at each browser sign-in: it remembers the browser
// for u and tells u of a sign-in from one the account had not used. A
// failure is logged, never shown: the sign-in has happened.
func (s *Server) seeDevice(w http.ResponseWriter, r *http.Request, u identity.User) {
	s.announceIfNew(r, u, s.browserDevice(w, r), "signed in")
}

// seeAPIClient is seeDevice for an API sign-in, which has no cookie: a
// program counts as one device per User-Agent string (decision 0038).
func (s *Server) seeAPIClient(r *http.Request, u identity.User) {
	s.announceIfNew(r, u, "api\x00"+r.UserAgent(), "given an API token")
}

func (s *Server) announceIfNew(r *http.Request, u identity.User, device, how string) {
	seen, err := s.Identity.SeeDevice(r.Context(), u.ID, device)
	if err != nil {
		s.Log.Error("remembering a sign-in's device", "user", u.ID, "err", err)
		return
	}
	// The account's first device is where it was made or first used:
	// there is nothing to compare it with.
	if !seen.New || seen.First || s.Notices == nil {
		return
	}
	c := clientOf(r)
	page := strings.TrimSuffix(s.opt.PublicURL, "/") + securityPath(u)
	body := fmt.Sprintf("Your account %s was %s on %s, on a device it had not used before: %s, from the address %s. "+
		"If this was you, there is nothing to do. If it was not you, end that session at %s (\"Where you are signed in\") and change your sign-in methods there; "+
		"to change your password, use \"Forgot how to sign in?\" on the sign-in page or ask your administrator.",
		u.Username, how, s.now().Format("2 January 2006 at 15:04 UTC"), deviceName(c.UserAgent), c.Address, page)
	subject := "user/" + u.ID
	if u.PatientID != "" {
		subject = seal.PatientSubject(u.PatientID)
	}
	if _, err := s.Notices.ToUser(r.Context(), u.ID, subject, notify.KindNewSignIn, "A sign-in from a new device", body); err != nil {
		s.Log.Error("notifying a sign-in from a new device", "user", u.ID, "err", err)
	}
}

// deviceName names the browser and system of a User-Agent string for
// people ("Chrome on Linux"). It is a guess from what the client says of
// itself, good enough to recognise one's own devices.
func deviceName(ua string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(ua, s) {
				return true
			}
		}
		return false
	}
	browser := ""
	switch {
	case has("Edg/", "EdgA/", "EdgiOS/"):
		browser = "Edge"
	case has("OPR/", "Opera"):
		browser = "Opera"
	case has("SamsungBrowser/"):
		browser = "Samsung Internet"
	case has("Firefox/", "FxiOS/"):
		browser = "Firefox"
	case has("Chrome/", "CriOS/", "Chromium/"):
		browser = "Chrome"
	case has("Safari/") && has("Version/"):
		browser = "Safari"
	case strings.HasPrefix(ua, "curl/"):
		browser = "curl"
	case strings.HasPrefix(ua, "Go-http-client/"):
		browser = "a Go program"
	case has("python-requests/", "Python-urllib/", "python-httpx/"):
		browser = "a Python program"
	}
	system := ""
	switch {
	case has("iPhone"):
		system = "iPhone"
	case has("iPad"):
		system = "iPad"
	case has("Android"):
		system = "Android"
	case has("CrOS"):
		system = "ChromeOS"
	case has("Windows"):
		system = "Windows"
	case has("Macintosh", "Mac OS X"):
		system = "macOS"
	case has("Linux", "X11"):
		system = "Linux"
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "a browser on " + system
	}
	return "an unknown browser or program"
}

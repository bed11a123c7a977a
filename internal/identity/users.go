package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Roles a user can hold.
const (
	RoleClinician        = "clinician"
	RoleNurse            = "nurse"
	RoleFrontDesk        = "front_desk"
	RoleBilling          = "billing"
	RolePrivacyOfficer   = "privacy_officer"
	RoleSecurityEngineer = "security_engineer"
	RolePatient          = "patient"
	RoleAdmin            = "admin"
)

// Roles lists every role.
var Roles = []string{RoleClinician, RoleNurse, RoleFrontDesk, RoleBilling, RolePrivacyOfficer, RoleSecurityEngineer, RolePatient, RoleAdmin}

// RoleLabel is a role's name for people.
func RoleLabel(r string) string {
	switch r {
	case RoleClinician:
		return "Physician"
	case RoleNurse:
		return "Nurse"
	case RoleFrontDesk:
		return "Front desk"
	case RoleBilling:
		return "Billing"
	case RolePrivacyOfficer:
		return "Privacy officer"
	case RoleSecurityEngineer:
		return "Security engineer"
	case RolePatient:
		return "Patient"
	case RoleAdmin:
		return "Administrator"
	}
	return r
}

// User is an account.
type User struct {
	ID             string
	Username       string
	DisplayName    string
	Role           string
	PractitionerID string
	PatientID      string
	DepartmentID   string
	Disabled       bool
}

// Recorder records audit events.
type Recorder interface {
	Record(ctx context.Context, ev *audit.Event) error
}

// Service manages accounts and sessions.
type Service struct {
	db     *db.DB
	hasher *Hasher
	audit  Recorder
	clock  func() time.Time
	log    *slog.Logger
	// dummy is verified against when a username is unknown, so that the
	// response time does not reveal which usernames exist.
	dummy string
	// org is the organisation's name, a context word passwords must avoid.
	org string
	// unknown locks usernames without an account like accounts.
	unknown *unknownNames
}

// NewService returns the identity service.
func NewService(ctx context.Context, d *db.DB, h *Hasher, rec Recorder, clock func() time.Time, log *slog.Logger, org string) (*Service, error) {
	dummy, err := h.Hash(ctx, "not a real password, only timing cover")
	if err != nil {
		return nil, err
	}
	return &Service{db: d, hasher: h, audit: rec, clock: clock, log: log, dummy: dummy, org: org, unknown: newUnknownNames(maxUnknownNames)}, nil
}

// Hasher returns the password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

func validRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

func newUserID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "u-" + hex.EncodeToString(b)
}

func validUsername(u string) error {
	if len(u) < 2 || len(u) > 64 {
		return fault.InvalidField("username", "must be 2 to 64 characters")
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fault.InvalidField("username", "may hold only lowercase letters, digits, '.', '-' and '_'")
		}
	}
	return nil
}

// CreateUsers adds accounts in one transaction. passwordHash, when not
// empty, is stored for every one of them (the demo hospital's shared
// password, hashed once); users without it cannot sign in by password.
func (s *Service) CreateUsers(ctx context.Context, users []User, passwordHash string) ([]User, error) {
	out := make([]User, len(users))
	for i, u := range users {
		u.Username = strings.ToLower(strings.TrimSpace(u.Username))
		if err := validUsername(u.Username); err != nil {
			return nil, err
		}
		if !validRole(u.Role) {
			return nil, fault.InvalidField("role", "%q is not a known role", u.Role)
		}
		if u.DisplayName == "" || !utf8.ValidString(u.DisplayName) || len(u.DisplayName) > 200 {
			return nil, fault.InvalidField("display_name", "must be 1 to 200 characters of text")
		}
		if u.ID == "" {
			u.ID = newUserID()
		}
		out[i] = u
	}
	now := s.clock().UnixMicro()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, u := range out {
			var hash any
			if passwordHash != "" {
				hash = passwordHash
			}
			if _, err := tx.Exec(ctx, `INSERT INTO users (id, username, display_name, role, practitioner_id, patient_id, department_id, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				u.ID, u.Username, u.DisplayName, u.Role, nullable(u.PractitionerID), nullable(u.PatientID), nullable(u.DepartmentID), hash, now); err != nil {
				if fault.Is(err, fault.Conflict) {
					return fault.New(fault.Conflict, "the username %s is taken", u.Username)
				}
				return err
			}
		}
		return nil
	})
	return out, err
}

// CreateUser adds one account with its own password.
func (s *Service) CreateUser(ctx context.Context, u User, password string) (User, error) {
	if err := PasswordError(CheckPassword(password, PolicyContext{Username: u.Username, DisplayName: u.DisplayName, OrgName: s.org})); err != nil {
		return User{}, err
	}
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	us, err := s.CreateUsers(ctx, []User{u}, h)
	if err != nil {
		return User{}, err
	}
	return us[0], nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const userCols = `id, username, display_name, role, practitioner_id, patient_id, department_id, disabled_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var pr, pa, dep sql.NullString
	var dis sql.NullInt64
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &pr, &pa, &dep, &dis)
	u.PractitionerID, u.PatientID, u.DepartmentID, u.Disabled = pr.String, pa.String, dep.String, dis.Valid
	return u, err
}

// UserByID returns a user.
func (s *Service) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return User{}, fault.New(fault.NotFound, "user not found")
	}
	return u, db.Translate(err)
}

// UserByPractitioner returns the user account of a practitioner.
func (s *Service) UserByPractitioner(ctx context.Context, practitionerID string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE practitioner_id = $1 ORDER BY created_at LIMIT 1`, practitionerID))
	if err == sql.ErrNoRows {
		return User{}, fault.New(fault.NotFound, "user not found")
	}
	return u, db.Translate(err)
}

// CountUsers returns the number of accounts.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, db.Translate(err)
}

// ErrBadCredentials is the one message for a wrong username or password.
var errBadCredentials = fault.New(fault.Unauthenticated, "wrong username or password")

// Client describes where a request came from, for audit events.
type Client struct {
	Address   string
	UserAgent string
}

// Authenticate checks a username and password. Each attempt is counted as
// a failure in the database, atomically and before the password is
// checked, so that parallel guesses cannot outrun the lockout schedule
// (lockout.go, decision 0035); a right password clears the count. Every
// outcome is audited; neither the error nor the time taken says whether
// the username exists.
func (s *Service) Authenticate(ctx context.Context, username, password string, c Client) (User, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	var hash sql.NullString
	row := s.db.QueryRow(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE username = $1`, username)
	var u User
	var pr, pa, dep sql.NullString
	var dis sql.NullInt64
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &pr, &pa, &dep, &dis, &hash)
	u.PractitionerID, u.PatientID, u.DepartmentID, u.Disabled = pr.String, pa.String, dep.String, dis.Valid
	if err == sql.ErrNoRows || (err == nil && !hash.Valid) {
		return User{}, s.authenticateUnknown(ctx, username, password, c)
	}
	if err != nil {
		return User{}, db.Translate(err)
	}
	now := s.clock()
	n, st, claimed, err := s.claimAttempt(ctx, u.ID, now)
	if err != nil {
		return User{}, err
	}
	if !claimed {
		s.auditSignIn(ctx, u, c, audit.OutcomeDenied, lockedDesc(st))
		return User{}, refuseLocked(st, now)
	}
	ok, rehash, err := s.hasher.Verify(ctx, hash.String, password)
	if err != nil {
		// The attempt stays counted: a guess cut short is still a guess.
		return User{}, err
	}
	if !ok {
		s.auditSignIn(ctx, u, c, audit.OutcomeDenied, "wrong password")
		s.auditLockout(ctx, u, c, n, now)
		return User{}, failedAttempt(n, now)
	}
	if u.Disabled {
		s.auditSignIn(ctx, u, c, audit.OutcomeDenied, "account disabled")
		return User{}, errBadCredentials
	}
	if _, err := s.db.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1`, u.ID); err != nil {
		return User{}, err
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			_, _ = s.db.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, u.ID, h)
		}
	}
	if err := s.auditSignIn(ctx, u, c, audit.OutcomeSuccess, ""); err != nil {
		// Sign-in is audited fail-closed like any access.
		return User{}, err
	}
	return u, nil
}

func (s *Service) auditSignIn(ctx context.Context, u User, c Client, outcome, desc string) error {
	ev := &audit.Event{
		Actor:          audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action:         audit.ActionExecute,
		Subtype:        "login",
		Outcome:        outcome,
		OutcomeDesc:    desc,
		Source:         "trustward",
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	}
	err := s.audit.Record(ctx, ev)
	if err != nil {
		s.log.Error("sign-in audit failed", "user", u.ID, "err", err)
	}
	return err
}

// Session is a signed-in browser session.
type Session struct {
	UserID    string
	Area      string
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time
	Idle      time.Duration
	TokenHash []byte
	// AuthAt is when the owner last proved who they are: the sign-in, or
	// a later re-authentication (reauth.go).
	AuthAt time.Time
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// NewSession creates a session and returns its secret token (for a cookie).
func (s *Service) NewSession(ctx context.Context, userID, area string, ttl, idle time.Duration, c Client) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock()
	_, err := s.db.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, area, created_at, last_seen_at, auth_at, expires_at, idle_seconds, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7, $8)`,
		hashToken(tok), userID, area, now.UnixMicro(), now.Add(ttl).UnixMicro(), int64(idle/time.Second), c.Address, truncate(c.UserAgent, 500))
	return tok, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// touchEvery limits how often last-seen is written (a write per request
// would compete with the audit writer).
const touchEvery = 30 * time.Second

// CheckSession returns the session and user of a token. An expired or idle
// session is deleted and reported as Unauthenticated.
func (s *Service) CheckSession(ctx context.Context, token string) (Session, User, error) {
	if token == "" || len(token) > 100 {
		return Session{}, User{}, fault.New(fault.Unauthenticated, "please sign in")
	}
	th := hashToken(token)
	var ss Session
	var created, seen, exp, idle, authAt int64
	row := s.db.QueryRow(ctx, `SELECT s.user_id, s.area, s.created_at, s.last_seen_at, s.expires_at, s.idle_seconds, s.auth_at, `+
		`u.id, u.username, u.display_name, u.role, u.practitioner_id, u.patient_id, u.department_id, u.disabled_at `+
		`FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, th)
	var u User
	var pr, pa, dep sql.NullString
	var dis sql.NullInt64
	err := row.Scan(&ss.UserID, &ss.Area, &created, &seen, &exp, &idle, &authAt, &u.ID, &u.Username, &u.DisplayName, &u.Role, &pr, &pa, &dep, &dis)
	if err == sql.ErrNoRows {
		return Session{}, User{}, fault.New(fault.Unauthenticated, "your session has ended; please sign in again")
	}
	if err != nil {
		return Session{}, User{}, db.Translate(err)
	}
	u.PractitionerID, u.PatientID, u.DepartmentID, u.Disabled = pr.String, pa.String, dep.String, dis.Valid
	ss.Created, ss.LastSeen, ss.Expires, ss.Idle, ss.TokenHash = time.UnixMicro(created), time.UnixMicro(seen), time.UnixMicro(exp), time.Duration(idle)*time.Second, th
	ss.AuthAt = time.UnixMicro(authAt)
	now := s.clock()
	if now.After(ss.Expires) || now.Sub(ss.LastSeen) > ss.Idle || u.Disabled {
		_, _ = s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, th)
		return Session{}, User{}, fault.New(fault.Unauthenticated, "your session has expired; please sign in again")
	}
	if now.Sub(ss.LastSeen) > touchEvery {
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1`, th, now.UnixMicro()); err != nil {
			return Session{}, User{}, err
		}
	}
	return ss, u, nil
}

// EndSession deletes a session (sign-out) and audits it.
func (s *Service) EndSession(ctx context.Context, token string, u User, c Client) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, hashToken(token)); err != nil {
		return err
	}
	return s.audit.Record(ctx, &audit.Event{
		Actor:  audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action: audit.ActionExecute, Subtype: "logout", Outcome: audit.OutcomeSuccess, Source: "trustward",
		NetworkAddress: c.Address, UserAgent: c.UserAgent,
	})
}

package identity

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Audit subtypes of second-factor actions (docs/operations.md lists them).
const (
	SubtypeFactorAdded   = "mfa-added"
	SubtypeFactorRemoved = "mfa-removed"
	SubtypeFactorUsed    = "mfa-used"
	SubtypeRecoveryUsed  = "recovery-code-used"
	SubtypeFactorFailed  = "mfa-failed"
	// SubtypeRecoveryCodesNew: a new set of recovery codes replaced the old.
	SubtypeRecoveryCodesNew = "recovery-codes-issued"
)

// MethodPasskey names passkeys in audit events.
const MethodPasskey = "passkey"

// secondFactorFor is how long a password sign-in waits for its second
// factor.
const secondFactorFor = 5 * time.Minute

// AuditFactor records a second-factor action of u as an audit event, the
// way sign-ins are recorded. desc must hold no secret and no patient data.
func (s *Service) AuditFactor(ctx context.Context, u User, c Client, subtype, method, outcome, desc string) error {
	ev := &audit.Event{
		Actor:          audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action:         audit.ActionExecute,
		Subtype:        subtype,
		Outcome:        outcome,
		OutcomeDesc:    method + ": " + desc,
		Source:         "trustward",
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	}
	err := s.audit.Record(ctx, ev)
	if err != nil {
		s.log.Error("second-factor audit failed", "user", u.ID, "subtype", subtype, "err", err)
	}
	return err
}

// MFA is the second-factor layer the web pages use: it checks factors
// through Factors and Passkeys, keeps a password sign-in waiting for its
// second factor, and records every action as an audit event.
type MFA struct {
	svc      *Service
	factors  *Factors
	passkeys *Passkeys
}

// NewMFA returns the second-factor layer.
func NewMFA(svc *Service, f *Factors, p *Passkeys) *MFA {
	return &MFA{svc: svc, factors: f, passkeys: p}
}

// Passkeys returns the passkey manager.
func (m *MFA) Passkeys() *Passkeys { return m.passkeys }

// FactorStatus is what a user has set up, for the security page and the
// portal's checklist.
type FactorStatus struct {
	TOTP          TOTPStatus
	RecoveryLeft  int
	Passkeys      []Passkey
	SecondFactors int
}

// Protected reports whether a password alone no longer opens the account.
func (f FactorStatus) Protected() bool { return f.TOTP.Active || len(f.Passkeys) > 0 }

// Status returns what u has set up.
func (m *MFA) Status(ctx context.Context, userID string) (FactorStatus, error) {
	var st FactorStatus
	var err error
	if st.TOTP, err = m.factors.TOTP(ctx, userID); err != nil {
		return st, err
	}
	if st.RecoveryLeft, err = m.factors.RecoveryCodesLeft(ctx, userID); err != nil {
		return st, err
	}
	if st.Passkeys, err = m.passkeys.List(ctx, userID); err != nil {
		return st, err
	}
	if st.TOTP.Active {
		st.SecondFactors++
	}
	st.SecondFactors += len(st.Passkeys)
	return st, nil
}

// pendingSignIn is what a password sign-in waiting for its second factor
// remembers.
type pendingSignIn struct {
	Next string `json:"next"`
}

// NeedsSecondFactor reports whether a password sign-in of u must be
// completed with a second factor: when u has an authenticator app or a
// passkey (a password of 8 characters is allowed only then, NIST SP
// 800-63B).
func (m *MFA) NeedsSecondFactor(ctx context.Context, userID string) (bool, error) {
	st, err := m.Status(ctx, userID)
	return st.Protected(), err
}

// HoldSignIn keeps u's password sign-in waiting for a second factor,
// bound to secret (a cookie) for five minutes.
func (m *MFA) HoldSignIn(ctx context.Context, u User, secret, next string) error {
	b, err := json.Marshal(pendingSignIn{Next: next})
	if err != nil {
		return err
	}
	return m.passkeys.putCeremony(ctx, bindingHash(ceremonyMFA, secret), ceremonyMFA, u.ID, b, secondFactorFor)
}

// HeldSignIn returns the account and destination of a sign-in waiting for
// its second factor.
func (m *MFA) HeldSignIn(ctx context.Context, secret string) (User, string, error) {
	var uid string
	var data []byte
	var exp int64
	err := db.ScanRow(m.svc.db.QueryRow(ctx, `SELECT user_id, data, expires_at FROM auth_ceremonies WHERE binding = $1 AND kind = $2`,
		bindingHash(ceremonyMFA, secret), ceremonyMFA), "sign-in", &uid, &data, &exp)
	if fault.Is(err, fault.NotFound) || (err == nil && m.svc.clock().UnixMicro() > exp) {
		return User{}, "", fault.Wrap(fault.Unauthenticated, ErrNoCeremony, "your sign-in has expired; please sign in again")
	}
	if err != nil {
		return User{}, "", err
	}
	var p pendingSignIn
	if err := json.Unmarshal(data, &p); err != nil {
		return User{}, "", err
	}
	u, err := m.svc.UserByID(ctx, uid)
	return u, p.Next, err
}

// CompleteSignIn checks the second factor of a held sign-in: a six-digit
// code from the authenticator app or a recovery code. Every attempt is an
// audit event; after success the hold is removed, so it completes once.
func (m *MFA) CompleteSignIn(ctx context.Context, secret, code string, c Client) (User, string, error) {
	u, next, err := m.HeldSignIn(ctx, secret)
	if err != nil {
		return User{}, "", err
	}
	if err := m.VerifyCode(ctx, u, code, c); err != nil {
		return User{}, "", err
	}
	res, err := m.svc.db.Exec(ctx, `DELETE FROM auth_ceremonies WHERE binding = $1 AND kind = $2`, bindingHash(ceremonyMFA, secret), ceremonyMFA)
	if err != nil {
		return User{}, "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return User{}, "", fault.Wrap(fault.Unauthenticated, ErrNoCeremony, "this sign-in was already completed; please sign in again")
	}
	return u, next, nil
}

// VerifyCode checks a second factor of u: a six-digit code from the
// authenticator app or a recovery code. Every attempt is an audit event.
// The API's token sign-in uses it directly; the browser's goes through
// CompleteSignIn.
func (m *MFA) VerifyCode(ctx context.Context, u User, code string, c Client) error {
	if strings.TrimSpace(code) == "" {
		_ = m.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodTOTP, audit.OutcomeDenied, "no code given")
		return fault.Wrap(fault.Unauthenticated, ErrWrongCode, "this account has a second factor: give the code from the authenticator app or a recovery code")
	}
	if len(code) > 64 {
		return fault.InvalidField("code", "a code is at most 64 characters")
	}
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	var v Verification
	var err error
	if len(digits) == 6 && strings.Trim(digits, "0123456789") == "" {
		v, err = m.factors.VerifyTOTP(ctx, u.ID, code)
	} else {
		v, err = m.factors.UseRecoveryCode(ctx, u.ID, code)
	}
	if err != nil {
		if fault.Is(err, fault.Unauthenticated) {
			_ = m.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, v.Method, audit.OutcomeDenied, v.Outcome)
		}
		return err
	}
	subtype := SubtypeFactorUsed
	if v.Method == MethodRecoveryCode {
		subtype = SubtypeRecoveryUsed
	}
	return m.svc.AuditFactor(ctx, u, c, subtype, v.Method, audit.OutcomeSuccess, v.Outcome)
}

// BeginTOTP starts enrolling an authenticator app for u (see
// Factors.BeginTOTP).
func (m *MFA) BeginTOTP(ctx context.Context, u User) (secret, otpauthURL string, qrPNG []byte, err error) {
	return m.factors.BeginTOTP(ctx, u.ID, u.Username)
}

// ConfirmTOTP activates the authenticator being set up with its first
// code. When u has no recovery codes left, a first set is made and
// returned, to be shown once.
func (m *MFA) ConfirmTOTP(ctx context.Context, u User, code string, c Client) ([]string, error) {
	v, err := m.factors.ConfirmTOTP(ctx, u.ID, code)
	if err != nil {
		if fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Conflict) {
			_ = m.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodTOTP, audit.OutcomeDenied, v.Outcome)
		}
		return nil, err
	}
	if err := m.svc.AuditFactor(ctx, u, c, SubtypeFactorAdded, MethodTOTP, audit.OutcomeSuccess, "authenticator app added"); err != nil {
		return nil, err
	}
	left, err := m.factors.RecoveryCodesLeft(ctx, u.ID)
	if err != nil || left > 0 {
		return nil, err
	}
	return m.NewRecoveryCodes(ctx, u, c)
}

// RemoveTOTP removes u's authenticator app.
func (m *MFA) RemoveTOTP(ctx context.Context, u User, c Client) error {
	if err := m.factors.RemoveTOTP(ctx, u.ID); err != nil {
		return err
	}
	return m.svc.AuditFactor(ctx, u, c, SubtypeFactorRemoved, MethodTOTP, audit.OutcomeSuccess, "authenticator app removed")
}

// NewRecoveryCodes replaces u's recovery codes with a new set and returns
// it, to be shown once.
func (m *MFA) NewRecoveryCodes(ctx context.Context, u User, c Client) ([]string, error) {
	codes, err := m.factors.NewRecoveryCodes(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if err := m.svc.AuditFactor(ctx, u, c, SubtypeRecoveryCodesNew, MethodRecoveryCode, audit.OutcomeSuccess, "new recovery codes; earlier ones no longer work"); err != nil {
		return nil, err
	}
	return codes, nil
}

package identity

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Fresh authentication (decision 0037): a sensitive action (breaking the
// glass, changing sign-in methods, exporting data) needs the person at the
// keyboard to have proved who they are within FreshFor. A session's
// AuthAt is set when it is opened by a full sign-in and again by a
// re-authentication here, which asks for what a sign-in asks: a passkey,
// or the password and the second factor when the account has one.

// FreshFor is how long a sign-in or re-authentication counts as fresh.
const FreshFor = 5 * time.Minute

// SubtypeReauth: a signed-in user confirmed who they are (or failed to)
// for a sensitive action; the method or the reason is in the outcome text.
const SubtypeReauth = "reauth"

// ceremonyReauth binds a passkey re-authentication to its session.
const ceremonyReauth = "passkey-reauth"

// ErrNotFresh is the cause of a refusal because the session's
// authentication is older than FreshFor.
var ErrNotFresh = errors.New("fresh authentication needed")

// Fresh reports whether the session's owner proved who they are within
// FreshFor of now.
func (ss Session) Fresh(now time.Time) bool {
	return ss.AuthAt.UnixMicro() > 0 && now.Sub(ss.AuthAt) <= FreshFor
}

// NotFresh is the error of a sensitive action asked with a session whose
// authentication is too old.
func NotFresh() error {
	return fault.Wrap(fault.Unauthenticated, ErrNotFresh, "for this action we need to know it is still you: please confirm with your passkey, or your password (and second factor), first; you signed in more than %d minutes ago", int(FreshFor/time.Minute))
}

// auditReauth records a re-authentication attempt of u.
func (s *Service) auditReauth(ctx context.Context, u User, c Client, outcome, desc string) error {
	err := s.audit.Record(ctx, &audit.Event{
		Actor:          audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action:         audit.ActionExecute,
		Subtype:        SubtypeReauth,
		Outcome:        outcome,
		OutcomeDesc:    desc,
		Source:         "trustward",
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	})
	if err != nil {
		s.log.Error("re-authentication audit failed", "user", u.ID, "err", err)
	}
	return err
}

// markFresh sets the session's AuthAt to now. The session must be u's.
func (s *Service) markFresh(ctx context.Context, u User, tokenHash []byte) error {
	res, err := s.db.Exec(ctx, `UPDATE sessions SET auth_at = $3 WHERE token_hash = $1 AND user_id = $2`, tokenHash, u.ID, s.clock().UnixMicro())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fault.New(fault.Unauthenticated, "your session has ended; please sign in again")
	}
	return nil
}

// checkPassword checks u's password for a re-authentication. It counts
// against the same lockout as a password sign-in (decision 0035): a
// stolen session is no way around it. Every refusal is audited.
func (s *Service) checkPassword(ctx context.Context, u User, password string, c Client) error {
	var hash sql.NullString
	if err := db.ScanRow(s.db.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, u.ID), "user", &hash); err != nil {
		return err
	}
	if !hash.Valid {
		_ = s.auditReauth(ctx, u, c, audit.OutcomeDenied, "password: the account has none")
		return fault.New(fault.Unauthenticated, "your account has no password; confirm with your passkey")
	}
	now := s.clock()
	n, st, claimed, err := s.claimAttempt(ctx, u.ID, now)
	if err != nil {
		return err
	}
	if !claimed {
		_ = s.auditReauth(ctx, u, c, audit.OutcomeDenied, "password: "+lockedDesc(st))
		return refuseLocked(st, now)
	}
	ok, _, err := s.hasher.Verify(ctx, hash.String, password)
	if err != nil {
		return err
	}
	if !ok {
		_ = s.auditReauth(ctx, u, c, audit.OutcomeDenied, "password: wrong password")
		s.auditLockout(ctx, u, c, n, now)
		if err := failedAttempt(n, now); !errors.Is(err, errBadCredentials) {
			return err
		}
		return fault.New(fault.Unauthenticated, "that password is not right")
	}
	_, err = s.db.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1`, u.ID)
	return err
}

// Reauthenticate confirms, with the password alone, that the owner of the
// session tokenHash is at the keyboard: for a server without second
// factors. With second factors, use MFA.Reauthenticate.
func (s *Service) Reauthenticate(ctx context.Context, u User, tokenHash []byte, password string, c Client) error {
	if err := s.checkPassword(ctx, u, password, c); err != nil {
		return err
	}
	if err := s.markFresh(ctx, u, tokenHash); err != nil {
		return err
	}
	return s.auditReauth(ctx, u, c, audit.OutcomeSuccess, "password")
}

// Reauthenticate confirms that the owner of the session tokenHash is at
// the keyboard with the password and, when the account has a second
// factor, a code from the authenticator app or a recovery code (each
// check audited as at sign-in). The password is checked first, so that a
// wrong one spends no code.
func (m *MFA) Reauthenticate(ctx context.Context, u User, tokenHash []byte, password, code string, c Client) error {
	if err := m.svc.checkPassword(ctx, u, password, c); err != nil {
		return err
	}
	need, err := m.NeedsSecondFactor(ctx, u.ID)
	if err != nil {
		return err
	}
	how := "password"
	if need {
		if err := m.VerifyCode(ctx, u, code, c); err != nil {
			if fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Invalid) {
				_ = m.svc.auditReauth(ctx, u, c, audit.OutcomeDenied, "second factor refused")
			}
			return err
		}
		how = "password and second factor"
	}
	if err := m.svc.markFresh(ctx, u, tokenHash); err != nil {
		return err
	}
	return m.svc.auditReauth(ctx, u, c, audit.OutcomeSuccess, how)
}

func reauthBinding(tokenHash []byte) []byte {
	return bindingHash(ceremonyReauth, hex.EncodeToString(tokenHash))
}

// BeginReauthPasskey starts a passkey re-authentication of u in the
// session tokenHash and returns the options for navigator.credentials.get
// (only u's own passkeys are allowed).
func (m *MFA) BeginReauthPasskey(ctx context.Context, u User, tokenHash []byte) ([]byte, error) {
	return m.passkeys.beginUserAssertion(ctx, u, reauthBinding(tokenHash), ceremonyReauth, "your account has no passkey; confirm with your password")
}

// ReauthWithPasskey checks the answer to BeginReauthPasskey and, when it
// is one of u's passkeys with user verification, marks the session fresh.
// A passkey is two factors in one (decision 0029); the password lockout
// does not apply to it. Every outcome is audited.
func (m *MFA) ReauthWithPasskey(ctx context.Context, u User, tokenHash []byte, response []byte, c Client) error {
	p := m.passkeys
	fail := func(reason string, err error) error {
		_ = m.svc.auditReauth(ctx, u, c, audit.OutcomeDenied, "passkey: "+reason)
		return err
	}
	uid, sd, err := p.takeCeremony(ctx, reauthBinding(tokenHash), ceremonyReauth)
	if err != nil {
		return fail("no live challenge (expired or replayed)", err)
	}
	if reason, err := p.checkUserAssertion(ctx, u, uid, sd, response, "confirm with your password instead, and tell your administrator"); reason != "" {
		return fail(reason, err)
	} else if err != nil {
		return err
	}
	if err := m.svc.markFresh(ctx, u, tokenHash); err != nil {
		return err
	}
	return m.svc.auditReauth(ctx, u, c, audit.OutcomeSuccess, "passkey")
}

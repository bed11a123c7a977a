package identity

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Audit subtypes of session management.
const (
	// SubtypeSessionRevoked: a user (or an administrator) ended a session
	// other than the one they were using.
	SubtypeSessionRevoked = "session-revoked"
)

// SessionInfo describes one active session for the user's session list.
// It never carries the token: ID is the hex of the token's SHA-256, which
// the database already keys on and which cannot be turned back into a
// cookie.
type SessionInfo struct {
	ID        string
	Area      string
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time
	Address   string
	UserAgent string
	// Current is the session the list was asked from.
	Current bool
}

// ListSessions returns a user's sessions that have neither expired nor
// gone idle, newest activity first. current is the token hash of the
// asking session (nil: none).
func (s *Service) ListSessions(ctx context.Context, userID string, current []byte) ([]SessionInfo, error) {
	rows, err := s.db.Query(ctx, `SELECT token_hash, area, created_at, last_seen_at, expires_at, idle_seconds, ip, user_agent FROM sessions WHERE user_id = $1 ORDER BY last_seen_at DESC`, userID)
	if err != nil {
		return nil, db.Translate(err)
	}
	defer rows.Close()
	now := s.clock()
	var out []SessionInfo
	for rows.Next() {
		var th []byte
		var created, seen, exp, idle int64
		var si SessionInfo
		if err := rows.Scan(&th, &si.Area, &created, &seen, &exp, &idle, &si.Address, &si.UserAgent); err != nil {
			return nil, db.Translate(err)
		}
		si.Created, si.LastSeen, si.Expires = time.UnixMicro(created), time.UnixMicro(seen), time.UnixMicro(exp)
		if now.After(si.Expires) || now.Sub(si.LastSeen) > time.Duration(idle)*time.Second {
			continue
		}
		si.ID = hex.EncodeToString(th)
		si.Current = current != nil && bytes.Equal(th, current)
		out = append(out, si)
	}
	return out, db.Translate(rows.Err())
}

// RevokeSession ends one of the user's own sessions by its list ID and
// audits it. A session of another user is reported as not found.
func (s *Service) RevokeSession(ctx context.Context, u User, id string, c Client) error {
	th, err := hex.DecodeString(id)
	if err != nil || len(th) != 32 {
		return fault.InvalidField("session", "is not a session id from your session list")
	}
	res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1 AND user_id = $2`, th, u.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "that session has already ended")
	}
	return s.auditSessions(ctx, u, c, "1 session ended from the session list")
}

// RevokeOtherSessions ends every session of the user except the one whose
// token hash is keep (nil: all of them), and audits how many ended and
// why. It is called on every credential change and on account recovery,
// so that a thief signed in elsewhere is signed out.
func (s *Service) RevokeOtherSessions(ctx context.Context, u User, keep []byte, reason string, c Client) (int, error) {
	var n int64
	if keep == nil {
		res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
		if err != nil {
			return 0, err
		}
		n, _ = res.RowsAffected()
	} else {
		res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, u.ID, keep)
		if err != nil {
			return 0, err
		}
		n, _ = res.RowsAffected()
	}
	if n == 0 {
		return 0, nil
	}
	return int(n), s.auditSessions(ctx, u, c, fmt.Sprintf("%d other session(s) ended: %s", n, reason))
}

func (s *Service) auditSessions(ctx context.Context, u User, c Client, desc string) error {
	return s.audit.Record(ctx, &audit.Event{
		Actor:       audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action:      audit.ActionExecute,
		Subtype:     SubtypeSessionRevoked,
		Outcome:     audit.OutcomeSuccess,
		OutcomeDesc: desc,
		Source:      "trustward",
		// Where the revocation came from, not where the ended sessions were.
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	})
}

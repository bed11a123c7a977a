package identity

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// AccountSummary is one account as the administrators' list shows it:
// what it can sign in with, and whether it is locked or being recovered.
type AccountSummary struct {
	User
	HasPassword   bool
	TOTP          bool
	Passkeys      int
	RecoveryCodes int
	// Failures are consecutive failed password sign-ins; Locked is set
	// while they keep password sign-in closed.
	Failures int
	Locked   bool
	// RecoveryUntil is when the account's open recovery (a link or an
	// enrolment code) ends; zero when there is none.
	RecoveryUntil time.Time
}

// MaxAccountsListed bounds ListAccounts.
const MaxAccountsListed = 200

// ListAccounts returns accounts for the administrators' page, by
// username: the staff accounts when q is empty, otherwise every account
// whose username or name contains q (patients included, for a clinic that
// recovers a patient in person). It reads the users table whole, with a
// count per factor table by index: staff lists are hundreds to thousands
// of rows.
func (s *Service) ListAccounts(ctx context.Context, q string) ([]AccountSummary, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if len(q) > 100 {
		return nil, fault.InvalidField("q", "a search is at most 100 characters")
	}
	now := s.clock().UnixMicro()
	where := `u.role <> $2`
	arg := any(RolePatient)
	if q != "" {
		where = `(u.username LIKE $2 ESCAPE '\' OR lower(u.display_name) LIKE $2 ESCAPE '\')`
		arg = "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	}
	rows, err := s.db.Query(ctx, `SELECT u.id, u.username, u.display_name, u.role, u.practitioner_id, u.patient_id, u.department_id, u.disabled_at,
	CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END, u.failed_logins, u.locked_until,
	(SELECT COUNT(*) FROM totp_factors t WHERE t.user_id = u.id AND t.secret IS NOT NULL),
	(SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id),
	(SELECT COUNT(*) FROM recovery_codes c WHERE c.user_id = u.id AND c.used_at IS NULL),
	(SELECT MAX(a.expires_at) FROM account_recoveries a WHERE a.user_id = u.id AND a.used_at IS NULL AND a.revoked_at IS NULL AND a.expires_at > $1)
FROM users u WHERE `+where+` ORDER BY u.username LIMIT `+strconv.Itoa(MaxAccountsListed), now, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AccountSummary
	for rows.Next() {
		var a AccountSummary
		var pr, pa, dep sql.NullString
		var dis, locked, recovery sql.NullInt64
		var hasPassword, totp int
		if err := rows.Scan(&a.ID, &a.Username, &a.DisplayName, &a.Role, &pr, &pa, &dep, &dis, &hasPassword, &a.Failures, &locked,
			&totp, &a.Passkeys, &a.RecoveryCodes, &recovery); err != nil {
			return nil, db.Translate(err)
		}
		a.PractitionerID, a.PatientID, a.DepartmentID, a.Disabled = pr.String, pa.String, dep.String, dis.Valid
		a.HasPassword, a.TOTP = hasPassword == 1, totp > 0
		a.Locked = a.Failures >= hardCap || (locked.Valid && locked.Int64 > now)
		a.RecoveryUntil = db.FromMicros(recovery)
		out = append(out, a)
	}
	return out, db.Translate(rows.Err())
}

// UserByUsername returns the account with a username (any case).
func (s *Service) UserByUsername(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, strings.ToLower(strings.TrimSpace(username))))
	if err == sql.ErrNoRows {
		return User{}, fault.New(fault.NotFound, "no account has the username %q", username)
	}
	return u, db.Translate(err)
}

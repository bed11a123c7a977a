package identity

import (
	"context"
	"fmt"

	"github.com/trustward/trustward/internal/db"
)

// Coverage is how many accounts are protected by more than a password:
// the figures governance reports (HHS cybersecurity performance goals:
// phishing-resistant MFA for staff) and the trust page publishes.
type Coverage struct {
	// Staff counts active accounts of every role but patient.
	Staff int `json:"staff"`
	// StaffSecondFactor have a confirmed TOTP authenticator or a passkey.
	StaffSecondFactor int `json:"staffSecondFactor"`
	// StaffPhishingResistant have a passkey (WebAuthn): TOTP codes and
	// passwords can be phished, a passkey cannot.
	StaffPhishingResistant int `json:"staffPhishingResistant"`
	// Patients counts active patient accounts.
	Patients int `json:"patients"`
	// PatientsSecondFactor have a confirmed TOTP authenticator or a passkey.
	PatientsSecondFactor int `json:"patientsSecondFactor"`
}

// passkeyTables are the tables that may hold WebAuthn credentials with a
// user_id column; the first one the store has is counted.
var passkeyTables = []string{"passkeys", "webauthn_credentials"}

// Coverage counts the accounts with second factors. Disabled accounts are
// not counted.
func (s *Service) Coverage(ctx context.Context) (Coverage, error) {
	var c Coverage
	passkey := "SELECT NULL AS user_id WHERE 1 = 0"
	for _, t := range passkeyTables {
		ok, err := tableExists(ctx, s.db, t)
		if err != nil {
			return c, err
		}
		if ok {
			passkey = "SELECT user_id FROM " + t
			break
		}
	}
	q := fmt.Sprintf(`SELECT u.role = 'patient',
  COUNT(*),
  COUNT(CASE WHEN t.user_id IS NOT NULL OR p.user_id IS NOT NULL THEN 1 END),
  COUNT(CASE WHEN p.user_id IS NOT NULL THEN 1 END)
FROM users u
LEFT JOIN (SELECT user_id FROM totp_factors WHERE confirmed_at IS NOT NULL) t ON t.user_id = u.id
LEFT JOIN (SELECT DISTINCT user_id FROM (%s) pk) p ON p.user_id = u.id
WHERE u.disabled_at IS NULL
GROUP BY u.role = 'patient'`, passkey)
	rows, err := s.db.Query(ctx, q)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var patient bool
		var n, second, passkeys int
		if err := rows.Scan(&patient, &n, &second, &passkeys); err != nil {
			return c, db.Translate(err)
		}
		if patient {
			c.Patients, c.PatientsSecondFactor = n, second
		} else {
			c.Staff, c.StaffSecondFactor, c.StaffPhishingResistant = n, second, passkeys
		}
	}
	return c, db.Translate(rows.Err())
}

func tableExists(ctx context.Context, d *db.DB, name string) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`
	if d.Dialect == db.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
	}
	var n int
	if err := d.QueryRow(ctx, q, name).Scan(&n); err != nil {
		return false, db.Translate(err)
	}
	return n > 0, nil
}

package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// invitationAlphabet avoids letters people confuse (0/O, 1/I/L).
const invitationAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// NewInvitation issues a single-use code that links a new patient account
// to the patient's record; the clinic prints or sends it. Only its hash is
// stored. 12 characters of a 31-letter alphabet hold 59 bits.
func (s *Service) NewInvitation(ctx context.Context, patientID string, ttl time.Duration) (string, error) {
	b := make([]byte, 12)
	rand.Read(b)
	code := make([]byte, 12)
	for i, x := range b {
		code[i] = invitationAlphabet[int(x)%len(invitationAlphabet)]
	}
	c := string(code[:4]) + "-" + string(code[4:8]) + "-" + string(code[8:])
	now := s.clock()
	_, err := s.db.Exec(ctx, `INSERT INTO patient_invitations (code_hash, patient_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashInvitation(c), patientID, now.UnixMicro(), now.Add(ttl).UnixMicro())
	return c, err
}

func hashInvitation(code string) []byte {
	norm := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	h := sha256.Sum256([]byte("trustward/invitation/v1|" + norm))
	return h[:]
}

// Register creates a patient account from an invitation code. The code is
// consumed in the same transaction as the account is created, so it can be
// used once even under concurrent attempts.
func (s *Service) Register(ctx context.Context, code, username, displayName, password string, c Client) (User, error) {
	if err := PasswordError(CheckPassword(password, PolicyContext{Username: username, DisplayName: displayName, OrgName: s.org})); err != nil {
		return User{}, err
	}
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: newUserID(), Username: strings.ToLower(strings.TrimSpace(username)), DisplayName: strings.TrimSpace(displayName), Role: RolePatient}
	if err := validUsername(u.Username); err != nil {
		return User{}, err
	}
	if u.DisplayName == "" || len(u.DisplayName) > 200 {
		return User{}, fault.InvalidField("display_name", "must be 1 to 200 characters")
	}
	now := s.clock()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid string
		var exp int64
		var used sql.NullInt64
		err := tx.QueryRow(ctx, `SELECT patient_id, expires_at, used_at FROM patient_invitations WHERE code_hash = $1`, hashInvitation(code)).Scan(&pid, &exp, &used)
		if err == sql.ErrNoRows || (err == nil && (used.Valid || exp <= now.UnixMicro())) {
			return fault.InvalidField("code", "this invitation code is not valid (wrong, used or expired); ask the clinic for a new one")
		}
		if err != nil {
			return db.Translate(err)
		}
		res, err := tx.Exec(ctx, `UPDATE patient_invitations SET used_at = $2, used_by = $3 WHERE code_hash = $1 AND used_at IS NULL`, hashInvitation(code), now.UnixMicro(), u.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fault.InvalidField("code", "this invitation code was just used")
		}
		u.PatientID = pid
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, username, display_name, role, patient_id, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			u.ID, u.Username, u.DisplayName, u.Role, pid, h, now.UnixMicro()); err != nil {
			if fault.Is(err, fault.Conflict) {
				return fault.InvalidField("username", "%s is taken; choose another", u.Username)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, s.audit.Record(ctx, &audit.Event{Actor: audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role}, PatientID: u.PatientID,
		Action: audit.ActionCreate, Subtype: "register", Outcome: audit.OutcomeSuccess, Purpose: "PATRQT", Source: "trustward-portal",
		NetworkAddress: c.Address, UserAgent: c.UserAgent})
}

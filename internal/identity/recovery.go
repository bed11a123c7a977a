package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Recovery codes let a person sign in when their authenticator is lost.
// Each code is 10 characters of Crockford's base32 (50 random bits), shown
// as "xxxxx-xxxxx". Only a SHA-256 hash of the user id and the code is
// stored: a slow password hash protects low-entropy secrets against
// guessing, but 50 random bits per code already put an offline search out
// of reach, and a fast hash keeps the check a single indexed lookup. See
// docs/decisions/0013-totp-and-recovery-codes.md.
const (
	RecoveryCodeCount = 10
	recoveryCodeChars = 10
	// crockford is Crockford's base32 alphabet: no I, L, O or U, so codes
	// read aloud or copied by hand survive.
	crockford = "0123456789abcdefghjkmnpqrstvwxyz"
)

// RecoveryCodeUse is what the RecoveryCodeUsed hook receives.
type RecoveryCodeUse struct {
	UserID    string
	Remaining int
	At        time.Time
}

// NewRecoveryCodes makes a fresh set of single-use recovery codes for a
// user, replacing (and so invalidating) every earlier code in the same
// transaction. The codes are returned once, to be shown once; only their
// hashes are kept.
func (f *Factors) NewRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, fault.New(fault.Invalid, "a user is needed for recovery codes")
	}
	codes := make([]string, RecoveryCodeCount)
	seen := map[string]bool{}
	for i := range codes {
		for {
			c := newRecoveryCode()
			if !seen[c] {
				seen[c] = true
				codes[i] = c
				break
			}
		}
	}
	now := f.clock().UnixMicro()
	err := f.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for _, c := range codes {
			if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)`,
				recoveryHash(userID, c), userID, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func newRecoveryCode() string {
	var b [recoveryCodeChars]byte
	rand.Read(b[:])
	out := make([]byte, 0, recoveryCodeChars+1)
	for i, x := range b {
		if i == recoveryCodeChars/2 {
			out = append(out, '-')
		}
		out = append(out, crockford[x&31]) // 256 is a multiple of 32: no bias
	}
	return string(out)
}

// normaliseRecoveryCode reads a code as people type it: any case, with or
// without the hyphen or spaces, I and L for 1, O for 0.
func normaliseRecoveryCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		if !strings.ContainsRune(crockford, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) != recoveryCodeChars {
		return "", false
	}
	return s[:recoveryCodeChars/2] + "-" + s[recoveryCodeChars/2:], true
}

// recoveryHash binds a code to its user, so that equal codes of two users
// (possible, if unlikely) are two rows and a hash reveals nothing across
// accounts.
func recoveryHash(userID, code string) []byte {
	h := sha256.Sum256([]byte("trustward/recovery-code/v1|" + userID + "|" + code))
	return h[:]
}

// UseRecoveryCode spends one of the user's recovery codes. The code is
// marked used by a conditional UPDATE, so that two concurrent uses of the
// same code succeed once. After success the RecoveryCodeUsed hook runs.
func (f *Factors) UseRecoveryCode(ctx context.Context, userID, code string) (Verification, error) {
	now := f.clock()
	v := Verification{UserID: userID, Method: MethodRecoveryCode, At: now}
	norm, ok := normaliseRecoveryCode(code)
	if !ok {
		v.Outcome = "malformed recovery code"
		return v, fault.Wrap(fault.Unauthenticated, ErrWrongCode, "that is not a recovery code: they look like 7h3kq-x9m2p")
	}
	res, err := f.db.Exec(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL`,
		recoveryHash(userID, norm), userID, now.UnixMicro())
	if err != nil {
		return v, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		v.Outcome = "wrong or used recovery code"
		return v, fault.Wrap(fault.Unauthenticated, ErrWrongCode, "that recovery code is not right, or has been used already")
	}
	left, err := f.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return v, err
	}
	v.Accepted, v.Remaining, v.Outcome = true, left, "recovery code used"
	if f.opts.RecoveryCodeUsed != nil {
		f.opts.RecoveryCodeUsed(ctx, RecoveryCodeUse{UserID: userID, Remaining: left, At: now})
	}
	return v, nil
}

// RecoveryCodesLeft returns how many unused recovery codes a user has.
func (f *Factors) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := f.db.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	return n, db.Translate(err)
}

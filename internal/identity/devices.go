package identity

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/trustward/trustward/internal/db"
)

// Known devices (decision 0038): a browser keeps a long-lived random id in
// a cookie, and each account remembers the ids it signed in from, hashed
// with the account id. A sign-in from an id the account has not seen is
// announced to its owner.

// deviceKeptFor is how long a device not seen again stays known: the
// lifetime of the browser's cookie.
const deviceKeptFor = 400 * 24 * time.Hour

// DeviceSeen says what a sign-in's device was to the account.
type DeviceSeen struct {
	// New: the account had not signed in from this device before.
	New bool
	// First: the account had no known device at all (its registration, or
	// its first sign-in since devices are remembered); nothing to compare
	// against, so not worth a notice.
	First bool
}

func deviceHash(userID, deviceID string) []byte {
	h := sha256.New()
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(deviceID))
	return h.Sum(nil)
}

// SeeDevice records that userID signed in from deviceID (the random id in
// the browser's device cookie) and reports whether that device was new to
// the account. Devices not seen for deviceKeptFor are forgotten here.
func (s *Service) SeeDevice(ctx context.Context, userID, deviceID string) (DeviceSeen, error) {
	now := s.clock()
	h := deviceHash(userID, deviceID)
	var seen DeviceSeen
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM known_devices WHERE user_id = $1 AND last_seen_at < $2`, userID, now.Add(-deviceKeptFor).UnixMicro()); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE known_devices SET last_seen_at = $3 WHERE user_id = $1 AND device_hash = $2`, userID, h, now.UnixMicro())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var others int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM known_devices WHERE user_id = $1`, userID).Scan(&others); err != nil {
			return db.Translate(err)
		}
		// Two sign-ins from one new browser at once: the second finds the
		// row and is not new.
		res, err = tx.Exec(ctx, `INSERT INTO known_devices (user_id, device_hash, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) ON CONFLICT (user_id, device_hash) DO NOTHING`,
			userID, h, now.UnixMicro())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			seen = DeviceSeen{New: true, First: others == 0}
		}
		return nil
	})
	return seen, err
}

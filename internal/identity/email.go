package identity

import (
	"context"

	"github.com/trustward/trustward/internal/fault"
)

// SetEmail sets (or, with "", clears) the account's email address, where
// notices are announced (internal/notify). The caller validates the
// address (notify.ValidEmail).
func (s *Service) SetEmail(ctx context.Context, userID, email string) error {
	var v any
	if email != "" {
		v = email
	}
	res, err := s.db.Exec(ctx, `UPDATE users SET email = $2 WHERE id = $1`, userID, v)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fault.New(fault.NotFound, "no such account")
	}
	return nil
}

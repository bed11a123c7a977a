package web

import (
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/identity"
)

// Identity events read as what they were in a user's own list of
// accesses, never as the generic "Searched".
func TestIdentityEventsDescribed(t *testing.T) {
	for _, st := range []string{"login", "logout", identity.SubtypeReauth, identity.SubtypeSessionRevoked,
		identity.SubtypeFactorAdded, identity.SubtypeFactorRemoved, identity.SubtypeFactorUsed, identity.SubtypeFactorFailed,
		identity.SubtypeRecoveryUsed, identity.SubtypeRecoveryCodesNew, identity.SubtypeLockout, identity.SubtypeUnlock,
		identity.SubtypeRecoveryRequested, identity.SubtypeRecoveryIssued, identity.SubtypeRecoveryRefused, identity.SubtypeAccountRecovered} {
		got := describe(audit.Event{Subtype: st, Action: audit.ActionExecute})
		if strings.HasPrefix(got, "Searched") || got == "" {
			t.Errorf("%s reads %q", st, got)
		}
	}
}

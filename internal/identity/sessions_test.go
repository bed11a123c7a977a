package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

func TestSessionListAndRevocation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		u, err := f.svc.Authenticate(ctx, "dana", "correct horse battery staple", client)
		if err != nil {
			t.Fatal(err)
		}
		laptop, _ := f.svc.NewSession(ctx, u.ID, "console", 12*time.Hour, 15*time.Minute, identity.Client{Address: "10.0.0.5", UserAgent: "laptop"})
		f.advance(time.Minute)
		phone, _ := f.svc.NewSession(ctx, u.ID, "portal", 24*time.Hour, time.Hour, identity.Client{Address: "10.0.0.9", UserAgent: "phone"})
		f.advance(time.Minute)
		desk, _ := f.svc.NewSession(ctx, u.ID, "console", 12*time.Hour, 15*time.Minute, identity.Client{Address: "10.0.0.7", UserAgent: "desk"})
		cur, _, err := f.svc.CheckSession(ctx, desk)
		if err != nil {
			t.Fatal(err)
		}
		list, err := f.svc.ListSessions(ctx, u.ID, cur.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("%d sessions listed, want 3", len(list))
		}
		currents := 0
		for _, si := range list {
			if si.Current {
				currents++
				if si.UserAgent != "desk" {
					t.Errorf("current session is %q, want desk", si.UserAgent)
				}
			}
		}
		if currents != 1 {
			t.Errorf("%d sessions marked current", currents)
		}
		// Ending the phone's session by its list ID signs the phone out.
		var phoneID string
		for _, si := range list {
			if si.UserAgent == "phone" {
				phoneID = si.ID
			}
		}
		if err := f.svc.RevokeSession(ctx, u, phoneID, client); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.CheckSession(ctx, phone); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("revoked session still works: %v", err)
		}
		if err := f.svc.RevokeSession(ctx, u, phoneID, client); !fault.Is(err, fault.NotFound) {
			t.Errorf("revoking twice: %v", err)
		}
		if err := f.svc.RevokeSession(ctx, u, "not-hex", client); !fault.Is(err, fault.Invalid) {
			t.Errorf("malformed id: %v", err)
		}
		// Another user cannot end Dana's sessions by guessing IDs.
		other := identity.User{ID: "u-other", Role: identity.RoleNurse}
		if err := f.svc.RevokeSession(ctx, other, list[0].ID, client); !fault.Is(err, fault.NotFound) {
			t.Errorf("another user's session: %v", err)
		}
		// A credential change ends every other session and keeps this one.
		n, err := f.svc.RevokeOtherSessions(ctx, u, cur.TokenHash, "password changed", client)
		if err != nil || n != 1 {
			t.Fatalf("RevokeOtherSessions = %d, %v; want 1", n, err)
		}
		if _, _, err := f.svc.CheckSession(ctx, laptop); !fault.Is(err, fault.Unauthenticated) {
			t.Errorf("laptop session survived a credential change: %v", err)
		}
		if _, _, err := f.svc.CheckSession(ctx, desk); err != nil {
			t.Errorf("the session that made the change ended: %v", err)
		}
		// Recovery ends all of them.
		if n, err := f.svc.RevokeOtherSessions(ctx, u, nil, "account recovered", client); err != nil || n != 1 {
			t.Fatalf("RevokeOtherSessions(nil) = %d, %v; want 1", n, err)
		}
		if list, _ := f.svc.ListSessions(ctx, u.ID, nil); len(list) != 0 {
			t.Errorf("%d sessions left after recovery", len(list))
		}
		// Each revocation is in the audit log.
		evs, err := f.audit.Events(ctx, audit.Query{ActorID: u.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		revoked := 0
		for _, ev := range evs {
			if ev.Event.Subtype == identity.SubtypeSessionRevoked {
				revoked++
			}
		}
		if revoked != 3 {
			t.Errorf("%d session-revoked audit events, want 3", revoked)
		}
	})
}

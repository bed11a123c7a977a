package identity_test

import (
	"context"
	"testing"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/identity"
)

func TestCoverageCountsSecondFactors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d, cheap) // creates the nurse u-1
		h, err := f.svc.Hasher().Hash(ctx, "a long enough test password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CreateUsers(ctx, []identity.User{
			{ID: "u-doc", Username: "doc", DisplayName: "Dr Doc", Role: identity.RoleClinician},
			{ID: "u-adm", Username: "adm", DisplayName: "Ada Admin", Role: identity.RoleAdmin},
			{ID: "u-p1", Username: "p1", DisplayName: "Pat One", Role: identity.RolePatient},
			{ID: "u-p2", Username: "p2", DisplayName: "Pat Two", Role: identity.RolePatient},
			{ID: "u-p3", Username: "p3", DisplayName: "Pat Three", Role: identity.RolePatient},
			{ID: "u-gone", Username: "gone", DisplayName: "Gone Staff", Role: identity.RoleClinician},
		}, h); err != nil {
			t.Fatal(err)
		}
		// Confirmed TOTP for the doctor, the disabled account and one
		// patient; a pending (unconfirmed) one for the admin, which does
		// not count.
		for _, q := range []string{
			`INSERT INTO totp_factors (user_id, confirmed_at) VALUES ('u-doc', 1)`,
			`INSERT INTO totp_factors (user_id, confirmed_at) VALUES ('u-gone', 1)`,
			`INSERT INTO totp_factors (user_id, confirmed_at) VALUES ('u-p2', 1)`,
			`INSERT INTO totp_factors (user_id, pending_at) VALUES ('u-adm', 1)`,
			`UPDATE users SET disabled_at = 1 WHERE id = 'u-gone'`,
		} {
			if _, err := d.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		c, err := f.svc.Coverage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := identity.Coverage{Staff: 3, StaffSecondFactor: 1, StaffPhishingResistant: 0, Patients: 3, PatientsSecondFactor: 1}
		if c != want {
			t.Fatalf("coverage %+v, want %+v", c, want)
		}
	})
}

package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

const danaPassword = "correct horse battery staple"

// session opens a console session of x's user and returns its token.
func (x *passkeyFixture) session(t *testing.T) string {
	t.Helper()
	tok, err := x.svc.NewSession(context.Background(), x.user.ID, "console", 12*time.Hour, time.Hour, client)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (x *passkeyFixture) check(t *testing.T, tok string) identity.Session {
	t.Helper()
	ss, _, err := x.svc.CheckSession(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// A session is fresh for five minutes after its sign-in; then the
// password (and the second factor, once the account has one) makes it
// fresh again. A wrong password counts towards the lockout and spends no
// code; every attempt is audited.
func TestReauthenticateWithPassword(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		failedLogins := func() int {
			var n int
			if err := d.QueryRow(ctx, `SELECT failed_logins FROM users WHERE id = $1`, x.user.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		tok := x.session(t)
		ss := x.check(t, tok)
		if !ss.AuthAt.Equal(x.clock()) || !ss.Fresh(x.clock()) {
			t.Fatalf("a new session: auth at %v, fresh %v", ss.AuthAt, ss.Fresh(x.clock()))
		}
		x.advance(identity.FreshFor)
		if !x.check(t, tok).Fresh(x.clock()) {
			t.Error("not fresh exactly five minutes after sign-in")
		}
		x.advance(time.Second)
		if x.check(t, tok).Fresh(x.clock()) {
			t.Fatal("still fresh after five minutes")
		}

		if err := x.svc.Reauthenticate(ctx, x.user, ss.TokenHash, "not the password", client); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("a wrong password: %v", err)
		}
		if x.check(t, tok).Fresh(x.clock()) || failedLogins() != 1 {
			t.Fatalf("after a wrong password: fresh %v, failures %d", x.check(t, tok).Fresh(x.clock()), failedLogins())
		}
		if err := x.svc.Reauthenticate(ctx, x.user, ss.TokenHash, danaPassword, client); err != nil {
			t.Fatal(err)
		}
		if ss := x.check(t, tok); !ss.Fresh(x.clock()) || !ss.AuthAt.Equal(x.clock()) || failedLogins() != 0 {
			t.Fatalf("after the password: %+v, failures %d", ss, failedLogins())
		}

		// With a second factor the password alone is not enough.
		codes, err := x.mfa.NewRecoveryCodes(ctx, x.user, client)
		if err != nil {
			t.Fatal(err)
		}
		x.register(t, newAuthenticator(), "Laptop")
		x.advance(10 * time.Minute)
		if err := x.mfa.Reauthenticate(ctx, x.user, ss.TokenHash, danaPassword, "", client); !errors.Is(err, identity.ErrWrongCode) {
			t.Fatalf("the password without the second factor: %v", err)
		}
		if err := x.mfa.Reauthenticate(ctx, x.user, ss.TokenHash, "not the password", codes[0], client); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("a wrong password with a right code: %v", err)
		}
		if left, _ := x.factors.RecoveryCodesLeft(ctx, x.user.ID); left != 10 || x.check(t, tok).Fresh(x.clock()) {
			t.Fatalf("a wrong password spent a code (%d left) or made the session fresh", left)
		}
		if err := x.mfa.Reauthenticate(ctx, x.user, ss.TokenHash, danaPassword, codes[0], client); err != nil {
			t.Fatal(err)
		}
		if !x.check(t, tok).Fresh(x.clock()) {
			t.Fatal("not fresh after the password and a recovery code")
		}

		// Only the user's own session is made fresh.
		other, err := x.svc.CreateUser(ctx, identity.User{ID: "u-2", Username: "eli", DisplayName: "Eli Sand", Role: identity.RoleNurse}, "another long passphrase here")
		if err != nil {
			t.Fatal(err)
		}
		otherTok, _ := x.svc.NewSession(ctx, other.ID, "console", 12*time.Hour, time.Hour, client)
		x.advance(10 * time.Minute)
		otherSS, _, err := x.svc.CheckSession(ctx, otherTok)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.mfa.Reauthenticate(ctx, x.user, otherSS.TokenHash, danaPassword, codes[1], client); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("re-authenticating another user's session: %v", err)
		}
		if ss, _, _ := x.svc.CheckSession(ctx, otherTok); ss.Fresh(x.clock()) {
			t.Fatal("another user's session was made fresh")
		}

		got := x.events(t, identity.SubtypeReauth)
		for _, want := range []string{
			audit.OutcomeDenied + " u-1 password: wrong password",
			audit.OutcomeSuccess + " u-1 password",
			audit.OutcomeDenied + " u-1 second factor refused",
			audit.OutcomeSuccess + " u-1 password and second factor",
		} {
			if !contains(got, want) {
				t.Errorf("no re-authentication event %q in %q", want, got)
			}
		}
		if err := identity.NotFresh(); !fault.Is(err, fault.Unauthenticated) || !errors.Is(err, identity.ErrNotFresh) {
			t.Errorf("NotFresh: %v", err)
		}
	})
}

// A passkey re-authenticates in one step, bound to the session that asked;
// a password lockout does not stop it; someone else's passkey does not do.
func TestReauthenticateWithPasskey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		mine := newAuthenticator()
		x.register(t, mine, "Badge key")
		tok := x.session(t)
		ss := x.check(t, tok)
		x.advance(time.Hour - time.Minute)
		if _, err := d.Exec(ctx, `UPDATE users SET failed_logins = 100 WHERE id = $1`, x.user.ID); err != nil {
			t.Fatal(err)
		}
		var le *identity.LockedError
		if err := x.mfa.Reauthenticate(ctx, x.user, ss.TokenHash, danaPassword, "", client); !errors.As(err, &le) || !le.Hard {
			t.Fatalf("the password of a locked account: %v", err)
		}

		opts, err := x.mfa.BeginReauthPasskey(ctx, x.user, ss.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.mfa.ReauthWithPasskey(ctx, x.user, ss.TokenHash, newAuthenticator().get(t, noAllow(t, opts)), client); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("a passkey of no account: %v", err)
		}
		if err := x.mfa.ReauthWithPasskey(ctx, x.user, ss.TokenHash, mine.get(t, noAllow(t, opts)), client); !errors.Is(err, identity.ErrNoCeremony) {
			t.Fatalf("a spent challenge: %v", err)
		}
		// A challenge begun for another session does not serve this one.
		otherTok := x.session(t)
		otherSS := x.check(t, otherTok)
		opts, err = x.mfa.BeginReauthPasskey(ctx, x.user, otherSS.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.mfa.ReauthWithPasskey(ctx, x.user, ss.TokenHash, mine.get(t, noAllow(t, opts)), client); !errors.Is(err, identity.ErrNoCeremony) {
			t.Fatalf("another session's challenge: %v", err)
		}
		if x.check(t, tok).Fresh(x.clock()) {
			t.Fatal("fresh after refusals")
		}
		opts, err = x.mfa.BeginReauthPasskey(ctx, x.user, ss.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.mfa.ReauthWithPasskey(ctx, x.user, ss.TokenHash, mine.get(t, noAllow(t, opts)), client); err != nil {
			t.Fatalf("the account's passkey: %v", err)
		}
		if !x.check(t, tok).Fresh(x.clock()) {
			t.Fatal("not fresh after the passkey")
		}
		got := x.events(t, identity.SubtypeReauth)
		for _, want := range []string{
			audit.OutcomeDenied + " u-1 password: account locked until unlocked",
			audit.OutcomeDenied + " u-1 passkey: no live challenge",
			audit.OutcomeSuccess + " u-1 passkey",
		} {
			if !contains(got, want) {
				t.Errorf("no re-authentication event %q in %q", want, got)
			}
		}
	})
}

// Each account remembers its devices: a sign-in from a device it has not
// seen is new (the account's very first is marked as such), a device is
// not shared between accounts in the table, and one unseen for 400 days
// is forgotten.
func TestSeeDevice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		if _, err := f.svc.CreateUser(ctx, identity.User{ID: "u-2", Username: "eli", DisplayName: "Eli Sand", Role: identity.RoleNurse}, "another long passphrase here"); err != nil {
			t.Fatal(err)
		}
		for i, step := range []struct {
			user, device string
			want         identity.DeviceSeen
		}{
			{"u-1", "laptop-cookie", identity.DeviceSeen{New: true, First: true}},
			{"u-1", "laptop-cookie", identity.DeviceSeen{}},
			{"u-1", "phone-cookie", identity.DeviceSeen{New: true}},
			{"u-1", "phone-cookie", identity.DeviceSeen{}},
			{"u-2", "laptop-cookie", identity.DeviceSeen{New: true, First: true}},
			{"u-1", "laptop-cookie", identity.DeviceSeen{}},
		} {
			got, err := f.svc.SeeDevice(ctx, step.user, step.device)
			if err != nil || got != step.want {
				t.Fatalf("step %d (%s on %s): %+v %v, want %+v", i, step.user, step.device, got, err, step.want)
			}
		}
		rows, err := d.Query(ctx, `SELECT user_id, device_hash FROM known_devices`)
		if err != nil {
			t.Fatal(err)
		}
		hashes := map[string]string{}
		for rows.Next() {
			var u string
			var h []byte
			if err := rows.Scan(&u, &h); err != nil {
				t.Fatal(err)
			}
			if len(h) != 32 || string(h) == "laptop-cookie" {
				t.Errorf("device stored as %q", h)
			}
			if prev, ok := hashes[string(h)]; ok {
				t.Errorf("one hash for %s and %s: a shared browser links accounts", prev, u)
			}
			hashes[string(h)] = u
		}
		rows.Close()
		if len(hashes) != 3 {
			t.Fatalf("%d known devices, want 3", len(hashes))
		}
		f.advance(401 * 24 * time.Hour)
		if got, err := f.svc.SeeDevice(ctx, "u-1", "laptop-cookie"); err != nil || got != (identity.DeviceSeen{New: true, First: true}) {
			t.Fatalf("a device unseen for 401 days: %+v %v", got, err)
		}
	})
}

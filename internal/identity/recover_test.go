package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

const (
	patientPassword = "tulip harbour lantern cobalt"
	newPassword     = "violet anchor meadow thunder"
)

type recoveryFixture struct {
	*passkeyFixture
	rec     *identity.Recovery
	d       *db.DB
	patient identity.User
	admin   identity.User
}

// newRecoveryFixture is the passkey fixture (nurse Dana, u-1) with a
// patient who gave an email address and an administrator.
func newRecoveryFixture(t *testing.T, d *db.DB) *recoveryFixture {
	t.Helper()
	x := &recoveryFixture{passkeyFixture: newPasskeyFixture(t, d), d: d}
	ctx := context.Background()
	var err error
	x.patient, err = x.svc.CreateUser(ctx, identity.User{ID: "u-pat", Username: "marisol", DisplayName: "Marisol Quillfeather", Role: identity.RolePatient, PatientID: "pat-1"}, patientPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.svc.SetEmail(ctx, x.patient.ID, "Marisol@Example.org"); err != nil {
		t.Fatal(err)
	}
	x.admin, err = x.svc.CreateUser(ctx, identity.User{ID: "u-adm", Username: "ada", DisplayName: "Ada Admin", Role: identity.RoleAdmin}, "quartz meadow lantern violet")
	if err != nil {
		t.Fatal(err)
	}
	x.rec = identity.NewRecovery(x.svc, x.mfa, identity.RecoveryOptions{})
	return x
}

// link asks for a link for who and returns its token (one is expected).
func (x *recoveryFixture) link(t *testing.T, who string) string {
	t.Helper()
	mails, err := x.rec.RequestByEmail(context.Background(), who, client)
	if err != nil || len(mails) != 1 {
		t.Fatalf("RequestByEmail(%q) = %+v, %v; want one link", who, mails, err)
	}
	m := mails[0]
	if m.To != "Marisol@Example.org" || m.UserID != "u-pat" || len(m.Token) != 43 || !m.Expires.Equal(x.clock().Add(30*time.Minute)) {
		t.Fatalf("link: %+v", m)
	}
	return m.Token
}

func (x *recoveryFixture) sessions(t *testing.T, userID string) int {
	t.Helper()
	var n int
	if err := x.d.QueryRow(context.Background(), `SELECT COUNT(*) FROM sessions WHERE user_id = $1`, userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (x *recoveryFixture) recoveryRows(t *testing.T) int {
	t.Helper()
	var n int
	if err := x.d.QueryRow(context.Background(), `SELECT COUNT(*) FROM account_recoveries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (x *recoveryFixture) eventCount(t *testing.T) int64 {
	t.Helper()
	n, err := x.audit.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A patient without a second factor: the link sets a new password, ends
// every session, clears the lockout, works once and is audited.
func TestRecoveryByEmailLink(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		for _, ua := range []string{"phone", "laptop"} {
			if _, err := x.svc.NewSession(ctx, x.patient.ID, "portal", 24*time.Hour, time.Hour, identity.Client{Address: "10.0.0.1", UserAgent: ua}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			if _, err := x.svc.Authenticate(ctx, "marisol", "not the password at all", client); err == nil {
				t.Fatal("wrong password accepted")
			}
		}
		// The address in another case finds the account.
		tok := x.link(t, "  MARISOL@example.ORG ")
		st, err := x.rec.Open(ctx, tok, client)
		if err != nil {
			t.Fatal(err)
		}
		if st.User.ID != "u-pat" || st.Kind != identity.RecoveryByEmail || st.NeedsFactor || !st.Ready() || st.ReplacesFactors() {
			t.Fatalf("state: %+v", st)
		}
		// A password the policy refuses changes nothing: the link stays.
		if _, err := x.rec.CompleteWithPassword(ctx, tok, "short pw", client); !fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "at least 15") {
			t.Fatalf("weak password: %v", err)
		}
		if _, err := x.rec.Open(ctx, tok, client); err != nil {
			t.Fatalf("link after a refused password: %v", err)
		}
		u, err := x.rec.CompleteWithPassword(ctx, tok, newPassword, client)
		if err != nil || u.ID != "u-pat" {
			t.Fatalf("complete: %v %v", u, err)
		}
		if n := x.sessions(t, "u-pat"); n != 0 {
			t.Errorf("%d sessions survived the recovery", n)
		}
		if _, err := x.svc.Authenticate(ctx, "marisol", patientPassword, client); err == nil {
			t.Error("the old password still works")
		}
		if _, err := x.svc.Authenticate(ctx, "marisol", newPassword, client); err != nil {
			t.Errorf("the new password: %v", err)
		}
		// Single use.
		_, err = x.rec.CompleteWithPassword(ctx, tok, "another fine long passphrase", client)
		if !errors.Is(err, identity.ErrRecoveryUsed) || !fault.Is(err, fault.NotFound) || !strings.Contains(fault.Message(err), "already been used") {
			t.Fatalf("replayed link: %v", err)
		}
		if _, err := x.svc.Authenticate(ctx, "marisol", newPassword, client); err != nil {
			t.Errorf("the replay changed the password: %v", err)
		}
		if _, err := x.rec.Open(ctx, tok, client); !errors.Is(err, identity.ErrRecoveryUsed) {
			t.Errorf("opening a used link: %v", err)
		}
		for sub, want := range map[string]string{
			identity.SubtypeRecoveryRequested: "0 u-pat recovery link sent by email",
			identity.SubtypeAccountRecovered:  "0 u-pat account recovered by a link sent by email; new password set; every session ended",
			identity.SubtypeSessionRevoked:    "0 u-pat 2 other session(s) ended: account recovered",
			identity.SubtypeUnlock:            "0 u-pat password sign-in of u-pat unlocked (3 consecutive failures",
			identity.SubtypeRecoveryRefused:   "4 u-pat recovery link already used",
		} {
			if evs := x.events(t, sub); !contains(evs, want) {
				t.Errorf("no %s event %q: %q", sub, want, evs)
			}
		}
		if n := len(x.events(t, identity.SubtypeRecoveryRefused)); n != 2 {
			t.Errorf("%d refusals audited, want 2 (the replay and the open)", n)
		}
	})
}

// Whoever asks is told nothing: an unknown address, a staff username, an
// account without an address and a disabled one all answer like a sent
// link, with nothing stored; each is audited with its reason.
func TestRecoveryRequestNoEnumeration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		if _, err := x.svc.CreateUser(ctx, identity.User{ID: "u-noaddr", Username: "noaddr", DisplayName: "No Address", Role: identity.RolePatient, PatientID: "pat-2"}, patientPassword); err != nil {
			t.Fatal(err)
		}
		if err := x.svc.SetEmail(ctx, "u-1", "dana@riverside.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := x.svc.CreateUser(ctx, identity.User{ID: "u-gone", Username: "gone", DisplayName: "Gone Away", Role: identity.RolePatient, PatientID: "pat-3"}, patientPassword); err != nil {
			t.Fatal(err)
		}
		if err := x.svc.SetEmail(ctx, "u-gone", "gone@example.org"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(ctx, `UPDATE users SET disabled_at = 1 WHERE id = 'u-gone'`); err != nil {
			t.Fatal(err)
		}
		for who, reason := range map[string]string{
			"nobody@example.org":     "unknown no account has this email address or username",
			"nosuchuser":             "unknown no account has this email address or username",
			"dana":                   "u-1 staff accounts are recovered by an administrator only",
			"dana@riverside.example": "u-1 staff accounts are recovered by an administrator only",
			"noaddr":                 "u-noaddr the account has no email address",
			"gone@example.org":       "u-gone the account is disabled",
		} {
			mails, err := x.rec.RequestByEmail(ctx, who, client)
			if err != nil || len(mails) != 0 {
				t.Errorf("%s: %+v, %v; want nothing and no error", who, mails, err)
			}
			if evs := x.events(t, identity.SubtypeRecoveryRequested); !contains(evs, "4 "+reason) {
				t.Errorf("%s: no audit event %q in %q", who, reason, evs)
			}
		}
		if n := x.recoveryRows(t); n != 0 {
			t.Errorf("%d recovery rows stored for refused requests", n)
		}
		for _, bad := range []string{"", "   ", strings.Repeat("a", 255) + "@example.org", "\xff@example.org"} {
			if _, err := x.rec.RequestByEmail(ctx, bad, client); !fault.Is(err, fault.Invalid) {
				t.Errorf("RequestByEmail(%q): %v", bad, err)
			}
		}
	})
}

// A link works 30 minutes on the injected clock; a new request replaces
// the old link; three links an hour at most.
func TestRecoveryLinkExpiryReplacementAndLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		first := x.link(t, "marisol")
		x.advance(29 * time.Minute)
		if _, err := x.rec.Open(ctx, first, client); err != nil {
			t.Fatalf("link at 29 minutes: %v", err)
		}
		x.advance(time.Minute)
		if _, err := x.rec.Open(ctx, first, client); !errors.Is(err, identity.ErrRecoveryExpired) || !strings.Contains(fault.Message(err), "has expired") {
			t.Fatalf("link at 30 minutes: %v", err)
		}
		if _, err := x.rec.CompleteWithPassword(ctx, first, newPassword, client); !errors.Is(err, identity.ErrRecoveryExpired) {
			t.Fatalf("completing an expired link: %v", err)
		}
		second := x.link(t, "marisol@example.org")
		third := x.link(t, "marisol")
		if _, err := x.rec.Open(ctx, second, client); !errors.Is(err, identity.ErrRecoveryRevoked) || !strings.Contains(fault.Message(err), "newer one") {
			t.Fatalf("a replaced link: %v", err)
		}
		// The fourth request within the hour sends nothing.
		mails, err := x.rec.RequestByEmail(ctx, "marisol", client)
		if err != nil || len(mails) != 0 {
			t.Fatalf("fourth request: %+v %v", mails, err)
		}
		if evs := x.events(t, identity.SubtypeRecoveryRequested); !contains(evs, "4 u-pat limit of 3 links an hour reached") {
			t.Errorf("limit not audited: %q", evs)
		}
		if _, err := x.rec.Open(ctx, third, client); err != nil {
			t.Errorf("the live link after a refused request: %v", err)
		}
		x.advance(31 * time.Minute)
		fourth := x.link(t, "marisol")
		if _, err := x.rec.CompleteWithPassword(ctx, fourth, newPassword, client); err != nil {
			t.Fatal(err)
		}
	})
}

// With an authenticator app, the link leads to the code first: a new
// password before it is refused, wrong codes count (five end the link),
// a right code or a recovery code opens the last step, and the factors
// stay (so the shorter password minimum applies).
func TestRecoveryNeedsTheSecondFactor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		secret, _, _, err := x.factors.BeginTOTP(ctx, "u-pat", "marisol")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.factors.ConfirmTOTP(ctx, "u-pat", oathtool(t, secret, x.clock())); err != nil {
			t.Fatal(err)
		}
		codes, err := x.factors.NewRecoveryCodes(ctx, "u-pat")
		if err != nil {
			t.Fatal(err)
		}
		x.advance(time.Minute)
		tok := x.link(t, "marisol")
		st, err := x.rec.Open(ctx, tok, client)
		if err != nil || !st.NeedsFactor || st.FactorDone || st.Ready() || !st.Factors.TOTP.Active {
			t.Fatalf("state with an authenticator: %+v %v", st, err)
		}
		if _, err := x.rec.CompleteWithPassword(ctx, tok, newPassword, client); !errors.Is(err, identity.ErrFactorFirst) || !fault.Is(err, fault.Forbidden) {
			t.Fatalf("password before the factor: %v", err)
		}
		if _, err := x.svc.Authenticate(ctx, "marisol", patientPassword, client); err != nil {
			t.Fatalf("the refused completion changed the password: %v", err)
		}
		before := x.eventCount(t)
		wrong := wrongCode(t, secret, x.clock())
		err = x.rec.VerifyFactor(ctx, tok, wrong, client)
		if !fault.Is(err, fault.Unauthenticated) || !strings.Contains(fault.Message(err), "not right") || !strings.Contains(fault.Message(err), "4 more tries") {
			t.Fatalf("wrong code: %v", err)
		}
		if got := x.eventCount(t) - before; got != 1 {
			t.Errorf("a wrong code made %d audit events, want 1", got)
		}
		if evs := x.events(t, identity.SubtypeFactorFailed); !contains(evs, "4 u-pat totp: account recovery: wrong code") {
			t.Errorf("wrong code not audited: %q", evs)
		}
		if st, _ := x.rec.Open(ctx, tok, client); st.FactorDone {
			t.Fatal("a wrong code passed the factor")
		}
		if err := x.rec.VerifyFactor(ctx, tok, oathtool(t, secret, x.clock()), client); err != nil {
			t.Fatalf("right code: %v", err)
		}
		st, err = x.rec.Open(ctx, tok, client)
		if err != nil || !st.FactorDone || !st.Ready() {
			t.Fatalf("after the code: %+v %v", st, err)
		}
		// The account keeps its authenticator: 8 characters are enough.
		if _, err := x.rec.CompleteWithPassword(ctx, tok, "Qx7#vLm2pZ", client); err != nil {
			t.Fatalf("a short password with a second factor kept: %v", err)
		}
		if st, err := x.mfa.Status(ctx, "u-pat"); err != nil || !st.TOTP.Active || st.RecoveryLeft != identity.RecoveryCodeCount {
			t.Errorf("factors after a recovery by email: %+v %v", st, err)
		}
		if evs := x.events(t, identity.SubtypeAccountRecovered); !contains(evs, "by a link sent by email, after the second factor; new password set") {
			t.Errorf("recovery event: %q", evs)
		}

		// A recovery code also passes it; five wrong codes end a link.
		x.advance(time.Minute)
		tok = x.link(t, "marisol")
		if err := x.rec.VerifyFactor(ctx, tok, codes[0], client); err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		if evs := x.events(t, identity.SubtypeRecoveryUsed); !contains(evs, "recovery_code: account recovery: recovery code used") {
			t.Errorf("recovery code use not audited: %q", evs)
		}
		x.advance(time.Minute)
		tok = x.link(t, "marisol")
		for i := 1; i <= 5; i++ {
			err := x.rec.VerifyFactor(ctx, tok, codes[0], client) // spent already
			if i < 5 && !fault.Is(err, fault.Unauthenticated) {
				t.Fatalf("wrong code %d: %v", i, err)
			}
			if i == 5 && (!errors.Is(err, identity.ErrRecoveryRevoked) || !strings.Contains(fault.Message(err), "last try")) {
				t.Fatalf("fifth wrong code: %v", err)
			}
		}
		if _, err := x.rec.Open(ctx, tok, client); !errors.Is(err, identity.ErrRecoveryRevoked) {
			t.Fatalf("link after five wrong codes: %v", err)
		}
		if err := x.rec.VerifyFactor(ctx, tok, oathtool(t, secret, x.clock().Add(30*time.Second)), client); !errors.Is(err, identity.ErrRecoveryRevoked) {
			t.Fatalf("a right code on a revoked link: %v", err)
		}
	})
}

// noAllow drops allowCredentials from request options: the software
// authenticator answers with its resident credential either way.
func noAllow(t *testing.T, opts []byte) []byte {
	t.Helper()
	var m map[string]map[string]any
	if err := json.Unmarshal(opts, &m); err != nil {
		t.Fatal(err)
	}
	if allow, _ := m["publicKey"]["allowCredentials"].([]any); len(allow) != 1 {
		t.Fatalf("the recovery's passkey check should allow the account's one passkey: %s", opts)
	}
	delete(m["publicKey"], "allowCredentials")
	b, _ := json.Marshal(m)
	return b
}

// A patient whose account has a passkey passes the factor with it; another
// account's passkey does not.
func TestRecoveryPasskeyFactor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		x.user = x.patient
		mine := newAuthenticator()
		x.register(t, mine, "My phone")
		x.user, _ = x.svc.UserByID(ctx, "u-1")
		other := newAuthenticator()
		x.register(t, other, "Dana's key")

		tok := x.link(t, "marisol")
		st, err := x.rec.Open(ctx, tok, client)
		if err != nil || !st.NeedsFactor || len(st.Factors.Passkeys) != 1 {
			t.Fatalf("state with a passkey: %+v %v", st, err)
		}
		opts, err := x.rec.BeginPasskeyFactor(ctx, tok, client)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.rec.FinishPasskeyFactor(ctx, tok, other.get(t, noAllow(t, opts)), client); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("another account's passkey: %v", err)
		}
		if err := x.rec.FinishPasskeyFactor(ctx, tok, mine.get(t, noAllow(t, opts)), client); !errors.Is(err, identity.ErrNoCeremony) {
			t.Fatalf("a spent challenge: %v", err)
		}
		opts, err = x.rec.BeginPasskeyFactor(ctx, tok, client)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.rec.FinishPasskeyFactor(ctx, tok, mine.get(t, noAllow(t, opts)), client); err != nil {
			t.Fatalf("the account's passkey: %v", err)
		}
		if st, _ := x.rec.Open(ctx, tok, client); !st.Ready() {
			t.Fatal("the passkey did not pass the factor")
		}
		if evs := x.events(t, identity.SubtypeFactorUsed); !contains(evs, "0 u-pat passkey: account recovery: passkey accepted") {
			t.Errorf("passkey factor not audited: %q", evs)
		}
		if evs := x.events(t, identity.SubtypeFactorFailed); !contains(evs, "4 u-pat passkey: account recovery:") {
			t.Errorf("refused passkey not audited: %q", evs)
		}
		// The recovery ends with a new passkey instead of a password.
		newKey := newAuthenticator()
		copts, err := x.rec.BeginPasskeyEnrolment(ctx, tok, client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.rec.CompleteWithPasskey(ctx, tok, "New phone", newKey.create(t, copts), client); err != nil {
			t.Fatal(err)
		}
		if ks, _ := x.pk.List(ctx, "u-pat"); len(ks) != 2 {
			t.Errorf("passkeys after a recovery by email with a new one: %d, want 2", len(ks))
		}
		if _, err := x.svc.Authenticate(ctx, "marisol", patientPassword, client); err != nil {
			t.Errorf("a recovery by passkey changed the password: %v", err)
		}
	})
}

// An administrator's enrolment code: refused for oneself, for others
// than administrators and without a reason; completing it removes every
// factor, sets the new password under the single-factor minimum, ends the
// sessions, and is audited with the administrator, target and reason.
func TestRecoveryByAdministrator(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		nurse, _ := x.svc.UserByID(ctx, "u-1")
		x.user = nurse
		x.register(t, newAuthenticator(), "Work laptop")
		secret, _, _, err := x.factors.BeginTOTP(ctx, "u-1", "dana")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.factors.ConfirmTOTP(ctx, "u-1", oathtool(t, secret, x.clock())); err != nil {
			t.Fatal(err)
		}
		if _, err := x.factors.NewRecoveryCodes(ctx, "u-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := x.svc.NewSession(ctx, "u-1", "console", time.Hour, time.Hour, client); err != nil {
			t.Fatal(err)
		}
		const reason = "verified in person, badge checked"
		before := x.recoveryRows(t)
		for _, c := range []struct {
			by     identity.User
			target string
			reason string
			kind   fault.Kind
		}{
			{nurse, "u-pat", reason, fault.Forbidden},
			{x.admin, "u-adm", reason, fault.Forbidden},
			{x.admin, "u-1", "ok", fault.Invalid},
			{x.admin, "u-1", "verified\nin person", fault.Invalid},
			{x.admin, "u-nobody", reason, fault.NotFound},
		} {
			if _, err := x.rec.IssueEnrolment(ctx, c.by, c.target, c.reason, client); !fault.Is(err, c.kind) {
				t.Errorf("IssueEnrolment(%s, %s, %q) = %v, want %v", c.by.Username, c.target, c.reason, err, c.kind)
			}
		}
		if n := x.recoveryRows(t); n != before {
			t.Fatalf("refused enrolments stored %d rows", n-before)
		}
		if evs := x.events(t, identity.SubtypeRecoveryIssued); len(evs) != 5 || !contains(evs, "4 u-adm enrolment code for u-adm refused: you cannot recover your own account") {
			t.Errorf("refusals audited: %q", evs)
		}
		en, err := x.rec.IssueEnrolment(ctx, x.admin, "u-1", reason, client)
		if err != nil {
			t.Fatal(err)
		}
		if len(en.Code) != 23 || en.User.ID != "u-1" || !en.Expires.Equal(x.clock().Add(24*time.Hour)) {
			t.Fatalf("enrolment: %+v", en)
		}
		if evs := x.events(t, identity.SubtypeRecoveryIssued); !contains(evs, "0 u-adm enrolment code for dana (u-1, Nurse) issued, valid until 2026-11-23T08:00:10Z; earlier codes no longer work; reason: "+reason) {
			t.Errorf("issue not audited with target and reason: %q", evs)
		}
		// Typed by hand: any case, no hyphens, O for 0.
		typed := strings.ToUpper(strings.ReplaceAll(en.Code, "-", " "))
		typed = strings.ReplaceAll(typed, "0", "O")
		st, err := x.rec.Open(ctx, typed, client)
		if err != nil || st.Kind != identity.RecoveryByAdmin || st.NeedsFactor || !st.Ready() || !st.ReplacesFactors() || st.IssuedBy != "Ada Admin" {
			t.Fatalf("state of an enrolment code: %+v %v", st, err)
		}
		// The factors go, so a password must stand alone: 15 characters.
		if _, err := x.rec.CompleteWithPassword(ctx, en.Code, "Qx7#vLm2pZ", client); !fault.Is(err, fault.Invalid) {
			t.Fatalf("a short password when the factors are removed: %v", err)
		}
		if _, err := x.rec.CompleteWithPassword(ctx, en.Code, newPassword, client); err != nil {
			t.Fatal(err)
		}
		fs, err := x.mfa.Status(ctx, "u-1")
		if err != nil || fs.TOTP.Active || len(fs.Passkeys) != 0 || fs.RecoveryLeft != 0 {
			t.Errorf("factors after an enrolment code: %+v %v", fs, err)
		}
		if n := x.sessions(t, "u-1"); n != 0 {
			t.Errorf("%d sessions survived", n)
		}
		if _, err := x.svc.Authenticate(ctx, "dana", newPassword, client); err != nil {
			t.Errorf("new password: %v", err)
		}
		if evs := x.events(t, identity.SubtypeAccountRecovered); !contains(evs, "0 u-1 account recovered by an enrolment code from Ada Admin (u-adm); new password set; removed: the authenticator app, 10 recovery codes, 1 passkey") {
			t.Errorf("recovery event: %q", evs)
		}
		if evs := x.events(t, identity.SubtypeFactorRemoved); !contains(evs, "0 u-1 all: removed by account recovery") {
			t.Errorf("removal event: %q", evs)
		}

		// The command line may recover an administrator, even the only one.
		en, err = x.rec.IssueEnrolment(ctx, identity.CommandLine(), "u-adm", "server console, one administrator", client)
		if err != nil {
			t.Fatal(err)
		}
		if evs := x.events(t, identity.SubtypeRecoveryIssued); !contains(evs, "0 cli enrolment code for ada (u-adm, Administrator)") {
			t.Errorf("command-line issue: %q", evs)
		}
		// A second code replaces the first.
		en2, err := x.rec.IssueEnrolment(ctx, identity.CommandLine(), "u-adm", "server console, one administrator", client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.rec.Open(ctx, en.Code, client); !errors.Is(err, identity.ErrRecoveryRevoked) {
			t.Errorf("the replaced code: %v", err)
		}
		// After 24 hours it has expired.
		x.advance(24 * time.Hour)
		if _, err := x.rec.Open(ctx, en2.Code, client); !errors.Is(err, identity.ErrRecoveryExpired) || !strings.Contains(fault.Message(err), "ask an administrator") {
			t.Errorf("a code after 24 hours: %v", err)
		}
	})
}

// A code completes once however many try at the same moment.
func TestRecoveryCompletesOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		en, err := x.rec.IssueEnrolment(ctx, x.admin, "u-1", "verified in person, badge checked", client)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, used := 0, 0
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := x.rec.CompleteWithPassword(ctx, en.Code, newPassword, client)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, identity.ErrRecoveryUsed):
					used++
				default:
					t.Errorf("concurrent completion: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || used != 5 {
			t.Errorf("%d completions succeeded and %d were refused as used; want 1 and 5", ok, used)
		}
		if evs := x.events(t, identity.SubtypeAccountRecovered); len(evs) != 1 {
			t.Errorf("%d recoveries audited", len(evs))
		}
	})
}

// Malformed, oversize and unknown tokens are refused with a clear error,
// change nothing and are audited.
func TestRecoveryBadTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		tok := x.link(t, "marisol")
		rows := x.recoveryRows(t)
		for _, c := range []struct {
			token string
			kind  fault.Kind
			cause error
		}{
			{"", fault.Invalid, nil},
			{"short", fault.Invalid, nil},
			{strings.Repeat("A", 5000), fault.Invalid, nil},
			{tok[:42], fault.Invalid, nil},
			{tok + "x", fault.Invalid, nil},
			{strings.Repeat("A", 43), fault.NotFound, identity.ErrRecoveryUnknown},
			{"abcde-fghjk-mnpqr-stvwx", fault.NotFound, identity.ErrRecoveryUnknown},
		} {
			before := x.eventCount(t)
			_, err := x.rec.CompleteWithPassword(ctx, c.token, newPassword, client)
			if !fault.Is(err, c.kind) || (c.cause != nil && !errors.Is(err, c.cause)) {
				t.Errorf("token %.50q: %v", c.token, err)
			}
			if got := x.eventCount(t) - before; got != 1 {
				t.Errorf("token %.50q: %d audit events, want 1", c.token, got)
			}
		}
		if n := x.recoveryRows(t); n != rows {
			t.Errorf("bad tokens changed the recovery rows: %d -> %d", rows, n)
		}
		if _, err := x.svc.Authenticate(ctx, "marisol", patientPassword, client); err != nil {
			t.Errorf("bad tokens changed the password: %v", err)
		}
		if _, err := x.rec.Open(ctx, tok, client); err != nil {
			t.Errorf("the real link after bad ones: %v", err)
		}
	})
}

func TestParseRecoveryToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abcde-fghjk-mnpqr-stvwx", "abcde-fghjk-mnpqr-stvwx"},
		{" ABCDE FGHJK MNPQR STVWX ", "abcde-fghjk-mnpqr-stvwx"},
		{"abcdefghjkmnpqrstvwx", "abcde-fghjk-mnpqr-stvwx"},
		{"OIL00-11111-22222-33333", "01100-11111-22222-33333"},
		{"q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3Lk", "q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3Lk"},
		{" q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3Lk\n", "q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3Lk"},
	} {
		got, err := identity.ParseRecoveryToken(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRecoveryToken(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "abcde-fghjk-mnpqr-stvw", "abcde-fghjk-mnpqr-stvwxy", "abcde-fghjk-mnpqr-stvwu", "q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3Ll", "q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3L=", strings.Repeat("a", 129)} {
		if got, err := identity.ParseRecoveryToken(in); !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseRecoveryToken(%q) = %q, %v; want invalid", in, got, err)
		}
	}
}

// FuzzParseRecoveryToken: never a panic; what is accepted is canonical
// (parsing it again gives itself) and of one of the two shapes.
func FuzzParseRecoveryToken(f *testing.F) {
	for _, s := range []string{"abcde-fghjk-mnpqr-stvwx", "q8fV1nV6uYw0H7Ihq2l0oMuZ9qkqYJ2Mf7b0m7zQ3Lk", "OIL00 11111 22222 33333", "", "-----", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := identity.ParseRecoveryToken(s)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("%q: error of kind %v", s, fault.KindOf(err))
			}
			return
		}
		if len(got) != 43 && len(got) != 23 {
			t.Fatalf("%q: canonical form %q has %d bytes", s, got, len(got))
		}
		again, err := identity.ParseRecoveryToken(got)
		if err != nil || again != got {
			t.Fatalf("%q: canonical %q parses to %q, %v", s, got, again, err)
		}
	})
}

func TestListAccounts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newRecoveryFixture(t, d)
		ctx := context.Background()
		x.register(t, newAuthenticator(), "Work laptop")
		if _, err := x.factors.NewRecoveryCodes(ctx, "u-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := x.rec.IssueEnrolment(ctx, x.admin, "u-1", "verified in person, badge checked", client); err != nil {
			t.Fatal(err)
		}
		staff, err := x.svc.ListAccounts(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(staff) != 2 || staff[0].Username != "ada" || staff[1].Username != "dana" {
			t.Fatalf("staff list: %+v", staff)
		}
		dana := staff[1]
		if !dana.HasPassword || dana.TOTP || dana.Passkeys != 1 || dana.RecoveryCodes != 10 || dana.Locked || !dana.RecoveryUntil.Equal(x.clock().Add(24*time.Hour).UTC()) {
			t.Errorf("dana: %+v", dana)
		}
		found, err := x.svc.ListAccounts(ctx, "QUILL")
		if err != nil || len(found) != 1 || found[0].ID != "u-pat" {
			t.Errorf("search by name: %+v %v", found, err)
		}
		if found, err := x.svc.ListAccounts(ctx, "%"); err != nil || len(found) != 0 {
			t.Errorf("a %% matched as a wildcard: %+v %v", found, err)
		}
		if _, err := x.svc.ListAccounts(ctx, strings.Repeat("x", 101)); !fault.Is(err, fault.Invalid) {
			t.Errorf("long search: %v", err)
		}
		if u, err := x.svc.UserByUsername(ctx, " Dana "); err != nil || u.ID != "u-1" {
			t.Errorf("UserByUsername: %v %v", u, err)
		}
		if _, err := x.svc.UserByUsername(ctx, "nobody"); !fault.Is(err, fault.NotFound) {
			t.Errorf("unknown username: %v", err)
		}
	})
}

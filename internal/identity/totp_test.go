package identity_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/seal"
)

// factorsFixture is a Factors on a real database with a controlled clock.
type factorsFixture struct {
	f    *identity.Factors
	d    *db.DB
	mu   sync.Mutex
	now  time.Time
	used []identity.RecoveryCodeUse
}

func (x *factorsFixture) clock() time.Time         { x.mu.Lock(); defer x.mu.Unlock(); return x.now }
func (x *factorsFixture) set(t time.Time)          { x.mu.Lock(); x.now = t; x.mu.Unlock() }
func (x *factorsFixture) advance(dt time.Duration) { x.mu.Lock(); x.now = x.now.Add(dt); x.mu.Unlock() }

// start is the middle of a TOTP step (steps begin on multiples of 30 s).
var start = time.Date(2026, 11, 22, 8, 0, 10, 0, time.UTC)

func newFactorsFixture(t *testing.T, d *db.DB) *factorsFixture {
	t.Helper()
	x := &factorsFixture{d: d, now: start}
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), x.clock())
	if err != nil {
		t.Fatal(err)
	}
	x.f = identity.NewFactors(d, seal.NewSealer(d, kek, x.clock), x.clock, identity.FactorOptions{
		Issuer: "Riverside Health",
		RecoveryCodeUsed: func(_ context.Context, u identity.RecoveryCodeUse) {
			x.mu.Lock()
			x.used = append(x.used, u)
			x.mu.Unlock()
		},
	})
	return x
}

// oathtool returns the code the reference implementation (OATH Toolkit)
// computes for secret at time at.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		dbtest.Missing(t, "oathtool", err)
	}
	out, err := exec.Command(path, "--totp", "-b", secret, "--now", at.UTC().Format("2006-01-02 15:04:05 UTC")).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v: %s", err, out)
	}
	code := strings.TrimSpace(string(out))
	if len(code) != 6 {
		t.Fatalf("oathtool printed %q", out)
	}
	return code
}

// wrongCode returns a well-formed code that no step within the window
// around at accepts, preferring the candidates given.
func wrongCode(t *testing.T, secret string, at time.Time, prefer ...string) string {
	t.Helper()
	valid := map[string]bool{}
	for _, off := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		valid[oathtool(t, secret, at.Add(off))] = true
	}
	for _, c := range append(prefer, "123456", "654321", "000000") {
		if !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// enrol sets up and confirms an authenticator for user at the fixture's
// time, and returns its secret.
func enrol(t *testing.T, x *factorsFixture, user string) string {
	t.Helper()
	ctx := context.Background()
	secret, _, _, err := x.f.BeginTOTP(ctx, user, user+"@riverside.example")
	if err != nil {
		t.Fatal(err)
	}
	v, err := x.f.ConfirmTOTP(ctx, user, oathtool(t, secret, x.clock()))
	if err != nil || !v.Accepted {
		t.Fatalf("confirm with oathtool's code: %+v %v", v, err)
	}
	return secret
}

func TestTOTPEnrolmentWithOathtool(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		secret, u, qr, err := x.f.BeginTOTP(ctx, "u-1", "dana@riverside.example")
		if err != nil {
			t.Fatal(err)
		}
		// The URL and the QR code carry what authenticator apps need.
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "otpauth" || pu.Host != "totp" || pu.Query().Get("secret") != secret || pu.Query().Get("issuer") != "Riverside Health" ||
			pu.Query().Get("digits") != "6" || pu.Query().Get("period") != "30" || pu.Query().Get("algorithm") != "SHA1" {
			t.Fatalf("otpauth URL %q: %v", u, err)
		}
		if img, err := png.Decode(bytes.NewReader(qr)); err != nil || img.Bounds().Dx() < 200 {
			t.Fatalf("QR code is not a PNG of a usable size: %v", err)
		}
		if len(secret) != 32 {
			t.Fatalf("secret %q is not 160 bits in base32", secret)
		}
		// Pending only: no sign-in with it yet.
		if st, _ := x.f.TOTP(ctx, "u-1"); st.Active || !st.Pending {
			t.Fatalf("after BeginTOTP: %+v", st)
		}
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, secret, x.clock())); !errors.Is(err, identity.ErrNoFactor) {
			t.Fatalf("a pending authenticator signed in: %v", err)
		}
		// The secret is stored sealed, never in the clear.
		var stored []byte
		if err := d.QueryRow(ctx, `SELECT pending_secret FROM totp_factors WHERE user_id = 'u-1'`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte(secret)) || bytes.Contains(bytes.ToLower(stored), []byte(strings.ToLower(secret))) {
			t.Fatal("TOTP secret stored in the clear")
		}
		// A wrong first code does not activate it.
		if v, err := x.f.ConfirmTOTP(ctx, "u-1", wrongCode(t, secret, x.clock())); !errors.Is(err, identity.ErrWrongCode) || v.Accepted || v.Outcome != "wrong code" {
			t.Fatalf("wrong confirmation code: %+v %v", v, err)
		}
		confirmCode := oathtool(t, secret, x.clock())
		v, err := x.f.ConfirmTOTP(ctx, "u-1", confirmCode)
		if err != nil || !v.Accepted || v.Method != identity.MethodTOTP || v.UserID != "u-1" || v.Step != x.clock().Unix()/30 {
			t.Fatalf("confirm: %+v %v", v, err)
		}
		if st, _ := x.f.TOTP(ctx, "u-1"); !st.Active || st.Pending || !st.ConfirmedAt.Equal(start) {
			t.Fatalf("after ConfirmTOTP: %+v", st)
		}
		// The confirmation code's step is spent.
		if _, err := x.f.VerifyTOTP(ctx, "u-1", confirmCode); !errors.Is(err, identity.ErrCodeReused) {
			t.Fatalf("confirmation code reused for sign-in: %v", err)
		}
		// A later code, computed by oathtool for that time, signs in.
		x.advance(30 * time.Second)
		code := oathtool(t, secret, x.clock())
		v, err = x.f.VerifyTOTP(ctx, "u-1", code)
		if err != nil || !v.Accepted || v.Outcome != "code accepted" {
			t.Fatalf("oathtool's code refused: %+v %v", v, err)
		}
		// Replayed: refused, and said so.
		v, err = x.f.VerifyTOTP(ctx, "u-1", code)
		if !errors.Is(err, identity.ErrCodeReused) || !fault.Is(err, fault.Unauthenticated) || v.Accepted || v.Outcome != "code already used" {
			t.Fatalf("replayed code: %+v %v", v, err)
		}
		// Typed with a space, as apps display it.
		x.advance(30 * time.Second)
		c := oathtool(t, secret, x.clock())
		if _, err := x.f.VerifyTOTP(ctx, "u-1", c[:3]+" "+c[3:]); err != nil {
			t.Fatalf("code with a space: %v", err)
		}
	})
}

func TestTOTPSkew(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		// Confirm an hour earlier, so that no step near now is spent.
		x.set(start.Add(-time.Hour))
		secret := enrol(t, x, "u-1")
		x.set(start)
		// Two steps off either way: refused. (Tried first: refusals spend
		// nothing.)
		for _, off := range []int{-2, 2} {
			code := oathtool(t, secret, start.Add(time.Duration(off)*30*time.Second))
			if code != wrongCode(t, secret, start, code) {
				continue // six digits collide one time in a million
			}
			if _, err := x.f.VerifyTOTP(ctx, "u-1", code); !errors.Is(err, identity.ErrWrongCode) {
				t.Errorf("code %+d steps off: %v", off, err)
			}
		}
		// One step behind, the current step, one step ahead: accepted, in
		// that order (each raises the last accepted step).
		for _, off := range []int{-1, 0, 1} {
			code := oathtool(t, secret, start.Add(time.Duration(off)*30*time.Second))
			v, err := x.f.VerifyTOTP(ctx, "u-1", code)
			if err != nil || v.Step != start.Unix()/30+int64(off) {
				t.Errorf("code %+d steps off: %+v %v", off, v, err)
			}
		}
		// Once a later step is used, an earlier code is no longer good
		// even within the window.
		x.advance(30 * time.Second)
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, secret, start)); !errors.Is(err, identity.ErrCodeReused) {
			t.Errorf("older code after a newer one: %v", err)
		}
		// Step edges: the last second of a step and the first of the next.
		edge := time.Date(2026, 11, 22, 9, 0, 29, 0, time.UTC)
		x.set(edge)
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, secret, edge.Add(time.Second))); err != nil {
			t.Errorf("next step's code one second early: %v", err)
		}
		x.set(edge.Add(31 * time.Second))
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, secret, edge.Add(31*time.Second))); err != nil {
			t.Errorf("code at the start of a step: %v", err)
		}
	})
}

func TestTOTPConcurrentUseAcceptsOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		secret := enrol(t, x, "u-1")
		// Several rounds, each a fresh step whose code many requests send
		// at once: exactly one of each round is accepted.
		for round := 0; round < 8; round++ {
			x.advance(30 * time.Second)
			code := oathtool(t, secret, x.clock())
			const n = 16
			var wg sync.WaitGroup
			var mu sync.Mutex
			accepted, reused := 0, 0
			gate := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					v, err := x.f.VerifyTOTP(ctx, "u-1", code)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil && v.Accepted:
						accepted++
					case errors.Is(err, identity.ErrCodeReused):
						reused++
					default:
						t.Errorf("unexpected result: %+v %v", v, err)
					}
				}()
			}
			close(gate)
			wg.Wait()
			if accepted != 1 || reused != n-1 {
				t.Fatalf("round %d: %d concurrent uses of one code: %d accepted, %d refused as reused", round, n, accepted, reused)
			}
		}
	})
}

func TestTOTPLocksAfterWrongCodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		secret := enrol(t, x, "u-1")
		x.advance(time.Minute)
		good := oathtool(t, secret, x.clock())
		wrong := wrongCode(t, secret, x.clock())
		for i := 0; i < 10; i++ {
			v, err := x.f.VerifyTOTP(ctx, "u-1", wrong)
			if !errors.Is(err, identity.ErrWrongCode) || v.Outcome != "wrong code" {
				t.Fatalf("wrong code %d: %+v %v", i, v, err)
			}
		}
		// Locked: even the right code is refused, and the message points to
		// the recovery codes.
		v, err := x.f.VerifyTOTP(ctx, "u-1", good)
		if !errors.Is(err, identity.ErrFactorLocked) || v.Accepted || !strings.Contains(fault.Message(err), "recovery code") {
			t.Fatalf("right code while locked: %+v %v", v, err)
		}
		x.advance(16 * time.Minute)
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, secret, x.clock())); err != nil {
			t.Fatalf("after the lock expired: %v", err)
		}
		// Success resets the count: nine more wrong codes do not lock.
		for i := 0; i < 9; i++ {
			x.f.VerifyTOTP(ctx, "u-1", wrongCode(t, secret, x.clock()))
		}
		x.advance(30 * time.Second)
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, secret, x.clock())); err != nil {
			t.Fatalf("locked again too early: %v", err)
		}
		// Malformed codes are wrong codes, not errors of another kind.
		for _, bad := range []string{"", "12345", "1234567", "abcdef", "12345\x00"} {
			if _, err := x.f.VerifyTOTP(ctx, "u-1", bad); !errors.Is(err, identity.ErrWrongCode) {
				t.Errorf("malformed code %q: %v", bad, err)
			}
		}
	})
}

func TestTOTPReenrolmentAndRemoval(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		old := enrol(t, x, "u-1")
		// Setting up a new phone leaves the old one working until the new
		// one is confirmed.
		x.advance(30 * time.Second)
		fresh, _, _, err := x.f.BeginTOTP(ctx, "u-1", "dana@riverside.example")
		if err != nil {
			t.Fatal(err)
		}
		if fresh == old {
			t.Fatal("re-enrolment reused the secret")
		}
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, old, x.clock())); err != nil {
			t.Fatalf("old authenticator during re-enrolment: %v", err)
		}
		// The old app's codes do not confirm the new one.
		x.advance(30 * time.Second)
		if _, err := x.f.ConfirmTOTP(ctx, "u-1", oathtool(t, old, x.clock())); !errors.Is(err, identity.ErrWrongCode) {
			t.Fatalf("old code confirmed the new authenticator: %v", err)
		}
		if _, err := x.f.ConfirmTOTP(ctx, "u-1", oathtool(t, fresh, x.clock())); err != nil {
			t.Fatal(err)
		}
		x.advance(30 * time.Second)
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, old, x.clock())); !errors.Is(err, identity.ErrWrongCode) {
			t.Fatalf("replaced authenticator still signs in: %v", err)
		}
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, fresh, x.clock())); err != nil {
			t.Fatalf("new authenticator: %v", err)
		}
		// A set-up left for longer than half an hour has to start again.
		x.advance(30 * time.Second)
		late, _, _, _ := x.f.BeginTOTP(ctx, "u-1", "dana@riverside.example")
		x.advance(31 * time.Minute)
		if _, err := x.f.ConfirmTOTP(ctx, "u-1", oathtool(t, late, x.clock())); !errors.Is(err, identity.ErrPendingExpiry) {
			t.Fatalf("stale enrolment confirmed: %v", err)
		}
		// Removal.
		if err := x.f.RemoveTOTP(ctx, "u-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := x.f.VerifyTOTP(ctx, "u-1", oathtool(t, fresh, x.clock())); !errors.Is(err, identity.ErrNoFactor) || !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("removed authenticator: %v", err)
		}
		if st, _ := x.f.TOTP(ctx, "u-1"); st.Active || st.Pending {
			t.Fatalf("status after removal: %+v", st)
		}
		if err := x.f.RemoveTOTP(ctx, "u-1"); !fault.Is(err, fault.NotFound) {
			t.Fatalf("second removal: %v", err)
		}
		if _, err := x.f.ConfirmTOTP(ctx, "nobody", "123456"); !errors.Is(err, identity.ErrNoFactor) {
			t.Fatalf("confirm without enrolment: %v", err)
		}
		if _, _, _, err := x.f.BeginTOTP(ctx, "u-1", ""); !fault.Is(err, fault.Invalid) {
			t.Fatalf("enrolment without an account name: %v", err)
		}
	})
}

// Each user's secret opens only for that user: a sealed secret copied onto
// another user's row does not verify.
func TestTOTPSecretBoundToUser(t *testing.T) {
	d := dbtest.SQLite(t)
	x := newFactorsFixture(t, d)
	ctx := context.Background()
	secret := enrol(t, x, "u-1")
	enrol(t, x, "u-2")
	if _, err := d.Exec(ctx, `UPDATE totp_factors SET secret = (SELECT secret FROM totp_factors WHERE user_id = 'u-1') WHERE user_id = 'u-2'`); err != nil {
		t.Fatal(err)
	}
	x.advance(30 * time.Second)
	if _, err := x.f.VerifyTOTP(ctx, "u-2", oathtool(t, secret, x.clock())); err == nil {
		t.Fatal("a secret moved to another user verified")
	}
}

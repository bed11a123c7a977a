package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

const (
	rightPassword = "correct horse battery staple"
	wrongPassword = "wrong guess number xyz"
)

// lockOf returns the lock an error reports, or nil.
func lockOf(err error) *identity.LockedError {
	var le *identity.LockedError
	if errors.As(err, &le) {
		return le
	}
	return nil
}

// waitOut moves the clock past the lock err reports, if any.
func (f *fixture) waitOut(t testing.TB, err error) {
	t.Helper()
	if le := lockOf(err); le != nil {
		if le.Hard {
			t.Fatalf("hard lock while waiting out: %v", err)
		}
		f.advance(le.Until.Sub(f.clock()))
	}
}

// fail makes n wrong guesses at username, each as soon as the schedule
// lets it, and returns the last error.
func (f *fixture) fail(t testing.TB, username string, n int) error {
	t.Helper()
	var err error
	for i := 0; i < n; i++ {
		f.waitOut(t, err)
		if _, err = f.svc.Authenticate(context.Background(), username, wrongPassword, client); err == nil || lockOf(err) == nil && fault.Message(err) != "wrong username or password" {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	return err
}

// eventsOf returns the audit events of userID with subtype, oldest first.
func (f *fixture) eventsOf(t testing.TB, userID, subtype string) []audit.Event {
	t.Helper()
	evs, err := f.audit.Events(context.Background(), audit.Query{ActorID: userID, Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Event.Subtype == subtype {
			out = append(out, evs[i].Event)
		}
	}
	return out
}

func failures(t testing.TB, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), `SELECT failed_logins FROM users WHERE id = 'u-1'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLockoutSchedule walks the schedule of decision 0035 with the
// injected clock: four free failures, waits of 1 to 16 s, then locks of
// 15 min doubling to 4 h, each lasting exactly as long as it says, with
// the right password refused during a lock and a success clearing it all.
func TestLockoutSchedule(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		want := []time.Duration{0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
			15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour}
		texts := map[int]string{
			5:  "password sign-in is locked for 1 second; please try again after that",
			9:  "password sign-in is locked for 16 seconds; please try again after that",
			10: "try again in 15 minutes (after 08:",
			13: "try again in 2 hours (after ",
			16: "try again in 4 hours (after ",
		}
		var err error
		for i, wait := range want {
			n := i + 1
			f.waitOut(t, err)
			now := f.clock()
			_, err = f.svc.Authenticate(ctx, "dana", wrongPassword, client)
			msg := fault.Message(err)
			if !fault.Is(err, fault.Unauthenticated) || !strings.HasPrefix(msg, "wrong username or password") {
				t.Fatalf("failure %d: %v", n, err)
			}
			le := lockOf(err)
			if wait == 0 {
				if le != nil || msg != "wrong username or password" {
					t.Fatalf("failure %d should cost nothing: %q", n, msg)
				}
				continue
			}
			if le == nil || le.Hard || !le.Until.Equal(now.Add(wait)) {
				t.Fatalf("failure %d: lock %+v, want %v from %v", n, le, wait, now)
			}
			if s, ok := texts[n]; ok && !strings.Contains(msg, s) {
				t.Errorf("failure %d: message %q lacks %q", n, msg, s)
			}
			// During the lock even the right password is refused, not
			// checked and not counted; the message says when to come back.
			f.advance(wait - time.Millisecond)
			_, lerr := f.svc.Authenticate(ctx, "dana", rightPassword, client)
			if l := lockOf(lerr); l == nil || !l.Until.Equal(now.Add(wait)) || !strings.HasPrefix(fault.Message(lerr), "Too many failed sign-ins with this username") {
				t.Fatalf("right password 1 ms before the end of lock %d: %v", n, lerr)
			}
			if got := failures(t, d); got != n {
				t.Fatalf("after the refused attempt: %d failures counted, want %d", got, n)
			}
			f.advance(time.Millisecond)
			err = nil
		}
		// The lock of a 16th failure is over: the right password works and
		// clears the count, so the next failure is free again.
		if _, err := f.svc.Authenticate(ctx, "dana", rightPassword, client); err != nil {
			t.Fatalf("right password after the lock: %v", err)
		}
		if got := failures(t, d); got != 0 {
			t.Fatalf("failures after a success: %d", got)
		}
		if _, err := f.svc.Authenticate(ctx, "dana", wrongPassword, client); lockOf(err) != nil || fault.Message(err) != "wrong username or password" {
			t.Fatalf("first failure after a success: %v", err)
		}
		// Audit: every wrong password is a denied login; locks from the
		// 10th failure on are lockout events with the reason.
		var wrong, locked int
		for _, e := range f.eventsOf(t, "u-1", "login") {
			switch e.OutcomeDesc {
			case "wrong password":
				wrong++
			case "account temporarily locked":
				locked++
			}
		}
		if wrong != 17 || locked != 12 {
			t.Errorf("login events: %d wrong passwords (want 17), %d refused by a lock (want 12)", wrong, locked)
		}
		lockouts := f.eventsOf(t, "u-1", identity.SubtypeLockout)
		if len(lockouts) != 7 {
			t.Fatalf("%d lockout events, want 7 (failures 10 to 16)", len(lockouts))
		}
		if e := lockouts[0]; e.Outcome != audit.OutcomeDenied || !strings.HasPrefix(e.OutcomeDesc, "10 consecutive failed password sign-ins: locked for 15m0s, until 2026-11-22T") {
			t.Errorf("first lockout event: %s %q", e.Outcome, e.OutcomeDesc)
		}
		if e := lockouts[4]; !strings.HasPrefix(e.OutcomeDesc, "14 consecutive failed password sign-ins: locked for 4h0m0s") {
			t.Errorf("fifth lockout event: %q", e.OutcomeDesc)
		}
	})
}

// TestLockoutHardCap: the 100th consecutive failure locks password sign-in
// for good; time does not open it, UnlockAccount does (an administrator,
// or the account itself through recovery), and it is audited.
func TestLockoutHardCap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		start := f.clock()
		err := f.fail(t, "dana", 99)
		if le := lockOf(err); le == nil || le.Hard {
			t.Fatalf("99th failure: %v", err)
		}
		f.waitOut(t, err)
		_, err = f.svc.Authenticate(ctx, "dana", wrongPassword, client)
		if le := lockOf(err); le == nil || !le.Hard || !strings.Contains(fault.Message(err), "locked until an administrator unlocks it") {
			t.Fatalf("100th failure: %v", err)
		}
		// 14 days of 4-hour locks and the waits before them.
		if took := f.clock().Sub(start); took < 14*24*time.Hour || took > 15*24*time.Hour {
			t.Errorf("reaching the cap took %v of guessing", took)
		}
		f.advance(365 * 24 * time.Hour)
		_, err = f.svc.Authenticate(ctx, "dana", rightPassword, client)
		if le := lockOf(err); le == nil || !le.Hard || !strings.Contains(fault.Message(err), "Ask your administrator") {
			t.Fatalf("right password a year after the hard lock: %v", err)
		}
		if got := failures(t, d); got != 100 {
			t.Fatalf("%d failures counted, want exactly 100", got)
		}
		lockouts := f.eventsOf(t, "u-1", identity.SubtypeLockout)
		if last := lockouts[len(lockouts)-1]; last.OutcomeDesc != "100 consecutive failed password sign-ins: locked until an administrator or account recovery unlocks it" {
			t.Errorf("last lockout event: %q", last.OutcomeDesc)
		}
		if len(lockouts) != 91 {
			t.Errorf("%d lockout events, want 91 (failures 10 to 100)", len(lockouts))
		}

		// Who may unlock.
		nurse, err := f.svc.CreateUser(ctx, identity.User{ID: "u-2", Username: "nora", DisplayName: "Nora Nurse", Role: identity.RoleNurse}, rightPassword)
		if err != nil {
			t.Fatal(err)
		}
		admin, err := f.svc.CreateUser(ctx, identity.User{ID: "u-adm", Username: "ada", DisplayName: "Ada Admin", Role: identity.RoleAdmin}, rightPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.UnlockAccount(ctx, nurse, "u-1", client); !fault.Is(err, fault.Forbidden) {
			t.Fatalf("a nurse unlocking another account: %v", err)
		}
		disabled := admin
		disabled.Disabled = true
		if err := f.svc.UnlockAccount(ctx, disabled, "u-1", client); !fault.Is(err, fault.Forbidden) {
			t.Fatalf("a disabled administrator: %v", err)
		}
		if err := f.svc.UnlockAccount(ctx, admin, "u-nobody", client); !fault.Is(err, fault.NotFound) {
			t.Fatalf("unlocking an unknown account: %v", err)
		}
		if got := failures(t, d); got != 100 {
			t.Fatalf("refused unlocks changed the count: %d", got)
		}
		if err := f.svc.UnlockAccount(ctx, admin, "u-1", client); err != nil {
			t.Fatal(err)
		}
		unlocks := f.eventsOf(t, "u-adm", identity.SubtypeUnlock)
		if len(unlocks) != 1 || unlocks[0].Outcome != audit.OutcomeSuccess || unlocks[0].OutcomeDesc != "password sign-in of u-1 unlocked (100 consecutive failures, locked until unlocked)" {
			t.Fatalf("unlock audit: %+v", unlocks)
		}
		if _, err := f.svc.Authenticate(ctx, "dana", rightPassword, client); err != nil {
			t.Fatalf("right password after the unlock: %v", err)
		}

		// The account itself (the recovery flow, once it has proved who
		// they are) may unlock it too.
		f.fail(t, "nora", 12)
		if err := f.svc.UnlockAccount(ctx, nurse, "u-2", client); err != nil {
			t.Fatalf("self unlock through recovery: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, "nora", rightPassword, client); err != nil {
			t.Fatalf("after self unlock: %v", err)
		}
		if u := f.eventsOf(t, "u-2", identity.SubtypeUnlock); len(u) != 1 || !strings.Contains(u[0].OutcomeDesc, "12 consecutive failures, locked until 20") {
			t.Fatalf("self unlock audit: %+v", u)
		}
	})
}

// TestLockoutCountsEveryParallelGuess: guesses sent at once cannot outrun
// the schedule. The attempt is counted before its password is checked, by
// a conditional UPDATE, so of 40 parallel guesses exactly 5 are checked
// (the 5th sets a 1 s wait), and each later burst gets exactly one. At the
// hard cap no burst gets any: exactly 100 guesses, ever.
func TestLockoutCountsEveryParallelGuess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		burst := func(k int) (checked int, last error) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := 0; i < k; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.svc.Authenticate(ctx, "dana", wrongPassword, client)
					mu.Lock()
					defer mu.Unlock()
					if !fault.Is(err, fault.Unauthenticated) {
						t.Errorf("parallel guess: %v", err)
					}
					if strings.HasPrefix(fault.Message(err), "wrong username or password") {
						checked++
						if last == nil || lockOf(err) != nil {
							last = err // the one guess that earned the lock
						}
					}
				}()
			}
			wg.Wait()
			return checked, last
		}
		checked, last := burst(40)
		if checked != 5 || failures(t, d) != 5 {
			t.Fatalf("40 parallel guesses: %d checked, %d counted; want 5", checked, failures(t, d))
		}
		if wrong := len(f.eventsOf(t, "u-1", "login")); wrong != 40 {
			t.Fatalf("%d login events for 40 guesses", wrong)
		}
		for n := 6; n <= 100; n++ {
			f.waitOut(t, last)
			if checked, last = burst(4); checked != 1 {
				t.Fatalf("burst at failure %d: %d guesses checked, want 1", n, checked)
			}
		}
		if le := lockOf(last); le == nil || !le.Hard {
			t.Fatalf("after 100 failures: %v", last)
		}
		f.advance(24 * time.Hour)
		if checked, _ := burst(8); checked != 0 || failures(t, d) != 100 {
			t.Fatalf("past the hard cap: %d guesses checked, %d counted", checked, failures(t, d))
		}
	})
}

// TestUnknownUsernameLocksLikeAnAccount: a username with no account goes
// through the same schedule with the same messages, so that a lock tells
// nobody whether the account exists.
func TestUnknownUsernameLocksLikeAnAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		var errA, errU error
		for n := 1; n <= 101; n++ {
			if n <= 100 {
				f.waitOut(t, errA)
			}
			_, errA = f.svc.Authenticate(ctx, "dana", wrongPassword, client)
			_, errU = f.svc.Authenticate(ctx, "nobody", wrongPassword, client)
			if fault.Message(errA) != fault.Message(errU) || fault.KindOf(errA) != fault.KindOf(errU) {
				t.Fatalf("attempt %d: account %q, unknown %q", n, fault.Message(errA), fault.Message(errU))
			}
			la, lu := lockOf(errA), lockOf(errU)
			if (la == nil) != (lu == nil) || la != nil && *la != *lu {
				t.Fatalf("attempt %d: locks %+v and %+v", n, la, lu)
			}
		}
		if lockOf(errU) == nil || !lockOf(errU).Hard {
			t.Fatalf("unknown username after 101 attempts: %v", errU)
		}
		if n := len(f.eventsOf(t, "unknown", identity.SubtypeLockout)); n != 91 {
			t.Errorf("%d lockout events for the unknown username, want 91", n)
		}
	})
}

// TestHardLockedPasswordLeavesPasskey: the hard cap is against guessing a
// password; a passkey cannot be guessed, so it still signs the owner in,
// and its sign-in does not clear the password's count (or an attacker
// would get 100 more guesses each time the owner used a passkey).
func TestHardLockedPasswordLeavesPasskey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		a := newAuthenticator()
		x.register(t, a, "Laptop")
		err := x.fail(t, "dana", 100)
		if le := lockOf(err); le == nil || !le.Hard {
			t.Fatalf("after 100 failures: %v", err)
		}
		if u, err := x.signIn(t, a, "c"); err != nil || u.ID != "u-1" {
			t.Fatalf("passkey sign-in with the password hard-locked: %v", err)
		}
		if _, err := x.svc.Authenticate(ctx, "dana", rightPassword, client); lockOf(err) == nil || !lockOf(err).Hard {
			t.Fatalf("password after a passkey sign-in: %v", err)
		}
		if got := failures(t, d); got != 100 {
			t.Fatalf("passkey sign-in changed the password's count to %d", got)
		}
	})
}

package identity

import (
	"container/list"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// The lockout schedule of password sign-in (decision 0035). It counts
// consecutive failed password checks of one username; a successful
// password sign-in, UnlockAccount and nothing else sets the count back to
// zero. Attempts refused because of a lock are not checked and not
// counted: only guesses are.
const (
	// delayFrom is the failure after which each attempt must wait:
	// firstDelay after the 5th failure, doubled by each failure up to
	// lockFrom (1, 2, 4, 8, 16 s).
	delayFrom  = 5
	firstDelay = time.Second
	// lockFrom is the failure that locks for firstLock; each further
	// failure doubles the lock, up to maxLock (15 min, 30 min, 1 h, 2 h,
	// then 4 h).
	lockFrom  = 10
	firstLock = 15 * time.Minute
	maxLock   = 4 * time.Hour
	// hardCap is the failure after which password sign-in stays locked
	// until UnlockAccount (NIST SP 800-63B 5.2.2: at most 100 consecutive
	// failed attempts). At 4 h per guess it takes about 14 days to reach.
	hardCap = 100
)

// Audit subtypes of the lockout.
const (
	// SubtypeLockout: a username's password sign-in was locked (from
	// lockFrom failures on, and at the hard cap), with the reason.
	SubtypeLockout = "lockout"
	// SubtypeUnlock: an administrator (or the account-recovery flow)
	// cleared an account's failures.
	SubtypeUnlock = "account-unlocked"
)

// lockAfter returns how long password sign-in stays locked after the n-th
// consecutive failure, and whether it stays locked until unlocked.
func lockAfter(n int) (time.Duration, bool) {
	switch {
	case n >= hardCap:
		return 0, true
	case n >= lockFrom:
		d := firstLock
		for i := lockFrom; i < n && d < maxLock; i++ {
			d *= 2
		}
		return min(d, maxLock), false
	case n >= delayFrom:
		return firstDelay << (n - delayFrom), false
	}
	return 0, false
}

// claimSQL counts an attempt as a failure before its password is checked,
// and sets the lock that failure earns, in one statement that only passes
// when the username is not locked. Parallel guesses are serialised by the
// row: however many arrive at once, no more are checked than the schedule
// allows (five, then one per lock). A right password then clears the
// count. The schedule is written into the statement from lockAfter, so
// there is one schedule, not a Go one and an SQL one.
var claimSQL = buildClaimSQL()

func buildClaimSQL() string {
	type step struct {
		from int
		d    time.Duration
	}
	var steps []step
	for n := 1; n < hardCap; n++ {
		d, _ := lockAfter(n)
		if len(steps) == 0 || steps[len(steps)-1].d != d {
			steps = append(steps, step{n, d})
		}
	}
	var b strings.Builder
	b.WriteString(`UPDATE users SET failed_logins = failed_logins + 1, locked_until = CASE`)
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].d > 0 {
			fmt.Fprintf(&b, ` WHEN failed_logins + 1 >= %d THEN CAST($2 AS BIGINT) + %d`, steps[i].from, steps[i].d.Microseconds())
		}
	}
	fmt.Fprintf(&b, ` ELSE NULL END WHERE id = $1 AND failed_logins < %d AND (locked_until IS NULL OR locked_until <= CAST($2 AS BIGINT)) RETURNING failed_logins`, hardCap)
	return b.String()
}

// LockedError is the cause of a refused password sign-in while the
// username is locked; web reads it for Retry-After. It is the same for an
// account and for a username without one.
type LockedError struct {
	// Until is when password sign-in opens again (zero when Hard).
	Until time.Time
	// Hard: locked until an administrator or account recovery unlocks it.
	Hard bool
}

func (e *LockedError) Error() string {
	if e.Hard {
		return "password sign-in locked until unlocked"
	}
	return "password sign-in locked until " + e.Until.UTC().Format(time.RFC3339)
}

// lockState is what a username's failures cost it now.
type lockState struct {
	failures int
	until    time.Time
	hard     bool
}

func (st lockState) locked(now time.Time) bool { return st.hard || st.until.After(now) }

// waitText says how long d is, rounded up, in words.
func waitText(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 90*time.Second:
		return plural(max(1, int64((d+time.Second-1)/time.Second)), "second")
	case d <= 90*time.Minute:
		return plural(int64((d+time.Minute-1)/time.Minute), "minute")
	}
	m := int64((d + time.Minute - 1) / time.Minute)
	if m%60 == 0 {
		return plural(m/60, "hour")
	}
	return plural(m/60, "hour") + " " + plural(m%60, "minute")
}

// lockMessage is what the person signing in is told about a lock. It
// speaks of "this username", never of an account: a username without an
// account locks the same way (unknownNames).
func lockMessage(st lockState, now time.Time) string {
	const head = "Too many failed sign-ins with this username: "
	if st.hard {
		return head + "password sign-in is locked until an administrator unlocks it. Ask your administrator, or use account recovery; a passkey still signs you in."
	}
	d := st.until.Sub(now)
	if d < time.Minute {
		return head + "password sign-in is locked for " + waitText(d) + "; please try again after that."
	}
	at := st.until.UTC().Format("15:04 UTC")
	if st.until.UTC().Format(time.DateOnly) != now.UTC().Format(time.DateOnly) {
		at = st.until.UTC().Format("2 Jan 15:04 UTC")
	}
	return head + "password sign-in is locked; try again in " + waitText(d) + " (after " + at + ")."
}

// refuseLocked is the error of an attempt made while the username is
// locked.
func refuseLocked(st lockState, now time.Time) error {
	le := &LockedError{Until: st.until, Hard: st.hard}
	if le.Hard {
		le.Until = time.Time{}
	}
	return fault.Wrap(fault.Unauthenticated, le, "%s", lockMessage(st, now))
}

// failedAttempt is the error of the n-th consecutive wrong password: the
// usual message, and the lock it earned if any.
func failedAttempt(n int, now time.Time) error {
	d, hard := lockAfter(n)
	if d == 0 && !hard {
		return errBadCredentials
	}
	st := lockState{failures: n, until: now.Add(d), hard: hard}
	le := &LockedError{Until: st.until, Hard: hard}
	if hard {
		le.Until = time.Time{}
	}
	return fault.Wrap(fault.Unauthenticated, le, "wrong username or password. %s", lockMessage(st, now))
}

// claimAttempt counts an attempt on the account before its password is
// checked (claimSQL). claimed is false when the account is locked; st is
// then its state.
func (s *Service) claimAttempt(ctx context.Context, userID string, now time.Time) (n int, st lockState, claimed bool, err error) {
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRow(ctx, claimSQL, userID, now.UnixMicro()).Scan(&n)
		if err == nil {
			claimed = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return db.Translate(err)
		}
		var until sql.NullInt64
		if err := tx.QueryRow(ctx, `SELECT failed_logins, locked_until FROM users WHERE id = $1`, userID).Scan(&st.failures, &until); err != nil {
			return db.Translate(err)
		}
		st.hard = st.failures >= hardCap
		if until.Valid {
			st.until = time.UnixMicro(until.Int64)
		}
		return nil
	})
	return n, st, claimed, err
}

// auditLockout records a lock earned by the n-th consecutive failure, from
// lockFrom on (the short waits before it are only throttling, and each
// failure is already a denied login event).
func (s *Service) auditLockout(ctx context.Context, u User, c Client, n int, now time.Time) {
	d, hard := lockAfter(n)
	if n < lockFrom && !hard {
		return
	}
	who := "consecutive failed password sign-ins"
	if u.ID == "unknown" {
		who += " with a username that has no account"
	}
	reason := fmt.Sprintf("%d %s: locked for %s, until %s", n, who, d, now.Add(d).UTC().Format(time.RFC3339))
	if hard {
		reason = fmt.Sprintf("%d %s: locked until an administrator or account recovery unlocks it", n, who)
	}
	ev := &audit.Event{
		Actor:          audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action:         audit.ActionExecute,
		Subtype:        SubtypeLockout,
		Outcome:        audit.OutcomeDenied,
		OutcomeDesc:    reason,
		Source:         "trustward",
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		s.log.Error("lockout audit failed", "user", u.ID, "err", err)
	}
}

// authenticateUnknown answers a sign-in with a username that has no
// account or no password exactly as a wrong password of an account: the
// same hash work, the same schedule of locks, the same messages.
func (s *Service) authenticateUnknown(ctx context.Context, username, password string, c Client) error {
	unknown := User{ID: "unknown", Role: "unknown"}
	now := s.clock()
	n, st, claimed := s.unknown.claim(username, now)
	if !claimed {
		s.auditSignIn(ctx, unknown, c, audit.OutcomeDenied, lockedDesc(st))
		return refuseLocked(st, now)
	}
	_, _, _ = s.hasher.Verify(ctx, s.dummy, password)
	s.auditSignIn(ctx, unknown, c, audit.OutcomeDenied, "unknown username or no password set")
	s.auditLockout(ctx, unknown, c, n, now)
	return failedAttempt(n, now)
}

// lockedDesc is the audit text of an attempt refused by a lock.
func lockedDesc(st lockState) string {
	if st.hard {
		return "account locked until unlocked by an administrator"
	}
	return "account temporarily locked"
}

// UnlockAccount clears the password failures of userID, and with them any
// lock, the hard one included, and audits who did it and what the account
// had. by must be an administrator, or the account itself once the
// account-recovery flow has proved who they are (the caller's duty).
func (s *Service) UnlockAccount(ctx context.Context, by User, userID string, c Client) error {
	if by.Disabled || (by.Role != RoleAdmin && by.ID != userID) {
		return fault.New(fault.Forbidden, "only an administrator can unlock an account")
	}
	var st lockState
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var until sql.NullInt64
		if err := db.ScanRow(tx.QueryRow(ctx, `SELECT failed_logins, locked_until FROM users WHERE id = $1`, userID), "user", &st.failures, &until); err != nil {
			return err
		}
		if until.Valid {
			st.until = time.UnixMicro(until.Int64)
		}
		_, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1`, userID)
		return err
	})
	if err != nil {
		return err
	}
	now := s.clock()
	was := "not locked"
	switch {
	case st.failures >= hardCap:
		was = "locked until unlocked"
	case st.until.After(now):
		was = "locked until " + st.until.UTC().Format(time.RFC3339)
	}
	return s.audit.Record(ctx, &audit.Event{
		Actor:       audit.Actor{UserID: by.ID, Name: by.DisplayName, Role: by.Role, PractitionerID: by.PractitionerID, Organization: by.DepartmentID},
		Action:      audit.ActionExecute,
		Subtype:     SubtypeUnlock,
		Outcome:     audit.OutcomeSuccess,
		OutcomeDesc: fmt.Sprintf("password sign-in of %s unlocked (%d consecutive failures, %s)", userID, st.failures, was),
		Source:      "trustward",
		// Where the unlock came from.
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	})
}

// unknownNames keeps the schedule for usernames without an account (or
// without a password), in memory, so that whether a username locks says
// nothing about whether it has an account. Memory is bounded: past max
// names, the one unused longest is forgotten (its count starts again, a
// loss an attacker pays for with max other usernames' guesses, each
// through the per-address limit of web).
type unknownNames struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]*list.Element
	lru list.List // of *unknownName, most recently used at the front
}

type unknownName struct {
	key [32]byte
	lockState
}

// maxUnknownNames bounds unknownNames (about 150 bytes each).
const maxUnknownNames = 20000

func newUnknownNames(max int) *unknownNames {
	return &unknownNames{max: max, m: make(map[[32]byte]*list.Element)}
}

// claim is claimSQL for a username without an account.
func (u *unknownNames) claim(username string, now time.Time) (n int, st lockState, claimed bool) {
	key := sha256.Sum256([]byte(username))
	u.mu.Lock()
	defer u.mu.Unlock()
	var e *unknownName
	if el, ok := u.m[key]; ok {
		u.lru.MoveToFront(el)
		e = el.Value.(*unknownName)
	} else {
		for u.lru.Len() >= u.max {
			old := u.lru.Back()
			delete(u.m, old.Value.(*unknownName).key)
			u.lru.Remove(old)
		}
		e = &unknownName{key: key}
		u.m[key] = u.lru.PushFront(e)
	}
	if e.locked(now) {
		return 0, e.lockState, false
	}
	e.failures++
	d, hard := lockAfter(e.failures)
	e.hard = hard
	if d > 0 {
		e.until = now.Add(d)
	}
	return e.failures, e.lockState, true
}

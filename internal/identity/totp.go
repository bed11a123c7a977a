package identity

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// SecretSealer seals and opens small secrets (TOTP keys) under a data key;
// *seal.Sealer is one.
type SecretSealer interface {
	Seal(ctx context.Context, subject, record string, plain []byte) ([]byte, error)
	Open(ctx context.Context, subject, record string, sealed []byte) ([]byte, error)
}

// Factors manages the second factors of accounts: TOTP authenticators and
// recovery codes. It decides and stores; the caller audits every result
// (each method returns what an audit event needs) and notifies the user.
type Factors struct {
	db     *db.DB
	sealer SecretSealer
	clock  func() time.Time
	opts   FactorOptions
}

// FactorOptions configure Factors.
type FactorOptions struct {
	// Issuer names the service in authenticator apps ("Trustward" when
	// empty); use the organisation's name so users recognise the entry.
	Issuer string
	// RecoveryCodeUsed, when set, is called after a recovery code has
	// been spent, so that the caller can tell the user by another channel
	// (a spent code the user did not spend means a stolen code sheet).
	RecoveryCodeUsed func(ctx context.Context, use RecoveryCodeUse)
}

// NewFactors returns the second-factor manager. Secrets are sealed with
// sealer under each user's own data key, so that erasing an account
// (shredding "user/<id>") also erases its authenticator secret.
func NewFactors(d *db.DB, sealer SecretSealer, clock func() time.Time, opts FactorOptions) *Factors {
	if opts.Issuer == "" {
		opts.Issuer = "Trustward"
	}
	return &Factors{db: d, sealer: sealer, clock: clock, opts: opts}
}

// TOTP parameters: those every authenticator app supports and oathtool
// uses by default (RFC 6238 with SHA-1, six digits, 30-second steps).
const (
	totpPeriod = 30
	// totpSkew is how many steps before and after the current one are
	// accepted, for phones whose clocks drift and people who type slowly.
	totpSkew = 1
	// totpPendingFor is how long an enrolment waits for its first code.
	totpPendingFor = 30 * time.Minute
	// After totpMaxFailures wrong codes in a row, codes are refused for
	// totpLockFor: six digits and three valid codes leave an online
	// guesser one chance in 333,333 per attempt.
	totpMaxFailures = 10
	totpLockFor     = 15 * time.Minute
)

// Sentinel causes of refused second factors, for errors.Is; the faults
// that wrap them carry the message for the user.
var (
	ErrWrongCode     = errors.New("wrong code")
	ErrCodeReused    = errors.New("code already used")
	ErrFactorLocked  = errors.New("too many wrong codes")
	ErrNoFactor      = errors.New("no such factor")
	ErrPendingExpiry = errors.New("enrolment expired")
)

// Method names in Verification.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
)

// Verification describes one check of a second factor, for the caller's
// audit event: Outcome is a short reason fit for audit.Event.OutcomeDesc.
type Verification struct {
	UserID   string
	Method   string
	Accepted bool
	Outcome  string
	// Step is the TOTP time step that was accepted.
	Step int64
	// Remaining is how many recovery codes are left after this one.
	Remaining int
	At        time.Time
}

func totpSubject(userID string) string { return "user/" + userID }
func totpRecord(userID string) string  { return "identity/totp/" + userID }

// BeginTOTP starts enrolling an authenticator: it makes a new secret,
// stores it sealed as pending (an active authenticator stays active until
// the new one is confirmed) and returns the secret (for typing in), the
// otpauth:// URL and a QR code of it as PNG. Show them once; they are not
// returned again.
func (f *Factors) BeginTOTP(ctx context.Context, userID, accountName string) (secret, otpauthURL string, qrPNG []byte, err error) {
	if userID == "" || accountName == "" {
		return "", "", nil, fault.New(fault.Invalid, "a user and an account name are needed to set up an authenticator")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: f.opts.Issuer, AccountName: accountName,
		Period: totpPeriod, SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", nil, err
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return "", "", nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", "", nil, err
	}
	sealed, err := f.sealer.Seal(ctx, totpSubject(userID), totpRecord(userID), []byte(key.Secret()))
	if err != nil {
		return "", "", nil, err
	}
	now := f.clock().UnixMicro()
	_, err = f.db.Exec(ctx, `INSERT INTO totp_factors (user_id, pending_secret, pending_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET pending_secret = excluded.pending_secret, pending_at = excluded.pending_at`,
		userID, sealed, now)
	if err != nil {
		return "", "", nil, err
	}
	return key.Secret(), key.URL(), buf.Bytes(), nil
}

// ConfirmTOTP activates the pending authenticator once the user has typed
// a first correct code from it, which proves the app holds the secret. The
// code's step counts as used.
func (f *Factors) ConfirmTOTP(ctx context.Context, userID, code string) (Verification, error) {
	now := f.clock()
	v := Verification{UserID: userID, Method: MethodTOTP, At: now}
	var pending []byte
	var pendingAt sql.NullInt64
	var lockedUntil sql.NullInt64
	err := db.ScanRow(f.db.QueryRow(ctx, `SELECT pending_secret, pending_at, locked_until FROM totp_factors WHERE user_id = $1`, userID),
		"authenticator", &pending, &pendingAt, &lockedUntil)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return v, err
	}
	if err != nil || pending == nil {
		v.Outcome = "no authenticator being set up"
		return v, fault.Wrap(fault.Conflict, ErrNoFactor, "there is no authenticator being set up; start again")
	}
	if lockedUntil.Valid && lockedUntil.Int64 > now.UnixMicro() {
		v.Outcome = "locked after too many wrong codes"
		return v, lockedError(lockedUntil.Int64)
	}
	if now.Sub(time.UnixMicro(pendingAt.Int64)) > totpPendingFor {
		v.Outcome = "set-up expired"
		return v, fault.Wrap(fault.Conflict, ErrPendingExpiry, "setting up the authenticator took too long; start again")
	}
	secret, err := f.sealer.Open(ctx, totpSubject(userID), totpRecord(userID), pending)
	if err != nil {
		return v, err
	}
	step, ok := matchTOTP(string(secret), code, now)
	if !ok {
		v.Outcome = "wrong code"
		return v, f.countFailure(ctx, userID, now)
	}
	// Conditional on the very pending secret that was checked, so that a
	// concurrent BeginTOTP or ConfirmTOTP cannot activate another one.
	res, err := f.db.Exec(ctx, `UPDATE totp_factors SET secret = pending_secret, pending_secret = NULL, pending_at = NULL,
		confirmed_at = $3, last_step = $4, last_used_at = $3, failed_attempts = 0, locked_until = NULL
		WHERE user_id = $1 AND pending_secret = $2`, userID, pending, now.UnixMicro(), step)
	if err != nil {
		return v, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		v.Outcome = "set-up changed meanwhile"
		return v, fault.Wrap(fault.Conflict, ErrNoFactor, "the authenticator set-up changed meanwhile; start again")
	}
	v.Accepted, v.Step, v.Outcome = true, step, "authenticator confirmed"
	return v, nil
}

// VerifyTOTP checks a code from the user's active authenticator. A code is
// accepted within one step (30 s) of the clock either way, and each step at
// most once: the accepted step is recorded by a conditional UPDATE that
// only raises it, so a replayed code, or the same code sent twice at once,
// is refused.
func (f *Factors) VerifyTOTP(ctx context.Context, userID, code string) (Verification, error) {
	now := f.clock()
	v := Verification{UserID: userID, Method: MethodTOTP, At: now}
	var sealed []byte
	var lastStep int64
	var lockedUntil sql.NullInt64
	err := db.ScanRow(f.db.QueryRow(ctx, `SELECT secret, last_step, locked_until FROM totp_factors WHERE user_id = $1`, userID),
		"authenticator", &sealed, &lastStep, &lockedUntil)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return v, err
	}
	if err != nil || sealed == nil {
		v.Outcome = "no authenticator"
		return v, fault.Wrap(fault.Unauthenticated, ErrNoFactor, "this account has no authenticator app set up")
	}
	if lockedUntil.Valid && lockedUntil.Int64 > now.UnixMicro() {
		v.Outcome = "locked after too many wrong codes"
		return v, lockedError(lockedUntil.Int64)
	}
	secret, err := f.sealer.Open(ctx, totpSubject(userID), totpRecord(userID), sealed)
	if err != nil {
		return v, err
	}
	step, ok := matchTOTP(string(secret), code, now)
	if !ok {
		v.Outcome = "wrong code"
		return v, f.countFailure(ctx, userID, now)
	}
	if step <= lastStep {
		v.Outcome = "code already used"
		return v, reusedError()
	}
	res, err := f.db.Exec(ctx, `UPDATE totp_factors SET last_step = $2, last_used_at = $3, failed_attempts = 0, locked_until = NULL
		WHERE user_id = $1 AND secret = $4 AND last_step < $2`, userID, step, now.UnixMicro(), sealed)
	if err != nil {
		return v, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		// Another request accepted this step (or a later one) first, or
		// the authenticator was replaced meanwhile.
		v.Outcome = "code already used"
		return v, reusedError()
	}
	v.Accepted, v.Step, v.Outcome = true, step, "code accepted"
	return v, nil
}

func reusedError() error {
	return fault.Wrap(fault.Unauthenticated, ErrCodeReused, "this code has already been used; wait for the next one")
}

func lockedError(until int64) error {
	return fault.Wrap(fault.Unauthenticated, ErrFactorLocked, "too many wrong codes: try again after %s, or use a recovery code", time.UnixMicro(until).UTC().Format("15:04 MST"))
}

// countFailure records a wrong code in one statement (concurrent failures
// cannot lose an increment) and returns the error for the user.
func (f *Factors) countFailure(ctx context.Context, userID string, now time.Time) error {
	if _, err := f.db.Exec(ctx, `UPDATE totp_factors SET failed_attempts = failed_attempts + 1,
		locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN $3 ELSE locked_until END WHERE user_id = $1`,
		userID, totpMaxFailures, now.Add(totpLockFor).UnixMicro()); err != nil {
		return err
	}
	return fault.Wrap(fault.Unauthenticated, ErrWrongCode, "that code is not right; check the time on your phone and type the code now shown")
}

// matchTOTP returns the time step within the skew whose code is code.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	found, step := false, int64(0)
	// Every candidate is computed and compared in constant time, so the
	// response time does not reveal which step matched.
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			found, step = true, s
		}
	}
	return step, found
}

// TOTPStatus says whether a user has an active authenticator, and one
// being set up.
type TOTPStatus struct {
	Active      bool
	Pending     bool
	ConfirmedAt time.Time
	LastUsedAt  time.Time
}

// TOTP returns the state of a user's authenticator (all false when none).
func (f *Factors) TOTP(ctx context.Context, userID string) (TOTPStatus, error) {
	var active, pending bool
	var confirmed, used sql.NullInt64
	err := db.ScanRow(f.db.QueryRow(ctx, `SELECT secret IS NOT NULL, pending_secret IS NOT NULL, confirmed_at, last_used_at FROM totp_factors WHERE user_id = $1`, userID),
		"authenticator", &active, &pending, &confirmed, &used)
	if fault.Is(err, fault.NotFound) {
		return TOTPStatus{}, nil
	}
	if err != nil {
		return TOTPStatus{}, err
	}
	return TOTPStatus{Active: active, Pending: pending, ConfirmedAt: db.FromMicros(confirmed), LastUsedAt: db.FromMicros(used)}, nil
}

// RemoveTOTP removes a user's authenticator, active and pending. It
// returns a NotFound fault when there was none.
func (f *Factors) RemoveTOTP(ctx context.Context, userID string) error {
	res, err := f.db.Exec(ctx, `DELETE FROM totp_factors WHERE user_id = $1`, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.Wrap(fault.NotFound, ErrNoFactor, "this account has no authenticator app")
	}
	return nil
}

package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Account recovery (decision 0039) has two ways back into an account whose
// password or second factor is lost:
//
//   - a patient asks for a link by email (RequestByEmail): a 256-bit token,
//     single use, 30 minutes, one live link per account and at most three
//     requests an hour. Opening it asks for the account's second factor
//     when it has one (a code from the authenticator app, a recovery code
//     or a passkey), then for a new password or a new passkey; the other
//     factors stay.
//   - an administrator, after checking who the person is, issues an
//     enrolment code with a stated reason (IssueEnrolment); the command
//     line does the same for a hospital with one administrator. The code
//     works once within 24 hours; completing it removes every second
//     factor of the account and sets the new password or passkey.
//
// Completing either spends the token by a conditional UPDATE (once, even
// under concurrent attempts), ends every session of the account, clears
// its password lockout and is audited; every refusal is audited too. The
// tokens are stored only as SHA-256 hashes.

// Audit subtypes of account recovery (docs/operations.md lists them).
const (
	// SubtypeRecoveryRequested: someone asked for a recovery link by
	// email; denied when no link was sent, with the reason (the person
	// asking is told the same either way).
	SubtypeRecoveryRequested = "recovery-requested"
	// SubtypeRecoveryIssued: an administrator (or the command line)
	// issued an enrolment code, with the account and the reason.
	SubtypeRecoveryIssued = "recovery-issued"
	// SubtypeRecoveryRefused: a recovery link or code was refused
	// (malformed, unknown, used, expired, replaced) or used out of order.
	SubtypeRecoveryRefused = "recovery-refused"
	// SubtypeAccountRecovered: a recovery was completed.
	SubtypeAccountRecovered = "account-recovered"
)

// Kinds of recovery.
const (
	RecoveryByEmail = "email"
	RecoveryByAdmin = "admin"
)

// Sentinel causes of refused recovery links and codes, for errors.Is.
var (
	ErrRecoveryUnknown = errors.New("unknown recovery token")
	ErrRecoveryUsed    = errors.New("recovery token already used")
	ErrRecoveryExpired = errors.New("recovery token expired")
	ErrRecoveryRevoked = errors.New("recovery token replaced or revoked")
	ErrFactorFirst     = errors.New("second factor not yet passed")
)

const (
	// emailTokenChars is a 256-bit token in unpadded base64url.
	emailTokenChars = 43
	// enrolmentCodeChars is a 100-bit code in Crockford's base32: typed
	// by hand from what the administrator hands over.
	enrolmentCodeChars = 20
	// maxTokenInput bounds what is read as a token or code.
	maxTokenInput = 128
	// maxRecoveryFailures wrong second factors revoke a link.
	maxRecoveryFailures = 5
	// recoveryKept is how long rows stay after they expire (the hourly
	// limit counts them).
	recoveryKept = 24 * time.Hour
	// maxRecoveryReason bounds an administrator's reason (runes).
	maxRecoveryReason = 500
	// ceremonyRecoveryFactor is a passkey challenge answered as the
	// second factor of a recovery.
	ceremonyRecoveryFactor = "recovery-passkey"
)

// RecoveryOptions tune Recovery; zero values take the defaults.
type RecoveryOptions struct {
	// LinkTTL is how long an emailed link works (30 minutes).
	LinkTTL time.Duration
	// EnrolmentTTL is how long an administrator's code works (24 hours).
	EnrolmentTTL time.Duration
	// RequestsPerHour bounds the links sent to one account (3).
	RequestsPerHour int
}

// Recovery is account recovery over the identity service and its second
// factors.
type Recovery struct {
	svc  *Service
	mfa  *MFA
	opts RecoveryOptions
}

// NewRecovery returns account recovery.
func NewRecovery(svc *Service, mfa *MFA, opts RecoveryOptions) *Recovery {
	if opts.LinkTTL <= 0 {
		opts.LinkTTL = 30 * time.Minute
	}
	if opts.EnrolmentTTL <= 0 {
		opts.EnrolmentTTL = 24 * time.Hour
	}
	if opts.RequestsPerHour <= 0 {
		opts.RequestsPerHour = 3
	}
	return &Recovery{svc: svc, mfa: mfa, opts: opts}
}

// LinkTTL is how long an emailed link works.
func (r *Recovery) LinkTTL() time.Duration { return r.opts.LinkTTL }

// EnrolmentTTL is how long an administrator's code works.
func (r *Recovery) EnrolmentTTL() time.Duration { return r.opts.EnrolmentTTL }

// CommandLine is the actor of `trustward user recover`: whoever runs it on
// the server can already read the store and its key file, so it acts as
// an administrator, and may recover any account, an administrator's own
// included.
func CommandLine() User {
	return User{ID: "cli", Username: "cli", DisplayName: "trustward command line", Role: RoleAdmin}
}

func isCommandLine(u User) bool { return u.ID == "cli" && u.Username == "cli" }

// ParseRecoveryToken reads what a person brings back and returns its
// canonical form, the one that is hashed: an emailed link's token (43
// characters of base64url, exactly as sent) or an administrator's
// enrolment code (20 characters of Crockford's base32 in any case, with
// or without hyphens and spaces, I and L read as 1, O as 0).
func ParseRecoveryToken(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxTokenInput {
		return "", fault.InvalidField("code", "is too long to be a recovery link or an enrolment code")
	}
	if len(s) == emailTokenChars {
		if b, err := base64.RawURLEncoding.Strict().DecodeString(s); err == nil && len(b) == 32 {
			return s, nil
		}
	}
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch c {
		case ' ', '-', '\t':
			continue
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		if !strings.ContainsRune(crockford, c) || b.Len() >= enrolmentCodeChars {
			return "", fault.InvalidField("code", "is not a recovery link or an enrolment code: check that you copied all of it")
		}
		b.WriteRune(c)
	}
	if b.Len() != enrolmentCodeChars {
		return "", fault.InvalidField("code", "is not a recovery link or an enrolment code: check that you copied all of it")
	}
	c := b.String()
	return c[:5] + "-" + c[5:10] + "-" + c[10:15] + "-" + c[15:], nil
}

func recoveryTokenHash(canonical string) []byte {
	h := sha256.Sum256([]byte("trustward/account-recovery/v1|" + canonical))
	return h[:]
}

func newRecoveryToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newEnrolmentCode() string {
	var b [enrolmentCodeChars]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = crockford[b[i]&31] // 256 is a multiple of 32: no bias
	}
	c := string(b[:])
	return c[:5] + "-" + c[5:10] + "-" + c[10:15] + "-" + c[15:]
}

// RecoveryMail is a link to send: the caller emails Token (inside its
// link) to To, and never stores or logs it.
type RecoveryMail struct {
	UserID  string
	To      string
	Token   string
	Expires time.Time
}

// RequestByEmail starts recovery by email for the patient account whose
// email address or username is who, and returns the links to send (none,
// or one per patient account with that address). Whether anything is sent
// is never said to the caller's caller: an unknown address, a staff
// account (recovered only by an administrator), an account without an
// address, a disabled one, and one past its hourly limit all answer like
// a sent link, and each is audited with its reason. A new link replaces
// the account's earlier one.
func (r *Recovery) RequestByEmail(ctx context.Context, who string, c Client) ([]RecoveryMail, error) {
	who = strings.TrimSpace(who)
	if who == "" || len(who) > 254 || !utf8.ValidString(who) {
		return nil, fault.InvalidField("email", "give the email address or the username of your account")
	}
	who = strings.ToLower(who)
	q := `SELECT ` + userCols + `, email FROM users WHERE username = $1`
	if strings.Contains(who, "@") {
		q = `SELECT ` + userCols + `, email FROM users WHERE lower(email) = $1 ORDER BY created_at LIMIT 5`
	}
	rows, err := r.svc.db.Query(ctx, q, who)
	if err != nil {
		return nil, err
	}
	type candidate struct {
		u     User
		email sql.NullString
	}
	var cands []candidate
	for rows.Next() {
		var cd candidate
		var pr, pa, dep sql.NullString
		var dis sql.NullInt64
		if err := rows.Scan(&cd.u.ID, &cd.u.Username, &cd.u.DisplayName, &cd.u.Role, &pr, &pa, &dep, &dis, &cd.email); err != nil {
			rows.Close()
			return nil, db.Translate(err)
		}
		cd.u.PractitionerID, cd.u.PatientID, cd.u.DepartmentID, cd.u.Disabled = pr.String, pa.String, dep.String, dis.Valid
		cands = append(cands, cd)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	if len(cands) == 0 {
		return nil, r.auditRecovery(ctx, unknownUser(), c, SubtypeRecoveryRequested, audit.OutcomeDenied, "no account has this email address or username; nothing sent")
	}
	var out []RecoveryMail
	for _, cd := range cands {
		u := cd.u
		var why string
		switch {
		case u.Disabled:
			why = "the account is disabled"
		case u.Role != RolePatient:
			why = "staff accounts are recovered by an administrator only"
		case !cd.email.Valid || cd.email.String == "":
			why = "the account has no email address"
		}
		if why != "" {
			if err := r.auditRecovery(ctx, u, c, SubtypeRecoveryRequested, audit.OutcomeDenied, why+"; nothing sent"); err != nil {
				return nil, err
			}
			continue
		}
		tok, exp, err := r.newEmailLink(ctx, u.ID)
		if fault.Is(err, fault.Conflict) {
			if err := r.auditRecovery(ctx, u, c, SubtypeRecoveryRequested, audit.OutcomeDenied,
				fmt.Sprintf("limit of %d links an hour reached; nothing sent", r.opts.RequestsPerHour)); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := r.auditRecovery(ctx, u, c, SubtypeRecoveryRequested, audit.OutcomeSuccess,
			fmt.Sprintf("recovery link sent by email, valid until %s; earlier links no longer work", exp.UTC().Format(time.RFC3339))); err != nil {
			return nil, err
		}
		out = append(out, RecoveryMail{UserID: u.ID, To: cd.email.String, Token: tok, Expires: exp})
	}
	return out, nil
}

// newEmailLink stores a new link for userID and revokes its earlier ones,
// or returns a Conflict fault when the hourly limit is reached.
func (r *Recovery) newEmailLink(ctx context.Context, userID string) (string, time.Time, error) {
	now := r.svc.clock()
	tok := newRecoveryToken()
	exp := now.Add(r.opts.LinkTTL)
	err := r.svc.db.InTx(ctx, func(tx *db.Tx) error {
		// Concurrent requests for one account queue on its row
		// (PostgreSQL's row lock; SQLite has one writer), so that the
		// count below cannot be outrun.
		if _, err := tx.Exec(ctx, `UPDATE users SET id = id WHERE id = $1`, userID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM account_recoveries WHERE user_id = $1 AND kind = $2 AND created_at > $3`,
			userID, RecoveryByEmail, now.Add(-time.Hour).UnixMicro()).Scan(&n); err != nil {
			return db.Translate(err)
		}
		if n >= r.opts.RequestsPerHour {
			return fault.New(fault.Conflict, "too many recovery requests")
		}
		return r.insertRecovery(ctx, tx, tok, userID, RecoveryByEmail, now, exp, "", "")
	})
	return tok, exp, err
}

// insertRecovery sweeps rows long expired, revokes the account's live
// rows of the same kind and stores a new one.
func (r *Recovery) insertRecovery(ctx context.Context, tx *db.Tx, token, userID, kind string, now, exp time.Time, issuedBy, reason string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM account_recoveries WHERE expires_at < $1`, now.Add(-recoveryKept).UnixMicro()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE account_recoveries SET revoked_at = $3 WHERE user_id = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL`,
		userID, kind, now.UnixMicro()); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO account_recoveries (token_hash, user_id, kind, created_at, expires_at, issued_by, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		recoveryTokenHash(token), userID, kind, now.UnixMicro(), exp.UnixMicro(), nullable(issuedBy), nullable(reason))
	return err
}

// Enrolment is an administrator's enrolment code, to be handed over in
// person and shown once.
type Enrolment struct {
	User    User
	Code    string
	Expires time.Time
}

// IssueEnrolment lets an administrator (by) give userID a way back in
// after checking who they are: an enrolment code that works once within
// EnrolmentTTL, replacing any earlier one. reason says how the person was
// checked ("verified in person, badge checked"); it is audited with the
// administrator as actor. An administrator cannot recover their own
// account: another administrator must, or the command line.
func (r *Recovery) IssueEnrolment(ctx context.Context, by User, userID, reason string, c Client) (Enrolment, error) {
	refuse := func(err error) (Enrolment, error) {
		_ = r.auditRecovery(ctx, by, c, SubtypeRecoveryIssued, audit.OutcomeDenied, fmt.Sprintf("enrolment code for %s refused: %s", userID, fault.Message(err)))
		return Enrolment{}, err
	}
	if by.Role != RoleAdmin || by.Disabled {
		return refuse(fault.New(fault.Forbidden, "only an administrator can recover another person's sign-in"))
	}
	if by.ID == userID && !isCommandLine(by) {
		return refuse(fault.New(fault.Forbidden, "you cannot recover your own account: ask another administrator, or run `trustward user recover` on the server"))
	}
	reason, err := validReason(reason)
	if err != nil {
		return refuse(err)
	}
	u, err := r.svc.UserByID(ctx, userID)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return refuse(err)
		}
		return Enrolment{}, err
	}
	if u.Disabled {
		return refuse(fault.New(fault.Conflict, "the account %s is disabled; enable it before recovering it", u.Username))
	}
	now := r.svc.clock()
	code := newEnrolmentCode()
	exp := now.Add(r.opts.EnrolmentTTL)
	err = r.svc.db.InTx(ctx, func(tx *db.Tx) error {
		return r.insertRecovery(ctx, tx, code, u.ID, RecoveryByAdmin, now, exp, by.ID, reason)
	})
	if err != nil {
		return Enrolment{}, err
	}
	if err := r.auditRecovery(ctx, by, c, SubtypeRecoveryIssued, audit.OutcomeSuccess,
		fmt.Sprintf("enrolment code for %s (%s, %s) issued, valid until %s; earlier codes no longer work; reason: %s",
			u.Username, u.ID, RoleLabel(u.Role), exp.UTC().Format(time.RFC3339), reason)); err != nil {
		return Enrolment{}, err
	}
	return Enrolment{User: u, Code: code, Expires: exp}, nil
}

func validReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	n := utf8.RuneCountInString(reason)
	if !utf8.ValidString(reason) || n < 5 || n > maxRecoveryReason {
		return "", fault.InvalidField("reason", "say in 5 to %d characters how you checked who the person is, such as \"verified in person, badge checked\"", maxRecoveryReason)
	}
	for _, c := range reason {
		if unicode.IsControl(c) {
			return "", fault.InvalidField("reason", "cannot hold control characters or line breaks")
		}
	}
	return reason, nil
}

// RecoveryState is where a recovery stands, for the pages that lead
// through it.
type RecoveryState struct {
	User    User
	Kind    string
	Expires time.Time
	// IssuedBy names the administrator of an enrolment code.
	IssuedBy string
	// NeedsFactor: the account's second factor must be passed before a
	// new password or passkey is set (a link by email to an account with
	// an authenticator app or a passkey); FactorDone: it was.
	NeedsFactor, FactorDone bool
	// Factors is what the account has set up now.
	Factors FactorStatus
}

// Ready reports whether a new password or passkey may be set now.
func (s RecoveryState) Ready() bool { return !s.NeedsFactor || s.FactorDone }

// ReplacesFactors reports whether completing removes the account's
// second factors (an administrator's enrolment code).
func (s RecoveryState) ReplacesFactors() bool { return s.Kind == RecoveryByAdmin }

// recoveryRow is a stored recovery.
type recoveryRow struct {
	hash      []byte
	userID    string
	kind      string
	expires   time.Time
	issuedBy  string
	factorAt  sql.NullInt64
	failures  int
	used      bool
	revoked   bool
	canonical string
}

// Open checks a link's token or an enrolment code and returns where its
// recovery stands. A refusal is audited and says why: not a link or code,
// unknown, used, replaced, or expired.
func (r *Recovery) Open(ctx context.Context, token string, c Client) (RecoveryState, error) {
	row, u, err := r.live(ctx, token, c)
	if err != nil {
		return RecoveryState{}, err
	}
	return r.state(ctx, row, u)
}

func (r *Recovery) state(ctx context.Context, row recoveryRow, u User) (RecoveryState, error) {
	st := RecoveryState{User: u, Kind: row.kind, Expires: row.expires, FactorDone: row.factorAt.Valid}
	var err error
	if st.Factors, err = r.mfa.Status(ctx, u.ID); err != nil {
		return RecoveryState{}, err
	}
	st.NeedsFactor = row.kind == RecoveryByEmail && st.Factors.Protected()
	if row.kind == RecoveryByAdmin {
		st.IssuedBy = "an administrator"
		if row.issuedBy == CommandLine().ID {
			st.IssuedBy = "an administrator, on the server's command line"
		} else if a, err := r.svc.UserByID(ctx, row.issuedBy); err == nil {
			st.IssuedBy = a.DisplayName
		}
	}
	return st, nil
}

// live finds the recovery of token and its account, and refuses (with an
// audit event) any that cannot be used.
func (r *Recovery) live(ctx context.Context, token string, c Client) (recoveryRow, User, error) {
	canonical, err := ParseRecoveryToken(token)
	if err != nil {
		_ = r.auditRecovery(ctx, unknownUser(), c, SubtypeRecoveryRefused, audit.OutcomeDenied, "malformed recovery link or code")
		return recoveryRow{}, User{}, err
	}
	row := recoveryRow{hash: recoveryTokenHash(canonical), canonical: canonical}
	var exp int64
	var issuedBy sql.NullString
	var used, revoked sql.NullInt64
	err = db.ScanRow(r.svc.db.QueryRow(ctx, `SELECT user_id, kind, expires_at, issued_by, factor_at, failures, used_at, revoked_at FROM account_recoveries WHERE token_hash = $1`, row.hash),
		"recovery", &row.userID, &row.kind, &exp, &issuedBy, &row.factorAt, &row.failures, &used, &revoked)
	if fault.Is(err, fault.NotFound) {
		_ = r.auditRecovery(ctx, unknownUser(), c, SubtypeRecoveryRefused, audit.OutcomeDenied, "unknown recovery link or code")
		return row, User{}, fault.Wrap(fault.NotFound, ErrRecoveryUnknown, "this recovery link or enrolment code is not valid. Check that you copied all of it, or ask for a new one")
	}
	if err != nil {
		return row, User{}, err
	}
	row.expires, row.issuedBy, row.used, row.revoked = time.UnixMicro(exp), issuedBy.String, used.Valid, revoked.Valid
	u, err := r.svc.UserByID(ctx, row.userID)
	if err != nil {
		return row, User{}, err
	}
	what, again := "recovery link", "ask for a new link from the sign-in page"
	if row.kind == RecoveryByAdmin {
		what, again = "enrolment code", "ask an administrator for a new one"
	}
	var cause error
	var msg, desc string
	switch {
	case row.used:
		cause, desc = ErrRecoveryUsed, "already used"
		msg = fmt.Sprintf("this %s has already been used: it works once. If you still cannot sign in, %s", what, again)
	case row.revoked:
		cause, desc = ErrRecoveryRevoked, "replaced or revoked"
		msg = fmt.Sprintf("this %s no longer works: a newer one was issued, the account was recovered another way, or too many wrong codes were tried with it. Use the newest one, or %s", what, again)
	case !r.svc.clock().Before(row.expires):
		cause, desc = ErrRecoveryExpired, "expired"
		msg = fmt.Sprintf("this %s has expired (it worked until %s). Please %s", what, row.expires.UTC().Format("2 Jan 15:04 UTC"), again)
	case u.Disabled:
		cause, desc = ErrRecoveryRevoked, "account disabled"
		msg = "this account is disabled; ask an administrator"
	}
	if cause != nil {
		_ = r.auditRecovery(ctx, u, c, SubtypeRecoveryRefused, audit.OutcomeDenied, fmt.Sprintf("%s %s", what, desc))
		return row, u, fault.Wrap(fault.NotFound, cause, "%s", msg)
	}
	return row, u, nil
}

// VerifyFactor checks the account's second factor during a recovery by
// email: a six-digit code from the authenticator app or a recovery code.
// Every attempt is an audit event; a wrong one counts against the link
// (five revoke it) as well as against the authenticator's own lock.
func (r *Recovery) VerifyFactor(ctx context.Context, token, code string, c Client) error {
	row, u, err := r.live(ctx, token, c)
	if err != nil {
		return err
	}
	st, err := r.state(ctx, row, u)
	if err != nil {
		return err
	}
	if !st.NeedsFactor || st.FactorDone {
		return nil
	}
	method := MethodTOTP
	code = strings.TrimSpace(code)
	var v Verification
	switch digits := strings.NewReplacer(" ", "", "-", "").Replace(code); {
	case code == "":
		err = fault.Wrap(fault.Unauthenticated, ErrWrongCode, "give the code from your authenticator app or one of your recovery codes")
		v.Outcome = "no code given"
	case len(code) > 64:
		err = fault.InvalidField("code", "a code is at most 64 characters")
		v.Outcome = "code too long"
	case len(digits) == 6 && strings.Trim(digits, "0123456789") == "":
		v, err = r.mfa.factors.VerifyTOTP(ctx, u.ID, code)
	default:
		method = MethodRecoveryCode
		v, err = r.mfa.factors.UseRecoveryCode(ctx, u.ID, code)
	}
	if v.Method != "" {
		method = v.Method
	}
	if err != nil {
		if !fault.Is(err, fault.Unauthenticated) && !fault.Is(err, fault.Invalid) {
			return err
		}
		_ = r.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, method, audit.OutcomeDenied, "account recovery: "+v.Outcome)
		return r.countFactorFailure(ctx, row, err)
	}
	if err := r.markFactor(ctx, row); err != nil {
		return err
	}
	subtype := SubtypeFactorUsed
	if method == MethodRecoveryCode {
		subtype = SubtypeRecoveryUsed
	}
	return r.svc.AuditFactor(ctx, u, c, subtype, method, audit.OutcomeSuccess, "account recovery: "+v.Outcome)
}

// countFactorFailure counts a wrong second factor against the link, and
// revokes the link at the limit; it returns err with the tries left.
func (r *Recovery) countFactorFailure(ctx context.Context, row recoveryRow, err error) error {
	var n int
	if e := r.svc.db.InTx(ctx, func(tx *db.Tx) error {
		return db.ScanRow(tx.QueryRow(ctx, `UPDATE account_recoveries SET failures = failures + 1,
		revoked_at = CASE WHEN failures + 1 >= $2 THEN $3 ELSE revoked_at END WHERE token_hash = $1 RETURNING failures`,
			row.hash, maxRecoveryFailures, r.svc.clock().UnixMicro()), "recovery", &n)
	}); e != nil {
		return e
	}
	left := maxRecoveryFailures - n
	if left <= 0 {
		return fault.Wrap(fault.Unauthenticated, ErrRecoveryRevoked, "%s. That was the last try with this link: ask for a new one from the sign-in page", strings.TrimSuffix(fault.Message(err), "."))
	}
	return fault.Wrap(fault.KindOf(err), err, "%s (%d more tries with this link)", strings.TrimSuffix(fault.Message(err), "."), left)
}

func (r *Recovery) markFactor(ctx context.Context, row recoveryRow) error {
	res, err := r.svc.db.Exec(ctx, `UPDATE account_recoveries SET factor_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL`,
		row.hash, r.svc.clock().UnixMicro())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fault.Wrap(fault.NotFound, ErrRecoveryRevoked, "this recovery link stopped working meanwhile; ask for a new one")
	}
	return nil
}

// recoveryBinding is the secret a recovery's passkey ceremonies are bound
// to: the token itself, which only its holder knows.
func recoveryBinding(row recoveryRow) string { return "recovery|" + row.canonical }

// BeginPasskeyFactor starts a passkey check as the second factor of a
// recovery by email, and returns the options for navigator.credentials.get
// (only the account's own passkeys are allowed).
func (r *Recovery) BeginPasskeyFactor(ctx context.Context, token string, c Client) ([]byte, error) {
	row, u, err := r.live(ctx, token, c)
	if err != nil {
		return nil, err
	}
	return r.mfa.passkeys.beginUserAssertion(ctx, u, bindingHash(ceremonyRecoveryFactor, recoveryBinding(row)), ceremonyRecoveryFactor,
		"this account has no passkey; use a code from your authenticator app or a recovery code")
}

// FinishPasskeyFactor checks the passkey answer of BeginPasskeyFactor. A
// refusal is audited and counts against the link like a wrong code.
func (r *Recovery) FinishPasskeyFactor(ctx context.Context, token string, response []byte, c Client) error {
	row, u, err := r.live(ctx, token, c)
	if err != nil {
		return err
	}
	p := r.mfa.passkeys
	fail := func(reason string, err error) error {
		_ = r.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "account recovery: "+reason)
		return r.countFactorFailure(ctx, row, err)
	}
	uid, sd, err := p.takeCeremony(ctx, bindingHash(ceremonyRecoveryFactor, recoveryBinding(row)), ceremonyRecoveryFactor)
	if err != nil {
		_ = r.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "account recovery: no live challenge (expired or replayed)")
		return err
	}
	if reason, err := p.checkUserAssertion(ctx, u, uid, sd, response, "use a code instead, and tell the clinic"); reason != "" {
		return fail(reason, err)
	} else if err != nil {
		return err
	}
	if err := r.markFactor(ctx, row); err != nil {
		return err
	}
	return r.svc.AuditFactor(ctx, u, c, SubtypeFactorUsed, MethodPasskey, audit.OutcomeSuccess, "account recovery: passkey accepted")
}

// ready is live plus the second factor: a new credential may be set.
func (r *Recovery) ready(ctx context.Context, token string, c Client) (recoveryRow, RecoveryState, error) {
	row, u, err := r.live(ctx, token, c)
	if err != nil {
		return row, RecoveryState{}, err
	}
	st, err := r.state(ctx, row, u)
	if err != nil {
		return row, st, err
	}
	if !st.Ready() {
		_ = r.auditRecovery(ctx, u, c, SubtypeRecoveryRefused, audit.OutcomeDenied, "new credential before the second factor was passed")
		return row, st, fault.Wrap(fault.Forbidden, ErrFactorFirst, "first confirm it is you with your authenticator app, a recovery code or your passkey")
	}
	return row, st, nil
}

// CompleteWithPassword ends a recovery with a new password, under the
// password policy of the account as it will be (the shorter minimum only
// when a second factor stays). It returns the recovered account; the
// person then signs in with the new password.
func (r *Recovery) CompleteWithPassword(ctx context.Context, token, password string, c Client) (User, error) {
	row, st, err := r.ready(ctx, token, c)
	if err != nil {
		return User{}, err
	}
	u := st.User
	keeps := !st.ReplacesFactors() && st.Factors.Protected()
	if err := PasswordError(CheckPassword(password, PolicyContext{Username: u.Username, DisplayName: u.DisplayName, OrgName: r.svc.org, HasSecondFactor: keeps})); err != nil {
		return User{}, err
	}
	h, err := r.svc.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	return u, r.complete(ctx, row, st, c, h, nil)
}

// BeginPasskeyEnrolment starts adding a passkey that ends a recovery, and
// returns the options for navigator.credentials.create.
func (r *Recovery) BeginPasskeyEnrolment(ctx context.Context, token string, c Client) ([]byte, error) {
	row, st, err := r.ready(ctx, token, c)
	if err != nil {
		return nil, err
	}
	return r.mfa.passkeys.BeginRegistration(ctx, st.User, recoveryBinding(row))
}

// CompleteWithPasskey ends a recovery with the new passkey of
// BeginPasskeyEnrolment. An enrolment code's recovery also removes the old
// password, so that the passkey is the way in.
func (r *Recovery) CompleteWithPasskey(ctx context.Context, token, name string, response []byte, c Client) (User, error) {
	row, st, err := r.ready(ctx, token, c)
	if err != nil {
		return User{}, err
	}
	k, err := r.mfa.passkeys.FinishRegistration(ctx, st.User, recoveryBinding(row), name, response, c)
	if err != nil {
		return User{}, err
	}
	return st.User, r.complete(ctx, row, st, c, "", k.ID)
}

// complete spends the recovery and sets the new credential in one
// transaction, then ends every session, clears the lockout and audits.
func (r *Recovery) complete(ctx context.Context, row recoveryRow, st RecoveryState, c Client, passwordHash string, keepPasskey []byte) error {
	u := st.User
	now := r.svc.clock()
	var failed int
	var lockedUntil sql.NullInt64
	var totp, codes, passkeys int64
	err := r.svc.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE account_recoveries SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2`,
			row.hash, now.UnixMicro())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fault.Wrap(fault.NotFound, ErrRecoveryUsed, "this recovery was just completed or stopped working; if you cannot sign in, start again")
		}
		// Every other way back in that was open ends with this one.
		if _, err := tx.Exec(ctx, `UPDATE account_recoveries SET revoked_at = $2 WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL`, u.ID, now.UnixMicro()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT failed_logins, locked_until FROM users WHERE id = $1`, u.ID).Scan(&failed, &lockedUntil); err != nil {
			return db.Translate(err)
		}
		switch {
		case passwordHash != "":
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, u.ID, passwordHash); err != nil {
				return err
			}
		case st.ReplacesFactors():
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = NULL WHERE id = $1`, u.ID); err != nil {
				return err
			}
		}
		if !st.ReplacesFactors() {
			return nil
		}
		del := func(q string, args ...any) (int64, error) {
			res, err := tx.Exec(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			n, _ := res.RowsAffected()
			return n, nil
		}
		if totp, err = del(`DELETE FROM totp_factors WHERE user_id = $1 AND secret IS NOT NULL`, u.ID); err != nil {
			return err
		}
		if _, err = del(`DELETE FROM totp_factors WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		if codes, err = del(`DELETE FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, u.ID); err != nil {
			return err
		}
		if _, err = del(`DELETE FROM recovery_codes WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		keep := keepPasskey
		if keep == nil {
			keep = []byte{}
		}
		passkeys, err = del(`DELETE FROM passkeys WHERE user_id = $1 AND id <> $2`, u.ID, keep)
		return err
	})
	if err != nil {
		return err
	}
	if _, err := r.svc.RevokeOtherSessions(ctx, u, nil, "account recovered", c); err != nil {
		return err
	}
	if failed > 0 || lockedUntil.Valid {
		if err := r.svc.UnlockAccount(ctx, u, u.ID, c); err != nil {
			return err
		}
	}
	var removed []string
	if totp > 0 {
		removed = append(removed, "the authenticator app")
	}
	if codes > 0 {
		removed = append(removed, plural(codes, "recovery code"))
	}
	if passkeys > 0 {
		removed = append(removed, plural(passkeys, "passkey"))
	}
	if len(removed) > 0 {
		if err := r.svc.AuditFactor(ctx, u, c, SubtypeFactorRemoved, "all", audit.OutcomeSuccess, "removed by account recovery: "+strings.Join(removed, ", ")); err != nil {
			return err
		}
	}
	how := "by a link sent by email"
	if st.ReplacesFactors() {
		how = "by an enrolment code from " + st.IssuedBy + " (" + row.issuedBy + ")"
	} else if st.NeedsFactor {
		how += ", after the second factor"
	}
	what := "new password set"
	if keepPasskey != nil && passwordHash == "" {
		what = "new passkey added"
		if st.ReplacesFactors() {
			what += "; the old password no longer works"
		}
	}
	if len(removed) > 0 {
		what += "; removed: " + strings.Join(removed, ", ")
	}
	return r.auditRecovery(ctx, u, c, SubtypeAccountRecovered, audit.OutcomeSuccess, "account recovered "+how+"; "+what+"; every session ended")
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func unknownUser() User { return User{ID: "unknown", Role: "unknown"} }

func (r *Recovery) auditRecovery(ctx context.Context, u User, c Client, subtype, outcome, desc string) error {
	err := r.svc.audit.Record(ctx, &audit.Event{
		Actor:          audit.Actor{UserID: u.ID, Name: u.DisplayName, Role: u.Role, PractitionerID: u.PractitionerID, Organization: u.DepartmentID},
		Action:         audit.ActionExecute,
		Subtype:        subtype,
		Outcome:        outcome,
		OutcomeDesc:    truncate(desc, 1500),
		Source:         "trustward",
		NetworkAddress: c.Address,
		UserAgent:      c.UserAgent,
	})
	if err != nil {
		r.svc.log.Error("recovery audit failed", "user", u.ID, "subtype", subtype, "err", err)
	}
	return err
}

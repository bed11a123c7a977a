package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Passkeys are WebAuthn discoverable credentials (resident keys) with user
// verification required: the authenticator checks a fingerprint, face or
// PIN, so a passkey alone is a phishing-resistant multi-factor sign-in.
// Ceremonies are kept server side in auth_ceremonies, bound to a cookie
// (the session cookie for a registration, a ceremony cookie before
// sign-in), expire after PasskeyConfig.CeremonyTTL and are taken by a
// DELETE ... RETURNING, so each challenge is answered at most once. See
// docs/decisions/0029-passkeys.md.
type Passkeys struct {
	svc    *Service
	wa     *webauthn.WebAuthn
	sealer SecretSealer
	ttl    time.Duration
}

// PasskeyConfig names the relying party.
type PasskeyConfig struct {
	// RPID is the domain passkeys are bound to ("trust.example.org";
	// "localhost" in development). It cannot be an IP address.
	RPID string
	// RPName is what authenticators show ("Riverside Health").
	RPName string
	// Origins are the exact origins (scheme://host[:port]) pages run at.
	Origins []string
	// CeremonyTTL bounds how long a challenge can be answered (5 minutes
	// when zero).
	CeremonyTTL time.Duration
}

// Ceremony kinds in auth_ceremonies.
const (
	ceremonyRegister = "passkey-register"
	ceremonySignIn   = "passkey-signin"
	ceremonyMFA      = "mfa"
)

// Limits of what a browser may send.
const (
	maxPasskeyName     = 60
	maxCredentialID    = 1023 // WebAuthn Level 3, §6.1
	maxPasskeyResponse = 16 << 10
	// MaxPasskeysPerUser bounds the credentials an account may hold.
	MaxPasskeysPerUser = 20
)

// Sentinel causes of refused passkeys, for errors.Is.
var (
	ErrNoCeremony     = errors.New("no ceremony in progress")
	ErrNotVerified    = errors.New("user not verified")
	ErrClonedPasskey  = errors.New("signature counter did not increase")
	ErrUnknownPasskey = errors.New("unknown passkey")
)

// NewPasskeys returns the passkey manager over the identity service (for
// accounts and audit); credential records are sealed with sealer under
// each user's data key.
func NewPasskeys(svc *Service, sealer SecretSealer, cfg PasskeyConfig) (*Passkeys, error) {
	if cfg.RPName == "" {
		cfg.RPName = "Trustward"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = 5 * time.Minute
	}
	if err := protocol.ValidateRPID(cfg.RPID); err != nil {
		return nil, fault.New(fault.Invalid, "passkeys: the relying party id %q is not a domain name: %v", cfg.RPID, err)
	}
	if len(cfg.Origins) == 0 {
		return nil, fault.New(fault.Invalid, "passkeys: at least one origin is needed")
	}
	yes := true
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: &yes,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "passkeys: %v", err)
	}
	return &Passkeys{svc: svc, wa: wa, sealer: sealer, ttl: cfg.CeremonyTTL}, nil
}

// Passkey is one credential as the account page lists it.
type Passkey struct {
	ID       []byte
	Name     string
	Created  time.Time
	LastUsed time.Time
}

// IDText is the credential id as it appears in URLs.
func (p Passkey) IDText() string { return hex.EncodeToString(p.ID) }

// waUser adapts an account to go-webauthn.
type waUser struct {
	u      User
	handle []byte
	creds  []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte                         { return w.handle }
func (w *waUser) WebAuthnName() string                       { return w.u.Username }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.DisplayName }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func bindingHash(kind string, secret string) []byte {
	h := sha256.Sum256([]byte("trustward/ceremony/v1|" + kind + "|" + secret))
	return h[:]
}

func passkeyRecord(id []byte) string { return "identity/passkey/" + hex.EncodeToString(id) }

// handle returns the user's WebAuthn user handle, creating it once.
func (p *Passkeys) handle(ctx context.Context, userID string) ([]byte, error) {
	var h []byte
	err := db.ScanRow(p.svc.db.QueryRow(ctx, `SELECT handle FROM webauthn_handles WHERE user_id = $1`, userID), "user handle", &h)
	if err == nil {
		return h, nil
	}
	if !fault.Is(err, fault.NotFound) {
		return nil, err
	}
	h = make([]byte, 32)
	rand.Read(h)
	if _, err := p.svc.db.Exec(ctx, `INSERT INTO webauthn_handles (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`, userID, h); err != nil {
		return nil, err
	}
	// Another request may have created it first: read what is stored.
	err = db.ScanRow(p.svc.db.QueryRow(ctx, `SELECT handle FROM webauthn_handles WHERE user_id = $1`, userID), "user handle", &h)
	return h, err
}

// credentials loads and opens a user's credential records.
func (p *Passkeys) credentials(ctx context.Context, userID string) ([]webauthn.Credential, error) {
	rows, err := p.svc.db.Query(ctx, `SELECT id, credential, sign_count FROM passkeys WHERE user_id = $1 ORDER BY created_at`, userID)
	if err != nil {
		return nil, err
	}
	type row struct {
		id, sealed []byte
		count      int64
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.sealed, &r.count); err != nil {
			rows.Close()
			return nil, db.Translate(err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	out := make([]webauthn.Credential, 0, len(rs))
	for _, r := range rs {
		plain, err := p.sealer.Open(ctx, totpSubject(userID), passkeyRecord(r.id), r.sealed)
		if err != nil {
			return nil, err
		}
		var c webauthn.Credential
		if err := json.Unmarshal(plain, &c); err != nil {
			return nil, fmt.Errorf("passkey record: %w", err)
		}
		c.Authenticator.SignCount = uint32(r.count)
		out = append(out, c)
	}
	return out, nil
}

// List returns a user's passkeys, oldest first.
func (p *Passkeys) List(ctx context.Context, userID string) ([]Passkey, error) {
	rows, err := p.svc.db.Query(ctx, `SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at, name`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Passkey
	for rows.Next() {
		var k Passkey
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &created, &used); err != nil {
			return nil, db.Translate(err)
		}
		k.Created, k.LastUsed = time.UnixMicro(created).UTC(), db.FromMicros(used)
		out = append(out, k)
	}
	return out, db.Translate(rows.Err())
}

// Count returns how many passkeys a user has.
func (p *Passkeys) Count(ctx context.Context, userID string) (int, error) {
	var n int
	err := p.svc.db.QueryRow(ctx, `SELECT COUNT(*) FROM passkeys WHERE user_id = $1`, userID).Scan(&n)
	return n, db.Translate(err)
}

// putCeremony stores a ceremony, replacing an earlier one of the same kind
// on the same binding (a second click starts over).
func (p *Passkeys) putCeremony(ctx context.Context, binding []byte, kind, userID string, data []byte, ttl time.Duration) error {
	now := p.svc.clock()
	return p.svc.db.InTx(ctx, func(tx *db.Tx) error {
		// Expired ceremonies of anyone are swept here: the table stays
		// small without a background job.
		if _, err := tx.Exec(ctx, `DELETE FROM auth_ceremonies WHERE expires_at < $1`, now.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO auth_ceremonies (binding, kind, user_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (binding, kind) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at`,
			binding, kind, nullable(userID), data, now.Add(ttl).UnixMicro())
		return err
	})
}

// takeCeremony removes and returns a ceremony: whatever happens next, the
// challenge cannot be answered twice.
func (p *Passkeys) takeCeremony(ctx context.Context, binding []byte, kind string) (userID string, data []byte, err error) {
	var uid sql.NullString
	var exp int64
	err = p.svc.db.InTx(ctx, func(tx *db.Tx) error {
		return db.ScanRow(tx.QueryRow(ctx, `DELETE FROM auth_ceremonies WHERE binding = $1 AND kind = $2 RETURNING user_id, data, expires_at`, binding, kind),
			"ceremony", &uid, &data, &exp)
	})
	if fault.Is(err, fault.NotFound) {
		return "", nil, fault.Wrap(fault.Unauthenticated, ErrNoCeremony, "this passkey request is not known or was already used; please try again")
	}
	if err != nil {
		return "", nil, err
	}
	if p.svc.clock().UnixMicro() > exp {
		return "", nil, fault.Wrap(fault.Unauthenticated, ErrNoCeremony, "this passkey request has expired; please try again")
	}
	return uid.String, data, nil
}

// BeginRegistration starts adding a passkey to u's account and returns the
// options for navigator.credentials.create as JSON. secret is the session
// cookie the ceremony is bound to.
func (p *Passkeys) BeginRegistration(ctx context.Context, u User, secret string) ([]byte, error) {
	n, err := p.Count(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if n >= MaxPasskeysPerUser {
		return nil, fault.New(fault.Conflict, "this account already has %d passkeys, the most it can hold; remove one first", n)
	}
	h, err := p.handle(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	creds, err := p.credentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	wu := &waUser{u: u, handle: h, creds: creds}
	opts, session, err := p.wa.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	sd, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	if err := p.putCeremony(ctx, bindingHash(ceremonyRegister, secret), ceremonyRegister, u.ID, sd, p.ttl); err != nil {
		return nil, err
	}
	return json.Marshal(opts)
}

// ValidPasskeyName checks the name a person gives a passkey.
func ValidPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fault.InvalidField("name", "give the passkey a name you will recognise, such as \"Work laptop\"")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxPasskeyName {
		return "", fault.InvalidField("name", "a passkey name is at most %d characters of text", maxPasskeyName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fault.InvalidField("name", "a passkey name cannot hold control characters")
		}
	}
	return name, nil
}

// refusal is a protocol error turned into a fault for the user and a short
// reason for the audit event.
func refusal(err error, action string) (string, error) {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		reason := pe.Details
		if reason == "" {
			reason = pe.Type
		}
		return truncate(reason, 200), fault.Wrap(fault.Unauthenticated, err, "the passkey was not accepted: %s", strings.TrimSuffix(reason, "."))
	}
	return action, fault.Wrap(fault.Unauthenticated, err, "the passkey was not accepted (%s)", action)
}

// FinishRegistration checks the authenticator's answer and stores the new
// passkey under name. The challenge is spent whether or not it succeeds.
func (p *Passkeys) FinishRegistration(ctx context.Context, u User, secret, name string, response []byte, c Client) (Passkey, error) {
	name, err := ValidPasskeyName(name)
	if err != nil {
		return Passkey{}, err
	}
	uid, sd, err := p.takeCeremony(ctx, bindingHash(ceremonyRegister, secret), ceremonyRegister)
	if err != nil {
		_ = p.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "registration without a live challenge")
		return Passkey{}, err
	}
	if uid != u.ID {
		_ = p.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "registration challenge of another account")
		return Passkey{}, fault.Wrap(fault.Unauthenticated, ErrNoCeremony, "this passkey request belongs to another session; please try again")
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(sd, &session); err != nil {
		return Passkey{}, fmt.Errorf("stored ceremony: %w", err)
	}
	session.Expires = time.Time{} // expiry is ours, on the injected clock
	parsed, err := ParsePasskeyCreation(response)
	if err != nil {
		_ = p.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "unreadable registration response")
		return Passkey{}, err
	}
	if !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		_ = p.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "user not verified by the authenticator")
		return Passkey{}, fault.Wrap(fault.Unauthenticated, ErrNotVerified, "your device did not confirm it was you (with a fingerprint, face or screen lock); passkeys here need that")
	}
	h, err := p.handle(ctx, u.ID)
	if err != nil {
		return Passkey{}, err
	}
	creds, err := p.credentials(ctx, u.ID)
	if err != nil {
		return Passkey{}, err
	}
	cred, err := p.wa.CreateCredential(&waUser{u: u, handle: h, creds: creds}, session, parsed)
	if err != nil {
		reason, ferr := refusal(err, "registration")
		_ = p.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, reason)
		return Passkey{}, ferr
	}
	if rk := cred.Extensions.RK; rk != nil && !*rk {
		_ = p.svc.AuditFactor(ctx, u, c, SubtypeFactorFailed, MethodPasskey, audit.OutcomeDenied, "not a discoverable credential")
		return Passkey{}, fault.New(fault.Invalid, "this security key cannot keep a passkey (a sign-in without a username); use your phone or computer's passkeys instead")
	}
	if len(cred.ID) == 0 || len(cred.ID) > maxCredentialID {
		return Passkey{}, fault.New(fault.Invalid, "the credential id is %d bytes; it must be 1 to %d", len(cred.ID), maxCredentialID)
	}
	plain, err := json.Marshal(cred)
	if err != nil {
		return Passkey{}, err
	}
	sealed, err := p.sealer.Seal(ctx, totpSubject(u.ID), passkeyRecord(cred.ID), plain)
	if err != nil {
		return Passkey{}, err
	}
	now := p.svc.clock()
	if _, err := p.svc.db.Exec(ctx, `INSERT INTO passkeys (id, user_id, name, credential, sign_count, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		cred.ID, u.ID, name, sealed, int64(cred.Authenticator.SignCount), now.UnixMicro()); err != nil {
		if fault.Is(err, fault.Conflict) {
			return Passkey{}, fault.New(fault.Conflict, "this passkey is already registered")
		}
		return Passkey{}, err
	}
	if err := p.svc.AuditFactor(ctx, u, c, SubtypeFactorAdded, MethodPasskey, audit.OutcomeSuccess, "passkey added"); err != nil {
		return Passkey{}, err
	}
	return Passkey{ID: cred.ID, Name: name, Created: now.UTC()}, nil
}

// BeginSignIn starts a discoverable sign-in (no username typed) and
// returns the options for navigator.credentials.get as JSON. secret is
// the ceremony cookie the challenge is bound to.
func (p *Passkeys) BeginSignIn(ctx context.Context, secret string) ([]byte, error) {
	opts, session, err := p.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	sd, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	if err := p.putCeremony(ctx, bindingHash(ceremonySignIn, secret), ceremonySignIn, "", sd, p.ttl); err != nil {
		return nil, err
	}
	return json.Marshal(opts)
}

// FinishSignIn checks a discoverable assertion and returns the account it
// signs in. The password lockout is not consulted: a passkey cannot be
// guessed, and a lockout caused by someone else's guesses must not keep
// the owner out. A disabled account, an unverified user, a replayed or
// expired challenge and a signature counter that did not increase (a
// cloned authenticator) are refused; every outcome is an audit event.
func (p *Passkeys) FinishSignIn(ctx context.Context, secret string, response []byte, c Client) (User, error) {
	unknown := User{ID: "unknown", Role: "unknown"}
	_, sd, err := p.takeCeremony(ctx, bindingHash(ceremonySignIn, secret), ceremonySignIn)
	if err != nil {
		_ = p.svc.auditSignIn(ctx, unknown, c, audit.OutcomeDenied, "passkey: no live challenge (expired or replayed)")
		return User{}, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(sd, &session); err != nil {
		return User{}, fmt.Errorf("stored ceremony: %w", err)
	}
	session.Expires = time.Time{}
	parsed, err := ParsePasskeyAssertion(response)
	if err != nil {
		_ = p.svc.auditSignIn(ctx, unknown, c, audit.OutcomeDenied, "passkey: unreadable assertion")
		return User{}, err
	}
	var found User
	unknownCred := false
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		var uid string
		if err := db.ScanRow(p.svc.db.QueryRow(ctx, `SELECT user_id FROM webauthn_handles WHERE handle = $1`, userHandle), "passkey owner", &uid); err != nil {
			unknownCred = fault.Is(err, fault.NotFound)
			return nil, err
		}
		u, err := p.svc.UserByID(ctx, uid)
		if err != nil {
			return nil, err
		}
		creds, err := p.credentials(ctx, uid)
		if err != nil {
			return nil, err
		}
		found = u
		unknownCred = true
		for _, c := range creds {
			if bytes.Equal(c.ID, rawID) {
				unknownCred = false
			}
		}
		return &waUser{u: u, handle: userHandle, creds: creds}, nil
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		who := unknown
		if _, err := handler(parsed.RawID, parsed.Response.UserHandle); err == nil {
			who = found
		}
		_ = p.svc.auditSignIn(ctx, who, c, audit.OutcomeDenied, "passkey: user not verified by the authenticator")
		return User{}, fault.Wrap(fault.Unauthenticated, ErrNotVerified, "your device did not confirm it was you (with a fingerprint, face or screen lock); passkeys here need that")
	}
	_, cred, err := p.wa.ValidatePasskeyLogin(handler, session, parsed)
	if err != nil {
		who := unknown
		if found.ID != "" {
			who = found
		}
		if unknownCred {
			_ = p.svc.auditSignIn(ctx, who, c, audit.OutcomeDenied, "passkey: unknown credential")
			return User{}, fault.Wrap(fault.Unauthenticated, ErrUnknownPasskey, "this passkey is not registered here (it may have been removed); sign in another way")
		}
		reason, ferr := refusal(err, "sign-in")
		_ = p.svc.auditSignIn(ctx, who, c, audit.OutcomeDenied, "passkey: "+reason)
		return User{}, ferr
	}
	u := found
	if cred.Authenticator.CloneWarning {
		_ = p.svc.auditSignIn(ctx, u, c, audit.OutcomeDenied, "passkey: signature counter went backwards (possible cloned authenticator)")
		return User{}, fault.Wrap(fault.Unauthenticated, ErrClonedPasskey, "this passkey was refused because it may have been copied; sign in another way and tell your administrator")
	}
	// The counter is raised by a conditional UPDATE: two uses of one
	// assertion, or two copies of a key racing, cannot both pass.
	now := p.svc.clock()
	count := int64(cred.Authenticator.SignCount)
	res, err := p.svc.db.Exec(ctx, `UPDATE passkeys SET sign_count = $2, last_used_at = $3 WHERE id = $1 AND user_id = $4 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		cred.ID, count, now.UnixMicro(), u.ID)
	if err != nil {
		return User{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		_ = p.svc.auditSignIn(ctx, u, c, audit.OutcomeDenied, "passkey: signature counter went backwards (possible cloned authenticator)")
		return User{}, fault.Wrap(fault.Unauthenticated, ErrClonedPasskey, "this passkey was refused because it may have been copied; sign in another way and tell your administrator")
	}
	if u.Disabled {
		_ = p.svc.auditSignIn(ctx, u, c, audit.OutcomeDenied, "passkey: account disabled")
		return User{}, errBadCredentials
	}
	if err := p.svc.auditSignIn(ctx, u, c, audit.OutcomeSuccess, "passkey"); err != nil {
		return User{}, err
	}
	return u, nil
}

// Remove deletes one of u's passkeys.
func (p *Passkeys) Remove(ctx context.Context, u User, id []byte, c Client) error {
	res, err := p.svc.db.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, u.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.Wrap(fault.NotFound, ErrUnknownPasskey, "this passkey is not on your account")
	}
	return p.svc.AuditFactor(ctx, u, c, SubtypeFactorRemoved, MethodPasskey, audit.OutcomeSuccess, "passkey removed")
}

// ParsePasskeyCreation reads the JSON a browser sends after
// navigator.credentials.create, with a precise error for bad input.
func ParsePasskeyCreation(b []byte) (*protocol.ParsedCredentialCreationData, error) {
	if len(b) == 0 || len(b) > maxPasskeyResponse {
		return nil, fault.New(fault.Invalid, "a passkey response is 1 to %d bytes; this one is %d", maxPasskeyResponse, len(b))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(b)
	if err != nil {
		return nil, parseFault(err, "registration")
	}
	return parsed, nil
}

// ParsePasskeyAssertion reads the JSON a browser sends after
// navigator.credentials.get, with a precise error for bad input.
func ParsePasskeyAssertion(b []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(b) == 0 || len(b) > maxPasskeyResponse {
		return nil, fault.New(fault.Invalid, "a passkey response is 1 to %d bytes; this one is %d", maxPasskeyResponse, len(b))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(b)
	if err != nil {
		return nil, parseFault(err, "sign-in")
	}
	return parsed, nil
}

func parseFault(err error, what string) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		d := pe.Details
		if pe.DevInfo != "" {
			d += ": " + pe.DevInfo
		}
		return fault.Wrap(fault.Invalid, err, "the passkey %s response cannot be read: %s", what, truncate(d, 300))
	}
	return fault.Wrap(fault.Invalid, err, "the passkey %s response cannot be read", what)
}

// checkUserAssertion checks a passkey assertion of the known account u
// against the ceremony uid and sd taken for it (re-authentication, a
// recovery's second factor): the ceremony is u's, the authenticator
// verified the user, the signature is one of u's passkeys, and the
// signature counter moved forward (it is stored). A refusal returns the
// reason for the audit event with the error to show, which names
// instead as what the person can use in place of the passkey; an error
// with an empty reason is the server's own.
func (p *Passkeys) checkUserAssertion(ctx context.Context, u User, uid string, sd, response []byte, instead string) (reason string, err error) {
	if uid != u.ID {
		return "challenge of another account", fault.Wrap(fault.Unauthenticated, ErrNoCeremony, "this passkey request belongs to another account; please try again")
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(sd, &session); err != nil {
		return "", fmt.Errorf("stored ceremony: %w", err)
	}
	session.Expires = time.Time{} // expiry is ours, on the injected clock
	parsed, err := ParsePasskeyAssertion(response)
	if err != nil {
		return "unreadable assertion", err
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return "user not verified by the authenticator", fault.Wrap(fault.Unauthenticated, ErrNotVerified, "your device did not confirm it was you (with a fingerprint, face or screen lock); passkeys here need that")
	}
	h, err := p.handle(ctx, u.ID)
	if err != nil {
		return "", err
	}
	creds, err := p.credentials(ctx, u.ID)
	if err != nil {
		return "", err
	}
	cred, err := p.wa.ValidateLogin(&waUser{u: u, handle: h, creds: creds}, session, parsed)
	if err != nil {
		return refusal(err, "check")
	}
	res, err := p.svc.db.Exec(ctx, `UPDATE passkeys SET sign_count = $2, last_used_at = $3 WHERE id = $1 AND user_id = $4 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		cred.ID, int64(cred.Authenticator.SignCount), p.svc.clock().UnixMicro(), u.ID)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 || cred.Authenticator.CloneWarning {
		return "signature counter went backwards (possible cloned authenticator)",
			fault.Wrap(fault.Unauthenticated, ErrClonedPasskey, "this passkey was refused because it may have been copied; %s", instead)
	}
	return "", nil
}

// beginUserAssertion starts a passkey check of the known account u (only
// its own passkeys are allowed), stores the ceremony under binding and
// kind, and returns the options for navigator.credentials.get. none is
// the refusal when the account has no passkey.
func (p *Passkeys) beginUserAssertion(ctx context.Context, u User, binding []byte, kind, none string) ([]byte, error) {
	creds, err := p.credentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, fault.New(fault.Invalid, "%s", none)
	}
	h, err := p.handle(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	opts, session, err := p.wa.BeginLogin(&waUser{u: u, handle: h, creds: creds}, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey check: %w", err)
	}
	sd, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	if err := p.putCeremony(ctx, binding, kind, u.ID, sd, p.ttl); err != nil {
		return nil, err
	}
	return json.Marshal(opts)
}

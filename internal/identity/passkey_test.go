package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/seal"
)

const (
	testRPID   = "trust.example.org"
	testOrigin = "https://trust.example.org"
)

var b64 = base64.RawURLEncoding

// authenticator is a software WebAuthn authenticator (CTAP2 semantics:
// ES256 key, resident credential, signature counter), enough to drive the
// server side of both ceremonies without a browser.
type authenticator struct {
	key      *ecdsa.PrivateKey
	credID   []byte
	handle   []byte
	count    uint32
	verified bool // sets the UV flag
	origin   string
}

func newAuthenticator() *authenticator {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := make([]byte, 16)
	rand.Read(id)
	return &authenticator{key: k, credID: id, verified: true, origin: testOrigin}
}

// clone is a copy of the key with its own counter, as a cloned
// authenticator would have.
func (a *authenticator) clone() *authenticator { c := *a; return &c }

func (a *authenticator) flags(attested bool) byte {
	f := byte(0x01) // user present
	if a.verified {
		f |= 0x04
	}
	if attested {
		f |= 0x40
	}
	return f
}

func (a *authenticator) authData(attested bool) []byte {
	rp := sha256.Sum256([]byte(testRPID))
	out := append([]byte{}, rp[:]...)
	out = append(out, a.flags(attested))
	out = binary.BigEndian.AppendUint32(out, a.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.credID)))
		out = append(out, a.credID...)
		x, y := make([]byte, 32), make([]byte, 32)
		a.key.X.FillBytes(x)
		a.key.Y.FillBytes(y)
		cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
		if err != nil {
			panic(err)
		}
		out = append(out, cose...)
	}
	return out
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// create answers navigator.credentials.create options.
func (a *authenticator) create(t testing.TB, options []byte) []byte {
	t.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
			AuthenticatorSelection struct {
				ResidentKey      string `json:"residentKey"`
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("creation options: %v", err)
	}
	if opts.PublicKey.AuthenticatorSelection.ResidentKey != "required" || opts.PublicKey.AuthenticatorSelection.UserVerification != "required" {
		t.Fatalf("creation options do not require a resident key and user verification: %s", options)
	}
	h, err := b64.DecodeString(opts.PublicKey.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.handle = h
	a.count++
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(true)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData("webauthn.create", opts.PublicKey.Challenge, a.origin)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": true}},
	})
	return b
}

// get answers navigator.credentials.get options with the resident
// credential (a discoverable sign-in: the user handle is returned).
func (a *authenticator) get(t testing.TB, options []byte) []byte {
	t.Helper()
	var opts struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			AllowCredentials []any  `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("request options: %v", err)
	}
	if opts.PublicKey.RPID != testRPID || len(opts.PublicKey.AllowCredentials) != 0 {
		t.Fatalf("request options are not for a discoverable sign-in at %s: %s", testRPID, options)
	}
	a.count++
	ad := a.authData(false)
	cd := clientData("webauthn.get", opts.PublicKey.Challenge, a.origin)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.handle),
		},
		"clientExtensionResults": map[string]any{},
	})
	return b
}

type passkeyFixture struct {
	*fixture
	pk      *identity.Passkeys
	mfa     *identity.MFA
	factors *identity.Factors
	user    identity.User
}

func newPasskeyFixture(t testing.TB, d *db.DB) *passkeyFixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 11, 22, 8, 0, 10, 0, time.UTC)}
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), f.clock())
	if err != nil {
		t.Fatal(err)
	}
	sl := seal.NewSealer(d, kek, f.clock)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.NewRecorder(d, sl, f.clock, log)
	t.Cleanup(rec.Close)
	f.audit = audit.NewStore(d, sl)
	f.svc, err = identity.NewService(context.Background(), d, identity.NewHasher(cheap, 2), rec, f.clock, log, "Riverside General Hospital")
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.CreateUser(context.Background(), identity.User{ID: "u-1", Username: "dana", DisplayName: "Dana Reyes", Role: identity.RoleNurse}, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	pk, err := identity.NewPasskeys(f.svc, sl, identity.PasskeyConfig{RPID: testRPID, RPName: "Riverside", Origins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	factors := identity.NewFactors(d, sl, f.clock, identity.FactorOptions{})
	return &passkeyFixture{fixture: f, pk: pk, factors: factors, mfa: identity.NewMFA(f.svc, factors, pk), user: u}
}

// register adds a passkey made by a to the fixture's user.
func (x *passkeyFixture) register(t testing.TB, a *authenticator, name string) identity.Passkey {
	t.Helper()
	ctx := context.Background()
	opts, err := x.pk.BeginRegistration(ctx, x.user, "session-secret")
	if err != nil {
		t.Fatal(err)
	}
	k, err := x.pk.FinishRegistration(ctx, x.user, "session-secret", name, a.create(t, opts), client)
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	return k
}

func (x *passkeyFixture) signIn(t testing.TB, a *authenticator, ceremony string) (identity.User, error) {
	t.Helper()
	ctx := context.Background()
	opts, err := x.pk.BeginSignIn(ctx, ceremony)
	if err != nil {
		t.Fatal(err)
	}
	return x.pk.FinishSignIn(ctx, ceremony, a.get(t, opts), client)
}

// events returns the audit events of subtype with their outcome text.
func (x *passkeyFixture) events(t *testing.T, subtype string) []string {
	t.Helper()
	evs, err := x.audit.Events(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Event.Subtype == subtype {
			out = append(out, e.Event.Outcome+" "+e.Event.Actor.UserID+" "+e.Event.OutcomeDesc)
		}
	}
	return out
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestPasskeyRegisterAndDiscoverableSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		laptop, phone := newAuthenticator(), newAuthenticator()
		x.register(t, laptop, "Work laptop")
		x.advance(time.Minute)
		x.register(t, phone, "  Phone  ")
		ks, err := x.pk.List(ctx, x.user.ID)
		if err != nil || len(ks) != 2 || ks[0].Name != "Work laptop" || ks[1].Name != "Phone" || !ks[0].LastUsed.IsZero() {
			t.Fatalf("passkeys after two registrations: %+v %v", ks, err)
		}
		if !ks[1].Created.Equal(x.clock()) {
			t.Errorf("created %v, want %v", ks[1].Created, x.clock())
		}
		x.advance(time.Minute)
		u, err := x.signIn(t, phone, "ceremony-1")
		if err != nil || u.ID != x.user.ID {
			t.Fatalf("discoverable sign-in: %+v %v", u, err)
		}
		ks, _ = x.pk.List(ctx, x.user.ID)
		if !ks[1].LastUsed.Equal(x.clock()) || !ks[0].LastUsed.IsZero() {
			t.Errorf("last used after signing in with the phone: %+v", ks)
		}
		if got := x.events(t, "login"); !contains(got, audit.OutcomeSuccess+" u-1 passkey") {
			t.Errorf("sign-in events: %q", got)
		}
		if got := x.events(t, identity.SubtypeFactorAdded); len(got) != 2 {
			t.Errorf("passkey added events: %q", got)
		}
		// Coverage counts the account as phishing-resistant.
		cov, err := x.svc.Coverage(ctx)
		if err != nil || cov.StaffPhishingResistant != 1 {
			t.Errorf("coverage: %+v %v", cov, err)
		}
		// The same authenticator cannot be registered twice.
		opts, err := x.pk.BeginRegistration(ctx, x.user, "session-secret")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(opts), b64.EncodeToString(phone.credID)) {
			t.Errorf("registration options do not exclude the existing passkeys: %s", opts)
		}
		// Removing a passkey is audited and stops it signing in.
		if err := x.pk.Remove(ctx, x.user, phone.credID, client); err != nil {
			t.Fatal(err)
		}
		if err := x.pk.Remove(ctx, x.user, phone.credID, client); !fault.Is(err, fault.NotFound) {
			t.Errorf("removing twice: %v", err)
		}
		if _, err := x.signIn(t, phone, "ceremony-2"); !errors.Is(err, identity.ErrUnknownPasskey) {
			t.Errorf("removed passkey signed in: %v", err)
		}
		if got := x.events(t, identity.SubtypeFactorRemoved); len(got) != 1 {
			t.Errorf("removal events: %q", got)
		}
	})
}

func TestPasskeyRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		a := newAuthenticator()
		x.register(t, a, "Laptop")

		t.Run("replayed assertion", func(t *testing.T) {
			opts, err := x.pk.BeginSignIn(ctx, "c-replay")
			if err != nil {
				t.Fatal(err)
			}
			resp := a.get(t, opts)
			if _, err := x.pk.FinishSignIn(ctx, "c-replay", resp, client); err != nil {
				t.Fatal(err)
			}
			if _, err := x.pk.FinishSignIn(ctx, "c-replay", resp, client); !errors.Is(err, identity.ErrNoCeremony) {
				t.Errorf("the same assertion twice: %v", err)
			}
			// Against a fresh challenge the old signature does not match.
			if _, err := x.pk.BeginSignIn(ctx, "c-replay"); err != nil {
				t.Fatal(err)
			}
			if _, err := x.pk.FinishSignIn(ctx, "c-replay", resp, client); err == nil || !fault.Is(err, fault.Unauthenticated) {
				t.Errorf("an old assertion against a new challenge: %v", err)
			}
		})
		t.Run("cloned authenticator", func(t *testing.T) {
			copy := a.clone()
			if _, err := x.signIn(t, a, "c-a"); err != nil {
				t.Fatal(err)
			}
			if _, err := x.signIn(t, a, "c-a"); err != nil {
				t.Fatal(err)
			}
			// The copy's counter is behind the original's.
			if _, err := x.signIn(t, copy, "c-b"); !errors.Is(err, identity.ErrClonedPasskey) {
				t.Fatalf("a cloned authenticator signed in: %v", err)
			}
			if got := x.events(t, "login"); !contains(got, audit.OutcomeDenied+" u-1 passkey: signature counter went backwards") {
				t.Errorf("clone not audited: %q", got)
			}
		})
		t.Run("user not verified", func(t *testing.T) {
			lazy := a.clone()
			lazy.count += 100
			lazy.verified = false
			if _, err := x.signIn(t, lazy, "c-uv"); !errors.Is(err, identity.ErrNotVerified) {
				t.Errorf("an assertion without user verification: %v", err)
			}
			if got := x.events(t, "login"); !contains(got, audit.OutcomeDenied+" u-1 passkey: user not verified") {
				t.Errorf("UV refusal not audited: %q", got)
			}
			reg := newAuthenticator()
			reg.verified = false
			opts, _ := x.pk.BeginRegistration(ctx, x.user, "s")
			if _, err := x.pk.FinishRegistration(ctx, x.user, "s", "No UV", reg.create(t, opts), client); !errors.Is(err, identity.ErrNotVerified) {
				t.Errorf("a registration without user verification: %v", err)
			}
		})
		t.Run("expired challenge", func(t *testing.T) {
			a.count += 10
			opts, _ := x.pk.BeginSignIn(ctx, "c-exp")
			x.advance(5*time.Minute + time.Second)
			if _, err := x.pk.FinishSignIn(ctx, "c-exp", a.get(t, opts), client); !errors.Is(err, identity.ErrNoCeremony) {
				t.Errorf("an expired challenge: %v", err)
			}
		})
		t.Run("wrong origin", func(t *testing.T) {
			phish := a.clone()
			phish.count += 1000
			phish.origin = "https://trust-example.org.evil.test"
			if _, err := x.signIn(t, phish, "c-o"); err == nil || !fault.Is(err, fault.Unauthenticated) {
				t.Errorf("an assertion made for another origin: %v", err)
			}
		})
		t.Run("registration bound to the session", func(t *testing.T) {
			opts, _ := x.pk.BeginRegistration(ctx, x.user, "mine")
			if _, err := x.pk.FinishRegistration(ctx, x.user, "another", "Stolen", newAuthenticator().create(t, opts), client); !errors.Is(err, identity.ErrNoCeremony) {
				t.Errorf("a registration finished in another session: %v", err)
			}
			other, err := x.svc.CreateUser(ctx, identity.User{ID: "u-2", Username: "eli", DisplayName: "Eli", Role: identity.RoleNurse}, "correct horse battery staple two")
			if err != nil {
				t.Fatal(err)
			}
			opts, _ = x.pk.BeginRegistration(ctx, x.user, "shared")
			if _, err := x.pk.FinishRegistration(ctx, other, "shared", "Other", newAuthenticator().create(t, opts), client); !errors.Is(err, identity.ErrNoCeremony) {
				t.Errorf("a registration finished for another account: %v", err)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			for _, name := range []string{"", "   ", strings.Repeat("x", 61), "a\x00b"} {
				opts, _ := x.pk.BeginRegistration(ctx, x.user, "s")
				if _, err := x.pk.FinishRegistration(ctx, x.user, "s", name, newAuthenticator().create(t, opts), client); !fault.Is(err, fault.Invalid) {
					t.Errorf("passkey name %q: %v", name, err)
				}
			}
			if _, err := x.pk.BeginSignIn(ctx, "c-bad"); err != nil {
				t.Fatal(err)
			}
			for _, body := range []string{"", "{", `{"id":"x"}`, strings.Repeat("a", 17<<10)} {
				if _, err := identity.ParsePasskeyAssertion([]byte(body)); !fault.Is(err, fault.Invalid) {
					t.Errorf("assertion %.20q: %v", body, err)
				}
			}
		})
		n, err := x.pk.Count(ctx, x.user.ID)
		if err != nil || n != 1 {
			t.Errorf("passkeys after the refusals: %d %v", n, err)
		}
	})
}

func TestPasswordLockoutDoesNotBlockPasskey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		a := newAuthenticator()
		x.register(t, a, "Laptop")
		for i := 0; i < 10; i++ {
			_, _ = x.svc.Authenticate(ctx, "dana", "wrong password guess", client)
		}
		if _, err := x.svc.Authenticate(ctx, "dana", "correct horse battery staple", client); err == nil || !strings.Contains(fault.Message(err), "locked") {
			t.Fatalf("password sign-in after 10 failures: %v", err)
		}
		if u, err := x.signIn(t, a, "c"); err != nil || u.ID != "u-1" {
			t.Fatalf("passkey sign-in during a password lockout: %v", err)
		}
	})
}

func TestSecondFactorSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		if need, err := x.mfa.NeedsSecondFactor(ctx, x.user.ID); err != nil || need {
			t.Fatalf("needs a second factor with none set: %v %v", need, err)
		}
		codes, err := x.mfa.NewRecoveryCodes(ctx, x.user, client)
		if err != nil || len(codes) != 10 {
			t.Fatal(codes, err)
		}
		x.register(t, newAuthenticator(), "Laptop")
		if need, _ := x.mfa.NeedsSecondFactor(ctx, x.user.ID); !need {
			t.Fatal("a passkey does not make the password need a second factor")
		}
		if err := x.mfa.HoldSignIn(ctx, x.user, "held", "/console"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := x.mfa.CompleteSignIn(ctx, "held", "aaaaa-bbbbb", client); !errors.Is(err, identity.ErrWrongCode) {
			t.Errorf("a wrong recovery code: %v", err)
		}
		if _, _, err := x.mfa.CompleteSignIn(ctx, "other", codes[0], client); !errors.Is(err, identity.ErrNoCeremony) {
			t.Errorf("completing a sign-in held by another cookie: %v", err)
		}
		u, next, err := x.mfa.CompleteSignIn(ctx, "held", codes[0], client)
		if err != nil || u.ID != x.user.ID || next != "/console" {
			t.Fatalf("recovery code: %+v %q %v", u, next, err)
		}
		if _, _, err := x.mfa.CompleteSignIn(ctx, "held", codes[1], client); !errors.Is(err, identity.ErrNoCeremony) {
			t.Errorf("a held sign-in completed twice: %v", err)
		}
		if got := x.events(t, identity.SubtypeRecoveryUsed); len(got) != 1 {
			t.Errorf("recovery-code events: %q", got)
		}
		if got := x.events(t, identity.SubtypeFactorFailed); !contains(got, audit.OutcomeDenied+" u-1 recovery_code") {
			t.Errorf("failure events: %q", got)
		}
		// A held sign-in expires.
		_ = x.mfa.HoldSignIn(ctx, x.user, "slow", "/console")
		x.advance(6 * time.Minute)
		if _, _, err := x.mfa.CompleteSignIn(ctx, "slow", codes[2], client); !errors.Is(err, identity.ErrNoCeremony) {
			t.Errorf("an expired hold: %v", err)
		}
		st, err := x.mfa.Status(ctx, x.user.ID)
		if err != nil || st.RecoveryLeft != 9 || len(st.Passkeys) != 1 || !st.Protected() {
			t.Errorf("status: %+v %v", st, err)
		}
	})
}

// TestPasskeyConcurrentAssertion sends one assertion twice at once: the
// challenge is taken once, so exactly one succeeds.
func TestPasskeyConcurrentAssertion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newPasskeyFixture(t, d)
		ctx := context.Background()
		a := newAuthenticator()
		x.register(t, a, "Laptop")
		opts, _ := x.pk.BeginSignIn(ctx, "c")
		resp := a.get(t, opts)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := x.pk.FinishSignIn(ctx, "c", resp, client); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Errorf("%d of 4 concurrent uses of one assertion succeeded", ok)
		}
	})
}

func FuzzParsePasskeyAssertion(f *testing.F) {
	a := newAuthenticator()
	a.handle = []byte("handle")
	f.Add(a.get(f, []byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"trust.example.org"}}`)))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	f.Add([]byte(`{"type":"public-key","response":{"authenticatorData":"AAAA"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := identity.ParsePasskeyAssertion(b)
		if err != nil && !fault.Is(err, fault.Invalid) {
			t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
		}
		if err == nil && p == nil {
			t.Fatal("nil result without error")
		}
	})
}

func FuzzParsePasskeyCreation(f *testing.F) {
	a := newAuthenticator()
	f.Add(a.create(f, []byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","user":{"id":"aGFuZGxl"},"authenticatorSelection":{"residentKey":"required","userVerification":"required"}}}`)))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"attestationObject":"oA","clientDataJSON":"e30"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := identity.ParsePasskeyCreation(b)
		if err != nil && !fault.Is(err, fault.Invalid) {
			t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
		}
		if err == nil && p == nil {
			t.Fatal("nil result without error")
		}
	})
}

// BenchmarkPasskeySignIn measures a discoverable passkey sign-in server
// side (begin: challenge stored; finish: challenge taken, credential
// opened, signature checked, counter raised, sign-in audited).
func BenchmarkPasskeySignIn(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var d *db.DB
			if engine == "sqlite" {
				d = dbtest.SQLite(b)
			} else {
				d = dbtest.Postgres(b)
			}
			x := newPasskeyFixture(b, d)
			a := newAuthenticator()
			x.register(b, a, "Laptop")
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				opts, err := x.pk.BeginSignIn(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				begin := time.Since(t0)
				resp := a.get(b, opts) // the authenticator's work, not the server's
				t1 := time.Now()
				if _, err := x.pk.FinishSignIn(ctx, "bench", resp, client); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, begin+time.Since(t1))
			}
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

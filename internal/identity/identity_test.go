package identity_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// cheap parameters keep the tests fast; the production ones are measured in bench.
var cheap = identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

type fixture struct {
	svc   *identity.Service
	audit *audit.Store
	mu    sync.Mutex
	now   time.Time
}

func (f *fixture) clock() time.Time        { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

func setup(t *testing.T, d *db.DB, p identity.Argon2Params) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), f.clock())
	if err != nil {
		t.Fatal(err)
	}
	sl := seal.NewSealer(d, kek, f.clock)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.NewRecorder(d, sl, f.clock, log)
	t.Cleanup(rec.Close)
	f.audit = audit.NewStore(d, sl)
	f.svc, err = identity.NewService(context.Background(), d, identity.NewHasher(p, 2), rec, f.clock, log, "Riverside General Hospital")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(context.Background(), identity.User{ID: "u-1", Username: "dana", DisplayName: "Dana Reyes", Role: identity.RoleNurse}, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	return f
}

var client = identity.Client{Address: "127.0.0.1", UserAgent: "test"}

func TestPasswordRules(t *testing.T) {
	d := dbtest.SQLite(t)
	f := setup(t, d, cheap)
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, identity.User{Username: "short", DisplayName: "S", Role: identity.RoleNurse}, "fourteen chars"); !fault.Is(err, fault.Invalid) {
		t.Errorf("14-character single-factor password accepted: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, identity.User{Username: "Bad Name", DisplayName: "S", Role: identity.RoleNurse}, "correct horse battery staple"); !fault.Is(err, fault.Invalid) {
		t.Errorf("invalid username accepted: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, identity.User{Username: "dana", DisplayName: "Dup", Role: identity.RoleNurse}, "correct horse battery staple"); !fault.Is(err, fault.Conflict) {
		t.Errorf("duplicate username: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, identity.User{Username: "x1", DisplayName: "X", Role: "wizard"}, "correct horse battery staple"); !fault.Is(err, fault.Invalid) {
		t.Errorf("unknown role: %v", err)
	}
	// Unicode passwords are normalised (NFKC): a composed and a decomposed
	// é are the same password.
	if _, err := f.svc.CreateUser(ctx, identity.User{Username: "eloise", DisplayName: "Éloïse", Role: identity.RoleNurse}, "caf\u00e9 au lait sans sucre"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "eloise", "cafe\u0301 au lait sans sucre", client); err != nil {
		t.Errorf("decomposed form of the same password refused: %v", err)
	}
}

func TestSessionsExpire(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, cheap)
		ctx := context.Background()
		u, err := f.svc.Authenticate(ctx, "Dana", "correct horse battery staple", client)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := f.svc.NewSession(ctx, u.ID, "console", 12*time.Hour, 15*time.Minute, client)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := f.svc.CheckSession(ctx, tok); err != nil || got.ID != "u-1" {
			t.Fatalf("fresh session: %v", err)
		}
		// Activity keeps it alive past the idle limit ...
		for i := 0; i < 4; i++ {
			f.advance(10 * time.Minute)
			if _, _, err := f.svc.CheckSession(ctx, tok); err != nil {
				t.Fatalf("active session ended after %d checks: %v", i, err)
			}
		}
		// ... but not 16 idle minutes.
		f.advance(16 * time.Minute)
		if _, _, err := f.svc.CheckSession(ctx, tok); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("idle session: %v", err)
		}
		// Absolute lifetime, however active.
		tok2, _ := f.svc.NewSession(ctx, u.ID, "console", time.Hour, 15*time.Minute, client)
		for i := 0; i < 6; i++ {
			f.advance(10 * time.Minute)
			f.svc.CheckSession(ctx, tok2)
		}
		f.advance(10 * time.Minute)
		if _, _, err := f.svc.CheckSession(ctx, tok2); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("session past its absolute lifetime: %v", err)
		}
		if _, _, err := f.svc.CheckSession(ctx, strings.Repeat("x", 500)); !fault.Is(err, fault.Unauthenticated) {
			t.Fatalf("oversize token: %v", err)
		}
	})
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	d := dbtest.SQLite(t)
	f := setup(t, d, cheap)
	ctx := context.Background()
	_, e1 := f.svc.Authenticate(ctx, "nobody", "whatever it is here", client)
	_, e2 := f.svc.Authenticate(ctx, "dana", "whatever it is here", client)
	if fault.Message(e1) != fault.Message(e2) {
		t.Fatalf("messages differ: %q vs %q", fault.Message(e1), fault.Message(e2))
	}
}

func TestRehashOnParameterChange(t *testing.T) {
	d := dbtest.SQLite(t)
	setup(t, d, cheap)
	ctx := context.Background()
	stronger := identity.NewHasher(identity.Argon2Params{Memory: 2048, Time: 1, Threads: 1}, 1)
	var old string
	if err := d.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = 'u-1'`).Scan(&old); err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := stronger.Verify(ctx, old, "correct horse battery staple")
	if !ok || !rehash || err != nil {
		t.Fatalf("Verify with new parameters: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if !strings.HasPrefix(old, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash format: %s", old)
	}
	if ok, _, _ := stronger.Verify(ctx, old, "correct horse battery stapler"); ok {
		t.Fatal("wrong password verified")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$aa$bb", "$argon2id$v=19$m=99999999,t=1,p=1$YWFh$YWFhYWFhYWFhYWFhYWFhYWFh"} {
		if _, _, err := stronger.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

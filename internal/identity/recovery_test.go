package identity_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// Ten characters of a 32-letter alphabet: 50 bits per code.
var recoveryCodeShape = regexp.MustCompile(`^[0-9abcdefghjkmnpqrstvwxyz]{5}-[0-9abcdefghjkmnpqrstvwxyz]{5}$`)

func TestRecoveryCodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		codes, err := x.f.NewRecoveryCodes(ctx, "u-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != 10 {
			t.Fatalf("%d codes", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !recoveryCodeShape.MatchString(c) || seen[c] {
				t.Fatalf("code %q: wrong shape or repeated", c)
			}
			seen[c] = true
		}
		// Stored hashed: no code appears in the table.
		rows, err := d.Query(ctx, `SELECT code_hash FROM recovery_codes WHERE user_id = 'u-1'`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var h []byte
			rows.Scan(&h)
			for _, c := range codes {
				if bytes.Contains(h, []byte(c)) || bytes.Contains(h, []byte(strings.ReplaceAll(c, "-", ""))) {
					t.Fatal("a recovery code is stored in the clear")
				}
			}
			n++
		}
		rows.Close()
		if n != 10 {
			t.Fatalf("%d stored codes", n)
		}

		// One use each, however it is typed.
		typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
		v, err := x.f.UseRecoveryCode(ctx, "u-1", typed)
		if err != nil || !v.Accepted || v.Remaining != 9 || v.Method != identity.MethodRecoveryCode || v.Outcome != "recovery code used" {
			t.Fatalf("first use of %q: %+v %v", typed, v, err)
		}
		if len(x.used) != 1 || x.used[0].UserID != "u-1" || x.used[0].Remaining != 9 || !x.used[0].At.Equal(start) {
			t.Fatalf("RecoveryCodeUsed hook: %+v", x.used)
		}
		v, err = x.f.UseRecoveryCode(ctx, "u-1", codes[3])
		if !errors.Is(err, identity.ErrWrongCode) || !fault.Is(err, fault.Unauthenticated) || v.Accepted {
			t.Fatalf("second use: %+v %v", v, err)
		}
		if len(x.used) != 1 {
			t.Fatal("the hook ran for a refused code")
		}
		// Another user's codes are not this user's.
		if _, err := x.f.UseRecoveryCode(ctx, "u-2", codes[4]); !errors.Is(err, identity.ErrWrongCode) {
			t.Fatalf("code of u-1 used by u-2: %v", err)
		}
		// Look-alike letters are read as the digits they resemble.
		c := codes[5]
		typed = strings.NewReplacer("0", "O", "1", "l").Replace(c)
		if _, err := x.f.UseRecoveryCode(ctx, "u-1", typed); err != nil {
			t.Fatalf("%q typed as %q: %v", c, typed, err)
		}
		// Malformed input is refused without touching the store.
		for _, bad := range []string{"", "abcde", "abcde-abcdef", "ùùùùù-ùùùùù", "abcde-abcdu", strings.Repeat("a", 1000)} {
			if _, err := x.f.UseRecoveryCode(ctx, "u-1", bad); !errors.Is(err, identity.ErrWrongCode) {
				t.Errorf("malformed code %q: %v", bad, err)
			}
		}

		// A new set replaces the old one entirely.
		fresh, err := x.f.NewRecoveryCodes(ctx, "u-1")
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := x.f.RecoveryCodesLeft(ctx, "u-1"); left != 10 {
			t.Fatalf("%d codes left after regeneration", left)
		}
		if _, err := x.f.UseRecoveryCode(ctx, "u-1", codes[0]); !errors.Is(err, identity.ErrWrongCode) {
			t.Fatalf("old code after regeneration: %v", err)
		}
		if v, err := x.f.UseRecoveryCode(ctx, "u-1", fresh[0]); err != nil || v.Remaining != 9 {
			t.Fatalf("new code: %+v %v", v, err)
		}
		if _, err := x.f.NewRecoveryCodes(ctx, ""); !fault.Is(err, fault.Invalid) {
			t.Fatalf("codes for no user: %v", err)
		}
	})
}

func TestRecoveryCodeConcurrentUseSucceedsOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		x := newFactorsFixture(t, d)
		ctx := context.Background()
		codes, err := x.f.NewRecoveryCodes(ctx, "u-1")
		if err != nil {
			t.Fatal(err)
		}
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		gate := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				v, err := x.f.UseRecoveryCode(ctx, "u-1", codes[0])
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && v.Accepted:
					ok++
				case errors.Is(err, identity.ErrWrongCode):
					refused++
				default:
					t.Errorf("unexpected: %+v %v", v, err)
				}
			}()
		}
		close(gate)
		wg.Wait()
		if ok != 1 || refused != n-1 {
			t.Fatalf("%d concurrent uses of one code: %d succeeded, %d refused", n, ok, refused)
		}
		if len(x.used) != 1 {
			t.Fatalf("hook ran %d times", len(x.used))
		}
		if left, _ := x.f.RecoveryCodesLeft(ctx, "u-1"); left != 9 {
			t.Fatalf("%d codes left", left)
		}
	})
}

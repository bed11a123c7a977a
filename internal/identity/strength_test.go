package identity_test

import (
	"math"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/identity"
)

func TestStrengthKnownPasswords(t *testing.T) {
	cases := []struct {
		pw       string
		min, max int    // expected score range
		advice   string // a phrase the feedback must hold ("" for none)
	}{
		// Weak: lists, patterns and their usual disguises.
		{"password", 0, 0, "ten most common"},
		{"123456", 0, 0, "ten most common"},
		{"qwertyuiop", 0, 0, "hundred most common"},
		{"P@ssw0rd", 0, 0, "look like letters"},
		{"drowssap", 0, 0, "backwards"},
		{"PASSWORD", 0, 0, "Capital letters"},
		{"aaaaaaaaaaaaaaa", 0, 0, "Repeated characters"},
		{"passwordpassword", 0, 0, "Repeats"},
		{"abcdefghijklmnop", 0, 0, "Sequences"},
		{"9876543210", 0, 1, ""},
		{"hjkl;'", 0, 1, "rows of keys"},
		{"zaqxswcde", 0, 1, ""},
		{"7894561230", 0, 1, ""},
		{"22/11/1985", 0, 1, "Dates"},
		{"19851122", 0, 1, "Dates"},
		{"iloveyou1234567", 0, 1, "many people use"},
		{"jessica1985", 0, 1, ""},
		{"internationalization", 0, 1, "single word"},
		{"smithjohnson", 0, 2, "Names"},
		// Strong: several unrelated words, or long random strings.
		{"correct horse battery staple", 4, 4, ""},
		{"purple monkey dishwasher", 4, 4, ""},
		{"tangerine lighthouse umbrella", 4, 4, ""},
		{"kx7#Rm2!pQz9vB", 4, 4, ""},
		{"Xk3#mP9$vL2@nQ7!", 4, 4, ""},
		{"καλημέρα θάλασσα βουνό", 4, 4, ""},
	}
	for _, c := range cases {
		s := identity.Strength(c.pw, nil)
		if s.Score < c.min || s.Score > c.max {
			t.Errorf("Strength(%q) = %d (%.3g guesses), want %d..%d", c.pw, s.Score, s.Guesses, c.min, c.max)
		}
		fb := strings.Join(s.Feedback, " ")
		if c.advice != "" && !strings.Contains(fb, c.advice) {
			t.Errorf("Strength(%q) feedback %q lacks %q", c.pw, fb, c.advice)
		}
		if s.Score >= 3 && len(s.Feedback) != 0 {
			t.Errorf("Strength(%q) = %d with feedback %q", c.pw, s.Score, fb)
		}
		if s.Score <= 2 && len(s.Feedback) == 0 {
			t.Errorf("Strength(%q) = %d without feedback", c.pw, s.Score)
		}
	}
}

func TestStrengthUsesUserInputs(t *testing.T) {
	pw := "Wojciechowska Kaczmarek"
	alone := identity.Strength(pw, nil)
	known := identity.Strength(pw, []string{"Aleksandra Wojciechowska-Kaczmarek", "Riverside Health"})
	if alone.Score < 3 || known.Score > 1 {
		t.Fatalf("surname unknown: %d (%.3g); surname known: %d (%.3g)", alone.Score, alone.Guesses, known.Score, known.Guesses)
	}
	if !strings.Contains(strings.Join(known.Feedback, " "), "Your name") {
		t.Fatalf("feedback: %q", known.Feedback)
	}
}

// Only the first 64 characters are scored (NIST SP 800-63B asks to accept
// at least 64; the rest cannot make the estimate worse, and scoring it
// would only cost time).
func TestStrengthScoresFirst64Characters(t *testing.T) {
	head := strings.Repeat("ab", 32)
	a := identity.Strength(head, nil)
	b := identity.Strength(head+"kx7#Rm2!pQz9vB tangerine lighthouse", nil)
	if a.Guesses != b.Guesses {
		t.Fatalf("characters past 64 changed the estimate: %.3g vs %.3g", a.Guesses, b.Guesses)
	}
	// 64 multi-byte characters count as 64, not as their bytes.
	greek := strings.Repeat("λ", 63) + "ω"
	if g := identity.Strength(greek+"x", nil); g.Guesses != identity.Strength(greek, nil).Guesses {
		t.Fatal("the limit counts bytes, not characters")
	}
}

func TestStrengthGrowsWithWords(t *testing.T) {
	prev := 0.0
	pw := ""
	for _, w := range []string{"tangerine", "lighthouse", "umbrella", "quarry", "velvet"} {
		pw += w
		g := identity.Strength(pw, nil).Guesses
		if g <= prev {
			t.Fatalf("adding %q did not raise the estimate: %.3g -> %.3g", w, prev, g)
		}
		prev = g
	}
	if s := identity.Strength("", nil); s.Score != 0 || s.Guesses != 1 || len(s.Feedback) == 0 {
		t.Fatalf("empty password: %+v", s)
	}
}

func FuzzStrength(f *testing.F) {
	for _, s := range []string{"", "password", "Tr0ub4dor&3", "1985-11-22", "aaaaabbbbb", "zxcvbnm,./", "ΑΒΓΔ", "\xff", "12/31/99", "7/7/7", "1/1/1111"} {
		f.Add(s, "dana")
	}
	f.Fuzz(func(t *testing.T, pw, input string) {
		s := identity.Strength(pw, []string{input})
		if s.Score < 0 || s.Score > 4 || s.Guesses < 1 || math.IsNaN(s.Guesses) || math.IsInf(s.Guesses, 0) {
			t.Fatalf("Strength(%q) = %+v", pw, s)
		}
	})
}

func BenchmarkStrength(b *testing.B) {
	identity.Strength("warm up the lists", nil)
	pws := []string{"correct horse battery staple", "Tr0ub4dor&3", strings.Repeat("kx7#Rm2!", 8), "iloveyou1234567"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		identity.Strength(pws[i%len(pws)], nil)
	}
}

package identity_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

var dana = identity.PolicyContext{Username: "dana.reyes", DisplayName: "Dana Reyes", OrgName: "Riverside Health"}

// longText returns n bytes of an unremarkable passphrase.
func longText(n int) string {
	s := strings.Repeat("the walrus and the carpenter were walking close at hand; they wept like anything to see such quantities of sand. ", 3)
	return s[:n]
}

func codes(ps []identity.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Code)
	}
	return out
}

func TestCheckPassword(t *testing.T) {
	with2FA := dana
	with2FA.HasSecondFactor = true
	cases := []struct {
		name string
		pw   string
		ctx  identity.PolicyContext
		want []string // problem codes, in order; nil means accepted
	}{
		// Length, counted in code points after NFKC.
		{"passphrase", "correct horse battery staple", dana, nil},
		{"no composition rules: lower case only", "tangerine lighthouse umbrella", dana, nil},
		{"14 characters alone", "violet kettles", dana, []string{identity.ProblemTooShort}},
		{"15 characters alone", "violet kettles!", dana, nil},
		{"8 characters with a second factor", "kx7#rm2p", with2FA, nil},
		{"7 characters with a second factor", "kx7#rm2", with2FA, []string{identity.ProblemTooShort}},
		{"14 decomposed accents are 14 characters", strings.Repeat("e\u0301", 2) + "tude de cas", dana, []string{identity.ProblemTooShort}},
		{"ligatures expand under NFKC", "\ufb01\ufb02 ox tangerine!", dana, nil},
		{"any script", "ねこがすきですいぬもすきです", with2FA, nil},
		{"Greek passphrase", "καλημέρα θάλασσα βουνό", dana, nil},
		{"emoji count as characters", "🐙🦑🦀🐡 under the sea", dana, nil},
		{"more than 64 characters", longText(100), dana, nil},
		{"at the 256-byte limit", longText(256), dana, nil},
		{"over 256 bytes", longText(257), dana, []string{identity.ProblemTooLong}},
		// Blocklist.
		{"common, with a second factor", "iloveyou", with2FA, []string{identity.ProblemCommon}},
		{"common, long", "1qaz2wsx3edc4rfv", dana, []string{identity.ProblemCommon}},
		{"common, any case", "PasswordPassword", dana, []string{identity.ProblemCommon}},
		{"common and short", "password", dana, []string{identity.ProblemTooShort, identity.ProblemCommon}},
		// Context words.
		{"organisation and year", "Riverside2026!!!", dana, []string{identity.ProblemPersonal}},
		{"organisation, short", "Riverside2026!", dana, []string{identity.ProblemTooShort, identity.ProblemPersonal}},
		{"organisation in full", "riversidehealth1", dana, []string{identity.ProblemPersonal}},
		{"organisation with spaces", "Riverside Health 2026", dana, []string{identity.ProblemPersonal}},
		{"look-alike letters", "R1vers1de Health!", dana, []string{identity.ProblemPersonal}},
		{"display name", "DanaReyes2026!!!", dana, []string{identity.ProblemPersonal}},
		{"username", "dana.reyes.1985!", dana, []string{identity.ProblemPersonal}},
		{"names in another order", "reyes-dana-2026!", dana, []string{identity.ProblemPersonal}},
		{"a name among other words is fine", "dana paints blue lighthouses", dana, nil},
		{"a name and a long random tail is judged as a whole", "riverside 83920174629105", dana, nil},
		{"short name parts are not context", "a quiet walk in the hills", identity.PolicyContext{DisplayName: "Li Wu", OrgName: "Ai Co"}, nil},
		// Predictable patterns.
		{"repeated character", strings.Repeat("a", 20), dana, []string{identity.ProblemPredictable}},
		{"sequence", "abcdefghijklmnopq", dana, []string{identity.ProblemPredictable}},
		{"digits", "1234567890123456", dana, []string{identity.ProblemPredictable}},
		{"keyboard walk", "qwertyuiopasdfghjkl", dana, []string{identity.ProblemPredictable}},
		{"common password repeated", "monkeymonkeymonkey", dana, []string{identity.ProblemPredictable}},
		{"single common word", "internationalization", dana, []string{identity.ProblemPredictable}},
		{"word and a date", "sunshine19851985", dana, []string{identity.ProblemPredictable}},
		// Not text.
		{"invalid UTF-8", "correct horse \xff battery staple", dana, []string{identity.ProblemUnreadable}},
		{"control character", "correct horse\x00battery staple", dana, []string{identity.ProblemUnreadable}},
		{"empty", "", dana, []string{identity.ProblemTooShort}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := identity.CheckPassword(c.pw, c.ctx)
			if strings.Join(codes(got), ",") != strings.Join(c.want, ",") {
				t.Fatalf("CheckPassword(%q) = %v, want %v", c.pw, got, c.want)
			}
			for _, p := range got {
				if p.Message == "" || !strings.HasSuffix(p.Message, ".") || strings.Contains(p.Message, "%") {
					t.Errorf("message for %s: %q", p.Code, p.Message)
				}
			}
		})
	}
}

func TestPasswordProblemsExplain(t *testing.T) {
	// Each message says what to do, not only what is wrong.
	for pw, want := range map[string]string{
		"password":            "passphrase",
		"violet kettles":      "at least 15 characters (this has 14)",
		"Riverside2026!!!":    "organisation",
		"aaaaaaaaaaaaaaaaaaa": "passphrase",
	} {
		ps := identity.CheckPassword(pw, dana)
		var all []string
		for _, p := range ps {
			all = append(all, p.Message)
		}
		if !strings.Contains(strings.Join(all, " "), want) {
			t.Errorf("CheckPassword(%q) messages %q do not mention %q", pw, all, want)
		}
	}
	if err := identity.PasswordError(nil); err != nil {
		t.Fatalf("no problems: %v", err)
	}
	err := identity.PasswordError(identity.CheckPassword("password", dana))
	if !fault.Is(err, fault.Invalid) || !strings.HasPrefix(fault.Message(err), "password: ") {
		t.Fatalf("PasswordError: %v", err)
	}
}

// The blocklist rule would be pointless if NFKC or case let a listed
// password through.
func TestBlocklistMatchesNormalisedForms(t *testing.T) {
	with2FA := identity.PolicyContext{HasSecondFactor: true}
	for _, pw := range []string{"iloveyou", "ILOVEYOU", "ｉｌｏｖｅｙｏｕ" /* full-width */} {
		if got := codes(identity.CheckPassword(pw, with2FA)); len(got) != 1 || got[0] != identity.ProblemCommon {
			t.Errorf("%q: %v", pw, got)
		}
	}
}

func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{"", "password", "correct horse battery staple", "Riverside2026!", "\xff\xfe", strings.Repeat("ab", 200), "e\u0301\u0301\u0301", "1/2/1985"} {
		f.Add(s, "dana.reyes", "Dana Reyes", "Riverside Health", false)
	}
	f.Fuzz(func(t *testing.T, pw, user, name, org string, second bool) {
		ps := identity.CheckPassword(pw, identity.PolicyContext{Username: user, DisplayName: name, OrgName: org, HasSecondFactor: second})
		seen := map[string]bool{}
		for _, p := range ps {
			if p.Code == "" || p.Message == "" || seen[p.Code] {
				t.Fatalf("problems %v", ps)
			}
			seen[p.Code] = true
		}
		if !utf8.ValidString(pw) && !seen[identity.ProblemUnreadable] {
			t.Fatalf("%q is not text but passed", pw)
		}
		if len(ps) == 0 && len(pw) < identity.MinPasswordRunesWithSecondFactor {
			// Fewer bytes than the minimum is fewer code points, and NFKC
			// expansions (ligatures) need more bytes than they add runes.
			if n := utf8.RuneCountInString(pw); n < identity.MinPasswordRunesWithSecondFactor {
				t.Fatalf("%q (%d bytes) passed the length rule", pw, len(pw))
			}
		}
	})
}

package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity/blocklist"
)

// The password policy follows NIST SP 800-63B (revision 4, section 3.1.1):
// a minimum length that depends on whether the password is the only factor,
// any Unicode, no composition rules, no periodic expiry, and a check
// against passwords attackers are known to try. See
// docs/decisions/0010-password-policy.md.
const (
	// MinPasswordRunes applies when the password is the only factor.
	MinPasswordRunes = 15
	// MinPasswordRunesWithSecondFactor applies when the account also has
	// a second factor (TOTP, passkey).
	MinPasswordRunesWithSecondFactor = 8
	// predictableGuesses is the strength estimate below which a password
	// is refused as a pattern: about a million guesses, seconds of offline
	// cracking even against argon2id on one GPU.
	predictableGuesses = 1e6
	// contextAffixRunes is how many digits and symbols added to names
	// still make "a name with a suffix", whatever they are.
	contextAffixRunes = 6
)

// PolicyContext is what the policy knows about the account: the words an
// attacker who targets this person would try first.
type PolicyContext struct {
	Username        string
	DisplayName     string
	OrgName         string
	HasSecondFactor bool
}

// Problem is one reason a password is refused, with a code for programs
// and a plain-English message for people.
type Problem struct {
	Code    string
	Message string
}

// Codes of the problems CheckPassword and BreachResult report.
const (
	ProblemTooShort    = "too_short"
	ProblemTooLong     = "too_long"
	ProblemUnreadable  = "unreadable"
	ProblemCommon      = "common"
	ProblemPersonal    = "personal"
	ProblemPredictable = "predictable"
	ProblemBreached    = "breached"
)

// CheckPassword returns why pw may not be used, or nil when it may. It
// counts Unicode code points after NFKC normalisation, as the hasher
// stores the password.
func CheckPassword(pw string, ctx PolicyContext) []Problem {
	if !utf8.ValidString(pw) {
		return []Problem{{ProblemUnreadable, "This password contains bytes that are not text. Type it again, or choose another."}}
	}
	norm := normalisePassword(pw)
	var ps []Problem
	for _, r := range norm {
		if unicode.IsControl(r) {
			ps = append(ps, Problem{ProblemUnreadable, "This password contains invisible control characters, which keyboards cannot type reliably. Remove them."})
			break
		}
	}
	n := utf8.RuneCountInString(norm)
	minRunes := MinPasswordRunes
	if ctx.HasSecondFactor {
		minRunes = MinPasswordRunesWithSecondFactor
	}
	switch {
	case n < minRunes && ctx.HasSecondFactor:
		ps = append(ps, Problem{ProblemTooShort, fmt.Sprintf("Use at least %d characters (this has %d). Spaces count, so a few words make it easy.", minRunes, n)})
	case n < minRunes:
		ps = append(ps, Problem{ProblemTooShort, fmt.Sprintf("Use at least %d characters (this has %d), since the password is your only way to sign in. A passphrase of three or four unrelated words is long enough and easy to remember.", minRunes, n)})
	case len(norm) > MaxPasswordBytes:
		ps = append(ps, Problem{ProblemTooLong, "This password is longer than we can accept (256 bytes, which is at least 64 characters). Please shorten it a little."})
	}
	lower := strings.ToLower(norm)
	inputs := ctx.words()
	switch {
	case blocklist.Passwords().Contains(lower):
		ps = append(ps, Problem{ProblemCommon, "This password appears in lists of passwords used by attackers. Choose a passphrase of several unrelated words."})
	case isContextPassword(lower, inputs):
		ps = append(ps, Problem{ProblemPersonal, "This password is built from your name, your username or the organisation's name, which attackers try first. Choose words that have nothing to do with you or your work."})
	case n > 0 && Strength(norm, inputs).Guesses < predictableGuesses:
		ps = append(ps, Problem{ProblemPredictable, "This password follows a pattern that attackers try early, such as a common word with a few digits, repeated characters, a sequence like 1234 or a keyboard row like qwerty. Choose a passphrase of several unrelated words."})
	}
	return ps
}

// PasswordError turns problems into one Invalid fault on the "password"
// field (nil when there are none), for callers that refuse the password.
func PasswordError(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return fault.InvalidField("password", "%s", strings.Join(msgs, " "))
}

// words returns the context as lower-case words for the strength estimate
// and the context rule: each name whole and in parts.
func (c PolicyContext) words() []string {
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		w = strings.ToLower(strings.TrimSpace(w))
		if utf8.RuneCountInString(w) >= 2 && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, s := range []string{c.Username, c.DisplayName, c.OrgName} {
		s = normalisePassword(s)
		parts := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		add(strings.Join(parts, ""))
		for _, p := range parts {
			add(p)
		}
	}
	return out
}

// isContextPassword reports whether pw is made of context words (in any
// order and case, with look-alike substitutions such as 1 for i inside the
// words) plus digits and symbols that are themselves easy to guess:
// "Riverside2026!", "dana.reyes.1985", "R1vers1de Health!!": at most a few
// characters, or more that are a pattern. A long random tail is not easy
// to guess; the strength rule judges such a password as a whole.
func isContextPassword(pw string, inputs []string) bool {
	var terms []string
	for _, w := range inputs {
		if l := lettersOnly(w); utf8.RuneCountInString(l) >= 3 {
			terms = append(terms, l)
		}
	}
	notLetter := func(r rune) bool { return !unicode.IsLetter(r) }
	core := strings.TrimFunc(pw, notLetter)
	if len(terms) == 0 || core == "" {
		return false
	}
	head := pw[:strings.Index(pw, core)]
	tail := pw[len(head)+len(core):]
	for _, v := range unleetVariants(core) {
		if !segments(lettersOnly(v), terms) {
			continue
		}
		// Spaces and punctuation between the words are separators; digits
		// and symbols among them count with what was added around them.
		inner := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsSpace(r) || unicode.IsPunct(r) {
				return -1
			}
			return r
		}, v)
		rest := head + inner + tail
		if utf8.RuneCountInString(rest) <= contextAffixRunes || Strength(rest, nil).Guesses < predictableGuesses {
			return true
		}
	}
	return false
}

func lettersOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, s)
}

// segments reports whether s is a concatenation of one or more terms.
func segments(s string, terms []string) bool {
	ok := make([]bool, len(s)+1)
	ok[0] = true
	for i := 0; i < len(s); i++ {
		if !ok[i] {
			continue
		}
		for _, t := range terms {
			if strings.HasPrefix(s[i:], t) {
				ok[i+len(t)] = true
			}
		}
	}
	return ok[len(s)]
}

// unleetVariants returns pw and its readings with look-alike digits and
// symbols turned back into letters (1 read as i, and as l).
func unleetVariants(pw string) []string {
	base := map[rune]rune{'4': 'a', '@': 'a', '8': 'b', '3': 'e', '6': 'g', '1': 'i', '!': 'i', '0': 'o', '$': 's', '5': 's', '7': 't', '+': 't', '2': 'z'}
	read := func(one rune) string {
		return strings.Map(func(r rune) rune {
			if r == '1' {
				return one
			}
			if l, ok := base[r]; ok {
				return l
			}
			return r
		}, pw)
	}
	return []string{pw, read('i'), read('l')}
}

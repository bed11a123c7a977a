package identity

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/trustward/trustward/internal/identity/blocklist"
)

// The strength estimate follows the approach of zxcvbn (Wheeler, "zxcvbn:
// Low-Budget Password Strength Estimation", USENIX Security 2016): find
// every part of the password that an attacker's guesser would produce
// early (common passwords, words, names, the user's own details, keyboard
// patterns, repeats, sequences, dates), then find the cheapest way to cover
// the whole password with such parts and brute force, and count the
// guesses. It is written here rather than imported because no Go port is
// maintained; see docs/decisions/0011-strength-estimate.md.

// Score is a strength estimate for people: Score runs from 0 (guessed at
// once) to 4 (very hard to guess); Feedback says, in plain words, what makes
// a weak password weak and what would help. Strong passwords get none.
type Score struct {
	Score    int
	Guesses  float64
	Feedback []string
}

// strengthMaxRunes is how much of a password is scored: NIST SP 800-63B
// asks verifiers to accept at least 64 characters, and beyond that the
// estimate only costs time.
const strengthMaxRunes = 64

// Constants of the guess model (those of the zxcvbn paper).
const (
	bruteforceCardinality  = 10
	minGuessesSingleChar   = 10
	minGuessesMultiChar    = 50
	minGuessesBeforeGrowth = 10000
	minYearSpace           = 20
	maxDictionaryRunes     = 32
)

// Strength estimates how many guesses an attacker needs for pw, given the
// words an attacker who targets this person would try first (name,
// username, organisation). Only the first 64 characters are scored.
func Strength(pw string, userInputs []string) Score {
	rs := []rune(normalisePassword(pw))
	if len(rs) > strengthMaxRunes {
		rs = rs[:strengthMaxRunes]
	}
	e := newEstimator(userInputs)
	guesses, seq := e.mostGuessable(rs)
	s := Score{Guesses: guesses, Score: scoreOf(guesses)}
	s.Feedback = feedback(s.Score, seq, len(rs))
	return s
}

func scoreOf(g float64) int {
	const delta = 5
	switch {
	case g < 1e3+delta:
		return 0
	case g < 1e6+delta:
		return 1
	case g < 1e8+delta:
		return 2
	case g < 1e10+delta:
		return 3
	}
	return 4
}

type patternKind int

const (
	patBruteforce patternKind = iota
	patDictionary
	patSpatial
	patRepeat
	patSequence
	patDate
	patYear
)

// match is a part of the password (runes i..j inclusive) an attacker's
// guesser produces after guesses guesses.
type match struct {
	kind    patternKind
	i, j    int
	guesses float64

	dict     string // dictionary: which list
	rank     int
	reversed bool
	l33t     bool
	caps     bool // dictionary: has upper-case letters

	turns   int // spatial
	repeats int // repeat: how many times the base occurs
	base    int // repeat: runes in the base
}

func (m *match) length() int { return m.j - m.i + 1 }

// dictionary is one ranked word list.
type dictionary struct {
	name string
	rank func(string) (int, bool)
}

type estimator struct {
	dicts []dictionary
	year  int
}

func newEstimator(userInputs []string) *estimator {
	user := map[string]int{}
	for _, in := range userInputs {
		in = strings.ToLower(normalisePassword(in))
		for _, w := range append([]string{in}, strings.FieldsFunc(in, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...) {
			if _, ok := user[w]; !ok && w != "" {
				user[w] = len(user) + 1
			}
		}
	}
	list := func(l *blocklist.List) func(string) (int, bool) { return l.Rank }
	return &estimator{
		dicts: []dictionary{
			{"passwords", list(blocklist.Passwords())},
			{"english", list(blocklist.English())},
			{"names", list(blocklist.Names())},
			{"user", func(w string) (int, bool) { r, ok := user[w]; return r, ok }},
		},
		// Dates are scored by their distance from the current year; only
		// the year is used, so tests need no clock.
		year: time.Now().Year(),
	}
}

// mostGuessable returns the guesses of the cheapest cover of rs and the
// matches that make it up.
func (e *estimator) mostGuessable(rs []rune) (float64, []*match) {
	n := len(rs)
	if n == 0 {
		return 1, nil
	}
	ms := e.matches(rs)
	for _, m := range ms {
		if m.length() < n {
			floor := float64(minGuessesMultiChar)
			if m.length() == 1 {
				floor = minGuessesSingleChar
			}
			m.guesses = math.Max(m.guesses, floor)
		}
	}
	byEnd := make([][]*match, n)
	for _, m := range ms {
		byEnd[m.j] = append(byEnd[m.j], m)
	}
	// best[k][l] is the cheapest cover of rs[0..k] by exactly l matches:
	// its last match, the product of the guesses of its matches, and its
	// total g = l! * product + minGuessesBeforeGrowth^(l-1), which makes
	// an attacker pay for not knowing how many parts there are.
	type cell struct {
		m  *match
		pi float64
		g  float64
	}
	best := make([][]cell, n)
	for k := range best {
		best[k] = make([]cell, n+2)
	}
	update := func(m *match, l int) {
		k := m.j
		pi := m.guesses
		if l > 1 {
			pi *= best[m.i-1][l-1].pi
		}
		g := factorial(l)*pi + math.Pow(minGuessesBeforeGrowth, float64(l-1))
		for ol := 1; ol <= l; ol++ {
			if c := best[k][ol]; c.m != nil && c.g <= g {
				return
			}
		}
		best[k][l] = cell{m: m, pi: pi, g: g}
	}
	brute := func(i, j int) *match {
		g := math.Pow(bruteforceCardinality, float64(j-i+1))
		if j-i+1 < n {
			floor := float64(minGuessesMultiChar + 1)
			if i == j {
				floor = minGuessesSingleChar + 1
			}
			g = math.Max(g, floor)
		}
		return &match{kind: patBruteforce, i: i, j: j, guesses: g}
	}
	for k := 0; k < n; k++ {
		for _, m := range byEnd[k] {
			if m.i == 0 {
				update(m, 1)
				continue
			}
			for l, c := range best[m.i-1] {
				if c.m != nil {
					update(m, l+1)
				}
			}
		}
		update(brute(0, k), 1)
		for i := 1; i <= k; i++ {
			bf := brute(i, k)
			for l, c := range best[i-1] {
				// Two brute-force parts in a row are one brute-force part.
				if c.m != nil && c.m.kind != patBruteforce {
					update(bf, l+1)
				}
			}
		}
	}
	bestL := 0
	for l, c := range best[n-1] {
		if c.m != nil && (bestL == 0 || c.g < best[n-1][bestL].g) {
			bestL = l
		}
	}
	g := best[n-1][bestL].g
	var seq []*match
	for k, l := n-1, bestL; k >= 0 && l > 0; l-- {
		m := best[k][l].m
		seq = append([]*match{m}, seq...)
		k = m.i - 1
	}
	return g, seq
}

func factorial(n int) float64 {
	f := 1.0
	for i := 2; i <= n; i++ {
		f *= float64(i)
	}
	return f
}

// binomial returns n choose k as a float (counts of case and look-alike
// variations).
func binomial(n, k int) float64 {
	if k > n || k < 0 {
		return 0
	}
	r := 1.0
	for d := 1; d <= k; d++ {
		r = r * float64(n-k+d) / float64(d)
	}
	return r
}

func (e *estimator) matches(rs []rune) []*match {
	var ms []*match
	lower := make([]rune, len(rs))
	for i, r := range rs {
		lower[i] = unicode.ToLower(r)
	}
	ms = append(ms, e.dictionaryMatches(rs, lower)...)
	ms = append(ms, spatialMatches(rs)...)
	ms = append(ms, e.repeatMatches(rs)...)
	ms = append(ms, sequenceMatches(rs)...)
	ms = append(ms, e.dateMatches(rs)...)
	return ms
}

// --- Dictionary words, reversed and with look-alike substitutions ---------

func (e *estimator) dictionaryMatches(rs, lower []rune) []*match {
	n := len(rs)
	var out []*match
	// plain and reversed
	rev := make([]rune, n)
	for i := range lower {
		rev[n-1-i] = lower[i]
	}
	for _, m := range e.lookup(lower) {
		m.guesses = float64(m.rank) * capsVariations(rs[m.i:m.j+1])
		m.caps = hasUpper(rs[m.i : m.j+1])
		out = append(out, m)
	}
	for _, m := range e.lookup(rev) {
		i, j := n-1-m.j, n-1-m.i
		if isPalindrome(lower[i : j+1]) {
			continue
		}
		m.i, m.j, m.reversed = i, j, true
		m.guesses = float64(m.rank) * capsVariations(rs[i:j+1]) * 2
		m.caps = hasUpper(rs[i : j+1])
		out = append(out, m)
	}
	// look-alike substitutions: read each symbol as the letter it stands
	// for; where a symbol may stand for two letters, try both.
	for _, sub := range l33tReadings(lower) {
		read := make([]rune, n)
		for i, r := range lower {
			if l, ok := sub[r]; ok {
				read[i] = l
			} else {
				read[i] = r
			}
		}
		for _, m := range e.lookup(read) {
			if m.length() < 2 || !containsAny(lower[m.i:m.j+1], sub) {
				continue
			}
			m.l33t = true
			m.guesses = float64(m.rank) * capsVariations(rs[m.i:m.j+1]) * l33tVariations(lower[m.i:m.j+1], sub)
			m.caps = hasUpper(rs[m.i : m.j+1])
			out = append(out, m)
		}
	}
	// A word and the separator after it are one part: people join the
	// words of a passphrase with a space or a hyphen, and a guesser tries
	// the few usual separators rather than any character.
	for _, m := range out {
		if m.j+1 < n && strings.ContainsRune(separators, rs[m.j+1]) {
			c := *m
			c.j++
			c.guesses *= float64(len(separators))
			out = append(out, &c)
		}
	}
	return out
}

const separators = " -_."

// lookup finds every substring of s that a dictionary lists.
func (e *estimator) lookup(s []rune) []*match {
	var out []*match
	var b strings.Builder
	for i := range s {
		b.Reset()
		for j := i; j < len(s) && j-i < maxDictionaryRunes; j++ {
			b.WriteRune(s[j])
			w := b.String()
			for _, d := range e.dicts {
				if r, ok := d.rank(w); ok {
					out = append(out, &match{kind: patDictionary, i: i, j: j, dict: d.name, rank: r})
				}
			}
		}
	}
	return out
}

func hasUpper(rs []rune) bool {
	for _, r := range rs {
		if unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// capsVariations counts the ways of capitalising a word that a guesser
// tries before reaching this one: first or last letter or all letters
// capitalised are cheap; other mixes count every arrangement.
func capsVariations(rs []rune) float64 {
	var up, low int
	for _, r := range rs {
		switch {
		case unicode.IsUpper(r):
			up++
		case unicode.IsLower(r):
			low++
		}
	}
	if up == 0 {
		return 1
	}
	first, last := unicode.IsUpper(rs[0]), unicode.IsUpper(rs[len(rs)-1])
	if low == 0 || (up == 1 && (first || last)) {
		return 2
	}
	v := 0.0
	for i := 1; i <= min(up, low); i++ {
		v += binomial(up+low, i)
	}
	return v
}

var l33tTable = map[rune][]rune{
	'4': {'a'}, '@': {'a'}, '8': {'b'}, '(': {'c'}, '{': {'c'}, '[': {'c'}, '<': {'c'},
	'3': {'e'}, '6': {'g'}, '9': {'g'}, '1': {'i', 'l'}, '!': {'i'}, '|': {'i', 'l'},
	'0': {'o'}, '$': {'s'}, '5': {'s'}, '7': {'t', 'l'}, '+': {'t'}, '%': {'x'}, '2': {'z'},
}

// l33tReadings returns the substitution maps to try for s: one per choice
// of letter for each ambiguous symbol present, at most 16.
func l33tReadings(s []rune) []map[rune]rune {
	var present []rune
	seen := map[rune]bool{}
	for _, r := range s {
		if _, ok := l33tTable[r]; ok && !seen[r] {
			seen[r] = true
			present = append(present, r)
		}
	}
	if len(present) == 0 {
		return nil
	}
	out := []map[rune]rune{{}}
	for _, r := range present {
		var next []map[rune]rune
		for _, m := range out {
			for _, l := range l33tTable[r] {
				if len(next) >= 16 {
					break
				}
				c := make(map[rune]rune, len(m)+1)
				for k, v := range m {
					c[k] = v
				}
				c[r] = l
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

func containsAny(rs []rune, sub map[rune]rune) bool {
	for _, r := range rs {
		if _, ok := sub[r]; ok {
			return true
		}
	}
	return false
}

// l33tVariations counts the ways of mixing substituted and plain letters.
func l33tVariations(token []rune, sub map[rune]rune) float64 {
	v := 1.0
	for sym, letter := range sub {
		var s, u int
		for _, r := range token {
			switch r {
			case sym:
				s++
			case letter:
				u++
			}
		}
		if s == 0 {
			continue
		}
		if u == 0 {
			v *= 2
			continue
		}
		t := 0.0
		for i := 1; i <= min(s, u); i++ {
			t += binomial(s+u, i)
		}
		v *= t
	}
	return v
}

func isPalindrome(rs []rune) bool {
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		if rs[i] != rs[j] {
			return false
		}
	}
	return true
}

// --- Keyboard patterns ---------------------------------------------------

// keyboard is a key layout: where each character sits, and how many keys
// and neighbours it has, for counting the patterns a guesser walks.
type keyboard struct {
	pos     map[rune]keyPos
	keys    float64
	degree  float64 // average number of neighbours
	slant   float64
	shifted map[rune]bool
}

type keyPos struct{ x, y float64 }

// newKeyboard lays out rows of keys ("aA" is one key, unshifted then
// shifted; "_" is a gap) with each row's horizontal offset, in key widths.
// Keys on the same row are neighbours when next to each other, keys on
// adjacent rows when their centres are at most slant key widths apart.
func newKeyboard(rows [][]string, offsets []float64, slant float64) *keyboard {
	kb := &keyboard{pos: map[rune]keyPos{}, shifted: map[rune]bool{}, slant: slant}
	var all []keyPos
	for y, row := range rows {
		for x, key := range row {
			if key == "_" { // a gap in the layout
				continue
			}
			p := keyPos{offsets[y] + float64(x), float64(y)}
			all = append(all, p)
			for i, r := range []rune(key) {
				kb.pos[r] = p
				if i == 1 {
					kb.shifted[r] = true
				}
			}
		}
	}
	kb.keys = float64(len(all))
	var edges int
	for _, a := range all {
		for _, b := range all {
			if a != b && adjacentPos(a, b, slant) {
				edges++
			}
		}
	}
	kb.degree = float64(edges) / kb.keys
	return kb
}

func adjacentPos(a, b keyPos, slant float64) bool {
	dx, dy := math.Abs(a.x-b.x), math.Abs(a.y-b.y)
	switch dy {
	case 0:
		return dx == 1
	case 1:
		return dx <= slant
	}
	return false
}

// direction names the way from a to b, so that turns can be counted.
func direction(a, b keyPos) [2]int {
	sgn := func(f float64) int {
		switch {
		case f > 0:
			return 1
		case f < 0:
			return -1
		}
		return 0
	}
	return [2]int{sgn(b.x - a.x), sgn(b.y - a.y)}
}

// keyboards are built on first use and read-only afterwards.
var keyboards = sync.OnceValue(func() []*keyboard {
	return []*keyboard{newKeyboard([][]string{
		strings.Fields("`~ 1! 2@ 3# 4$ 5% 6^ 7& 8* 9( 0) -_ =+"),
		strings.Fields("qQ wW eE rR tT yY uU iI oO pP [{ ]} \\|"),
		strings.Fields("aA sS dD fF gG hH jJ kK lL ;: '\""),
		strings.Fields("zZ xX cC vV bB nN mM ,< .> /?"),
	}, []float64{0, 1.5, 1.75, 2.25}, 0.75), newKeyboard([][]string{
		strings.Fields("_ / * -"),
		strings.Fields("7 8 9 +"),
		strings.Fields("4 5 6 _"),
		strings.Fields("1 2 3 _"),
		strings.Fields("0 _ . _"),
	}, []float64{0, 0, 0, 0, 0}, 1)}
})

// spatialMatches finds runs of three or more neighbouring keys.
func spatialMatches(rs []rune) []*match {
	var out []*match
	for _, kb := range keyboards() {
		for i := 0; i < len(rs)-2; {
			p, ok := kb.pos[rs[i]]
			if !ok {
				i++
				continue
			}
			j, turns := i, 0
			var dir [2]int
			for j+1 < len(rs) {
				q, ok := kb.pos[rs[j+1]]
				if !ok || !adjacentPos(p, q, kb.slant) {
					break
				}
				d := direction(p, q)
				if j == i || d != dir {
					turns++
				}
				dir, p = d, q
				j++
			}
			if j-i+1 >= 3 {
				out = append(out, &match{kind: patSpatial, i: i, j: j, turns: turns, guesses: spatialGuesses(kb, rs[i:j+1], turns)})
				i = j
			} else {
				i++
			}
		}
	}
	return out
}

// spatialGuesses counts the walks of up to the token's length with up to
// its number of turns, from any key, times the ways of shifting keys.
func spatialGuesses(kb *keyboard, token []rune, turns int) float64 {
	var g float64
	L := len(token)
	for i := 2; i <= L; i++ {
		for j := 1; j <= min(turns, i-1); j++ {
			g += binomial(i-1, j-1) * kb.keys * math.Pow(kb.degree, float64(j))
		}
	}
	var s int
	for _, r := range token {
		if kb.shifted[r] {
			s++
		}
	}
	if s > 0 {
		u := L - s
		if u == 0 {
			g *= 2
		} else {
			v := 0.0
			for i := 1; i <= min(s, u); i++ {
				v += binomial(s+u, i)
			}
			g *= v
		}
	}
	return g
}

// --- Repeats -------------------------------------------------------------

// repeatMatches finds a part repeated back to back ("aaaa", "abcabc",
// "passwordpassword"): the guesses of one copy times the copies.
func (e *estimator) repeatMatches(rs []rune) []*match {
	var out []*match
	for i := 0; i < len(rs); {
		bestSpan, bestBase, bestCount := 0, 0, 0
		for b := 1; i+2*b <= len(rs); b++ {
			count := 1
			for i+(count+1)*b <= len(rs) && equalRunes(rs[i:i+b], rs[i+count*b:i+(count+1)*b]) {
				count++
			}
			if count >= 2 && count*b > bestSpan {
				bestSpan, bestBase, bestCount = count*b, b, count
			}
		}
		if bestSpan == 0 {
			i++
			continue
		}
		baseGuesses, _ := e.mostGuessable(rs[i : i+bestBase])
		out = append(out, &match{kind: patRepeat, i: i, j: i + bestSpan - 1, base: bestBase, repeats: bestCount, guesses: baseGuesses * float64(bestCount)})
		i += bestSpan
	}
	return out
}

func equalRunes(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// --- Sequences -----------------------------------------------------------

// sequenceMatches finds runs of three or more characters with a constant
// step of at most 5 ("abcd", "97531", "zyx").
func sequenceMatches(rs []rune) []*match {
	var out []*match
	for i := 0; i+2 < len(rs); {
		d := int(rs[i+1]) - int(rs[i])
		if d == 0 || d > 5 || d < -5 {
			i++
			continue
		}
		j := i + 1
		for j+1 < len(rs) && int(rs[j+1])-int(rs[j]) == d {
			j++
		}
		if j-i+1 >= 3 {
			out = append(out, &match{kind: patSequence, i: i, j: j, guesses: sequenceGuesses(rs[i:j+1], d > 0)})
			i = j
		} else {
			i++
		}
	}
	return out
}

func sequenceGuesses(token []rune, ascending bool) float64 {
	var base float64
	switch c := token[0]; {
	case strings.ContainsRune("aAzZ019", c):
		base = 4 // the obvious starting points
	case unicode.IsDigit(c):
		base = 10
	default:
		base = 26
	}
	if !ascending {
		base *= 2
	}
	return base * float64(len(token))
}

// --- Dates and years -----------------------------------------------------

func (e *estimator) yearSpace(y int) float64 {
	d := y - e.year
	if d < 0 {
		d = -d
	}
	return float64(max(d, minYearSpace))
}

// dateMatches finds years (1900-2099) and day-month-year dates in either
// order, with or without a separator ("1990", "22111985", "3/4/85").
func (e *estimator) dateMatches(rs []rune) []*match {
	var out []*match
	for i := 0; i+4 <= len(rs); i++ {
		if y, ok := digitsValue(rs[i : i+4]); ok && y >= 1900 && y <= 2099 {
			out = append(out, &match{kind: patYear, i: i, j: i + 3, guesses: e.yearSpace(y)})
		}
	}
	for i := range rs {
		for j := i + 3; j < len(rs) && j-i < 10; j++ {
			if y, sep, ok := e.date(rs[i : j+1]); ok {
				g := e.yearSpace(y) * 365
				if sep {
					g *= 4
				}
				out = append(out, &match{kind: patDate, i: i, j: j, guesses: g})
			}
		}
	}
	return out
}

// date reports whether token is a date, its year and whether it has
// separators.
func (e *estimator) date(token []rune) (year int, sep bool, ok bool) {
	var parts [][]rune
	if len(token) <= 8 && allDigits(token) {
		// Without separators: try every split into three parts.
		best := -1
		for a := 1; a <= 4 && a < len(token)-1; a++ {
			for b := a + 1; b <= a+4 && b < len(token); b++ {
				if y, ok := e.dmy([][]rune{token[:a], token[a:b], token[b:]}); ok && (best < 0 || e.yearSpace(y) < e.yearSpace(best)) {
					best = y
				}
			}
		}
		return best, false, best >= 0
	}
	if len(token) < 6 {
		return 0, false, false
	}
	// With one kind of separator between three runs of digits.
	s := rune(0)
	start := 0
	for k, r := range token {
		if unicode.IsDigit(r) {
			continue
		}
		if !strings.ContainsRune(" /\\_.-", r) || (s != 0 && r != s) || k == start {
			return 0, false, false
		}
		s = r
		parts = append(parts, token[start:k])
		start = k + 1
	}
	parts = append(parts, token[start:])
	if len(parts) != 3 || len(parts[2]) == 0 {
		return 0, false, false
	}
	y, ok := e.dmy(parts)
	return y, true, ok
}

// dmy reads three runs of digits as a date with the year first or last
// and the day and month in either order.
func (e *estimator) dmy(p [][]rune) (int, bool) {
	for _, o := range [][3][]rune{{p[2], p[0], p[1]}, {p[0], p[1], p[2]}} {
		y, dm1, dm2 := o[0], o[1], o[2]
		if (len(y) != 2 && len(y) != 4) || len(dm1) > 2 || len(dm2) > 2 {
			continue
		}
		yv, _ := digitsValue(y)
		a, _ := digitsValue(dm1)
		b, _ := digitsValue(dm2)
		switch {
		case len(y) == 2 && yv > 50:
			yv += 1900
		case len(y) == 2:
			yv += 2000
		case yv < 1000 || yv > 2050:
			continue
		}
		if (a >= 1 && a <= 31 && b >= 1 && b <= 12) || (b >= 1 && b <= 31 && a >= 1 && a <= 12) {
			return yv, true
		}
	}
	return 0, false
}

func allDigits(rs []rune) bool {
	for _, r := range rs {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func digitsValue(rs []rune) (int, bool) {
	if len(rs) == 0 || !allDigits(rs) {
		return 0, false
	}
	v, err := strconv.Atoi(string(rs))
	return v, err == nil
}

// --- Feedback ------------------------------------------------------------

const adviceMoreWords = "Add another word or two: unusual words that have nothing to do with each other are best."

func feedback(score int, seq []*match, n int) []string {
	if n == 0 {
		return []string{"Use a few words that have nothing to do with each other. Symbols, digits and capital letters are not needed."}
	}
	if score >= 3 {
		return nil
	}
	var longest *match
	for _, m := range seq {
		if m.kind != patBruteforce && (longest == nil || m.length() > longest.length()) {
			longest = m
		}
	}
	out := []string{}
	if longest != nil {
		out = append(out, warning(longest, len(seq) == 1)...)
	}
	return append(out, adviceMoreWords)
}

func warning(m *match, whole bool) []string {
	var out []string
	switch m.kind {
	case patDictionary:
		switch {
		case m.dict == "passwords" && whole && m.rank <= 10:
			out = append(out, "This is one of the ten most common passwords.")
		case m.dict == "passwords" && whole && m.rank <= 100:
			out = append(out, "This is one of the hundred most common passwords.")
		case m.dict == "passwords":
			out = append(out, "This is close to a password that many people use.")
		case m.dict == "user":
			out = append(out, "Your name, username and the organisation's name are the first things an attacker tries.")
		case m.dict == "names":
			out = append(out, "Names and surnames are easy to guess, alone or together.")
		case whole:
			out = append(out, "A single word is easy to guess.")
		default:
			out = append(out, "Common words are easy to guess on their own.")
		}
		if m.caps {
			out = append(out, "Capital letters help little where people usually put them, or when every letter is one.")
		}
		if m.reversed {
			out = append(out, "Words spelt backwards are barely harder to guess.")
		}
		if m.l33t {
			out = append(out, "Symbols that look like letters, such as @ for a or 0 for o, barely help.")
		}
	case patSpatial:
		if m.turns <= 1 {
			out = append(out, "Straight rows of keys, like qwerty, are easy to guess.")
		} else {
			out = append(out, "Short keyboard patterns are easy to guess.")
		}
	case patRepeat:
		if m.base == 1 {
			out = append(out, "Repeated characters, like aaa, are easy to guess.")
		} else {
			out = append(out, "Repeats, like abcabcabc, are barely harder to guess than abc.")
		}
	case patSequence:
		out = append(out, "Sequences, like abc or 6543, are easy to guess.")
	case patDate, patYear:
		out = append(out, "Dates and years, especially ones that mean something to you, are easy to guess.")
	}
	return out
}

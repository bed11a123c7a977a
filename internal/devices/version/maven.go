package version

import "strings"

// Maven versions are ordered by the rules of Maven 3's ComparableVersion
// (https://maven.apache.org/pom.html#version-order-specification), the
// generation that OSV's tooling and its generated vectors follow:
//
//   - the string is lower-cased and split into items at ".", "-" and at
//     every change between digits and non-digits;
//   - "-" (and a change of kind) opens a nested list, so 1-1 is [1, [1]];
//   - a, b and m directly followed by a digit mean alpha, beta and
//     milestone; ga, final and release mean the empty qualifier; cr is rc;
//   - trailing null items (0, the empty qualifier, empty lists) are dropped,
//     at the end of the version and before each "-";
//   - items compare number > list > qualifier; qualifiers alpha < beta <
//     milestone < rc < snapshot < "" < sp < any other, the others
//     alphabetically; a missing item is compared as null.
//
// Maven 3.9 (MNG-7644) reads a qualifier after "." as if after "-", so that
// 1.0.RC1 < 1.0-RC2; OSV's tooling does not, and neither do we.
type maven struct {
	items *mavenList
}

type mavenKind uint8

const (
	mavenNumber mavenKind = iota
	mavenQualifier
	mavenSubList
)

type mavenItem struct {
	kind mavenKind
	text string     // digits without leading zeros, or the qualifier
	list *mavenList // for mavenSubList
}

type mavenList struct {
	items []mavenItem
}

func parseMaven(s string) (ordered, error) {
	v := strings.ToLower(s)
	root := &mavenList{}
	list := root
	stack := []*mavenList{root}
	open := func() {
		sub := &mavenList{}
		list.items = append(list.items, mavenItem{kind: mavenSubList, list: sub})
		list = sub
		stack = append(stack, sub)
	}
	isDig := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '.' || c == '-':
			if i == start {
				list.items = append(list.items, mavenItem{kind: mavenNumber, text: "0"})
			} else {
				list.items = append(list.items, mavenParseItem(isDig, v[start:i]))
			}
			start = i + 1
			if c == '-' {
				open()
			}
		case isDigit(c):
			if !isDig && i > start {
				list.items = append(list.items, mavenQualifierItem(v[start:i], true))
				start = i
				open()
			}
			isDig = true
		default:
			if isDig && i > start {
				list.items = append(list.items, mavenParseItem(true, v[start:i]))
				start = i
				open()
			}
			isDig = false
		}
	}
	if len(v) > start {
		list.items = append(list.items, mavenParseItem(isDig, v[start:]))
	}
	// Innermost lists first, so that a list emptied by normalisation is
	// itself null when its parent is normalised.
	for k := len(stack) - 1; k >= 0; k-- {
		stack[k].normalize(k > 0)
	}
	return &maven{items: root}, nil
}

func mavenParseItem(isDigit bool, buf string) mavenItem {
	if isDigit {
		return mavenItem{kind: mavenNumber, text: trimZeros(buf)}
	}
	return mavenQualifierItem(buf, false)
}

func mavenQualifierItem(q string, followedByDigit bool) mavenItem {
	if followedByDigit && len(q) == 1 {
		switch q {
		case "a":
			q = "alpha"
		case "b":
			q = "beta"
		case "m":
			q = "milestone"
		}
	}
	switch q {
	case "ga", "final", "release":
		q = ""
	case "cr":
		q = "rc"
	}
	return mavenItem{kind: mavenQualifier, text: q}
}

// normalize drops trailing null items; it looks past trailing lists (which
// are normalised on their own) but stops at the first non-null other item.
//
// A nested list left holding only its own nested list ("-ga-1" once "ga" is
// dropped) is replaced by that list, so that 1-ga-1 equals 1-1 as the
// Maven version-order specification and OSV's vectors say. Java's
// ComparableVersion keeps the extra level (and orders 1-ga-1 before 1-1);
// this is the one place where we follow the specification instead.
func (l *mavenList) normalize(nested bool) {
	for i := len(l.items) - 1; i >= 0; i-- {
		it := l.items[i]
		if it.isNull() {
			l.items = append(l.items[:i], l.items[i+1:]...)
		} else if it.kind != mavenSubList {
			break
		}
	}
	if nested && len(l.items) == 1 && l.items[0].kind == mavenSubList {
		l.items = l.items[0].list.items
	}
}

func (it mavenItem) isNull() bool {
	switch it.kind {
	case mavenNumber:
		return it.text == "0"
	case mavenQualifier:
		return it.text == ""
	}
	return len(it.list.items) == 0
}

// The well-known qualifiers in order; the empty qualifier (a release) is
// at releaseRank and anything unknown sorts after all of them.
var mavenQualifiers = [...]string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

const mavenReleaseRank = 5

func mavenRank(q string) int {
	for i, k := range mavenQualifiers {
		if k == q {
			return i
		}
	}
	return len(mavenQualifiers)
}

func cmpQualifier(a, b string) int {
	ra, rb := mavenRank(a), mavenRank(b)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	if ra == len(mavenQualifiers) {
		return strings.Compare(a, b)
	}
	return 0
}

// compareNull compares an item with a missing one.
func (it mavenItem) compareNull() int {
	switch it.kind {
	case mavenNumber:
		if it.text == "0" {
			return 0
		}
		return +1
	case mavenQualifier:
		return cmpInt(mavenRank(it.text), mavenReleaseRank)
	}
	for _, sub := range it.list.items {
		if c := sub.compareNull(); c != 0 {
			return c
		}
	}
	return 0
}

func (it mavenItem) compareItem(o mavenItem) int {
	switch it.kind {
	case mavenNumber:
		if o.kind == mavenNumber {
			return cmpDigits(it.text, o.text)
		}
		return +1 // 1.1 > 1-1 and 1.1 > 1-sp
	case mavenQualifier:
		if o.kind == mavenQualifier {
			return cmpQualifier(it.text, o.text)
		}
		return -1 // 1.any < 1.1 and 1.any < 1-1
	}
	switch o.kind {
	case mavenNumber:
		return -1 // 1-1 < 1.0.x
	case mavenQualifier:
		return +1 // 1-1 > 1-sp
	}
	return it.list.compareList(o.list)
}

func (l *mavenList) compareList(o *mavenList) int {
	for k := 0; k < len(l.items) || k < len(o.items); k++ {
		var c int
		switch {
		case k >= len(l.items):
			c = -o.items[k].compareNull()
		case k >= len(o.items):
			c = l.items[k].compareNull()
		default:
			c = l.items[k].compareItem(o.items[k])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func (v *maven) compare(o ordered) int {
	return v.items.compareList(o.(*maven).items)
}

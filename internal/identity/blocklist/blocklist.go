// Package blocklist ships the word lists that identity checks passwords
// against: common and breached passwords (the NIST SP 800-63B blocklist),
// and common English words and names for the strength estimate. The lists
// are embedded gzip files (see README.md for their sources and licences),
// decompressed once, on first use, into read-only sets.
//
// It must never hold or log a user's password: it only answers whether a
// string is on a list and at which rank.
package blocklist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"sync"
)

//go:embed passwords.txt.gz english.txt.gz names.txt.gz
var files embed.FS

// List is a ranked word list: rank 1 is the most common entry. Entries are
// lower case. A List is read-only and safe for concurrent use.
type List struct {
	name string
	rank map[string]int32
}

// Name says what the list holds ("passwords", "english", "names").
func (l *List) Name() string { return l.name }

// Len returns the number of entries.
func (l *List) Len() int { return len(l.rank) }

// Rank returns the rank of a lower-case word, and whether it is listed.
func (l *List) Rank(word string) (int, bool) {
	r, ok := l.rank[word]
	return int(r), ok
}

// Contains reports whether a lower-case word is listed.
func (l *List) Contains(word string) bool {
	_, ok := l.rank[word]
	return ok
}

// The lists are loaded lazily and once: decompressing them costs tens of
// milliseconds and a few megabytes, which a process that never checks a
// password (ingest, verify) should not pay. They are immutable after
// loading, so sharing them process-wide is safe.
var (
	passwords = sync.OnceValue(func() *List { return mustLoad("passwords") })
	english   = sync.OnceValue(func() *List { return mustLoad("english") })
	names     = sync.OnceValue(func() *List { return mustLoad("names") })
)

// Passwords returns the common and breached passwords, most common first.
func Passwords() *List { return passwords() }

// English returns common English words by frequency.
func English() *List { return english() }

// Names returns common first names and surnames by frequency.
func Names() *List { return names() }

// mustLoad panics only on a corrupt embedded file, which is a build error
// caught by the package's tests, never a consequence of input.
func mustLoad(name string) *List {
	l, err := load(name)
	if err != nil {
		panic(err)
	}
	return l
}

func load(name string) (*List, error) {
	raw, err := files.ReadFile(name + ".txt.gz")
	if err != nil {
		return nil, fmt.Errorf("blocklist %s: %w", name, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("blocklist %s: %w", name, err)
	}
	l := &List{name: name, rank: make(map[string]int32, 50_000)}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		w := sc.Text()
		if w == "" {
			continue
		}
		if _, dup := l.rank[w]; !dup {
			l.rank[w] = int32(len(l.rank) + 1)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("blocklist %s: %w", name, err)
	}
	return l, nil
}

package blocklist

import (
	"strings"
	"sync"
	"testing"
	"unicode"
)

func TestListsLoad(t *testing.T) {
	for _, c := range []struct {
		l        *List
		min, max int
		first    string
		has      []string
	}{
		{Passwords(), 40_000, 100_000, "123456", []string{"password", "iloveyou", "qwertyuiop", "1qaz2wsx3edc4rfv", "passwordpassword"}},
		{English(), 20_000, 40_000, "the", []string{"government", "village", "physician"}},
		{Names(), 10_000, 20_000, "smith", []string{"mary", "james", "garcia"}},
	} {
		if n := c.l.Len(); n < c.min || n > c.max {
			t.Errorf("%s: %d entries, want %d..%d", c.l.Name(), n, c.min, c.max)
		}
		if r, ok := c.l.Rank(c.first); !ok || r != 1 {
			t.Errorf("%s: rank of %q = %d, %v", c.l.Name(), c.first, r, ok)
		}
		for _, w := range c.has {
			if !c.l.Contains(w) {
				t.Errorf("%s lacks %q", c.l.Name(), w)
			}
		}
		if c.l.Contains("") || c.l.Contains("correct horse battery staple") {
			t.Errorf("%s holds what it should not", c.l.Name())
		}
		// Entries are lower case (callers look up lower-cased passwords)
		// and ranks run 1..Len without gaps.
		seen := make([]bool, c.l.Len()+1)
		for w, r := range c.l.rank {
			if strings.ToLower(w) != w || strings.IndexFunc(w, unicode.IsControl) >= 0 {
				t.Fatalf("%s: entry %q", c.l.Name(), w)
			}
			if r < 1 || int(r) > c.l.Len() || seen[r] {
				t.Fatalf("%s: rank %d of %q", c.l.Name(), r, w)
			}
			seen[r] = true
		}
	}
}

// Loading is lazy and happens once, even when many goroutines ask at once.
func TestListsLoadOnce(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]*List, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = Passwords() }()
	}
	wg.Wait()
	for _, l := range got {
		if l != got[0] {
			t.Fatal("the list was loaded more than once")
		}
	}
}

func BenchmarkLoadPasswords(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := load("passwords"); err != nil {
			b.Fatal(err)
		}
	}
}

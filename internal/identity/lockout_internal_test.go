package identity

import (
	"testing"
	"time"
)

func TestWaitText(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1 second"},
		{300 * time.Millisecond, "1 second"},
		{time.Second, "1 second"},
		{1001 * time.Millisecond, "2 seconds"},
		{16 * time.Second, "16 seconds"},
		{90 * time.Second, "90 seconds"},
		{91 * time.Second, "2 minutes"},
		{15 * time.Minute, "15 minutes"},
		{2 * time.Hour, "2 hours"},
		{3*time.Hour + 59*time.Minute + 30*time.Second, "4 hours"},
		{time.Hour + 61*time.Minute, "2 hours 1 minute"},
	} {
		if got := waitText(c.d); got != c.want {
			t.Errorf("waitText(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestUnknownNamesBounded: the memory of usernames without an account
// holds at most max names; the one unused longest is forgotten first.
func TestUnknownNamesBounded(t *testing.T) {
	u := newUnknownNames(3)
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for _, name := range []string{"a", "b", "c", "a", "d"} {
		if _, _, ok := u.claim(name, now); !ok {
			t.Fatalf("%s refused", name)
		}
	}
	if u.lru.Len() != 3 || len(u.m) != 3 {
		t.Fatalf("%d names remembered (%d in the map), want 3", u.lru.Len(), len(u.m))
	}
	// b was the least recently used when d came: forgotten, it starts again;
	// a, used again before d, is remembered.
	if n, _, _ := u.claim("b", now); n != 1 {
		t.Errorf("b after eviction: failure %d, want 1", n)
	}
	if n, _, _ := u.claim("a", now); n != 3 {
		t.Errorf("a: failure %d, want 3", n)
	}
}

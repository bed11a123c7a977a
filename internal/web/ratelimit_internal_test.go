package web

import (
	"strconv"
	"testing"
	"time"
)

func TestIPLimiterBucket(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	l := newIPLimiter(6, 3, 100, func() time.Time { return now }) // one token every 10 s
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("192.0.2.1"); !ok {
			t.Fatalf("attempt %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("192.0.2.1")
	if ok || !near(wait, 10*time.Second) {
		t.Fatalf("past the burst: ok=%v wait=%v, want a refusal for 10s", ok, wait)
	}
	// Another address has its own bucket.
	if ok, _ := l.allow("192.0.2.2"); !ok {
		t.Fatal("another address refused")
	}
	now = now.Add(4 * time.Second)
	if ok, wait := l.allow("192.0.2.1"); ok || !near(wait, 6*time.Second) {
		t.Fatalf("4 s later: ok=%v wait=%v, want 6s", ok, wait)
	}
	now = now.Add(6 * time.Second)
	if ok, _ := l.allow("192.0.2.1"); !ok {
		t.Fatal("a token refilled after 10 s was refused")
	}
	if ok, _ := l.allow("192.0.2.1"); ok {
		t.Fatal("a second token after 10 s")
	}
	// A long pause refills the bucket to the burst, not beyond.
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("192.0.2.1"); !ok {
			t.Fatalf("after an hour, attempt %d refused", i+1)
		}
	}
	if ok, _ := l.allow("192.0.2.1"); ok {
		t.Fatal("the bucket held more than the burst")
	}
}

func TestIPLimiterKeys(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	l := newIPLimiter(1, 1, 100, func() time.Time { return now })
	// One /64 is one client: addresses within it share a bucket ...
	if ok, _ := l.allow("2001:db8:1:2:aaaa::1"); !ok {
		t.Fatal("first IPv6 attempt refused")
	}
	if ok, _ := l.allow("2001:db8:1:2:ffff:eeee:dddd:cccc"); ok {
		t.Fatal("another address of the same /64 got its own bucket")
	}
	if ok, _ := l.allow("fe80::1%eth0"); !ok {
		t.Fatal("a link-local address with a zone refused")
	}
	// ... the next /64 does not.
	if ok, _ := l.allow("2001:db8:1:3::1"); !ok {
		t.Fatal("the neighbouring /64 shares the bucket")
	}
	// An IPv4-mapped IPv6 address is its IPv4 address.
	if ok, _ := l.allow("198.51.100.7"); !ok {
		t.Fatal("IPv4 refused")
	}
	if ok, _ := l.allow("::ffff:198.51.100.7"); ok {
		t.Fatal("the IPv4-mapped form of an address got its own bucket")
	}
	if limitKey("not an address") != limitKey("@") {
		t.Fatal("unparseable addresses should share one bucket")
	}
	// Off: no limiter, everything allowed.
	var off *ipLimiter = newIPLimiter(0, 5, 100, nil)
	for i := 0; i < 1000; i++ {
		if ok, _ := off.allow("192.0.2.1"); !ok {
			t.Fatal("a limit of 0 refused an attempt")
		}
	}
}

// TestIPLimiterBoundedMemory: however many addresses come, the limiter
// remembers at most its maximum, forgetting the one unused longest.
func TestIPLimiterBoundedMemory(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	l := newIPLimiter(1, 1, 1000, func() time.Time { return now })
	if ok, _ := l.allow("192.0.2.1"); !ok {
		t.Fatal("first attempt refused")
	}
	for i := 0; i < 5000; i++ {
		l.allow("10." + itoa(i>>16&255) + "." + itoa(i>>8&255) + "." + itoa(i&255))
		if i == 500 {
			// Used again: moves to the front.
			if ok, _ := l.allow("192.0.2.1"); ok {
				t.Fatal("an empty bucket let an attempt through")
			}
		}
		if n := l.len(); n > 1000 {
			t.Fatalf("%d addresses remembered, limit 1000", n)
		}
	}
	if n := l.len(); n != 1000 {
		t.Fatalf("%d addresses remembered at the end, want 1000", n)
	}
	// 192.0.2.1 was last used over 1000 addresses ago: forgotten, so it
	// starts with a full bucket.
	if ok, _ := l.allow("192.0.2.1"); !ok {
		t.Fatal("a forgotten address was still limited")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// near: the wait is computed in floating point and rounded up to 1 ms.
func near(got, want time.Duration) bool { return got >= want && got <= want+time.Millisecond }

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, -time.Second: 1, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, time.Minute: 60} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

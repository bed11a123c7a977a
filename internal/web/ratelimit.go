package web

import (
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/identity"
)

// The per-address limit of password sign-in (decision 0036): a token
// bucket per client address, IPv6 addresses grouped by /64 (what one
// customer usually gets), held in memory with a bound on how many
// addresses are remembered. It sits in front of the account lockout of
// identity (decision 0035): the lockout bounds guesses at one account, this
// bounds one address's guesses across accounts (password spraying) and the
// argon2id work one address can ask of the server.

// maxLimitedAddresses bounds the limiter's memory (about 200 bytes each).
// Past it the address unused longest is forgotten: a full bucket carries
// no information, and the least recently used one is the likeliest full.
const maxLimitedAddresses = 50000

type ipLimiter struct {
	mu     sync.Mutex
	perSec float64 // tokens added per second
	burst  float64 // bucket size
	max    int
	clock  func() time.Time
	m      map[netip.Addr]*list.Element
	lru    list.List // of *ipBucket, most recently used at the front
}

type ipBucket struct {
	key    netip.Addr
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// newIPLimiter allows burst attempts at once per address, then perMinute
// a minute. perMinute 0 means no limit (nil limiter).
func newIPLimiter(perMinute, burst, maxAddresses int, clock func() time.Time) *ipLimiter {
	if perMinute <= 0 {
		return nil
	}
	if clock == nil {
		clock = time.Now
	}
	return &ipLimiter{perSec: float64(perMinute) / 60, burst: float64(max(1, burst)), max: max(1, maxAddresses), clock: clock, m: make(map[netip.Addr]*list.Element)}
}

// limitKey is the address a bucket belongs to: an IPv4 address, or the
// /64 of an IPv6 one. An address that does not parse (a Unix socket) gets
// the zero key: such clients share one bucket.
func limitKey(addr string) netip.Addr {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// allow takes one token from addr's bucket. When there is none it says
// how long until there is one.
func (l *ipLimiter) allow(addr string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	key := limitKey(addr)
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *ipBucket
	if el, ok := l.m[key]; ok {
		l.lru.MoveToFront(el)
		b = el.Value.(*ipBucket)
		if secs := now.Sub(b.at).Seconds(); secs > 0 {
			b.tokens = min(l.burst, b.tokens+secs*l.perSec)
		}
		b.at = now
	} else {
		for l.lru.Len() >= l.max {
			old := l.lru.Back()
			delete(l.m, old.Value.(*ipBucket).key)
			l.lru.Remove(old)
		}
		b = &ipBucket{key: key, tokens: l.burst, at: now}
		l.m[key] = l.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1-b.tokens)/l.perSec*1e3)) * time.Millisecond
}

// len is how many addresses the limiter remembers.
func (l *ipLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// retryAfterSeconds is d for a Retry-After header: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func tooManyMessage(wait time.Duration) string {
	n := retryAfterSeconds(wait)
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	return fmt.Sprintf("Too many sign-in attempts from your network address. Please wait %d %s and try again; a passkey still signs you in.", n, unit)
}

// signinThrottled applies the per-address limit to a password sign-in of
// the browser and answers 429 with the sign-in page when it is exceeded.
func (s *Server) signinThrottled(w http.ResponseWriter, r *http.Request, username, next string) bool {
	ok, wait := s.signinLimit.allow(clientOf(r).Address)
	if ok {
		return false
	}
	s.Log.Info("sign-in attempts limited", "address", clientOf(r).Address, "retry_after_s", retryAfterSeconds(wait))
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	p := s.newPage("Sign in", nil)
	p.Error, p.Username, p.Next = tooManyMessage(wait), username, next
	s.render(w, r, http.StatusTooManyRequests, "signin", p)
	return true
}

// apiSigninThrottled is signinThrottled for the API: problem+json.
func (s *Server) apiSigninThrottled(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := s.signinLimit.allow(clientOf(r).Address)
	if ok {
		return false
	}
	s.Log.Info("sign-in attempts limited", "address", clientOf(r).Address, "retry_after_s", retryAfterSeconds(wait))
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: http.StatusText(http.StatusTooManyRequests), Status: http.StatusTooManyRequests,
		Detail: tooManyMessage(wait), Instance: r.URL.Path})
	return true
}

// retryAfterLock sets Retry-After on the refusal of a locked username
// (identity.LockedError); a hard lock has no time to give.
func (s *Server) retryAfterLock(w http.ResponseWriter, err error) {
	var le *identity.LockedError
	if errors.As(err, &le) && !le.Hard {
		now := time.Now()
		if s.Clock != nil {
			now = s.Clock()
		}
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(le.Until.Sub(now))))
	}
}

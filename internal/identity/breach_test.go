package identity_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/identity"
)

// httpRange is how the app wires the breach check to HTTP (identity itself
// stays off the transport).
type httpRange struct{ c *http.Client }

func (h httpRange) FetchRange(ctx context.Context, url string, header map[string]string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	return resp.Body, nil
}

var rangePath = regexp.MustCompile(`^/range/[0-9A-F]{5}$`)

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// rangeService is a loopback stand-in for a Pwned Passwords range service:
// it knows a few breached passwords and answers a range query with their
// suffixes, plus padding lines with a count of 0 when asked for padding.
type rangeService struct {
	mu       sync.Mutex
	breached map[string]int // full SHA-1 -> count
	padWith  []string       // full SHA-1s to add as padding (count 0)
	paths    []string
	headers  []http.Header
	delay    time.Duration
	status   int
	body     string // when set, the answer whatever the prefix
}

func (s *rangeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.paths = append(s.paths, r.URL.Path)
	s.headers = append(s.headers, r.Header.Clone())
	delay, status, body := s.delay, s.status, s.body
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if body != "" {
		io.WriteString(w, body)
		return
	}
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	var b strings.Builder
	for h, n := range s.breached {
		if strings.HasPrefix(h, prefix) {
			fmt.Fprintf(&b, "%s:%d\r\n", h[5:], n)
		}
	}
	if r.Header.Get("Add-Padding") == "true" {
		for _, h := range s.padWith {
			if strings.HasPrefix(h, prefix) {
				fmt.Fprintf(&b, "%s:0\r\n", h[5:])
			}
		}
		// Padding of random-looking suffixes keeps answers the same size.
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&b, "%035X:0\r\n", i)
		}
	}
	io.WriteString(w, b.String())
}

func newBreachChecker(t *testing.T, s *rangeService, timeout time.Duration) (*identity.BreachChecker, *bytes.Buffer) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	return identity.NewBreachChecker(identity.BreachConfig{BaseURL: srv.URL + "/", Timeout: timeout}, httpRange{srv.Client()}, log), &logs
}

func TestBreachCheckFindsBreachedPasswords(t *testing.T) {
	ctx := context.Background()
	s := &rangeService{
		breached: map[string]int{sha1Hex("Summer2026!Summer"): 4182, sha1Hex("caf\u00e9 au lait tous les jours"): 3},
		padWith:  []string{sha1Hex("a quiet walk in the hills")},
	}
	b, logs := newBreachChecker(t, s, time.Second)
	if !b.Enabled() {
		t.Fatal("configured checker is off")
	}
	r := b.Check(ctx, "Summer2026!Summer")
	if !r.Checked || !r.Breached || r.Count != 4182 {
		t.Fatalf("breached password: %+v", r)
	}
	if p, ok := r.Problem(); !ok || p.Code != identity.ProblemBreached || !strings.Contains(p.Message, "passphrase") {
		t.Fatalf("problem: %+v", p)
	}
	// Passwords are hashed after NFKC normalisation, as they are stored.
	if r := b.Check(ctx, "cafe\u0301 au lait tous les jours"); !r.Breached {
		t.Fatalf("decomposed form of a breached password: %+v", r)
	}
	// A padding line (count 0) with the very suffix is not a breach.
	if r := b.Check(ctx, "a quiet walk in the hills"); !r.Checked || r.Breached {
		t.Fatalf("padded suffix taken for a breach: %+v", r)
	}
	if _, ok := b.Check(ctx, "no one has ever used this one").Problem(); ok {
		t.Fatal("unbreached password refused")
	}
	// Only a five-character prefix of the hash leaves the server, and
	// padding is asked for.
	full := sha1Hex("Summer2026!Summer")
	if len(s.paths) != 4 || s.paths[0] != "/range/"+full[:5] {
		t.Fatalf("requests: %q", s.paths)
	}
	for i, p := range s.paths {
		if !rangePath.MatchString(p) {
			t.Errorf("request path %q", p)
		}
		if s.headers[i].Get("Add-Padding") != "true" {
			t.Errorf("request %d did not ask for padding", i)
		}
		for _, vs := range s.headers[i] {
			for _, v := range vs {
				if strings.Contains(strings.ToUpper(v), full[5:]) {
					t.Errorf("a header carries the hash suffix")
				}
			}
		}
	}
	if logs.Len() != 0 {
		t.Fatalf("warnings on success: %s", logs.String())
	}
}

func TestBreachCheckFailsOpen(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		s    *rangeService
	}{
		{"timeout", &rangeService{delay: 5 * time.Second}},
		{"server error", &rangeService{status: http.StatusServiceUnavailable}},
		{"rate limited", &rangeService{status: http.StatusTooManyRequests}},
		{"garbage", &rangeService{body: "<html>maintenance</html>\n"}},
		{"bad count", &rangeService{body: strings.Repeat("0", 35) + ":many\r\n"}},
		{"empty answer", &rangeService{body: "\r\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, logs := newBreachChecker(t, c.s, 200*time.Millisecond)
			began := time.Now()
			r := b.Check(ctx, "Summer2026!Summer")
			if r.Checked || r.Breached || r.Reason == "" {
				t.Fatalf("result: %+v", r)
			}
			if _, ok := r.Problem(); ok {
				t.Fatal("an outage refused the password")
			}
			if time.Since(began) > 2*time.Second {
				t.Fatalf("check took %v despite a 200ms timeout", time.Since(began))
			}
			if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "Summer2026") || strings.Contains(logs.String(), sha1Hex("Summer2026!Summer")[:5]) {
				t.Fatalf("log: %q", logs.String())
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		var logs bytes.Buffer
		b := identity.NewBreachChecker(identity.BreachConfig{BaseURL: url}, httpRange{http.DefaultClient}, slog.New(slog.NewTextHandler(&logs, nil)))
		if r := b.Check(ctx, "anything at all here"); r.Checked || r.Breached || !strings.Contains(logs.String(), "WARN") {
			t.Fatalf("unreachable service: %+v %s", r, logs.String())
		}
	})
}

func TestBreachCheckOffByDefault(t *testing.T) {
	var logs bytes.Buffer
	b := identity.NewBreachChecker(identity.BreachConfig{}, httpRange{http.DefaultClient}, slog.New(slog.NewTextHandler(&logs, nil)))
	if b.Enabled() {
		t.Fatal("checker without a URL is on")
	}
	if r := b.Check(context.Background(), "password"); r.Checked || r.Breached || r.Reason == "" {
		t.Fatalf("off checker: %+v", r)
	}
	if logs.Len() != 0 {
		t.Fatal("off checker logged")
	}
	var nilChecker *identity.BreachChecker
	if nilChecker.Enabled() || nilChecker.Check(context.Background(), "password").Checked {
		t.Fatal("nil checker is on")
	}
}

// fixedRange answers every range query with the same body.
type fixedRange string

func (f fixedRange) FetchRange(context.Context, string, map[string]string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(f))), nil
}

// FuzzBreachAnswer feeds arbitrary answers to the parser of range
// answers: it never panics, and it reports a breach only when the answer
// holds the password's suffix with a positive count.
func FuzzBreachAnswer(f *testing.F) {
	suffix := sha1Hex("Summer2026!Summer")[5:]
	for _, s := range []string{"", "\r\n", suffix + ":12\r\n", suffix + ":0\r\n", strings.ToLower(suffix) + ":3", "x:1", suffix + ":-1", suffix + ":99999999999999999999"} {
		f.Add(s)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body string) {
		b := identity.NewBreachChecker(identity.BreachConfig{BaseURL: "http://127.0.0.1:9"}, fixedRange(body), log)
		r := b.Check(context.Background(), "Summer2026!Summer")
		if r.Breached && (r.Count <= 0 || !strings.Contains(strings.ToUpper(body), suffix)) {
			t.Fatalf("breach reported from %q: %+v", body, r)
		}
		if r.Checked == (r.Reason != "") {
			t.Fatalf("result %+v", r)
		}
	})
}

package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
)

// loginEvents counts sign-in events: one per password actually checked.
func loginEvents(t *testing.T, a *testApp) int {
	t.Helper()
	evs, err := a.Audit.Events(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Event.Subtype == "login" {
			n++
		}
	}
	return n
}

// TestSigninLimitedPerAddress: past its burst, an address gets 429 with
// Retry-After on the browser and the API sign-in alike, whatever the
// username, and the refused attempts never reach the password check;
// passkey sign-in is not limited.
func TestSigninLimitedPerAddress(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			a := newAppWith(t, engine, func(c *config.Config) { c.SigninPerMinute, c.SigninBurst = 1, 3 })
			c := a.browser(t)
			// Three attempts on three usernames (one without an account):
			// checked and refused as usual.
			for _, user := range []string{"ben", "luc", "nobody"} {
				res, err := c.PostForm(a.srv.URL+"/signin", url.Values{"username": {user}, "password": {"not the password at all"}})
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("attempt for %s: %d", user, res.StatusCode)
				}
			}
			if n := loginEvents(t, a); n != 3 {
				t.Fatalf("%d login events after 3 attempts", n)
			}
			// The fourth, even with the right password: 429, the sign-in page
			// with the reason, and no session.
			res, body := post(t, c, a.srv.URL+"/signin", "application/x-www-form-urlencoded",
				url.Values{"username": {"admin"}, "password": {password}, "next": {"/console"}}.Encode(), nil)
			ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			if res.StatusCode != http.StatusTooManyRequests || ra < 55 || ra > 60 || hasSession(res) {
				t.Fatalf("browser sign-in past the limit: %d Retry-After %q session %v", res.StatusCode, res.Header.Get("Retry-After"), hasSession(res))
			}
			if !strings.Contains(body, "Too many sign-in attempts from your network address") || !strings.Contains(body, `id="passkey-signin"`) || !strings.Contains(body, `value="admin"`) {
				t.Errorf("429 page does not explain or offer the passkey: %s", body)
			}
			// The API shares the address's budget: problem+json.
			res, body = post(t, http.DefaultClient, a.srv.URL+"/api/v1/sessions", "application/json", `{"username":"admin","password":"`+password+`"}`, nil)
			var p struct {
				Status int
				Title  string
				Detail string
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatalf("API body: %v %s", err, body)
			}
			if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Content-Type") != "application/problem+json" || res.Header.Get("Retry-After") == "" ||
				p.Status != 429 || p.Title != "Too Many Requests" || !strings.Contains(p.Detail, "Please wait") {
				t.Fatalf("API sign-in past the limit: %d %s %q %+v", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Retry-After"), p)
			}
			if n := loginEvents(t, a); n != 3 {
				t.Fatalf("refused attempts reached the password check: %d login events", n)
			}
			// Passkeys are not limited by it (a passkey cannot be guessed).
			if res, body := post(t, c, a.srv.URL+"/passkey/signin/begin", "application/json", `{}`, nil); res.StatusCode != 200 {
				t.Fatalf("passkey sign-in begin past the password limit: %d %s", res.StatusCode, body)
			}
		})
	}
}

// TestLockedUsernameRetryAfter: the refusal of a locked username says when
// to come back, in words and in Retry-After, on both sign-in paths.
func TestLockedUsernameRetryAfter(t *testing.T) {
	a := newApp(t, "sqlite")
	c := a.browser(t)
	var res *http.Response
	var body string
	for i := 1; i <= 5; i++ {
		res, body = post(t, c, a.srv.URL+"/signin", "application/x-www-form-urlencoded", url.Values{"username": {"ben"}, "password": {"not the password at all"}}.Encode(), nil)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, res.StatusCode)
		}
		if i < 5 && res.Header.Get("Retry-After") != "" {
			t.Fatalf("failure %d has a Retry-After", i)
		}
	}
	if res.Header.Get("Retry-After") != "1" || !strings.Contains(body, "locked for 1 second") {
		t.Fatalf("5th failure: Retry-After %q, %s", res.Header.Get("Retry-After"), body)
	}
	// Waiting as told, twice more: the 7th failure asks for 4 seconds, time
	// enough for the API attempt below to meet the lock on a busy machine.
	for i, want := range []string{"2", "4"} {
		time.Sleep(time.Duration(i+1) * time.Second)
		res, body = post(t, c, a.srv.URL+"/signin", "application/x-www-form-urlencoded", url.Values{"username": {"ben"}, "password": {"not the password at all"}}.Encode(), nil)
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Retry-After") != want || !strings.Contains(body, "wrong username or password") {
			t.Fatalf("failure %d: %d Retry-After %q, want %s: %s", 6+i, res.StatusCode, res.Header.Get("Retry-After"), want, body)
		}
	}
	res, body = post(t, http.DefaultClient, a.srv.URL+"/api/v1/sessions", "application/json", `{"username":"ben","password":"`+password+`"}`, nil)
	if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); res.StatusCode != http.StatusUnauthorized || ra < 1 || ra > 4 || !strings.Contains(body, "Too many failed sign-ins with this username") {
		t.Fatalf("API during the wait: %d Retry-After %q %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
}

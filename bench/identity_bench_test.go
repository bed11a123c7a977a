package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/web"
)

const benchPassword = "a long enough bench password"

// BenchmarkPasswordVerify measures one argon2id verification with the
// production parameters (identity.DefaultArgon2, what serve uses): serial
// (the latency a person waits) and with one verification per core at once
// (the machine's ceiling of password checks; serve keeps one core free).
func BenchmarkPasswordVerify(b *testing.B) {
	ctx := context.Background()
	h := identity.NewHasher(identity.DefaultArgon2, runtime.NumCPU())
	enc, err := h.Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if ok, _, err := h.Verify(ctx, enc, benchPassword); !ok || err != nil {
				b.Fatal("verification failed", err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/verify")
	})
	b.Run(fmt.Sprintf("parallel-%d", runtime.NumCPU()), func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := h.Verify(ctx, enc, benchPassword); !ok || err != nil {
					b.Error("verification failed", err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
	})
}

// signinServer is a real Trustward (SQLite, the production argon2id
// parameters) with users u0..u63 sharing benchPassword and a web server
// whose hasher runs at most hashers verifications at once (0: serve's own
// server and default, one per core but one). The per-address
// limit is off: the load comes from one address, and what is measured is
// what the server can take, not what one address is allowed.
func signinServer(b *testing.B, hashers int) (*httptest.Server, string) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.SigninPerMinute = 0
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	svc := a.Identity
	if hashers > 0 {
		if svc, err = identity.NewService(ctx, a.DB, identity.NewHasher(identity.DefaultArgon2, hashers), a.Recorder, a.Clock, log, cfg.Org); err != nil {
			b.Fatal(err)
		}
	}
	hash, err := svc.Hasher().Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	users := []identity.User{{ID: "u-office", Username: "office", DisplayName: "Office", Role: identity.RolePrivacyOfficer}}
	for i := range 64 {
		users = append(users, identity.User{Username: fmt.Sprintf("u%d", i), DisplayName: fmt.Sprintf("User %d", i), Role: identity.RoleNurse})
	}
	if _, err := svc.CreateUsers(ctx, users, hash); err != nil {
		b.Fatal(err)
	}
	w := a.Web
	if hashers > 0 {
		deps := a.Web.Deps
		deps.Identity = svc
		if w, err = web.New(deps, web.Options{Org: cfg.Org, SessionTTL: cfg.SessionTTL, SessionIdle: cfg.SessionIdle, MaxBodyBytes: cfg.MaxBodyBytes}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(w)
	b.Cleanup(srv.Close)
	// A browser session of the office user for the probe.
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.PostForm(srv.URL+"/signin", url.Values{"username": {"office"}, "password": {benchPassword}, "next": {"/console"}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "tw_session" {
			return srv, c.Value
		}
	}
	b.Fatalf("no session cookie (status %d)", res.StatusCode)
	return nil, ""
}

// probe GETs /console (session check and a rendered page: a cheap
// authenticated request) every 10 ms until stop closes, and returns the
// latencies.
func probe(b *testing.B, srv *httptest.Server, cookie string, stop <-chan struct{}) []time.Duration {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	var lat []time.Duration
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return lat
		case <-tick.C:
		}
		req, _ := http.NewRequest("GET", srv.URL+"/console", nil)
		req.AddCookie(&http.Cookie{Name: "tw_session", Value: cookie})
		t0 := time.Now()
		res, err := cl.Do(req)
		if err != nil {
			b.Error(err)
			return lat
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Errorf("probe: status %d", res.StatusCode)
			return lat
		}
		lat = append(lat, time.Since(t0))
	}
}

func reportProbe(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("no probe completed")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "probe-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "probe-p99-ms")
	b.ReportMetric(float64(len(lat)), "probes")
}

// BenchmarkSigninLoad measures how many password sign-ins per second the
// server completes (POST /api/v1/sessions, right password: lockout claim,
// argon2id, count cleared, audit event, session) from 16 clients at once,
// and what that load does to a cheap authenticated request made every
// 10 ms meanwhile. "idle" is the probe alone for 3 s; "hashers-N" runs b.N
// sign-ins with at most N argon2id verifications at once, "serve" with
// serve's own server and default. Run with
// -benchtime 400x or so; the load generator shares the server's cores.
func BenchmarkSigninLoad(b *testing.B) {
	b.Run("idle", func(b *testing.B) {
		srv, cookie := signinServer(b, 0)
		stop := make(chan struct{})
		time.AfterFunc(3*time.Second, func() { close(stop) })
		b.ResetTimer()
		lat := probe(b, srv, cookie, stop)
		reportProbe(b, lat)
	})
	for _, hashers := range []int{0, 1, 2, 4} {
		name := fmt.Sprintf("hashers-%d", hashers)
		if hashers == 0 {
			name = "serve"
		}
		b.Run(name, func(b *testing.B) {
			srv, cookie := signinServer(b, hashers)
			tr := &http.Transport{MaxIdleConnsPerHost: 32}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr}
			var next, failed atomic.Int64
			stop := make(chan struct{})
			var lat []time.Duration
			done := make(chan struct{})
			go func() { lat = probe(b, srv, cookie, stop); close(done) }()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						body := fmt.Sprintf(`{"username":"u%d","password":%q}`, i%64, benchPassword)
						res, err := cl.Post(srv.URL+"/api/v1/sessions", "application/json", strings.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusCreated {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(stop)
			<-done
			if failed.Load() > 0 {
				b.Fatalf("%d of %d sign-ins failed", failed.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
			reportProbe(b, lat)
		})
	}
}

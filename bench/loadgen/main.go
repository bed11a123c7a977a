// Command loadgen drives a running Trustward with concurrent chart reads
// through the JSON API and reports throughput and latency percentiles. It
// runs as its own process so that the server is measured from outside, over
// loopback, as wrk would.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080 -user clinician -password trustward-demo-2026 -c 64 -d 20s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	user := flag.String("user", "clinician", "username")
	pass := flag.String("password", "trustward-demo-2026", "password")
	conc := flag.Int("c", 64, "concurrent clients")
	dur := flag.Duration("d", 20*time.Second, "duration of the measured run")
	warm := flag.Duration("warmup", 3*time.Second, "warm-up before measuring")
	rate := flag.Float64("rate", 0, "offered requests per second over all clients (0: closed loop, each client sends as soon as its last answer came)")
	flag.Parse()
	if err := run(*url, *user, *pass, *conc, *dur, *warm, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(base, user, pass string, conc int, dur, warm time.Duration, rate float64) error {
	tr := &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	res, err := cl.Post(base+"/api/v1/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	var tok struct{ Token string }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.Token == "" {
		return fmt.Errorf("sign-in failed: %s", res.Status)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me/patients", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	res, err = cl.Do(req)
	if err != nil {
		return err
	}
	var pl struct{ Patients []string }
	json.NewDecoder(res.Body).Decode(&pl)
	res.Body.Close()
	if len(pl.Patients) == 0 {
		return fmt.Errorf("the user has no patients to open")
	}
	mode := "closed loop"
	if rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f req/s offered (latency from the intended send time)", rate)
	}
	fmt.Printf("chart reads of %d patients by %s, %d clients, %s, warm-up %s, measured %s\n", len(pl.Patients), user, conc, mode, warm, dur)

	var measuring atomic.Bool
	var errorsN atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, conc)
	ctx, cancel := context.WithTimeout(context.Background(), warm+dur)
	defer cancel()
	var start time.Time
	time.AfterFunc(warm, func() { start = time.Now(); measuring.Store(true) })
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			i := w
			// In open loop each client sends on a fixed schedule, and a
			// late answer makes the next request late: its latency counts
			// from when it should have been sent.
			var interval time.Duration
			next := time.Now()
			if rate > 0 {
				interval = time.Duration(float64(conc) / rate * float64(time.Second))
				next = next.Add(time.Duration(w) * interval / time.Duration(conc))
			}
			for ctx.Err() == nil {
				t0 := time.Now()
				if rate > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					t0 = next
					next = next.Add(interval)
				}
				id := pl.Patients[i%len(pl.Patients)]
				i += conc
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/patients/"+id+"/chart", nil)
				req.Header.Set("Authorization", "Bearer "+tok.Token)
				res, err := cl.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errorsN.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				d := time.Since(t0)
				if res.StatusCode != 200 {
					// Requests cut short by the end of the run are not errors.
					if ctx.Err() == nil {
						errorsN.Add(1)
						firstErr.CompareAndSwap(nil, res.Status)
					}
					continue
				}
				if measuring.Load() && ctx.Err() == nil {
					lat[w] = append(lat[w], d)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return fmt.Errorf("no successful requests (%d errors)", errorsN.Load())
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	if e := firstErr.Load(); e != nil {
		fmt.Printf("first error: %v\n", e)
	}
	fmt.Printf("requests %d  errors %d  throughput %.0f chart reads/s\n", len(all), errorsN.Load(), float64(len(all))/elapsed.Seconds())
	fmt.Printf("latency p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), all[len(all)-1].Round(10*time.Microsecond))
	return nil
}

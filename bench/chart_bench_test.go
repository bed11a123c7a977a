package bench

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
)

// BenchmarkChartAPI measures the whole access path in one process (session
// check, policy decision, decryption, durable audit event, JSON): the
// figure for profiling. The figure of record comes from scripts/bench.sh,
// which loads the server from a second process.
func BenchmarkChartAPI(b *testing.B) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.DemoPatients, cfg.DemoStaff = 1000, 100
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if _, err := a.LoadDemo(ctx, nil); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Web)
	defer srv.Close()
	res, err := http.Post(srv.URL+"/api/v1/sessions", "application/json", strings.NewReader(`{"username":"clinician","password":"`+app.DemoPassword+`"}`))
	if err != nil {
		b.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me/patients", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var pl struct{ Patients []string }
	json.NewDecoder(res.Body).Decode(&pl)
	res.Body.Close()
	if len(pl.Patients) == 0 {
		b.Fatal("no patients")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	cl := &http.Client{Transport: tr}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := pl.Patients[int(n.Add(1))%len(pl.Patients)]
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/patients/"+id+"/chart", nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			res, err := cl.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

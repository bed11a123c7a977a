package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/trustward/trustward/internal/audit"
)

// TestAccessesReachTheServedLog opens charts, then checks with x/mod's note
// package (not our code) that the served checkpoint is signed by the served
// key and covers every recorded event.
func TestAccessesReachTheServedLog(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		ctx := context.Background()
		ben := a.browser(t)
		a.signIn(t, ben, "ben")
		for i := 0; i < 3; i++ {
			get(t, ben, a.srv.URL+"/console/patients/pat-1")
		}
		n, err := a.Audit.Count(ctx)
		if err != nil || n < 4 {
			t.Fatalf("events: %d %v", n, err)
		}
		_, key := get(t, http.DefaultClient, a.srv.URL+"/log/key")
		v, err := note.NewVerifier(strings.TrimSpace(key))
		if err != nil {
			t.Fatalf("served key %q: %v", key, err)
		}
		deadline := time.Now().Add(15 * time.Second)
		var size int64
		for time.Now().Before(deadline) {
			res, body := get(t, http.DefaultClient, a.srv.URL+"/log/checkpoint")
			if res.StatusCode == 200 {
				msg, err := note.Open([]byte(body), note.VerifierList(v))
				if err != nil {
					t.Fatalf("checkpoint does not verify: %v", err)
				}
				lines := strings.Split(msg.Text, "\n")
				size, _ = strconv.ParseInt(lines[1], 10, 64)
				if res.Header.Get("Cache-Control") != "no-cache" {
					t.Errorf("checkpoint Cache-Control %q", res.Header.Get("Cache-Control"))
				}
				if size >= n {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if size < n {
			t.Fatalf("the log covers %d of %d events", size, n)
		}
		lag, err := a.Integrator.Lag(ctx)
		if err != nil || lag.Events != 0 {
			t.Fatalf("lag: %+v %v", lag, err)
		}
		evs, _ := a.Audit.Events(ctx, audit.Query{PatientID: "pat-1"})
		for _, e := range evs {
			if e.LedgerIndex < 0 {
				t.Fatalf("event %s has no leaf", e.Event.ID)
			}
		}
		for _, bad := range []string{"/log/../kek.json", "/log/tile/../../kek.json", "/log/x", "/log/tile/0/x999"} {
			if res, _ := get(t, http.DefaultClient, a.srv.URL+bad); res.StatusCode == 200 {
				t.Errorf("%s served", bad)
			}
		}
		po := a.browser(t)
		a.signIn(t, po, "privacy")
		if _, body := get(t, po, a.srv.URL+"/office"); !strings.Contains(body, "access events in the log") {
			t.Error("office ledger status")
		}
	})
}

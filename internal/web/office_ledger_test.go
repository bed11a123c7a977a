package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/ledger"
)

// The office page shows the log's size, checkpoint time, backlog and
// witnesses, and a refusal as an alert. The witness statuses here are set
// by hand; ledger's TestWitnessCosignsCheckpoints produces real ones from
// a running litewitness.
func TestOfficeLedgerPanel(t *testing.T) {
	a := newApp(t, "sqlite")
	po := a.browser(t)
	a.signIn(t, po, "privacy")
	_, body := get(t, po, a.srv.URL+"/office")
	for _, want := range []string{`id="ledger-status"`, "Anyone can check it", "No witnesses are configured"} {
		if !strings.Contains(body, want) {
			t.Fatalf("office page without witnesses lacks %q", want)
		}
	}
	if strings.Contains(body, `id="witness-alert"`) {
		t.Fatal("alert shown without witnesses")
	}
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	a.Web.LogWitnesses = func() []ledger.WitnessStatus {
		return []ledger.WitnessStatus{
			{Name: "armored-witness", LastCosigned: at, CosignedSize: 1234, LastStatus: 200},
			{Name: "lw", LastStatus: 422, Problem: "refused: the consistency proof from its last cosigned tree does not verify", Alert: true},
		}
	}
	_, body = get(t, po, a.srv.URL+"/office")
	for _, want := range []string{`id="witness-alert"`, "A witness refused the log", "armored-witness", "2026-11-23 09:30 UTC", "1234", "cosigning", "consistency proof from its last cosigned tree does not verify"} {
		if !strings.Contains(body, want) {
			t.Fatalf("office page with witnesses lacks %q", want)
		}
	}
}
